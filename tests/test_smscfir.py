"""SMSC-FIR (seed 003): feature budget, importance ranking, VeRi-776 loader, CLI listing."""
import math

import numpy as np
import pytest
import tensorflow as tf
import yaml
from click.testing import CliRunner
from PIL import Image
from sionna.phy import config

from linksim.cli import main
from linksim.sources.datasets import VERI_COLOURS, VERI_TYPES, veri776
from linksim.systems.learned.layers.importance import feature_budget
from linksim.systems.learned.smscfir import (SELECTIONS, batch_hard_triplet, budget,
                                             importance, selection_mask)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("channel_uses,num_features", [(1440.0, 64), (720.0, 32), (100.0, 8)])
def test_budget_follows_the_formula_and_the_ranking_keeps_exactly_b(channel_uses, num_features):
    config.seed = 3
    snr_db = np.arange(-10.0, 20.5, 0.5)
    no = tf.constant(10.0 ** (-snr_db / 10.0), tf.float32)
    b = budget(no, channel_uses=channel_uses, num_features=num_features).numpy()
    # The paper's floor(T W log2(1 + SNR) / 64), clipped to [1, L].
    expected = [min(max(feature_budget(s, channel_uses=channel_uses), 1), num_features)
                for s in snr_db]
    np.testing.assert_array_equal(b, expected)
    assert np.all(np.diff(b) >= 0) and b[0] < b[-1]          # more features as the SNR rises
    scores = tf.random.normal([len(snr_db), num_features])
    for selection in SELECTIONS:
        mask = selection_mask(selection, scores, tf.constant(b)).numpy()
        np.testing.assert_array_equal(mask.sum(axis=1), b)
    top = selection_mask("importance", scores, tf.constant(b)).numpy()
    for row, (s, k) in enumerate(zip(scores.numpy(), b)):
        assert set(np.flatnonzero(top[row])) == set(np.argsort(-s, kind="stable")[:k])
    first = selection_mask("sequential", scores, tf.constant(b)).numpy()
    np.testing.assert_array_equal(first, np.arange(num_features)[None, :] < b[:, None])


def test_budget_at_the_scenario_snrs():
    # T W = 1440 channel uses, L = 64: the CPU scenario's budgets at -6..8 dB.
    no = tf.constant([10.0 ** (-s / 10.0) for s in range(-6, 9, 2)], tf.float32)
    got = budget(no, channel_uses=1440.0, num_features=64).numpy().tolist()
    assert got == [math.floor(1440 * math.log2(1 + 10 ** (s / 10)) / 64)
                   for s in range(-6, 9, 2)] == [7, 10, 15, 22, 30, 40, 52, 64]


def test_importance_is_the_weighted_gradient_of_the_top_class_probabilities():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(3, 6)).astype(np.float32)        # 3 complex features
    w = {"a": rng.normal(size=(6, 4)).astype(np.float32),
         "b": rng.normal(size=(6, 2)).astype(np.float32)}
    weights = {"a": 1.0, "b": 0.125}

    def probabilities(x):
        return {k: tf.nn.softmax(x @ w[k]) for k in w}

    s = importance(tf.constant(features), probabilities, weights).numpy()
    # By hand: p = softmax(x W), top class c: dp_c/dx = p_c (W[:, c] - sum_j p_j W[:, j]).
    grad = np.zeros_like(features)
    for k, matrix in w.items():
        logits = features @ matrix
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        c = p.argmax(1)
        top = p[np.arange(3), c]
        grad += weights[k] * top[:, None] * (matrix[:, c].T - p @ matrix.T)
    expected = np.hypot(grad[:, 0::2], grad[:, 1::2])
    np.testing.assert_allclose(s, expected, rtol=1e-4, atol=1e-7)


def test_batch_hard_triplet_uses_the_farthest_positive_and_nearest_negative():
    e = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    ids = tf.constant([0, 0, 1, 2])
    # Anchor 0: farthest positive sample 1 (sqrt 2), nearest negative sample 2 (0).
    # Anchor 1: positive 0 (sqrt 2), negative 2 (sqrt 2). Anchors 2, 3: no positive (0).
    margin = 0.3
    expected = (max(math.sqrt(2) + margin, 0) + margin + max(0 - 0 + margin, 0)
                + max(0 - math.sqrt(2) + margin, 0)) / 4
    got = float(batch_hard_triplet(e, ids, margin))
    assert got == pytest.approx(expected, abs=1e-3)


def _veri_fixture(root):
    """A tiny VeRi-776 directory in the published layout (gb2312 label files)."""
    names = {"image_train": ["0001_c001_00016450_0.jpg", "0001_c002_00016460_0.jpg",
                             "0003_c004_00020000_1.jpg", "0003_c005_00020100_0.jpg"],
             "image_query": ["0002_c002_00030600_0.jpg", "0005_c003_00081000_0.jpg"],
             "image_test": ["0002_c004_00030700_0.jpg", "0005_c001_00081020_0.jpg",
                            "0005_c010_00081050_1.jpg"]}
    rng = np.random.default_rng(1)
    for folder, files in names.items():
        (root / folder).mkdir(parents=True)
        for name in files:
            pixels = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / name)
    header = '<?xml version="1.0" encoding="gb2312"?>\n<TrainingImages Version="1.0">\n<Items>\n'
    item = '<Item imageName="{}" vehicleID="{}" cameraID="c0" colorID="{}" typeID="{}" />\n'
    train = "".join(item.format(n, n[:4], 5, 0 if n.startswith("0003") else 1)
                    for n in names["image_train"])
    test = "".join(item.format(n, n[:4], 10 if n.startswith("0005") else 1, 7)
                   for n in names["image_test"])
    for filename, items in (("train_label.xml", train), ("test_label.xml", test)):
        (root / filename).write_bytes((header + items + "</Items>\n</TrainingImages>\n")
                                      .encode("gb2312"))
    return names


def test_veri776_loader_reads_the_published_layout(tmp_path):
    names = _veri_fixture(tmp_path / "VeRi")
    root = str(tmp_path / "VeRi")
    train = veri776(split="train", root=root, image_size=16)
    assert train.x.shape == (4, 16, 16, 3) and train.x.dtype == np.float32
    assert 0.0 <= train.x.min() and train.x.max() <= 1.0
    np.testing.assert_array_equal(train.y, [0, 0, 1, 1])           # classes of the identity head
    assert train.num_classes == 2
    assert train.field_classes["colour"] == VERI_COLOURS and train.field_classes["type"] == VERI_TYPES
    np.testing.assert_array_equal(train.fields["colour"], [4, 4, 4, 4])      # colorID 5: red
    # typeID 0 of vehicle 3 is the known erratum: an SUV (typeID 2).
    np.testing.assert_array_equal(train.fields["type"], [0, 0, 1, 1])
    # The positive of each image is the next image of its vehicle.
    np.testing.assert_array_equal(train.fields["positive"], train.x[[1, 0, 3, 2]])
    query = veri776(split="test", root=root, image_size=16)
    assert len(query) == len(names["image_query"])
    np.testing.assert_array_equal(query.y, [2, 5])                 # vehicle ids, as in the names
    # Query images are not in test_label.xml: their labels come from the vehicle's gallery images.
    np.testing.assert_array_equal(query.fields["colour"], [0, 9])
    np.testing.assert_array_equal(query.fields["type"], [6, 6])
    gallery = veri776(split="gallery", root=root, image_size=16, limit=2)
    np.testing.assert_array_equal(gallery.y, [2, 5])
    assert "positive" not in gallery.fields


def test_bad_veri_path_is_one_line_and_exit_2(tmp_path):
    scenario = {
        "name": "veri", "seed": 1, "snr": {"definition": "esno", "db": [0.0]},
        "channel": {"name": "rician", "k_factor": 2.0}, "receiver": {"name": "perfect"},
        "stop": {"max_blocks": 10, "batch_size": 10},
        "systems": [{"name": "smscfir", "dataset": {"name": "veri776",
                                                    "root": str(tmp_path / "nowhere")}}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = invoke("run", path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "nowhere" in lines[0] and "image_train/" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing written, not even a checkpoint folder


def test_list_shows_smscfir_and_its_keys():
    listing = invoke("list", "system").output
    assert "smscfir" in listing
    keys = invoke("list", "--markdown").output
    section = keys[keys.index("smscfir"):]
    for key in ("selection", "full_transmission", "slot_s", "bandwidth_hz", "stage1_epochs",
                "reid_weight", "transmission", "jpeg_code", "model_from"):
        assert key in section, key
    assert "veri776" in keys and "easy_vqa_reid" in keys


def test_easy_vqa_stand_in_pairs_views_of_one_image():
    from linksim.sources.datasets import easy_vqa_reid
    train = easy_vqa_reid(split="train", limit=25, train_views=10)
    assert len(train) == 25 and train.num_classes == 3            # 10 + 10 + 5 views
    np.testing.assert_array_equal(train.y, np.repeat([0, 1, 2], [10, 10, 5]))
    # The positive is the next view of the same image.
    x, positive = train.x.reshape(25, -1), train.fields["positive"].reshape(25, -1)
    np.testing.assert_array_equal(positive[:10], x[list(range(1, 10)) + [0]])
    query = easy_vqa_reid(split="test", limit=4)
    gallery = easy_vqa_reid(split="gallery", limit=4, gallery_views=2)
    np.testing.assert_array_equal(gallery.y, np.repeat(query.y, 2))
    np.testing.assert_array_equal(gallery.fields["colour"], np.repeat(query.fields["colour"], 2))
    assert not np.allclose(gallery.x[0], query.x[0])              # independent views
    assert train.stands_in_for == "veri776"
