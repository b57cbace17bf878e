"""Training that converges: early stopping, LR schedule, curve files, resume; Deep JSCC sizes."""
import json
import math

import keras
import numpy as np
import pytest
from sionna.phy import config

from linksim.errors import ScenarioError
from linksim.sim import train
from linksim.systems.options import Training

from test_learned import write_scenario


@pytest.fixture(autouse=True)
def seeded():
    config.seed = 7
    keras.utils.set_random_seed(7)


def tiny_model():
    model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model(np.zeros((2, 4), np.float32))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def tiny_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True)


# min_delta 0.9: no epoch after the first counts as an improvement, so every decision is
# fixed in advance: early stop after epoch 1 + patience, the LR halved after every epoch
# without improvement.
STALLING = dict(epochs=8, batch_size=20, validation_split=0.2, patience=3, min_delta=0.9,
                lr_schedule="plateau", lr_patience=1, lr_factor=0.5)


def run(tmp_path, **keys):
    x, y = tiny_data()
    keras.utils.set_random_seed(7)  # every run starts from the same weights
    model = tiny_model()
    summary = train.fit(model, x, y, directory=tmp_path / "ckpt", training=Training(**keys),
                        seed=3, curve=tmp_path / "training" / "tiny_rho_0.5", show_progress=False)
    return model, summary


def curve(tmp_path):
    lines = (tmp_path / "training" / "tiny_rho_0.5.csv").read_text().splitlines()
    assert lines[0] == ",".join(train.CURVE_COLUMNS)
    return [dict(zip(train.CURVE_COLUMNS, map(float, line.split(",")))) for line in lines[1:]]


def test_early_stopping_records_why_and_keeps_the_best_weights(tmp_path):
    model, summary = run(tmp_path, **STALLING)
    assert summary["stopped"] == "early_stopping"
    assert (summary["epochs_run"], summary["best_epoch"], summary["max_epochs"]) == (4, 1, 8)
    assert json.loads((tmp_path / "ckpt" / "train.json").read_text()) == summary
    # The kept weights are epoch 1's: their validation loss (same data, no noise) is the best.
    x, y = tiny_data()
    assert model.evaluate(x[160:], y[160:], verbose=0) == pytest.approx(summary["best_loss"],
                                                                         rel=1e-5)
    assert (tmp_path / "training" / "tiny_rho_0.5.png").stat().st_size > 0
    assert not (tmp_path / "ckpt" / "backup").exists()


def test_plateau_and_cosine_schedules_change_the_learning_rate(tmp_path):
    run(tmp_path / "plateau", **STALLING)
    assert [r["learning_rate"] for r in curve(tmp_path / "plateau")] == pytest.approx(
        [1e-3, 1e-3, 5e-4, 2.5e-4])
    _, summary = run(tmp_path / "cosine", epochs=4, batch_size=20, lr_schedule="cosine",
                     min_learning_rate=1e-4, patience=None)
    assert summary["stopped"] == "max_epochs" and summary["epochs_run"] == 4
    expected = [1e-4 + 0.5 * 9e-4 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert [r["learning_rate"] for r in curve(tmp_path / "cosine")] == pytest.approx(expected)
    run(tmp_path / "constant", epochs=3, batch_size=20, lr_schedule="constant", **{
        "patience": None})
    rows = curve(tmp_path / "constant")
    assert [r["learning_rate"] for r in rows] == pytest.approx([1e-3] * 3)
    assert all(r["val_loss"] > 0 for r in rows)


def test_interrupted_training_resumes_and_ends_the_same_way(tmp_path, monkeypatch):
    _, uninterrupted = run(tmp_path / "once", **STALLING)
    # Interrupt after epoch 2 has been recorded (Convergence and BackupAndRestore run first).
    original = keras.callbacks.CSVLogger.on_epoch_end

    def interrupt(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "twice", **STALLING)
    assert len(curve(tmp_path / "twice")) == 2
    assert (tmp_path / "twice" / "ckpt" / "backup" / "convergence.json").exists()
    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", original)
    _, resumed = run(tmp_path / "twice", **STALLING)
    assert resumed == uninterrupted
    assert curve(tmp_path / "twice") == curve(tmp_path / "once")[:2] + curve(tmp_path / "twice")[2:]
    assert [r["learning_rate"] for r in curve(tmp_path / "twice")] == \
        [r["learning_rate"] for r in curve(tmp_path / "once")]


def test_deepjscc_dense_bottleneck_sends_exactly_k_and_reports_why_it_stopped(tmp_path):
    system = write_scenario(tmp_path, "[{name: deepjscc, dataset: {name: fashion_mnist}, "
                                      "channel_uses: 131, filters: [2, 4, 4, 4], "
                                      "test_samples: 20, label: d, "
                                      "training: {epochs: 3, train_samples: 100, "
                                      "validation_split: 0.2, patience: 1, min_delta: 0.9}}]")[0]
    system.prepare(show_progress=False)
    facts = system.describe()
    assert facts["channel_uses_per_sample"] == 131 and facts["bottleneck"] == "dense"
    assert facts["parameters"] == system.model.count_params() > 0
    assert facts["training_stop"]["stopped"] == "early_stopping"
    assert facts["training_stop"]["epochs_run"] == 2
    assert (tmp_path / "training" / "d.csv").exists() and (tmp_path / "training" / "d.png").exists()
    # The ratio form: round(rho * 784) channel uses, odd too; the conv bottleneck rounds.
    for spec, uses in (("bandwidth_ratio: 0.1667", 131), ("channel_uses: 7", 7),
                       ("bandwidth_ratio: 0.5, bottleneck: conv", 392)):
        other = write_scenario(tmp_path, "[{name: deepjscc, dataset: {name: fashion_mnist}, "
                                         f"{spec}, filters: 4, test_samples: 20}}]")[0]
        other._use(other._new_model(compile_model=False))
        assert other.describe()["channel_uses_per_sample"] == uses


def test_deepjscc_size_keys_are_checked(tmp_path):
    with pytest.raises(ScenarioError, match="not both"):
        write_scenario(tmp_path, "[{name: deepjscc, dataset: {name: fashion_mnist}, "
                                 "channel_uses: 10, bandwidth_ratio: 0.1}]")
    with pytest.raises(ScenarioError, match="filters"):
        write_scenario(tmp_path, "[{name: deepjscc, dataset: {name: fashion_mnist}, "
                                 "filters: [8, 8]}]")
    with pytest.raises(ScenarioError, match="min_learning_rate"):
        write_scenario(tmp_path, "[{name: deepjscc, dataset: {name: fashion_mnist}, "
                                 "training: {learning_rate: 0.001, min_learning_rate: 0.01}}]")
