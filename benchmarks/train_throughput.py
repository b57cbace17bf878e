"""Training step time and inference throughput: Deep JSCC on linksim's link vs plain Keras.

Both models have the same encoder and decoder (linksim.systems.learned.deepjscc,
filters 16, bandwidth ratio 1/6, Fashion-MNIST 28x28). The linksim model sends
features through AirInterface (power normalization, linksim's AWGNChannel,
receiver framing and equalization); the baseline through a plain Keras
layer adding ``tf.random.normal`` noise. Same process, same data, same batch.

    python benchmarks/train_throughput.py [--steps 30] [--batch 64] [--append results/benchmarks.md]
"""
import argparse
import datetime
import os
import pathlib
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from sionna.phy import config  # noqa: E402

from linksim.phy.channel import AWGNChannel  # noqa: E402
from linksim.phy.receiver import Receiver  # noqa: E402
from linksim.sources.datasets import fashion_mnist  # noqa: E402
from linksim.systems.learned.deepjscc import DeepJSCCModel, feature_channels  # noqa: E402
from linksim.systems.learned.layers.air import AirInterface  # noqa: E402
from linksim.systems.learned.layers.complex_symbols import PowerNormalization  # noqa: E402


class PlainAWGN(keras.layers.Layer):
    """The usual hand-written Deep JSCC channel: normalize, add N(0, N0/2) per real."""

    def __init__(self, *, snr_db, **kwargs):
        super().__init__(**kwargs)
        self.snr_db = snr_db
        self.normalize = PowerNormalization()

    def call(self, z, no=None, training=False):
        no = 10.0 ** (-self.snr_db / 10.0) if no is None else no
        z = self.normalize(z)
        return z + tf.random.normal(tf.shape(z), stddev=tf.sqrt(tf.cast(no, tf.float32) / 2.0))


def build(air, shape, channels):
    """The network measured here since the first record: filters 16 (8/16/16/16), conv bottleneck."""
    model = DeepJSCCModel(image_shape=shape, features=shape[0] * shape[1] * channels // 16,
                          filters=(8, 16, 16, 16), bottleneck="conv", air_interface=air)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=False)
    return model


def time_training(model, x, batch, steps):
    model.train_on_batch({"image": x[:batch]}, x[:batch])  # trace and build the optimizer
    start = time.perf_counter()
    for i in range(steps):
        b = x[(i * batch) % (len(x) - batch):][:batch]
        model.train_on_batch({"image": b}, b)
    return (time.perf_counter() - start) / steps


def time_inference(model, x, batch, repeats):
    infer = tf.function(lambda v: model({"image": v}, no=tf.constant(0.1), training=False))
    infer(tf.constant(x[:batch]))
    start = time.perf_counter()
    count = 0
    for i in range(repeats):
        b = tf.constant(x[(i * batch) % (len(x) - batch):][:batch])
        infer(b).numpy()
        count += batch
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--eval-batch", type=int, default=500)
    parser.add_argument("--append", type=pathlib.Path)
    args = parser.parse_args()
    config.seed = 1
    keras.utils.set_random_seed(1)
    x = fashion_mnist(split="train", limit=4000).x
    shape = x.shape[1:]
    channels = feature_channels(shape, 1 / 6)
    features = shape[0] * shape[1] * channels // 16
    linksim_air = AirInterface(transmission={"mode": "analog"}, num_features=features,
                               channel=AWGNChannel(), receiver=Receiver(),
                               snr_db=(0.0, 20.0))
    models = {"linksim (AirInterface, Sionna AWGN)": build(linksim_air, shape, channels),
              "plain Keras (tf.random.normal AWGN)": build(PlainAWGN(snr_db=10.0), shape,
                                                           channels)}
    rows = {}
    for name, model in models.items():
        model({"image": x[:2]})
        step = time_training(model, x, args.batch, args.steps)
        rate = time_inference(model, x, args.eval_batch, 8)
        rows[name] = (step, rate)
        print(f"{name}: train step {1e3 * step:.1f} ms (batch {args.batch}), "
              f"inference {rate:.0f} samples/s (batch {args.eval_batch})", flush=True)
    (s_l, r_l), (s_p, r_p) = rows.values()
    print(f"ratio linksim / plain: train step time {s_l / s_p:.2f}x, "
          f"inference throughput {r_l / r_p:.2f}x")
    if args.append:
        machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible"
        lines = [f"\n### Deep JSCC training throughput ({datetime.date.today()})\n",
                 f"Machine: {machine}, TensorFlow {tf.__version__} (CPU), Keras "
                 f"{keras.__version__}. Command: `python benchmarks/train_throughput.py "
                 f"--steps {args.steps} --batch {args.batch}`. Deep JSCC filters 16, ratio 1/6, "
                 f"Fashion-MNIST 28x28, Adam, eager `train_on_batch` after one warm-up step.\n",
                 "| model | train step (ms, batch %d) | inference (samples/s, batch %d) |"
                 % (args.batch, args.eval_batch), "|---|---|---|"]
        lines += [f"| {n} | {1e3 * s:.1f} | {r:.0f} |" for n, (s, r) in rows.items()]
        lines.append(f"| ratio linksim / plain | {s_l / s_p:.2f}x | {r_l / r_p:.2f}x |\n")
        text = args.append.read_text() if args.append.exists() else "# Benchmarks\n"
        if "## Learned systems" not in text:
            text += "\n## Learned systems\n"
        args.append.write_text(text + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
