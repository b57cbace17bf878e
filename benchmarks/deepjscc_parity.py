"""Deep JSCC parity: the paper's network in plain Keras vs linksim's ``deepjscc``, equal budget.

Both sides train the same network (Bourtsoulatze et al. 2019: 5x5 convolutions
of 16/32/32/32 channels, strides 2, 2, 1, 1, PReLU, a dense bottleneck to
exactly 2k reals, mirrored transposed convolutions, sigmoid output) on the same
images (the first ``--train`` of Fashion-MNIST's train split, the last
``--validation-split`` of them held out as Keras does), for the same epochs,
batch size, learning rate (Adam, constant) and training Es/N0 range (uniform per
image), from the same seed. The plain side is written here with nothing from
linksim: a Keras ``Sequential`` encoder and decoder and a complex-AWGN layer
(power normalization to unit energy per complex symbol, CN(0, N0) noise at an
Es/N0 drawn per image). The linksim side is the registry's ``deepjscc`` system
built from a scenario and trained by ``LearnedSystem`` (Sionna AWGN channel and
receiver in :class:`~linksim.systems.learned.layers.AirInterface`).

Both are scored on the same ``--test`` test images at 0, 5, 10, 15, 20 dB with
the same PSNR (MAX = 1, :func:`linksim.metrics.psnr`) and its 95% t-interval.

    python benchmarks/deepjscc_parity.py [--train 6000 --epochs 10 --channel-uses 131]
                                         [--append results/benchmarks.md]
"""
import argparse
import datetime
import os
import pathlib
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sionna.phy import config  # noqa: E402

from linksim import metrics, scenario as scenario_lib  # noqa: E402
from linksim.sources.datasets import fashion_mnist  # noqa: E402

SNRS_DB = (0, 5, 10, 15, 20)


class ComplexAWGN(keras.layers.Layer):
    """Unit energy per complex symbol, then CN(0, N0) noise at Es/N0 drawn per image.

    Input: [batch, 2k] float32 (pairs = real and imaginary parts). Output: the same shape.
    ``snr_db`` given: that Es/N0 for every image (evaluation).
    """

    def __init__(self, *, snr_range_db, seed, **kwargs):
        super().__init__(**kwargs)
        self.snr_range_db = snr_range_db
        self.seed = keras.random.SeedGenerator(seed)

    def call(self, z, snr_db=None):
        k = tf.cast(tf.shape(z)[-1], tf.float32) / 2.0
        z = z * tf.sqrt(k / tf.reduce_sum(tf.square(z), axis=-1, keepdims=True))
        if snr_db is None:
            snr_db = keras.random.uniform([tf.shape(z)[0], 1], *self.snr_range_db, seed=self.seed)
        no = 10.0 ** (-snr_db / 10.0)
        return z + tf.sqrt(no / 2.0) * keras.random.normal(tf.shape(z), seed=self.seed)


class PlainDeepJSCC(keras.Model):
    """The paper's Deep JSCC with a dense bottleneck, in plain Keras."""

    def __init__(self, *, image_shape, channel_uses, snr_range_db, seed):
        super().__init__()
        h, w, c = image_shape
        act = lambda: keras.layers.PReLU(shared_axes=[1, 2])  # noqa: E731
        conv = lambda f, s: [keras.layers.Conv2D(f, 5, strides=s, padding="same"), act()]  # noqa: E731
        tconv = lambda f, s: [keras.layers.Conv2DTranspose(f, 5, strides=s, padding="same"),  # noqa: E731
                              act()]
        self.encoder = keras.Sequential([*conv(16, 2), *conv(32, 2), *conv(32, 1), *conv(32, 1),
                                         keras.layers.Flatten(),
                                         keras.layers.Dense(2 * channel_uses)])
        self.channel = ComplexAWGN(snr_range_db=snr_range_db, seed=seed)
        self.decoder = keras.Sequential([
            keras.layers.Dense(h // 4 * w // 4 * 32), keras.layers.PReLU(),
            keras.layers.Reshape((h // 4, w // 4, 32)),
            *tconv(32, 1), *tconv(32, 1), *tconv(32, 1), *tconv(16, 2),
            keras.layers.Conv2DTranspose(c, 5, strides=2, padding="same", activation="sigmoid")])

    def call(self, x, snr_db=None):
        return self.decoder(self.channel(self.encoder(x), snr_db))


def psnr_with_ci(x, y):
    values = metrics.psnr(x, y).astype(np.float64)
    low, high = metrics.mean_interval(values.sum(), np.square(values).sum(), len(values))
    return float(values.mean()), float(low), float(high)


def train_plain(args, x_train, shape):
    keras.utils.set_random_seed(args.seed)
    model = PlainDeepJSCC(image_shape=shape, channel_uses=args.channel_uses,
                          snr_range_db=(args.snr_lo, args.snr_hi), seed=args.seed)
    model(x_train[:2])
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
    start = time.perf_counter()
    model.fit(x_train, x_train, epochs=args.epochs, batch_size=args.batch,
              validation_split=args.validation_split, shuffle=True, verbose=0)
    seconds = time.perf_counter() - start

    def decode(x, snr_db):
        return model(x, snr_db=tf.fill([len(x), 1], float(snr_db)))
    return model, decode, seconds


def train_linksim(args, directory):
    path = directory / "parity.yaml"
    path.write_text(f"""
name: parity
seed: {args.seed}
snr: {{definition: esno, db: {list(SNRS_DB)}}}
channel: {{name: awgn}}
receiver: {{name: perfect}}
stop: {{max_blocks: {args.test}, batch_size: 500}}
systems:
  - name: deepjscc
    label: linksim
    dataset: {{name: fashion_mnist}}
    channel_uses: {args.channel_uses}
    bottleneck: dense
    filters: [16, 32, 32, 32]
    test_samples: {args.test}
    training: {{epochs: {args.epochs}, batch_size: {args.batch},
                learning_rate: {args.learning_rate}, snr_db: [{args.snr_lo}, {args.snr_hi}],
                snr_draw: sample, train_samples: {args.train},
                validation_split: {args.validation_split}, lr_schedule: constant,
                patience: null}}
""")
    system = scenario_lib.build(scenario_lib.load(path), file=path,
                                checkpoint_root=directory / "checkpoints")[2][0]
    start = time.perf_counter()
    system.prepare(show_progress=False)
    seconds = time.perf_counter() - start

    def decode(x, snr_db):
        return system.model(x, no=tf.constant(10.0 ** (-snr_db / 10.0), tf.float32),
                            training=False)
    return system, decode, seconds


def evaluate(decode, x, snr_db, seed):
    """Mean PSNR and interval over ``x`` at ``snr_db``, in batches of 500, noise seeded."""
    config.seed = seed
    keras.utils.set_random_seed(seed)
    y = np.concatenate([np.asarray(decode(x[i:i + 500], snr_db)) for i in range(0, len(x), 500)])
    return psnr_with_ci(x, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=6000, help="training images (incl. validation)")
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--validation-split", type=float, default=0.1)
    parser.add_argument("--channel-uses", type=int, default=131,
                        help="k per 28x28 image (131 = bandwidth ratio 1/6)")
    parser.add_argument("--snr-lo", type=float, default=0.0)
    parser.add_argument("--snr-hi", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--append", type=pathlib.Path, help="Markdown file to add the table to")
    args = parser.parse_args()
    x_train = fashion_mnist(split="train", limit=args.train).x
    x_test = fashion_mnist(split="test", limit=args.test).x
    shape = x_train.shape[1:]
    with tempfile.TemporaryDirectory() as tmp:
        system, linksim_decode, linksim_s = train_linksim(args, pathlib.Path(tmp))
        plain, plain_decode, plain_s = train_plain(args, x_train, shape)
        params = (int(plain.count_params()), system.describe()["parameters"])
        rows = [(snr, evaluate(plain_decode, x_test, snr, args.seed + 100 + snr),
                 evaluate(linksim_decode, x_test, snr, args.seed + 100 + snr)) for snr in SNRS_DB]
    lines = [f"| Es/N0 (dB) | plain Keras PSNR [95% CI] | linksim PSNR [95% CI] | "
             f"linksim - plain (dB) |", "|---|---|---|---|"]
    for snr, (p, pl, ph), (q, ql, qh) in rows:
        lines.append(f"| {snr} | {p:.2f} [{pl:.2f}, {ph:.2f}] | {q:.2f} [{ql:.2f}, {qh:.2f}] | "
                     f"{q - p:+.2f} |")
    worst = max(abs(q[0] - p[0]) for _, p, q in rows)
    summary = (f"Parameters: plain {params[0]}, linksim {params[1]}. Training time: plain "
               f"{plain_s:.0f} s, linksim {linksim_s:.0f} s. Largest gap {worst:.2f} dB "
               f"({'within' if worst <= 0.3 else 'NOT within'} 0.3 dB).")
    print("\n".join(lines))
    print(summary)
    if args.append:
        command = (f"python benchmarks/deepjscc_parity.py --train {args.train} --test {args.test} "
                   f"--epochs {args.epochs} --batch {args.batch} --channel-uses "
                   f"{args.channel_uses} --snr-lo {args.snr_lo:g} --snr-hi {args.snr_hi:g} "
                   f"--seed {args.seed}")
        machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible"
        text = args.append.read_text() if args.append.exists() else "# Benchmarks\n"
        text += (f"\n### Deep JSCC parity: plain Keras vs linksim ({datetime.date.today()})\n\n"
                 f"Command: `{command}`. Machine: {machine}, TensorFlow {tf.__version__} (CPU), "
                 f"Keras {keras.__version__}. Fashion-MNIST, {args.channel_uses} channel uses "
                 f"per 28x28 image (dense bottleneck), {args.train} training images "
                 f"({args.validation_split:g} held out), {args.epochs} epochs, batch "
                 f"{args.batch}, Adam {args.learning_rate:g} constant, training Es/N0 uniform "
                 f"in [{args.snr_lo:g}, {args.snr_hi:g}] dB per image, seed {args.seed}; "
                 f"{args.test} test images per point.\n\n" + "\n".join(lines) + f"\n\n{summary}\n")
        args.append.write_text(text)


if __name__ == "__main__":
    main()
