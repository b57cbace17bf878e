"""Monte Carlo over an SNR grid, one independent, seeded unit of work per (system, SNR point).

Before every batch Sionna's generators are reset from a seed derived from
(scenario seed, SNR value, batch index). A point is therefore reproducible on
its own, on any machine and in any order, and two systems whose channel
inputs have the same shape see the same channel realizations.
"""
import datetime
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import time

import numpy as np
from sionna.phy import config
from tqdm.auto import tqdm

from .. import scenario as scenario_lib
from .results import ResultStore


def batch_seed(seed, snr_db, batch_index):
    """A 31-bit seed from (scenario seed, SNR in dB, batch index)."""
    blob = f"{seed}:{snr_db:.6f}:{batch_index}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little") & 0x7FFFFFFF


def noise_variance(snr_db, definition, info_bits_per_channel_use):
    """N0 (linear) for unit-energy symbols: Es/N0 directly, Eb/N0 via bits per channel use."""
    snr = 10 ** (snr_db / 10)
    if definition == "ebno":
        return 1.0 / (snr * info_bits_per_channel_use)
    return 1.0 / snr


def simulate_point(system, *, snr_db, definition, seed, stop, progress=None):
    """Run batches at one SNR until ``system.finished``; returns (totals, seconds)."""
    no = noise_variance(snr_db, definition, system.info_bits_per_channel_use)
    totals, batch_index, start = {}, 0, time.perf_counter()
    while True:
        config.seed = batch_seed(seed, snr_db, batch_index)
        counts = system.run_batch(no, batch_index=batch_index)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        batch_index += 1
        if progress is not None:
            progress.update(counts.get("blocks", 0))
            progress.set_postfix({k: totals[k] for k in ("blocks", "block_errors") if k in totals}
                                 | {"s": round(time.perf_counter() - start, 1)})
        if system.finished(totals, stop) or counts.get("blocks", 1) == 0:
            return totals, time.perf_counter() - start


def _versions():
    out = {"python": platform.python_version()}
    for package in ("linksim", "sionna-no-rt", "tensorflow", "tensorflow-cpu", "keras", "numpy"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        return subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _machine():
    import tensorflow as tf
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def run(scenario, *, out, file=None, fresh=False, show_progress=True):
    """Simulate every system of ``scenario`` over its SNR grid; results go to ``out``.

    Finished points found in ``out`` are reused (resume); returns the metric rows.
    """
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    # Build first: a bad scenario must not leave a results directory behind.
    channel, receiver, systems = scenario_lib.build(scenario, file=file)
    store = ResultStore(out, scenario_hash=scenario.content_hash(), fresh=fresh)
    definition = scenario.snr.definition
    snrs = scenario.snr.values()
    rows, skipped = [], []
    previous = store.previous_facts()
    facts = {}
    for system in systems:
        prepared = False
        stopped_early = False
        for snr_db in snrs:
            if stopped_early:
                skipped.append({"system": system.label, "snr_db": snr_db})
                continue
            record = store.load_point(system.label, snr_db)
            if record is None:
                if not prepared:
                    # Only now: a finished sweep must not retrain a model it will not use.
                    system.prepare(show_progress=show_progress)
                    prepared = True
                bar = tqdm(desc=f"{system.label[:40]} @ {snr_db:+.2f} dB", unit="blk",
                           disable=not show_progress, leave=False, dynamic_ncols=True)
                totals, seconds = simulate_point(system, snr_db=snr_db, definition=definition,
                                                 seed=scenario.seed, stop=scenario.stop,
                                                 progress=bar)
                bar.close()
                record = {"system": system.label, "snr_db": snr_db, "snr_definition": definition,
                          **system.summarize(totals), "totals": totals, "seconds": round(seconds, 3)}
                store.save_point(system.label, snr_db, record)
                if show_progress:
                    tqdm.write(_point_line(system, record))
            rows.append({k: v for k, v in record.items() if k != "totals"})
            if scenario.stop.early_stop and system.no_errors(record["totals"]):
                stopped_early = True
        facts[system.label] = ({"label": system.label, **system.describe()} if prepared
                               else previous.get(system.label)
                               or {"label": system.label, **system.describe()})
        facts[system.label]["metrics"] = [m.__dict__ for m in system.metrics]
    store.write_metrics(rows)
    metrics = list({m.name: m for s in systems for m in s.metrics}.values())
    store.write_table(rows, metrics, title=scenario.name, definition=definition)
    grid = np.linspace(min(snrs), max(snrs), 200) if snrs else np.array([])
    store.write_run({
        "scenario": scenario.model_dump(), "scenario_file": str(file) if file else None,
        "seed": scenario.seed, "snr_definition": definition,
        "channel": channel.description, "receiver": receiver.description,
        "systems": [facts[s.label] for s in systems],
        "theory": {s.label: {m: {"label": label, "snr_db": grid.tolist(),
                                 "values": np.asarray(v, float).tolist()}
                             for m, (label, v) in s.theory(grid, definition).items()}
                   for s in systems},
        "skipped_after_error_free_point": skipped,
        "started": started,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "simulated_seconds": round(sum(r.get("seconds", 0) for r in rows), 2),
        "versions": _versions(), "git_commit": _git_commit(), "machine": _machine()})
    return rows


def _point_line(system, record):
    shown = [f"{m.name}={record[m.name]:.4g}" for m in system.metrics if m.name in record]
    extra = [f"{k}={record[k]}" for k in ("blocks", "block_errors") if k in record]
    return (f"{system.label}  {record['snr_definition']}={record['snr_db']:+.2f} dB  "
            + "  ".join(shown + extra) + f"  ({record['seconds']:.1f} s)")
