"""Learned systems: the link as Keras layers, training, checkpoints, the digital index path."""
import numpy as np
import pytest
import tensorflow as tf
import keras
from sionna.phy import config

from linksim import metrics, scenario as scenario_lib
from linksim.phy.receiver import LSReceiver, Receiver
from linksim.sim import train
from linksim.systems.learned.layers.air import AirInterface
from linksim.systems.learned.layers.complex_symbols import PowerNormalization

CHANNELS = {"awgn": {"name": "awgn"}, "rayleigh": {"name": "rayleigh"},
            "rician": {"name": "rician", "k_factor": 2.0},
            "nakagami": {"name": "nakagami", "m": 0.7}}
TRANSMISSIONS = {
    "analog": {"mode": "analog"},
    "quantized": {"mode": "quantized", "bits": 4},
    "digital": {"mode": "digital", "codebook_size": 16, "codeword_dim": 2, "commitment": 0.25,
                "code": None, "modulation": {"name": "qam", "bits_per_symbol": 4}},
}


@pytest.fixture(autouse=True)
def seeded():
    config.seed = 7
    keras.utils.set_random_seed(7)


def air(mode, channel, receiver=None, num_features=16):
    """An air interface over ``channel``, a registry spec (rebuilt as from a saved config)."""
    return AirInterface(transmission=TRANSMISSIONS[mode], num_features=num_features,
                        channel=channel,
                        receiver=receiver or Receiver(), snr_db=(0.0, 10.0))


@pytest.mark.parametrize("mode", TRANSMISSIONS)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("receiver", ["perfect", "ls"])
def test_gradients_reach_encoder_and_codebook(mode, channel, receiver):
    rx = Receiver() if receiver == "perfect" else LSReceiver(num_pilots=2)
    layer = air(mode, CHANNELS[channel], rx)
    z = tf.Variable(tf.random.normal([8, 16]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(z * 1.0, training=True))) + sum(layer.losses)
    grads = tape.gradient(loss, [z, *layer.trainable_weights])
    assert all(g is not None for g in grads)
    assert all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)


def test_power_normalization_unit_energy_per_symbol():
    x = tf.random.normal([32, 40]) * tf.random.uniform([32, 1], 0.1, 10.0)
    y = PowerNormalization()(x).numpy()
    k = 20
    np.testing.assert_allclose(np.sum(y ** 2, axis=-1) / k, 1.0, rtol=1e-5)


def test_channel_uses_counts_pilots():
    assert air("analog", CHANNELS["awgn"]).channel_uses == 8
    assert air("analog", CHANNELS["rayleigh"], LSReceiver(num_pilots=2)).channel_uses == 10
    # 8 indices x 4 bits = 32 bits on 16-QAM: 8 symbols.
    assert air("digital", CHANNELS["awgn"]).channel_uses == 8


@pytest.mark.parametrize("channel", CHANNELS)
def test_digital_index_path_is_bit_exact_at_high_snr(channel):
    layer = air("digital", CHANNELS[channel], num_features=64)
    layer.build((None, 64))
    vectors = tf.random.normal([50, 32, 2])
    indices = layer.quantizer.indices(vectors)
    received = layer.index_link(indices, 10 ** (-60 / 10))
    np.testing.assert_array_equal(indices.numpy(), received.numpy())


def assert_intervals(system, row):
    """Every metric has a finite 95% interval around its value (linksim.metrics)."""
    for metric in system.metrics:
        low, high = (row[c] for c in metric.ci)
        assert low <= row[metric.name] <= high, (metric.name, low, row[metric.name], high)
        assert high > low  # 100-200 samples of varying values: never a zero-width interval


def write_scenario(tmp_path, systems, stop="{max_blocks: 200, batch_size: 100}"):
    path = tmp_path / "tiny.yaml"
    path.write_text(f"""
name: tiny
seed: 3
snr: {{db: [10]}}
channel: {{name: rayleigh}}
stop: {stop}
train: {{epochs: 2, batch_size: 50, snr_db: [5, 15], train_samples: 600, validation_split: 0.0}}
systems: {systems}
""")
    scenario = scenario_lib.load(path)
    return scenario_lib.build(scenario, file=path, checkpoint_root=tmp_path / "ckpt")[2]


def history_columns(system):
    """Column names of history.csv without 'epoch' and the 'val_' twins Keras always adds."""
    columns = (system.directory / "history.csv").read_text().splitlines()[0].split(",")
    train_columns = [c for c in columns[1:] if not c.startswith("val_")]
    assert columns == ["epoch", *train_columns, *(f"val_{c}" for c in train_columns)]
    return train_columns


def test_mtoc_learns_above_chance_and_checkpoint_reloads(tmp_path):
    # Four epochs: with two, receiver 2's harder task sits within a few points of chance.
    spec = ("[{name: mtoc, dataset: {name: fashion_mnist}, tasks: paper, test_samples: 200, "
            "training: {epochs: 4}}]")
    systems = write_scenario(tmp_path, spec)
    system = systems[0]
    system.prepare(show_progress=False)
    config.seed = 11
    totals = system.run_batch(0.1, batch_index=0)
    totals = totals + system.run_batch(0.1, batch_index=1)
    row = system.summarize(totals)
    assert row["blocks"] == 200
    assert row["accuracy_rx1"] > 0.7 and row["accuracy_rx2"] > 0.55  # chance is 0.5 for both tasks
    assert_intervals(system, row)
    assert system.describe()["channel_uses_per_sample"] == 10
    assert history_columns(system) == ["loss", "rx1_accuracy", "rx1_loss", "rx2_accuracy",
                                       "rx2_loss"]
    # A second system object finds the checkpoint and must give identical outputs.
    again = write_scenario(tmp_path, spec)[0]
    again.prepare(show_progress=False)
    x = {"image": again.test_data()["classification"].inputs["image"][:20]}
    for model_a, model_b in ((system.model, again.model),
                             (system.model, keras.models.load_model(system.checkpoint))):
        config.seed = 5
        a = model_a(x, no=tf.constant(0.1), training=False)
        config.seed = 5
        b = model_b(x, no=tf.constant(0.1), training=False)
        assert sorted(a) == sorted(b) == ["rx1", "rx2"]
        for rx in a:
            np.testing.assert_allclose(a[rx].numpy(), b[rx].numpy(), rtol=1e-5, atol=1e-6)


def test_stale_checkpoint_is_a_user_error(tmp_path):
    from linksim.errors import UserError
    spec = "[{name: mtoc, dataset: {name: fashion_mnist}, n_c: 8, test_samples: 50, label: m}]"
    write_scenario(tmp_path, spec)[0].prepare(show_progress=False)
    changed = write_scenario(tmp_path, spec.replace("n_c: 8", "n_c: 10"))[0]
    with pytest.raises(UserError, match="other settings"):
        changed.prepare(show_progress=False)


def test_bad_keys_are_one_line_scenario_errors(tmp_path):
    from linksim.errors import ScenarioError
    with pytest.raises(ScenarioError, match="n_c must be even"):
        write_scenario(tmp_path, "[{name: mtoc, dataset: {name: fashion_mnist}, n_c: 7}]")
    with pytest.raises(ScenarioError, match="transmission"):
        write_scenario(tmp_path, "[{name: deepjscc, dataset: {name: fashion_mnist}, "
                                 "transmission: morse}]")


def test_deepjscc_is_scored_by_the_baselines_classifier(tmp_path, monkeypatch):
    monkeypatch.setenv("LINKSIM_DATA", str(tmp_path / "data"))  # a fresh classifier cache
    system = write_scenario(tmp_path, "[{name: deepjscc, dataset: {name: fashion_mnist}, "
                                      "filters: 4, classifier: true, "
                                      "classifier_train_samples: 600, test_samples: 100}]")[0]
    system.prepare(show_progress=False)
    assert (tmp_path / "data" / "classifiers").is_dir()
    config.seed = 11
    row = system.summarize(system.run_batch(0.1, batch_index=0))
    assert row["blocks"] == 100 and 0.0 <= row["accuracy"] <= 1.0
    assert [m.name for m in system.metrics] == ["psnr", "ssim", "accuracy"]
    assert_intervals(system, row)
    assert history_columns(system) == ["loss", "psnr"]


def test_training_psnr_is_the_evaluation_psnr():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(5, 6, 6, 2)).astype(np.float32)
    y = np.clip(x + rng.normal(scale=[[[[0.01]]], [[[0.1]]], [[[0.3]]], [[[0.0]]], [[[1.0]]]],
                               size=x.shape), 0, 1).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(train.psnr(x, y)),
                               metrics.psnr(x, y), rtol=1e-5)


def test_progress_is_a_line_per_epoch_and_no_bar_off_a_terminal(tmp_path, capsys):
    from linksim.systems.options import Training
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((40, 3), np.float32)
    training = Training(epochs=2, batch_size=8, validation_split=0.0)
    train.fit(model, x, x[:, :1], directory=tmp_path, training=training, seed=1)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [["epoch", "1/2"], ["epoch", "2/2"]]
    assert all("loss=" in line for line in lines[:-1])
    assert lines[-1].startswith("stopped: max epochs (2); best epoch")
    assert err == ""  # pytest's stderr is not a terminal: no bar refreshes
    train.fit(model, x, x[:, :1], directory=tmp_path / "quiet", training=training, seed=1,
              epochs=1, show_progress=False)
    assert capsys.readouterr() == ("", "")
