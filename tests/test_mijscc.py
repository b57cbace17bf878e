"""MIJSCC / A-MIJSCC building blocks: shapes, gradients, the adaptive prefix mask."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config

from linksim import metrics, registry
from linksim import scenario as scenario_lib
from linksim.phy.channel import AWGNChannel
from linksim.phy.receiver import Receiver
from linksim.scenario import Stop
from linksim.systems.context import Context
from linksim.totals import SampleTotals
from linksim.systems.learned import mijscc
from linksim.systems.learned.layers import masks, mutual_information, prefix_channel
from linksim.systems.learned.layers.air import AirInterface


@pytest.fixture(autouse=True)
def seeded():
    config.seed = 3
    keras.utils.set_random_seed(3)


def air(mode="analog", bits=8, num_symbols=256):
    return AirInterface(transmission={"mode": mode, "bits": bits}, num_features=2 * num_symbols,
                        channel=AWGNChannel(), receiver=Receiver(), snr_db=(6.0, 21.0))


def model(*, cls=mijscc.MijsccModel, image_shape=(32, 32, 3), num_symbols=256, width=1.0,
          mi_weight=0.01, mode="analog", **extra):
    return cls(image_shape=image_shape, num_symbols=num_symbols, width=width, num_classes=10,
               classifier_units=(32, 16), mi_weight=mi_weight, global_weight=0.01,
               local_weight=1.0, air_interface=air(mode, num_symbols=num_symbols), **extra)


def test_full_width_encoder_sends_256_symbols_for_cifar_sized_images():
    encoder = mijscc.build_encoder(image_shape=(32, 32, 3), num_symbols=256, width=1.0)
    decoder = mijscc.build_decoder(image_shape=(32, 32, 3), num_symbols=256, width=1.0)
    features, z = encoder(tf.random.uniform([2, 32, 32, 3]))
    assert features.shape == (2, 4, 4, 256)        # Table I: 256 x 4 x 4 before the last conv
    assert z.shape == (2, 512)                      # 512 reals = 256 complex symbols
    assert 256 / (32 * 32 * 3) == 1 / 12            # the paper's bandwidth ratio
    image = decoder(z)
    assert image.shape == (2, 32, 32, 3)
    assert float(tf.reduce_min(image)) >= 0.0 and float(tf.reduce_max(image)) <= 1.0


def test_critic_scores_have_the_documented_shapes():
    z = tf.random.normal([3, 64])
    assert mutual_information.GlobalCritic(width=0.125)(tf.random.uniform([3, 32, 32, 1]), z).shape == (3,)
    assert mutual_information.LocalCritic(width=0.125)(tf.random.normal([3, 4, 4, 8]), z).shape == (3, 4, 4)


def test_jsd_estimate_rewards_critics_that_separate_pairs():
    good = mutual_information.jsd_mutual_information(tf.fill([8], 10.0), tf.fill([8], -10.0))
    blind = mutual_information.jsd_mutual_information(tf.zeros([8]), tf.zeros([8]))
    assert float(good) > float(blind)
    assert float(blind) == pytest.approx(-2 * np.log(2), rel=1e-6)
    assert float(good) <= 0.0


@pytest.mark.parametrize("mode", ["analog", "quantized"])
def test_gradients_reach_every_weight_through_quantizer_and_mi_losses(mode):
    net = model(image_shape=(16, 16, 1), num_symbols=32, width=0.125, mode=mode)
    x = tf.random.uniform([4, 16, 16, 1])
    net({"image": x})
    net.classifier.trainable = False
    with tf.GradientTape() as tape:
        out = net({"image": x}, training=True)
        loss = tf.reduce_mean(tf.square(out["reconstruction"] - x)) + tf.add_n(net.losses)
    weights = net.trainable_weights
    grads = tape.gradient(loss, weights)
    names = {w.path for w in weights}
    assert any("global_critic" in n for n in names) and any("local_critic" in n for n in names)
    missing = [w.path for w, g in zip(weights, grads) if g is None]
    assert not missing
    encoder_grads = [g for w, g in zip(weights, grads) if w.path.startswith("encoder")]
    assert all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in encoder_grads[:1])


def test_quantized_link_sends_at_most_2_pow_q_levels_per_sample():
    net = model(image_shape=(16, 16, 1), num_symbols=32, width=0.125, mode="quantized")
    z = tf.random.normal([2, 64])
    sent = net.air.quantizer(z)
    assert len(np.unique(sent.numpy()[0])) <= 2 ** 8


def test_reverse_cumsum_scores_are_non_increasing_and_the_mask_is_a_prefix():
    g = tf.random.uniform([5, 40])
    scores = masks.decreasing_scores(g)
    assert np.all(np.diff(scores.numpy(), axis=-1) <= 1e-6)
    mask = masks.prefix_mask(scores, threshold=3.0).numpy()
    assert set(np.unique(mask)) <= {0.0, 1.0}
    for row in mask:
        ones = int(row.sum())
        assert 0 < ones < 40
        np.testing.assert_array_equal(row, np.r_[np.ones(ones), np.zeros(40 - ones)])


def test_noise_encoder_output_is_non_negative_and_sent_fraction_falls_as_snr_rises():
    encoder = masks.NoiseEncoder(num_outputs=64)
    snr_db = np.arange(0.0, 22.0, 3.0)
    no = tf.constant(10 ** (-snr_db / 10), tf.float32)
    g = encoder(no)
    assert float(tf.reduce_min(g)) >= 0.0
    assert all(float(tf.reduce_min(k)) >= 0.0 for k in encoder.kernels)    # raw weights >= 0 too
    fraction = tf.reduce_mean(masks.prefix_mask(masks.decreasing_scores(g), threshold=0.6),
                              axis=-1).numpy()
    assert np.all(np.diff(fraction) <= 0)
    assert fraction[-1] < fraction[0]


def test_adaptive_model_sends_a_shorter_prefix_at_high_snr_and_zeros_the_rest():
    net = model(cls=mijscc.AdaptiveMijsccModel, image_shape=(16, 16, 1), num_symbols=64,
                width=0.125, mode="quantized", threshold=0.6, attention=True,
                noise_units=(16, 16, 16), attention_units=32)
    z = tf.random.normal([3, 128])
    net({"image": tf.random.uniform([3, 16, 16, 1])})
    # The threshold passes no gradient, so the noise encoder is frozen, never left gradient-less.
    assert not net.noise_encoder.trainable_weights
    assert net.enhance.trainable_weights
    low, sent_low = net.transmit(z, no=tf.constant(1.0))
    high, sent_high = net.transmit(z, no=tf.constant(10 ** -2.1))
    assert float(sent_high[0]) < float(sent_low[0]) <= 64
    k = int(sent_high[0])
    np.testing.assert_array_equal(high.numpy()[:, 2 * k:], 0.0)
    assert np.all(np.abs(high.numpy()[:, :2 * k]).sum(axis=-1) > 0)


def test_prefix_channel_spends_unit_energy_per_symbol_sent():
    link = prefix_channel.PrefixChannel(channel=AWGNChannel(), receiver=Receiver())
    mask = tf.constant([[1.0] * 10 + [0.0] * 6])
    x = tf.concat([tf.random.normal([1, 20]), tf.zeros([1, 12])], axis=-1)
    y = link(x, mask, tf.constant([1e-12]))                  # noiseless: y is what was sent
    assert float(tf.reduce_sum(tf.square(y))) == pytest.approx(10.0, rel=1e-4)


def test_fit_images_pads_grey_images_and_repeats_channels():
    x = np.ones((2, 28, 28, 1), np.float32)
    out = mijscc.fit_images(x, (32, 32, 3))
    assert out.shape == (2, 32, 32, 3)
    assert out[:, 2:30, 2:30].min() == 1.0 and out[:, :2].max() == 0.0
    with pytest.raises(ValueError):
        mijscc.fit_images(np.ones((1, 40, 40, 1), np.float32), (32, 32, 3))


def _tiny_trained_mijscc(tmp_path, link="channel: {name: awgn}", train_samples=96):
    """A tiny MIJSCC system of a one-point scenario on ``link``, trained (1 epoch per stage)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(f"""
name: tiny
seed: 3
snr: {{db: [10]}}
{link}
stop: {{max_blocks: 20, batch_size: 20}}
train: {{epochs: 1, batch_size: 32, train_samples: {train_samples}, validation_split: 0.25}}
systems: [{{name: mijscc, dataset: {{name: fashion_mnist}}, image_shape: [32, 32, 1],
           num_symbols: 16, width: 0.125, classifier_units: [8, 8], classifier_epochs: 1,
           test_samples: 20}}]
""")
    system = scenario_lib.build(scenario_lib.load(path), file=path,
                                checkpoint_root=tmp_path / "ckpt")[2][0]
    system.prepare(show_progress=False)
    return system


def test_stages_log_reconstruction_psnr_and_classifier_accuracy(tmp_path):
    system = _tiny_trained_mijscc(tmp_path)
    header = {stage: (system.directory / stage / "history.csv").read_text().split()[0]
              for stage in ("stage1", "stage2")}
    assert header == {"stage1": "epoch,loss,psnr,val_loss,val_psnr",
                      "stage2": "epoch,accuracy,loss,val_accuracy,val_loss"}
    stops = system.describe()["training_stop"]
    assert sorted(stops) == ["stage1", "stage2"]
    assert all(stop["stopped"] == "max_epochs" for stop in stops.values())
    for stage in ("stage1", "stage2"):
        assert (tmp_path / "training" / f"{system.directory.name}.{stage}.png").exists()


def test_scores_are_means_and_rates_with_intervals(tmp_path):
    context = Context(channel=AWGNChannel(), receiver=Receiver(),
                      stop=Stop(max_blocks=4, batch_size=4), checkpoint_dir=tmp_path, key="s")
    system = registry.build("system", {"name": "mijscc", "dataset": {"name": "fashion_mnist"},
                                       "image_shape": [32, 32, 1], "num_symbols": 8,
                                       "test_samples": 4},
                            key="s", context=context)
    system.source_shape = (28, 28)
    rng = np.random.default_rng(0)
    images = rng.random((4, 32, 32, 1)).astype(np.float32)
    noisy = np.clip(images + 0.1 * rng.standard_normal(images.shape), 0, 1).astype(np.float32)
    sent = np.array([8, 6, 4, 8])
    outputs = {"reconstruction": tf.constant(noisy), "symbols_sent": tf.constant(sent),
               "logits": tf.constant(np.eye(10)[[1, 2, 3, 0]], tf.float32)}
    batch = {"image": images, "label": np.array([1, 2, 3, 4])}
    totals = SampleTotals(blocks=4, scores=system.evaluate(outputs, batch, system.tasks[0]))
    row = system.summarize(totals)
    crop = (slice(None), slice(2, 30), slice(2, 30))
    psnr = metrics.psnr(images[crop], noisy[crop])
    assert row["psnr"] == pytest.approx(psnr.mean())
    assert row["ssim"] == pytest.approx(metrics.ssim(images[crop], noisy[crop]).mean())
    assert (row["psnr_ci_low"], row["psnr_ci_high"]) == pytest.approx(
        metrics.mean_interval(psnr.sum(), np.sum(psnr ** 2), 4))
    assert row["accuracy"] == 0.75
    assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == metrics.wilson_interval(3, 4)
    assert row["fraction_sent"] == pytest.approx(sent.mean() / 8)
    low, high = metrics.mean_interval(sent.sum(), np.sum(sent ** 2), 4)
    assert (row["fraction_sent_ci_low"], row["fraction_sent_ci_high"]) == pytest.approx(
        (low / 8, high / 8))
    assert row["channel_uses"] == pytest.approx(sent.mean())  # AWGN, perfect CSI: no pilots
    assert row["channel_uses_ci_low"] < row["channel_uses"] < row["channel_uses_ci_high"]


def test_mijscc_trains_with_ls_receiver_in_a_graph(tmp_path):
    """Keras fit traces with a dynamic batch: the LS receiver still sees a static symbol count."""
    system = _tiny_trained_mijscc(tmp_path, link="channel: {name: rayleigh, fading: block}\n"
                                  "receiver: {name: ls, num_pilots: 2, equalizer: lmmse}",
                                  train_samples=64)
    assert system.model.count_params() > 0
