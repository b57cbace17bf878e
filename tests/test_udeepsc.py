"""U-DeepSC: FSM selection at inference, the ratio net, indices over the link, symbol counts,
the two training phases, fit_tasks' resume, the system end to end and its key errors."""
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config

from linksim import registry, scenario as scenario_lib
from linksim.errors import ScenarioError
from linksim.sim import train
from linksim.systems.learned import udeepsc
from linksim.systems.options import Training

TASKS = {
    "image_classification": {"image_shape": [8, 8, 1], "patch_size": 4, "num_classes": 3},
    "text_reconstruction": {"image_shape": None, "patch_size": 4, "num_classes": None},
    "vqa": {"image_shape": [8, 8, 3], "patch_size": 4, "num_classes": 5},
}
LENGTH = 8


@pytest.fixture(autouse=True)
def seeded():
    config.seed = 5
    keras.utils.set_random_seed(5)


def tiny_model(channel="awgn", code=None, tasks=TASKS):
    return udeepsc.UDeepSCModel(
        tasks=tasks, dim=16, heads=2, mlp_units=16, encoder_layers=1, channel_layers=2,
        decoder_layers=1, num_fsm=2, fsm_units=8, text_length=LENGTH, output_vocabulary=300,
        indices_per_vector=2, codeword_dim=2, codebook_size=16, code=code,
        channel=registry.build("channel", {"name": channel}, key="channel"),
        receiver=registry.build("receiver", {"name": "perfect"}, key="receiver"), snr_db=10.0)


def batch(task, n=6):
    rng = np.random.default_rng(0)
    tokens = np.zeros((n, LENGTH), np.int32)
    mask = np.zeros((n, LENGTH), bool)
    for i in range(n):
        length = 3 + i % 4
        tokens[i, :length] = [101, *rng.integers(1000, 2000, length - 2), 102]
        mask[i, :length] = True
    if task == "image_classification":
        return {"image": rng.random((n, 8, 8, 1), np.float32)}
    if task == "text_reconstruction":
        return {"tokens": tokens, "token_mask": mask}
    return {"image": rng.random((n, 8, 8, 3), np.float32), "question_tokens": tokens,
            "question_mask": mask}


def test_inference_selection_nests_and_keeps_ceil_n_delta_q():
    model = tiny_model()
    x = tf.random.normal([4, 9, 16])
    valid = tf.ones([4, 9])
    no = tf.constant([0.01, 0.1, 1.0, 10.0])
    delta = model.ratio(no)[:, 0]
    fsm1, fsm2 = (udeepsc.FeatureSelection(units=8) for _ in range(2))
    m1 = model._select(fsm1, x, valid, 9.0, no, delta, False)
    m2 = model._select(fsm2, x, m1, 9.0, no, delta ** 2, False)
    assert np.all(m2.numpy() <= m1.numpy())                  # a dropped vector stays dropped
    expected = [np.maximum(np.ceil(9 * delta.numpy() ** q), 1) for q in (1, 2)]
    np.testing.assert_array_equal(m1.numpy().sum(1), expected[0])
    np.testing.assert_array_equal(m2.numpy().sum(1), expected[1])
    # the kept ones are those of highest keep probability among the previously kept
    _, keep = fsm1(x, valid, no, training=False)
    for row, kept in zip(keep.numpy(), m1.numpy()):
        assert row[kept > 0].min() >= row[kept == 0].max(initial=-1)
    # random selection keeps as many, at random
    model.selection = "random"
    random = model._select(fsm1, x, valid, 9.0, no, delta, False)
    np.testing.assert_array_equal(random.numpy().sum(1), m1.numpy().sum(1))


def test_ratio_net_rises_with_noise_so_fewer_vectors_are_sent_at_high_snr():
    model = tiny_model()
    sigma2 = tf.constant(np.logspace(-3, 1, 30), tf.float32)
    delta = model.ratio(sigma2).numpy()[:, 0]
    assert np.all(np.diff(delta) >= 0) and delta[-1] > delta[0]
    inputs = batch("image_classification")
    kept = [model(inputs, task="image_classification", no=10 ** (-snr / 10))["kept"].numpy()
            for snr in (-6, 6, 20)]
    assert np.all(kept[0] >= kept[1]) and np.all(kept[1] >= kept[2])
    assert kept[0].mean() > kept[2].mean()


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_indices_round_trip_through_bits_mapper_and_demapper_at_high_snr(channel):
    model = tiny_model(channel=channel)
    for key, link in model.links.items():
        indices = tf.constant(np.random.default_rng(1).integers(0, 16, (20, link.num_indices)),
                              tf.int32)
        np.testing.assert_array_equal(link(indices, 1e-6).numpy(), indices.numpy(), err_msg=key)
    # at 0 dB hard 16-QAM decisions make errors: the link is simulated, not bypassed
    link = model.links["vqa/image"]
    indices = tf.zeros([20, link.num_indices], tf.int32)
    assert np.any(link(indices, 1.0).numpy() != 0)


@pytest.mark.parametrize("code", [None, {"name": "ldpc5g", "k": 64, "n": 128}])
def test_symbols_count_the_kept_vectors_index_bits(code):
    model = tiny_model(code=code)
    for task in TASKS:
        out = model(batch(task), task=task, no=0.1)
        kept = out["kept"].numpy()
        bits = kept * 2 * 4                                  # 2 indices of log2(16) bits
        if code is not None:
            bits = np.ceil(bits / 64) * 128
        np.testing.assert_array_equal(model.symbols(kept, task), np.ceil(bits / 4))
        assert np.all(kept <= model.sent_vectors(task))
    # text: padding is never sent; the task token may be
    out = model(batch("text_reconstruction"), task="text_reconstruction", no=1e-3)
    lengths = batch("text_reconstruction")["token_mask"].sum(1)
    assert np.all(out["kept"].numpy() <= lengths + 1)


def test_outputs_have_the_task_shapes_and_noiseless_delivers_the_codewords():
    model = tiny_model()
    shapes = {"image_classification": (6, 3), "text_reconstruction": (6, LENGTH, 300),
              "vqa": (6, 5)}
    for task, shape in shapes.items():
        assert tuple(model(batch(task), task=task)["output"].shape) == shape
    model.noiseless = True
    quiet = model(batch("vqa"), task="vqa", no=100.0)["output"].numpy()
    clean = model(batch("vqa"), task="vqa", no=100.0)["output"].numpy()
    np.testing.assert_allclose(quiet, clean, atol=1e-5)     # no channel errors at any SNR
    model.noiseless = False
    noisy = model(batch("vqa"), task="vqa", no=100.0)["output"].numpy()
    assert not np.allclose(noisy, clean, atol=1e-3)


def test_phase_two_trains_codebook_and_ratio_net_phase_one_neither():
    model = tiny_model(tasks={"image_classification": TASKS["image_classification"]})
    inputs = batch("image_classification")
    model(inputs, task="image_classification")
    for phase in (1, 2):
        model.phase = phase
        model.ratio_net.trainable = phase == 2
        with tf.GradientTape() as tape:
            out = model(inputs, task="image_classification", training=True)
            loss = tf.reduce_sum(out["output"] ** 2) + out["fsm_loss"] + out["vq_loss"] + \
                tf.reduce_mean(out["delta"])
        names = [v.path for v in model.trainable_variables]
        grads = dict(zip(names, tape.gradient(loss, model.trainable_variables)))
        codebook = [n for n in names if "codebook" in n]
        ratio = [n for n in names if "ratio_net" in n]
        if phase == 1:
            assert not ratio and all(grads[n] is None for n in codebook)
        else:
            assert ratio and all(grads[n] is not None for n in codebook + ratio)


# --- fit_tasks: one task per step, resumable -----------------------------------------------

class TwoHeads(keras.Model):
    def __init__(self):
        super().__init__()
        self.body = keras.layers.Dense(8, activation="relu")
        self.heads = {"a": keras.layers.Dense(1), "b": keras.layers.Dense(1)}

    def call(self, inputs, task):
        return self.heads[task](self.body(inputs["x"]))


def _fit(tmp_path, name, epochs=3):
    keras.utils.set_random_seed(1)
    config.seed = 1
    model = TwoHeads()
    rng = np.random.default_rng(0)
    data = {task: ({"x": rng.normal(size=(60, 4)).astype(np.float32)},
                   rng.normal(size=(60, 1)).astype(np.float32)) for task in ("a", "b")}
    for task in data:
        model({"x": data[task][0]["x"][:2]}, task=task)
    model.compile(optimizer=keras.optimizers.AdamW(0.01))
    seen = []

    def loss(inputs, targets, task, training):
        seen.append(task)
        return tf.reduce_mean(tf.square(model(inputs, task=task) - targets)), {}
    training = Training(epochs=epochs, batch_size=10, validation_split=0.2, patience=None)
    summary = train.fit_tasks(model, data, loss=loss, directory=tmp_path / name,
                              training=training, seed=1, curve=tmp_path / f"{name}-curve",
                              show_progress=False)
    return model, summary, set(seen)


def test_fit_tasks_resumes_an_interrupted_run_exactly(tmp_path, monkeypatch):
    straight, summary, tasks = _fit(tmp_path, "straight")
    assert tasks == {"a", "b"} and summary["epochs_run"] == 3
    assert (tmp_path / "straight" / "train.json").exists()
    assert not (tmp_path / "straight" / "backup").exists()
    assert (tmp_path / "straight-curve.png").exists()
    history = (tmp_path / "straight" / "history.csv").read_text().splitlines()
    assert len(history) == 4 and "val_a_loss" in history[0]

    take, calls = train._take, []

    def interrupted(values, index):
        calls.append(1)
        if len(calls) == 2 * 12 + 5:   # inside epoch 2 (12 batches of inputs and targets each)
            raise KeyboardInterrupt
        return take(values, index)
    monkeypatch.setattr(train, "_take", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "resumed")
    assert json.loads((tmp_path / "resumed" / "backup" / "progress.json").read_text()) == \
        {"epoch": 1}
    monkeypatch.setattr(train, "_take", take)
    resumed, summary, _ = _fit(tmp_path, "resumed")
    assert summary["epochs_run"] == 3
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# --- the system --------------------------------------------------------------------------

SCENARIO = """
name: udeepsc-tiny
seed: 2
snr: {{db: [0, 20]}}
channel: {{name: awgn}}
stop: {{max_blocks: 40, batch_size: 20}}
train: {{epochs: 1, batch_size: 20, snr_db: 10, train_samples: 60, validation_split: 0.0}}
systems:
  - &u
    name: udeepsc
    dim: 16
    heads: 2
    mlp_units: 16
    encoder_layers: 1
    channel_layers: 2
    decoder_layers: 1
    fsm_units: 8
    indices_per_vector: 2
    output_vocabulary: 1000
    phase1_epochs: 1
    transmission: {{mode: digital, codebook_size: 16, codeword_dim: 2}}
    tasks: {tasks}
{extra}
"""
TINY_TASKS = ("{image_classification: {dataset: {name: fashion_mnist}, test_samples: 40, "
              "patch_size: 7}, text_classification: {dataset: {name: rotten_tomatoes}, "
              "test_samples: 40}}")


def write(tmp_path, tasks=TINY_TASKS, extra="", **keys):
    text = SCENARIO.format(tasks=tasks, extra=extra)
    for key, value in keys.items():
        text = text.replace("    phase1_epochs: 1\n", f"    phase1_epochs: 1\n    {key}: {value}\n")
    path = tmp_path / "u.yaml"
    path.write_text(text)
    return path


def build(path, tmp_path):
    scenario = scenario_lib.load(path)
    return scenario_lib.build(scenario, file=path, checkpoint_root=tmp_path / "ckpt")[2]


def test_udeepsc_trains_two_phases_and_scores_every_task(tmp_path):
    extra = "  - {<<: *u, label: random, selection: random, model_from: U-DeepSC}"
    systems = build(write(tmp_path, extra=extra), tmp_path)
    system, random = systems
    system.prepare(show_progress=False)
    assert (system.directory / "phase1" / "train.json").exists()
    assert (system.directory / "phase2" / "train.json").exists()
    rows = {}
    for snr in (0.0, 20.0):
        totals = system.run_batch(10 ** (-snr / 10), batch_index=0)
        for b in (1,):
            totals = totals + system.run_batch(10 ** (-snr / 10), batch_index=b)
        rows[snr] = system.summarize(totals)
    names = {m.name for m in system.metrics}
    assert names == {"image_classification_accuracy", "image_classification_symbols",
                     "text_classification_accuracy", "text_classification_symbols"}
    for row in rows.values():
        for name in names:
            assert row[f"{name}_ci_low"] <= row[name] <= row[f"{name}_ci_high"]
    # fewer symbols at high SNR (delta rises with the noise), never more than all vectors
    assert rows[20.0]["image_classification_symbols"] <= rows[0.0]["image_classification_symbols"]
    assert rows[0.0]["image_classification_symbols"] <= 17 * 2   # 17 vectors x 8 bits, 16-QAM
    # the random-selection variant evaluates the same trained model, sending as many vectors
    random.prepare(show_progress=False)
    assert random.directory == system.directory
    row = random.summarize(random.run_batch(1.0, batch_index=0) +
                           random.run_batch(1.0, batch_index=1))
    assert row["text_classification_symbols"] == rows[0.0]["text_classification_symbols"]
    facts = system.describe()
    assert facts["parameters"] > 0 and facts["symbols_if_all_sent"]["image_classification"] == 34


def test_tdeepsc_is_one_model_per_task_with_the_parameters_summed(tmp_path):
    shared, separate = build(write(tmp_path, extra="  - {<<: *u, shared: false}"), tmp_path)
    assert separate.label == "T-DeepSC"
    models = [s._new_model(compile_model=False) for s in (shared, separate)]
    assert len(models[1].models) == 2
    assert models[1].count_params() == sum(m.count_params() for m in models[1].models)
    assert models[1].count_params() > models[0].count_params()


@pytest.mark.parametrize("keys, where, says", [
    ({"heads": 3}, "systems[0].heads", "3 heads do not divide dim 16"),
    ({"num_fsm": 3}, "systems[0].num_fsm", "3 FSMs need as many channel_layers"),
    ({"transmission": "analog"}, "systems[0].transmission.mode", "should be 'digital'"),
    ({"tasks": "{image_captioning: {dataset: {name: fashion_mnist}}}"}, "systems[0].tasks",
     "image_captioning"),
    ({"tasks": "{image_classification: {dataset: {name: fashion_mnist}, patch_size: 5}}"},
     "systems[0].tasks.image_classification.patch_size", "5 does not divide the 28x28"),
])
def test_bad_keys_are_one_line_errors(tmp_path, keys, where, says):
    text = SCENARIO.format(tasks=keys.pop("tasks", TINY_TASKS), extra="")
    for key, value in keys.items():
        text = text.replace(f"    {key}: ", f"    {key}_old: ") if f"    {key}: " in text else text
        text = text.replace("    phase1_epochs: 1\n", f"    phase1_epochs: 1\n    {key}: {value}\n")
        text = text.replace(f"    {key}_old: ", "    # ")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        build(path, tmp_path)
        for system in build(path, tmp_path):
            system.test_data()
            system._task_specs()
    line = str(err.value)
    assert where in line and says in line and "\n" not in line


def test_bad_task_name_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.format(
        tasks="{video_sentiment: {dataset: {name: fashion_mnist}}}", extra=""))
    result = subprocess.run([sys.executable, "-m", "linksim.cli", "validate", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "video_sentiment" in lines[0] and str(path) in lines[0]
