"""MFMSC: segment embeddings, the fused vector, channel uses of MFMSC vs MMSC, Table I's
arithmetic, one optimizer per task, the system end to end, its keys and their errors."""
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from sionna.phy import config

from linksim import registry, scenario as scenario_lib
from linksim.cli import main
from linksim.errors import ScenarioError
from linksim.sim import train
from linksim.systems.learned import mfmsc
from linksim.systems.options import Training

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
TASKS = {
    "image_classification": {"image_shape": [8, 8, 1], "patch_size": 4, "num_classes": 3},
    "vqa": {"image_shape": [8, 8, 3], "patch_size": 4, "num_classes": 5},
}
LENGTH = 6


@pytest.fixture(autouse=True)
def seeded():
    config.seed = 5
    keras.utils.set_random_seed(5)


def tiny_model(fusion=True, tasks=TASKS, receiver=None):
    return mfmsc.MFMSCModel(
        tasks=tasks, dim=16, heads=2, mlp_units=16, text_layers=1, image_blocks=1,
        fusion_layers=1, fusion=fusion, channel_units=16, channel_uses=4, text_length=LENGTH,
        output_vocabulary=300, channel=registry.build("channel", {"name": "awgn"}, key="c"),
        receiver=registry.build("receiver", receiver or {"name": "perfect"}, key="r"))


def batch(task, n=5):
    rng = np.random.default_rng(0)
    if task == "image_classification":
        return {"image": rng.random((n, 8, 8, 1), np.float32)}
    tokens = np.zeros((n, LENGTH), np.int32)
    mask = np.zeros((n, LENGTH), bool)
    for i in range(n):
        length = 3 + i % 3
        tokens[i, :length] = [101, *rng.integers(1000, 2000, length - 2), 102]
        mask[i, :length] = True
    return {"image": rng.random((n, 8, 8, 3), np.float32), "question_tokens": tokens,
            "question_mask": mask}


def test_each_modality_has_its_own_segment_embedding_and_no_position_in_the_fusion():
    model = tiny_model()
    model(batch("vqa"), task="vqa")
    segments = model.segments.numpy()
    assert segments.shape == (2, 16)                      # image, text
    assert not np.allclose(segments[0], segments[1])
    # Zero features of 4 image and 6 text tokens: only the segment (and the task token)
    # tell them apart, so swapping the two segment vectors changes the fused vector ...
    features = {"image": (tf.zeros([2, 4, 16]), tf.ones([2, 4])),
                "text": (tf.zeros([2, 6, 16]), tf.ones([2, 6]))}
    fused = model.fuse(features, "vqa").numpy()
    model.segments.assign(segments[::-1])
    assert not np.allclose(model.fuse(features, "vqa").numpy(), fused, atol=1e-5)
    # ... but permuting the tokens inside the sequence does not (no position embeddings).
    model.segments.assign(segments)
    x = tf.random.normal([2, 4, 16])
    a = model.fuse({"image": (x, tf.ones([2, 4])), "text": features["text"]}, "vqa")
    b = model.fuse({"image": (x[:, ::-1], tf.ones([2, 4])), "text": features["text"]}, "vqa")
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_fusion_sends_one_vector_per_sample_and_mmsc_every_token():
    fused, concatenated = tiny_model(), tiny_model(fusion=False)
    inputs = batch("vqa")
    assert fused.transmitted(inputs, "vqa").shape == (5, 1, 16)
    assert concatenated.transmitted(inputs, "vqa").shape == (5, 4 + LENGTH + 1, 16)
    # a single-modal task skips the fusion: its 4 image cells go as they are, in both
    image = batch("image_classification")
    assert fused.transmitted(image, "image_classification").shape == (5, 4, 16)
    for model in (fused, concatenated):
        out = model(inputs, task="vqa", no=0.1)["output"]
        assert out.shape == (5, 5)


def test_channel_uses_of_mfmsc_and_mmsc():
    fused, concatenated = tiny_model(), tiny_model(fusion=False)
    assert fused.symbols("vqa") == 4                        # one vector of 4 channel uses
    assert concatenated.symbols("vqa") == (4 + LENGTH + 1) * 4
    assert fused.symbols("image_classification") == 4 * 4
    assert concatenated.symbols("image_classification") == 4 * 4
    # an LS receiver's pilots are counted
    ls = tiny_model(receiver={"name": "ls", "num_pilots": 2})
    assert ls.symbols("vqa") == 4 + 2
    assert mfmsc.sent_vectors("vqa", image_shape=[64, 64, 3], patch_size=8, text_length=32,
                              fusion=False) == 64 + 32 + 1


def test_table_one_arithmetic_reproduces_the_paper():
    assert mfmsc.overhead_bytes(vectors=1, channel_uses=16) == 128
    assert mfmsc.overhead_bytes(vectors=50, channel_uses=16) == 6400
    assert mfmsc.overhead_bytes(vectors=31, channel_uses=16) == 3968
    assert mfmsc.overhead_bytes(vectors=30, channel_uses=1) == 240
    table = mfmsc.paper_table()
    for name, spec in mfmsc.PAPER_TABLE_I.items():
        computed = tuple(table[name][s] for s in ("MMSC", "T-DeepSC", "U-DeepSC", "MFMSC"))
        np.testing.assert_allclose(computed, spec["printed_kb"], rtol=0, atol=1e-12)
    # the paper's reductions: 98.0 % and 46.7 % (VQA), 96.8 % and 63.6 % (MM-IMDb)
    vqa, imdb = table["VQA v2"], table["MM-IMDb"]
    assert round(100 * (1 - vqa["MFMSC"] / vqa["MMSC"]), 1) == 98.0
    assert round(100 * (1 - vqa["MFMSC"] / vqa["U-DeepSC"]), 1) == 46.7
    assert round(100 * (1 - imdb["MFMSC"] / imdb["MMSC"]), 1) == 96.8
    assert round(100 * (1 - imdb["MFMSC"] / imdb["U-DeepSC"]), 1) == 63.6


@pytest.mark.parametrize("args, says", [
    (["missing.yaml"], "missing.yaml: scenario file not found"),
    (["scenarios/mtoc/mtoc_fashion_mnist.yaml"], "no mfmsc or udeepsc system"),
])
def test_overhead_tool_bad_input_is_one_line_exit_2(args, says):
    result = subprocess.run([sys.executable, "tools/overhead_table.py", *args], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0]


def _fit_per_task(directory):
    """Two epochs of a tiny model, one Adam per task; returns the model and the optimizers."""
    keras.utils.set_random_seed(5)
    config.seed = 5
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = {"image_classification": (batch("image_classification", 8), np.arange(8) % 3),
            "vqa": (batch("vqa", 12), np.arange(12) % 5)}

    def loss(inputs, targets, task, training):
        out = model(inputs, task=task, training=training)["output"]
        value = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            targets, out, from_logits=True))
        return value, {}
    for task, (inputs, _) in data.items():
        model(inputs, task=task)
    optimizers = {task: keras.optimizers.Adam(1e-3) for task in data}
    training = Training(epochs=2, batch_size=4, validation_split=0.0, learning_rate=1e-3,
                        lr_schedule="constant")
    train.fit_tasks(model, data, loss=loss, directory=directory, training=training, seed=1,
                    show_progress=False, optimizers=optimizers)
    return model, optimizers


def test_fit_tasks_steps_each_task_with_its_own_optimizer_and_resumes(tmp_path, monkeypatch):
    straight, optimizers = _fit_per_task(tmp_path / "straight")
    assert int(optimizers["image_classification"].iterations) == 2 * 2   # 8 samples / 4
    assert int(optimizers["vqa"].iterations) == 2 * 3                    # 12 samples / 4
    assert int(straight.optimizer.iterations) == 0
    # interrupted inside epoch 2 (5 batches of inputs and targets per epoch), then resumed:
    # every task's optimizer state comes back, so the weights are those of the straight run
    take, calls = train._take, []

    def interrupted(values, index):
        calls.append(1)
        if len(calls) == 2 * 5 + 3:
            raise KeyboardInterrupt
        return take(values, index)
    monkeypatch.setattr(train, "_take", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _fit_per_task(tmp_path / "resumed")
    monkeypatch.setattr(train, "_take", take)
    resumed, optimizers = _fit_per_task(tmp_path / "resumed")
    assert int(optimizers["vqa"].iterations) == 2 * 3
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


SCENARIO = """
seed: 2
snr: {{db: [0, 20]}}
channel: {{name: awgn}}
stop: {{max_blocks: 40, batch_size: 20}}
train: {{epochs: 1, batch_size: 20, snr_db: 10, train_samples: 40, validation_split: 0.0}}
systems:
  - &m
    name: mfmsc
    dim: 16
    heads: 2
    mlp_units: 16
    text_layers: 1
    fusion_layers: 1
    channel_units: 16
    channel_uses: 4
    output_vocabulary: 1000
    tasks: {tasks}
{extra}
"""
TINY_TASKS = ("{image_classification: {dataset: {name: fashion_mnist}, test_samples: 40, "
              "patch_size: 7}, vqa: {dataset: {name: easy_vqa}, test_samples: 40, patch_size: 16}}")


def build(tmp_path, tasks=TINY_TASKS, extra=""):
    path = tmp_path / "m.yaml"
    path.write_text(SCENARIO.format(tasks=tasks, extra=extra))
    scenario = scenario_lib.load(path)
    return scenario_lib.build(scenario, file=path, checkpoint_root=tmp_path / "ckpt")[2]


def test_mfmsc_trains_and_scores_every_task_and_mfsc_is_one_model_per_task(tmp_path):
    system, per_task = build(tmp_path, extra="  - {<<: *m, shared: false}")
    assert (system.label, per_task.label) == ("MFMSC", "MFSC")
    system.prepare(show_progress=False)
    assert (system.directory / "train.json").exists()
    row = system.summarize(system.run_batch(1.0, batch_index=0)
                           + system.run_batch(1.0, batch_index=1))
    names = {m.name for m in system.metrics}
    assert names == {"image_classification_accuracy", "image_classification_symbols",
                     "vqa_accuracy", "vqa_symbols"}
    for name in names:
        assert row[f"{name}_ci_low"] <= row[name] <= row[f"{name}_ci_high"]
    assert row["vqa_symbols"] == 4 and row["image_classification_symbols"] == 16 * 4
    facts = system.describe()
    assert facts["overhead_per_instance"]["vqa"] == {"vectors": 1, "channel_uses": 4,
                                                     "bytes": 32}
    model = per_task._new_model(compile_model=False)
    assert [m.name for m in model.models] == ["mfsc_image_classification", "mfsc_vqa"]
    assert model.count_params() == sum(m.count_params() for m in model.models)


def test_list_shows_mfmsc_and_its_keys():
    result = CliRunner().invoke(main, ["list", "system"])
    assert result.exit_code == 0
    line = result.output[result.output.index("mfmsc"):].splitlines()[1]
    for key in ("tasks", "dim", "heads", "fusion_layers", "attention_scale", "channel_uses",
                "fusion", "shared", "text_encoder"):
        assert key in line.split("keys: ")[1].split(", ")


@pytest.mark.parametrize("keys, where, says", [
    ("    heads: 3\n", "systems[0].heads", "3 heads do not divide dim 16"),
    ("    fusion_layer: 2\n", "systems[0].fusion_layer", "fusion_layers"),
    ("    transmission: digital\n", "systems[0].transmission", "analog"),
])
def test_bad_keys_are_one_line_errors(tmp_path, keys, where, says):
    text = SCENARIO.format(tasks=TINY_TASKS, extra="").replace("    heads: 2\n", "")
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("    dim: 16\n", "    dim: 16\n" + keys))
    with pytest.raises(ScenarioError) as err:
        scenario_lib.build(scenario_lib.load(path), file=path, checkpoint_root=tmp_path)
    line = str(err.value)
    assert where in line and says in line and "\n" not in line


def test_bad_task_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.format(tasks="{speech_recognition: {dataset: {name: speech}}}",
                                    extra=""))
    result = subprocess.run([sys.executable, "-m", "linksim.cli", "validate", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "speech_recognition" in lines[0] and str(path) in lines[0]
