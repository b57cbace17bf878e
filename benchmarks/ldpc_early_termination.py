"""5G LDPC (1024,512) + QPSK + AWGN, 20 BP iterations: Sionna's decoder vs linksim's with early termination.

Both run the textbook Sionna 1.x script (one XLA-compiled function per batch:
source, encoder, mapper, AWGN, demapper, decoder); they differ only in the
decoder: Sionna's ``LDPC5GDecoder`` or the decoder of linksim's ``ldpc5g``
code (``early_termination: true``, the default). At every Eb/N0 both decode
the same blocks (the generator is reseeded before each), alternately
``--repeats`` times; the best time of each is kept (robust to other load on a
shared machine). Throughput excludes compilation, which is reported once.
Prints a Markdown table: info Mbit/s (wall clock and, in brackets, per CPU
second of this process), the speed-up, BLER with 95% Wilson intervals and the
mean number of BP iterations per codeword.

    python benchmarks/ldpc_early_termination.py [--blocks 40000] [--batch 2000] [--repeats 3] [--quick]
"""
import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from sionna.phy import config  # noqa: E402
from sionna.phy.channel import AWGN  # noqa: E402
from sionna.phy.fec.ldpc import LDPC5GDecoder  # noqa: E402
from sionna.phy.mapping import BinarySource, Demapper, Mapper  # noqa: E402
from sionna.phy.utils import ebnodb2no  # noqa: E402

from linksim import registry  # noqa: E402
from linksim.metrics import wilson_interval  # noqa: E402

K, N, BITS, ITERATIONS = 512, 1024, 2, 20
EBNO_DB = (1.0, 1.5, 2.0, 2.5)
# linksim's code with its defaults: early termination on; its encoder serves both decoders.
CODE = registry.build("code", {"name": "ldpc5g", "k": K, "n": N, "iterations": ITERATIONS},
                      key="code")


def make_step(decode, batch):
    """One XLA-compiled batch: bits -> LDPC -> QPSK -> AWGN -> LLRs -> ``decode``.

    ``decode`` maps LLRs to (bits, iterations per codeword); returns
    (block errors, bit errors, iterations summed over the batch).
    """
    source, encoder = BinarySource(), CODE.encoder
    mapper, demapper = Mapper("qam", BITS), Demapper("app", "qam", BITS)
    channel = AWGN()

    @tf.function(jit_compile=True)
    def step(no):
        bits = source([batch, K])
        y = channel(mapper(encoder(bits)), no)
        bits_hat, iterations = decode(demapper(y, no))
        errors = tf.not_equal(bits, bits_hat)
        return (tf.reduce_sum(tf.cast(tf.reduce_any(errors, axis=-1), tf.int64)),
                tf.reduce_sum(tf.cast(errors, tf.int64)),
                tf.reduce_sum(tf.cast(iterations, tf.int64)))
    return step


def plain_decode():
    """Sionna's decoder as the textbook script builds it; it always runs every iteration."""
    decoder = LDPC5GDecoder(CODE.encoder, num_iter=ITERATIONS, hard_out=True)

    def decode(llr):
        bits = decoder(llr)
        return bits, tf.fill(tf.shape(bits)[:-1], ITERATIONS)
    return decode


def run(step, no, batches, seed):
    """Simulate ``batches`` batches from ``seed``; returns seconds, CPU seconds, totals."""
    config.seed = seed
    totals = [0, 0, 0]
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        totals = [t + int(v) for t, v in zip(totals, step(no))]
    return time.perf_counter() - start, time.process_time() - cpu, totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=40000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="sanity run: 2 batches per point, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.repeats = 2 * args.batch, 1
    batches = max(1, args.blocks // args.batch)
    blocks = batches * args.batch
    steps = {"Sionna LDPC5GDecoder": make_step(plain_decode(), args.batch),
             "linksim early termination": make_step(CODE.decode, args.batch)}
    compile_s = {}
    for name, step in steps.items():
        start = time.perf_counter()
        step(ebnodb2no(EBNO_DB[0], BITS, K / N))
        compile_s[name] = time.perf_counter() - start
    rows = []
    for index, ebno_db in enumerate(EBNO_DB):
        no = ebnodb2no(ebno_db, BITS, K / N)
        best = {}
        for _ in range(args.repeats):
            for name, step in steps.items():
                seconds, cpu, totals = run(step, no, batches, seed=100 + index)
                old = best.get(name)
                best[name] = (min(seconds, old[0]) if old else seconds,
                              min(cpu, old[1]) if old else cpu, totals)
        rows.append((ebno_db, best))

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, TF {tf.__version__}")
    print(f"5G LDPC ({N},{K}) + QPSK + AWGN, {ITERATIONS} BP iterations (max), {blocks} blocks "
          f"per point, batch {args.batch}, best of {args.repeats}; compilation (first batch "
          + ", ".join(f"{name}: {s:.1f} s" for name, s in compile_s.items()) + ")\n")
    plain, early = steps
    print("| Eb/N0 dB | Sionna info Mbit/s | early termination info Mbit/s | speed-up (wall) "
          "| speed-up (CPU) | BLER Sionna [95% CI] | BLER early termination [95% CI] "
          "| mean iterations |")
    print("|---|---|---|---|---|---|---|---|")
    info_mbit = blocks * K / 1e6
    for ebno_db, best in rows:
        cells = [f"{ebno_db:.1f}"]
        for name in (plain, early):
            seconds, cpu, _ = best[name]
            cells.append(f"{info_mbit / seconds:.3f} ({info_mbit / cpu:.3f}/CPU s)")
        cells.append(f"{best[plain][0] / best[early][0]:.2f}x")
        cells.append(f"{best[plain][1] / best[early][1]:.2f}x")
        for name in (plain, early):
            errors = best[name][2][0]
            lo, hi = wilson_interval(errors, blocks)
            cells.append(f"{errors / blocks:.2e} [{lo:.1e}, {hi:.1e}]")
        cells.append(f"{best[early][2][2] / blocks:.2f}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
