"""The measuring half of ``benchmarks/gpu_check.sh``: device, PHY throughput, training step time.

Appends Markdown to ``--out`` after every measurement, so a run cut short
still leaves what it measured:

* the device TensorFlow computes on (GPU name and compute capability, or
  "no GPU" in bold when TensorFlow sees none);
* info throughput of 5G LDPC (1024,512) + QPSK + AWGN at Eb/N0 1.5 and 2.5 dB
  with a large batch: the plain Sionna batch of ``phy_throughput.py`` once
  compiled, then its plain Sionna script and ``linksim run``, each timed as a
  whole job (build, XLA compile, simulate) of about 10 s of simulation;
* the Deep JSCC training step and inference throughput of
  ``train_throughput.py`` (linksim link vs plain Keras AWGN) at two batch
  sizes. Its images are uniform noise of Fashion-MNIST's shape: a step's time
  does not depend on pixel values, and a bare GPU machine has no data sets.

    python benchmarks/gpu_check.py --out gpu_results.md [--dry-run]

``--dry-run`` makes everything tiny (seconds on a CPU) to check the plumbing.
"""
import argparse
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sionna.phy import config  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import phy_throughput  # noqa: E402
import train_throughput  # noqa: E402

from linksim.phy.channel import AWGNChannel  # noqa: E402
from linksim.phy.receiver import Receiver  # noqa: E402
from linksim.systems.learned.deepjscc import feature_channels  # noqa: E402
from linksim.systems.learned.layers.air import AirInterface  # noqa: E402

EBNO_DB = (1.5, 2.5)
IMAGE_SHAPE = (28, 28, 1)

# (batch, warm seconds, job seconds, max batches per job) for the PHY;
# (steps, batch sizes, inference batch) for training.
SIZES = {"full": {"phy": (50_000, 5.0, 10.0, 400), "train": (30, (64, 512), 2000)},
         "dry-run": {"phy": (200, 1.0, 1.0, 3), "train": (2, (8,), 16)}}


def append(path, *lines):
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(*lines, sep="\n", flush=True)


def device_lines():
    """Markdown lines naming the compute device TensorFlow uses."""
    gpus = tf.config.list_physical_devices("GPU")
    print(f"tf.config.list_physical_devices('GPU'): {gpus}", flush=True)
    lines = [f"- `tf.config.list_physical_devices('GPU')`: `{gpus}`"]
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        lines.append(f"- {gpu.name}: {details.get('device_name', '?')}, compute capability "
                     f"{details.get('compute_capability', '?')}")
    if not gpus:
        lines.append("- **no GPU: TensorFlow computes on the CPU; the numbers below are CPU "
                     "numbers**")
    lines.append(f"- a tensor lands on: `{tf.constant(1.0).device}`")
    lines.append(f"- TensorFlow {tf.__version__}, Keras {keras.__version__}, Python "
                 f"{platform.python_version()}, {os.cpu_count()} CPU cores, "
                 f"{platform.platform()}")
    return lines


def warm_rate(batch, ebno_db, seconds):
    """Info Mbit/s of the plain Sionna batch once compiled, timed over at least ``seconds``."""
    step = phy_throughput.plain_sionna_step(batch, ebno_db)
    int(step())  # XLA compile
    batches, start = 0, time.perf_counter()
    while batches < 3 or time.perf_counter() - start < seconds:
        int(step())  # waits for the batch to finish
        batches += 1
    return batches * batch * phy_throughput.K / 1e6 / (time.perf_counter() - start)


def phy(out, batch, warm_seconds, job_seconds, max_batches):
    """Info Mbit/s at each Eb/N0 in ``EBNO_DB``: the compiled batch alone, then both whole jobs.

    The whole jobs simulate as many blocks as the compiled batch does in
    ``job_seconds`` (at least 2 batches, at most ``max_batches``), so that the
    XLA compile, which the jobs include, does not swamp the simulation.
    """
    append(out, "", f"### PHY: 5G LDPC (1024,512), 20 BP iterations, QPSK, AWGN, batch {batch}",
           "", "*compiled batch*: the plain Sionna `tf.function(jit_compile=True)` batch, "
           "timed after its compile. *whole job*: as `phy_throughput.py` times it (build, XLA "
           "compile, simulate; `linksim run` also reads the YAML, seeds every batch and writes "
           "the results).", "",
           "| Eb/N0 (dB) | compiled batch (info Mbit/s) | blocks per job | plain Sionna job "
           "(info Mbit/s) | `linksim run` job (info Mbit/s) | ratio linksim / plain |",
           "|---|---|---|---|---|---|")
    for ebno_db in EBNO_DB:
        config.seed = 1
        rate = warm_rate(batch, ebno_db, warm_seconds)
        batches = int(min(max_batches, max(2, rate * 1e6 * job_seconds
                                          / (batch * phy_throughput.K))))
        blocks = batches * batch
        with tempfile.TemporaryDirectory() as tmp:
            plain = phy_throughput.timed(phy_throughput.plain_sionna, blocks, batch, ebno_db)
            linksim = phy_throughput.timed(phy_throughput.linksim_run, blocks, batch, ebno_db,
                                           tmp)
        info_mbit = blocks * phy_throughput.K / 1e6
        append(out, f"| {ebno_db} | {rate:.2f} | {blocks} | {info_mbit / plain:.2f} "
                    f"({plain:.1f} s) | {info_mbit / linksim:.2f} ({linksim:.1f} s) | "
                    f"{plain / linksim:.3f} |")


def training(out, steps, batches, eval_batch):
    """Deep JSCC step time and inference throughput, linksim link vs plain Keras AWGN."""
    append(out, "", f"### Deep JSCC training (filters 16, ratio 1/6, {IMAGE_SHAPE[0]}x"
                    f"{IMAGE_SHAPE[1]}x{IMAGE_SHAPE[2]} noise images, Adam, {steps} "
                    "`train_on_batch` steps after a warm-up step)", "",
           "| model | batch | train step (ms) | inference (samples/s, batch %d) |" % eval_batch,
           "|---|---|---|---|")
    config.seed = 1
    keras.utils.set_random_seed(1)
    x = np.random.default_rng(1).uniform(
        size=(max(4 * max(batches), 2 * eval_batch), *IMAGE_SHAPE)).astype(np.float32)
    channels = feature_channels(IMAGE_SHAPE, 1 / 6)
    features = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * channels // 16
    for batch in batches:
        air = AirInterface(transmission={"mode": "analog"}, num_features=features,
                           channel=AWGNChannel(), receiver=Receiver(),
                           snr_db=(0.0, 20.0))
        models = {"linksim (AirInterface, Sionna AWGN)": air,
                  "plain Keras (tf.random.normal AWGN)": train_throughput.PlainAWGN(snr_db=10.0)}
        for name, link in models.items():
            model = train_throughput.build(link, IMAGE_SHAPE, channels)
            model({"image": x[:2]})
            step = train_throughput.time_training(model, x, batch, steps)
            rate = train_throughput.time_inference(model, x, eval_batch, 8)
            append(out, f"| {name} | {batch} | {1e3 * step:.2f} | {rate:.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True, help="Markdown file to append to")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes, to check the plumbing")
    args = parser.parse_args()
    sizes = SIZES["dry-run" if args.dry_run else "full"]
    start = time.perf_counter()
    append(args.out, "", "### Device", "", *device_lines())
    phy(args.out, *sizes["phy"])
    training(args.out, *sizes["train"])
    append(args.out, "", f"Measurements took {time.perf_counter() - start:.0f} s.")


if __name__ == "__main__":
    main()
