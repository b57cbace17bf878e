"""Monte Carlo over an SNR grid, one independent, seeded unit of work per (system, SNR point).

Before every batch Sionna's generators are reset from a seed derived from
(scenario seed, SNR value, batch index). A point is therefore reproducible on
its own, on any machine and in any order, and two systems whose channel
inputs have the same shape see the same channel realizations.

Which points a sweep needs follows one rule, whatever runs them: in SNR order,
and an error-rate sweep stops after its first error-free point (``_Sweep``).
Serially (the default) they run one after another in this process; with
``workers`` or ``cluster`` they run on Dask workers (:mod:`.distributed`), and
the results (metrics.csv rows) are the serial run's.
"""
import dataclasses
import datetime
import functools
import importlib.metadata
import os
import platform
import subprocess
import time

import numpy as np
from sionna.phy import config
from tqdm.auto import tqdm

from .. import scenario as scenario_lib
from ..phy.snr import noise_variance
from ..seeding import derive_seed
from .results import ResultStore, seed_aggregates


def batch_seed(seed, snr_db, batch_index):
    """The seed of one batch: (scenario seed, SNR in dB to 1e-6, batch index)."""
    return derive_seed(seed, f"{snr_db:.6f}", batch_index)


def simulate_point(system, *, snr_db, definition, seed, stop, progress=None):
    """Run batches at one SNR until ``system.finished``; returns (totals, seconds)."""
    no = float(noise_variance(snr_db, definition, system.info_bits_per_channel_use,
                              precision="double"))
    totals, batch_index, start = None, 0, time.perf_counter()
    while True:
        config.seed = batch_seed(seed, snr_db, batch_index)
        counts = system.run_batch(no, batch_index=batch_index)
        totals = counts if totals is None else totals + counts
        batch_index += 1
        if progress is not None:
            progress.update(counts.blocks)
            progress.set_postfix({k: getattr(totals, k) for k in ("blocks", "block_errors")
                                  if hasattr(totals, k)}
                                 | {"s": round(time.perf_counter() - start, 1)})
        if system.finished(totals, stop) or counts.blocks == 0:
            return totals, time.perf_counter() - start


def evaluate_point(system, *, snr_db, definition, seed, stop, worker=None, progress=None):
    """One finished point as saved in ``points/``: metric columns, totals and provenance.

    ``worker``: who computed it when distributed (recorded in the provenance).
    """
    totals, seconds = simulate_point(system, snr_db=snr_db, definition=definition, seed=seed,
                                     stop=stop, progress=progress)
    provenance = {"time": _now(), **_this_process(), **({"worker": worker} if worker else {})}
    return {"system": system.label, "snr_db": snr_db, "snr_definition": definition,
            **system.summarize(totals), "totals": totals.to_json(), "seconds": round(seconds, 3),
            "provenance": provenance}


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@functools.cache
def _this_process():
    """Machine, package versions and git state of the code computing points here."""
    import tensorflow as tf
    versions = {"python": platform.python_version()}
    for package in ("linksim", "sionna-no-rt", "tensorflow", "keras", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    machine = {"platform": platform.platform(), "processor": platform.processor(),
               "cpu_count": os.cpu_count(),
               "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}
    return {"machine": machine, "versions": versions, **_git_state()}


def _git_state():
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git(*args):
        return subprocess.run(["git", "-C", package, *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        # Dirty: the linksim package differs from the commit, so the commit alone does not
        # say which code computed the point (changed results files do not count).
        return {"git_commit": git("rev-parse", "HEAD"),
                "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--",
                                      package))}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None}


class _Sweep:
    """The points of one system: finished ones and, by the serial rule, those still needed.

    The rule: points in SNR order; an error-rate sweep (``early_stop``) ends after its
    first error-free point, so points above it are skipped even when they exist.
    """

    def __init__(self, system, grid, records, *, early_stop):
        self.system = system
        self.grid = grid
        self.records = records
        self.early_stop = early_stop
        self.computed = set()
        self.prepared = False

    def walk(self):
        """``(used records, missing SNRs, skipped SNRs)``; missing ones are computed in order."""
        used, missing = [], []
        for i, snr in enumerate(self.grid):
            record = self.records.get(snr)
            if record is None:
                missing.append(snr)
                continue
            used.append(record)
            if self.early_stop and self.system.no_errors(record["totals"]):
                return used, missing, self.grid[i + 1:]
        return used, missing, []

    @property
    def missing(self):
        return self.walk()[1]

    def add(self, snr_db, record):
        self.records[snr_db] = record
        self.computed.add(snr_db)


@dataclasses.dataclass
class RunSummary:
    """What a run did: ``rows`` of metrics.csv and which points were computed or reused."""

    out: object
    rows: list
    computed: int
    reused: dict
    skipped: int
    dropped: int
    merged: int
    written: list
    #: Learned analog systems below the linear floor (see ``linear_optimal.floor_warnings``).
    warnings: list = dataclasses.field(default_factory=list)

    def __str__(self):
        parts = [f"{self.computed} point(s) computed", f"{sum(map(len, self.reused.values()))} "
                 "reused from points/"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped after an error-free point")
        if self.dropped:
            parts.append(f"{self.dropped} computed ahead and dropped (past the first "
                         "error-free point, as a serial run skips them)")
        if self.merged:
            parts.append(f"merged with {self.merged} finished SNR value(s) outside the "
                         "requested grid (metrics.csv holds the union)")
        state = ("written: " + ", ".join(self.written)) if self.written else \
            "results files unchanged"
        return f"{self.out}: " + "; ".join(parts) + f"; {state}"

    def reused_lines(self):
        """One line per system whose points were reused (which SNR values)."""
        return [f"reused {label}: " + ", ".join(f"{s:g}" for s in snrs) + " dB"
                for label, snrs in self.reused.items() if snrs]


def run(scenario, *, out, file=None, fresh=False, show_progress=True, workers=None,
        cluster=None):
    """Simulate every system of ``scenario`` over its SNR grid; results go to ``out``.

    Finished points found in ``out`` are reused (resume), and their SNR values join the
    grid: metrics.csv holds every finished point under the serial rule. ``workers``
    (int) starts a local Dask cluster of that many single-thread worker processes;
    ``cluster`` (a Dask scheduler address, e.g. ``tcp://127.0.0.1:8786``) joins one.
    Neither: serial, in this process. Returns a :class:`RunSummary`.
    """
    # Build first: a bad scenario must not leave a results directory behind.
    channel, receiver, systems = scenario_lib.build(scenario, file=file)
    store = ResultStore(out, scenario_hash=scenario.content_hash(), fresh=fresh)
    definition = scenario.snr.definition
    requested = scenario.snr.values()
    grid = sorted(set(requested) | store.finished_snrs([s.label for s in systems]))
    sweeps = [_Sweep(system, grid, {snr: r for snr in grid
                                    if (r := store.load_point(system.label, snr)) is not None},
                     early_stop=scenario.stop.early_stop)
              for system in systems]

    def begin(sweep):
        """Before a sweep's first point: train or load a learned model, then claim ``out``."""
        if not sweep.prepared:
            # Only now: a finished sweep must not retrain a model it will not use.
            sweep.system.prepare(show_progress=show_progress)
            sweep.prepared = True
        store.claim()

    def finish(sweep, snr_db, record):
        store.save_point(sweep.system.label, snr_db, record)
        sweep.add(snr_db, record)
        if show_progress:
            tqdm.write(_point_line(sweep.system, record))

    if workers is None and cluster is None:
        _run_serial(sweeps, begin=begin, finish=finish, definition=definition,
                    seed=scenario.seed, stop=scenario.stop, show_progress=show_progress)
    else:
        from . import distributed
        distributed.run_points(
            sweeps, begin=begin, finish=finish, workers=workers, cluster=cluster,
            spec={"scenario": scenario.model_dump(mode="json"),
                  "checkpoint_root": str((scenario.results_dir / "checkpoints").resolve())},
            show_progress=show_progress)

    # rows: metrics.csv, with each system's metric_names applied; native: the systems' own
    # column names, which the floor check reads.
    rows, native, records, skipped, dropped = [], [], [], [], 0
    for sweep in sweeps:
        used, _, rest = sweep.walk()  # nothing is missing any more
        kept = {r["snr_db"] for r in used}
        # Computed ahead in parallel, then past the first error-free point: a serial
        # run never computes these, so they go.
        for snr in sorted(sweep.computed - kept):
            store.discard_point(sweep.system.label, snr)
            sweep.computed.discard(snr)
            dropped += 1
        records += used
        own = [{k: v for k, v in r.items() if k not in ("totals", "provenance")} for r in used]
        native += own
        rows += [sweep.system.reported(r) for r in own]
        skipped += [{"system": sweep.system.label, "snr_db": snr} for snr in rest]
    computed = sum(len(s.computed) for s in sweeps)
    summary = RunSummary(out=out, rows=rows, computed=computed, skipped=len(skipped),
                         dropped=dropped, merged=len(set(grid) - set(requested)), written=[],
                         reused={s.system.label: sorted({r["snr_db"] for r in s.walk()[0]}
                                                        - s.computed) for s in sweeps})
    if computed == 0 and store.complete and store.metrics_unchanged(rows) \
            and "produced_by" not in store.previous:
        # A run.json from before per-point provenance: its versions, machine and commit are
        # those of the run that made these points; rewriting it would lose them.
        return summary

    previous = store.previous_facts()
    facts = {}
    for sweep in sweeps:
        system = sweep.system
        facts[system.label] = ({"label": system.label, **system.describe()} if sweep.prepared
                               else previous.get(system.label)
                               or {"label": system.label, **system.describe()})
        facts[system.label]["metrics"] = [m.__dict__ for m in system.reported_metrics]
        if system.seed_of is not None:
            facts[system.label] |= {"seed_of": system.seed_of, "seed": system.seed}
    metrics = list({m.name: m for s in systems for m in s.reported_metrics}.values())
    from ..systems.linear_optimal import floor_warnings
    summary.warnings = floor_warnings(systems, facts, native, seed=scenario.seed,
                                      stop=scenario.stop, definition=definition)
    curve = np.linspace(min(grid), max(grid), 200) if grid else np.array([])
    seed_rows, seed_facts = seed_aggregates(rows, list(facts.values()))
    rows += seed_rows
    produced_by = _produced_by(records, _legacy_provenance(store.previous))
    latest = next((p for p in reversed(produced_by) if "versions" in p), {})
    summary.written = store.write_results(
        rows, store.table_text(rows, metrics, title=scenario.name, definition=definition), {
            "scenario": scenario.model_dump(),
            "scenario_file": os.path.normpath(file) if file else None,
            "seed": scenario.seed, "snr_definition": definition, "snr_db": grid,
            "channel": channel.description, "receiver": receiver.description,
            "systems": [facts[s.label] for s in systems] + seed_facts,
            "theory": {s.label: {s.metric_names.get(m, m): {"label": label,
                                                            "snr_db": curve.tolist(),
                                     "values": np.asarray(v, float).tolist()}
                                 for m, (label, v) in s.theory(curve, definition).items()}
                       for s in systems},
            "skipped_after_error_free_point": skipped,
            "warnings": summary.warnings,
            "simulated_seconds": round(sum(r.get("seconds") or 0 for r in rows), 2),
            # Of the newest point; produced_by lists every machine and code that made them.
            **{k: latest[k] for k in ("versions", "git_commit", "machine") if k in latest},
            "produced_by": produced_by})
    return summary


def _run_serial(sweeps, *, begin, finish, definition, seed, stop, show_progress):
    for sweep in sweeps:
        while missing := sweep.missing:
            snr_db = missing[0]
            begin(sweep)
            bar = tqdm(desc=f"{sweep.system.label[:40]} @ {snr_db:+.2f} dB", unit="blk",
                       disable=not show_progress, leave=False, dynamic_ncols=True)
            record = evaluate_point(sweep.system, snr_db=snr_db, definition=definition,
                                    seed=seed, stop=stop, progress=bar)
            bar.close()
            finish(sweep, snr_db, record)


_PROVENANCE = ("git_commit", "git_dirty", "versions", "machine")
_LEGACY = "recorded per run in run.json, before linksim recorded provenance per point"


def _legacy_provenance(previous):
    """Provenance of points saved without their own: what the previous run.json said."""
    if not previous:
        return None
    for entry in previous.get("produced_by", []):
        if entry.get("note") == _LEGACY:
            return {k: v for k, v in entry.items() if k not in ("points", "seconds")}
    if "versions" not in previous:
        return None
    return {"note": _LEGACY, **{k: previous[k] for k in ("git_commit", "versions", "machine")
                                if k in previous},
            "first": previous.get("started"), "last": previous.get("finished")}


def _produced_by(records, legacy):
    """Distinct (commit, versions, machine) among the points used, with counts and times."""
    groups = {}
    for record in records:
        provenance = record.get("provenance")
        if provenance is None:
            known = legacy or {"note": "not recorded (point saved before linksim recorded "
                                       "provenance per point)"}
            base = {k: v for k, v in known.items() if k not in ("first", "last")}
            first, last = known.get("first"), known.get("last")
        else:
            base = {k: provenance[k] for k in _PROVENANCE if k in provenance}
            first = last = provenance["time"]
        key = repr(sorted(base.items()))
        entry = groups.setdefault(key, {**base, "points": 0, "seconds": 0.0,
                                        "first": first, "last": last})
        entry["points"] += 1
        entry["seconds"] = round(entry["seconds"] + (record.get("seconds") or 0), 2)
        if first and (entry["first"] is None or first < entry["first"]):
            entry["first"] = first
        if last and (entry["last"] is None or last > entry["last"]):
            entry["last"] = last
    return sorted(groups.values(), key=lambda e: (e["last"] or "", e["first"] or ""))


def _point_line(system, record):
    record = system.reported(record)
    shown = [f"{m.name}={record[m.name]:.4g}" for m in system.reported_metrics
             if record.get(m.name) is not None]
    extra = [f"{k}={record[k]}" for k in ("blocks", "block_errors") if k in record]
    worker = record.get("provenance", {}).get("worker")
    return (f"{system.label}  {record['snr_definition']}={record['snr_db']:+.2f} dB  "
            + "  ".join(shown + extra) + f"  ({record['seconds']:.1f} s"
            + (f", worker {worker})" if worker else ")"))
