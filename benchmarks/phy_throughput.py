"""Info throughput of 5G LDPC (1024,512) + QPSK + AWGN: plain Sionna script vs ``linksim run``.

Both simulate the same number of blocks at the same Eb/N0 in one process on
one machine, each as a whole job the way a user runs it: build the blocks,
compile (XLA), simulate (and for linksim: read the YAML, write the results).
The two jobs are timed alternately ``--repeats`` times and the best time of
each is kept (robust to other load on a shared machine). Prints info Mbit/s
and the throughput ratio linksim / plain Sionna.

    python benchmarks/phy_throughput.py [--blocks 40000] [--batch 2000] [--ebno 1.5] [--repeats 3]
"""
import argparse
import os
import pathlib
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import yaml  # noqa: E402
from sionna.phy import config  # noqa: E402
from sionna.phy.channel import AWGN  # noqa: E402
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder  # noqa: E402
from sionna.phy.mapping import BinarySource, Demapper, Mapper  # noqa: E402
from sionna.phy.utils import ebnodb2no  # noqa: E402

from linksim import scenario as scenario_lib  # noqa: E402
from linksim.sim.runner import run  # noqa: E402

K, N, BITS = 512, 1024, 2


def plain_sionna_step(batch, ebno_db):
    """The textbook Sionna 1.x script's batch: a callable returning its bit errors (XLA-compiled
    on the first call)."""
    source, encoder = BinarySource(), LDPC5GEncoder(K, N)
    decoder = LDPC5GDecoder(encoder, num_iter=20, hard_out=True)
    mapper, demapper = Mapper("qam", BITS), Demapper("app", "qam", BITS)
    channel = AWGN()

    @tf.function(jit_compile=True)
    def step(no):
        bits = source([batch, K])
        y = channel(mapper(encoder(bits)), no)
        bits_hat = decoder(demapper(y, no))
        return tf.reduce_sum(tf.cast(tf.not_equal(bits, bits_hat), tf.int64))

    no = ebnodb2no(ebno_db, BITS, K / N)
    return lambda: step(no)


def plain_sionna(blocks, batch, ebno_db):
    """The textbook Sionna 1.x script: one XLA-compiled function per batch."""
    step = plain_sionna_step(batch, ebno_db)
    errors = 0
    for _ in range(blocks // batch):
        errors += int(step())
    return errors


def linksim_run(blocks, batch, ebno_db, out):
    """`linksim run` in-process: load YAML, build, simulate, write results."""
    spec = {"name": "bench", "seed": 1, "snr": {"definition": "ebno", "db": [ebno_db]},
            "link": {"code": {"name": "ldpc5g", "k": K, "n": N, "iterations": 20},
                     "modulation": {"name": "qam", "bits_per_symbol": BITS}},
            "channel": {"name": "awgn"},
            "stop": {"block_errors": 10 ** 12, "max_blocks": blocks, "batch_size": batch}}
    path = pathlib.Path(out) / "bench.yaml"
    path.write_text(yaml.safe_dump(spec))
    scenario = scenario_lib.load(path)
    return run(scenario, out=pathlib.Path(out) / "results", file=path, fresh=True,
               show_progress=False)


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=40000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--ebno", type=float, default=1.5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config.seed = 1
    info_mbit = args.blocks * K / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {"plain Sionna": (plain_sionna, ()), "linksim run": (linksim_run, (tmp,))}
        times = {name: [] for name in jobs}
        for _ in range(args.repeats):
            for name, (fn, extra) in jobs.items():
                times[name].append(timed(fn, args.blocks, args.batch, args.ebno, *extra))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, TF {tf.__version__}")
    print(f"LDPC ({N},{K}) + QPSK + AWGN, Eb/N0 {args.ebno} dB, {args.blocks} blocks, "
          f"batch {args.batch}")
    for name, seconds in times.items():
        print(f"{name:>13}: {info_mbit / min(seconds):6.3f} info Mbit/s (best of "
              f"{', '.join(f'{t:.1f}' for t in seconds)} s)")
    ratio = min(times["plain Sionna"]) / min(times["linksim run"])
    print(f"throughput ratio linksim/plain: {ratio:.3f}")

if __name__ == "__main__":
    main()
