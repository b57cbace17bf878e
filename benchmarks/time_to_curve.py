"""Time to a BLER curve: Sionna's ``sim_ber`` vs ``linksim run``, same curve, one process.

The curve of ``scenarios/phy/ldpc_qpsk_awgn.yaml``: 5G LDPC (1024,512), 20 BP
iterations, QPSK, AWGN, Eb/N0 0..3 dB step 0.5, 100 block errors per point,
batch 2000, at most 100 batches per point (``max_blocks`` 200000), stopping
after the first error-free point. ``sim_ber`` runs the textbook XLA-compiled
Monte Carlo function (Sionna's ``LDPC5GDecoder``); ``linksim run`` runs that
scenario file as it ships (its ``ldpc5g`` code decodes with early
termination) in-process, writing its results to a temporary folder, serially
and, with ``--workers N``, again on a local Dask cluster of N worker processes
(the SNR points in parallel, the same counts). Each is timed once as a whole
job (build, compile, simulate; for ``--workers`` also starting the cluster).
Prints the wall times, their ratios and the curves side by side with 95%
Wilson intervals, flagging points whose intervals do not overlap.

    python benchmarks/time_to_curve.py [--quick] [--workers 2]
"""
import argparse
import csv
import os
import pathlib
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import yaml  # noqa: E402
from sionna.phy import config  # noqa: E402
from sionna.phy.channel import AWGN  # noqa: E402
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder  # noqa: E402
from sionna.phy.mapping import BinarySource, Demapper, Mapper  # noqa: E402
from sionna.phy.utils import ebnodb2no, sim_ber  # noqa: E402

from linksim import scenario as scenario_lib  # noqa: E402
from linksim.metrics import wilson_interval  # noqa: E402
from linksim.sim.runner import run  # noqa: E402

SCENARIO = pathlib.Path(__file__).resolve().parent.parent / "scenarios/phy/ldpc_qpsk_awgn.yaml"


def sionna_curve(spec):
    """``sim_ber`` on the scenario's link: {Eb/N0 dB: (block errors, blocks)}."""
    code, stop = spec["link"]["code"], spec["stop"]
    k, n, bits = code["k"], code["n"], spec["link"]["modulation"]["bits_per_symbol"]
    source, encoder = BinarySource(), LDPC5GEncoder(k, n)
    decoder = LDPC5GDecoder(encoder, num_iter=code["iterations"], hard_out=True)
    mapper, demapper = Mapper("qam", bits), Demapper("app", "qam", bits)
    channel = AWGN()

    def mc_fun(batch_size, ebno_db):
        no = ebnodb2no(ebno_db, bits, k / n)
        b = source([batch_size, k])
        return b, decoder(demapper(channel(mapper(encoder(b)), no), no))

    counts = {}

    def record(mc_iter, snr_idx, ebno_dbs, bit_errors, block_errors, nb_bits, nb_blocks):
        counts[float(ebno_dbs[snr_idx])] = (int(block_errors[snr_idx]), int(nb_blocks[snr_idx]))
        return sim_ber.CALLBACK_CONTINUE

    sim_ber(mc_fun, np.asarray(spec["snr"]["db"], np.float32), batch_size=stop["batch_size"],
            max_mc_iter=-(-stop["max_blocks"] // stop["batch_size"]),
            num_target_block_errors=stop["block_errors"], early_stop=stop["early_stop"],
            graph_mode="xla", verbose=False, callback=record)
    return counts


def linksim_curve(spec, out, workers=None):
    """`linksim run` in-process on ``spec``: {Eb/N0 dB: (block errors, blocks)}."""
    path = pathlib.Path(out) / "ldpc_qpsk_awgn.yaml"
    path.write_text(yaml.safe_dump(spec))
    results = pathlib.Path(out) / "results"
    run(scenario_lib.load(path, out=results), out=results, file=path, fresh=True,
        show_progress=False, workers=workers)
    with open(results / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {float(row["snr_db"]): (int(row["block_errors"]), int(row["blocks"])) for row in rows}


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="sanity run: Eb/N0 1, 2, 2.5 dB and at most 5 batches per point")
    parser.add_argument("--workers", type=int,
                        help="also time linksim run on a local Dask cluster of this many workers")
    args = parser.parse_args()
    spec = yaml.safe_load(SCENARIO.read_text())
    spec["snr"]["db"] = [float(x) for x in scenario_lib.load(SCENARIO).snr.values()]
    spec["stop"].setdefault("early_stop", True)
    if args.quick:
        spec["snr"]["db"] = [1.0, 2.0, 2.5]
        spec["stop"]["max_blocks"] = 5 * spec["stop"]["batch_size"]
    config.seed = spec["seed"]
    sionna_s, sionna = timed(sionna_curve, spec)
    curves, seconds = {"sim_ber": sionna}, {"sim_ber": sionna_s}
    runs = [("linksim run", None)] + ([(f"linksim run --workers {args.workers}", args.workers)]
                                      if args.workers else [])
    for name, workers in runs:
        with tempfile.TemporaryDirectory() as tmp:
            seconds[name], curves[name] = timed(linksim_curve, spec, tmp, workers)

    stop = spec["stop"]
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, TF {tf.__version__}")
    print(f"{SCENARIO.name}{' (--quick)' if args.quick else ''}: Eb/N0 {spec['snr']['db']} dB, "
          f"{stop['block_errors']} block errors or {stop['max_blocks']} blocks per point, "
          f"batch {stop['batch_size']}")
    for name in runs:
        print(f"{name[0]}: {seconds[name[0]]:.1f} s, / sim_ber ({sionna_s:.1f} s): "
              f"{seconds[name[0]] / sionna_s:.3f}")
    names = list(curves)
    print("\n| Eb/N0 dB | " + " | ".join(f"{n} BLER [95% CI] (blocks)" for n in names)
          + " | CIs overlap |")
    print("|---|" + "---|" * (len(names) + 1))
    for ebno_db in sorted(set().union(*curves.values())):
        cells, intervals = [f"{ebno_db:.1f}"], []
        for curve in curves.values():
            if ebno_db not in curve:
                cells.append("not simulated (early stop)")
                continue
            errors, blocks = curve[ebno_db]
            lo, hi = wilson_interval(errors, blocks)
            intervals.append((lo, hi))
            cells.append(f"{errors / blocks:.2e} [{lo:.1e}, {hi:.1e}] ({blocks})")
        overlap = max(lo for lo, _ in intervals) <= min(hi for _, hi in intervals)
        cells.append("yes" if overlap else "**NO**")
        print("| " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
