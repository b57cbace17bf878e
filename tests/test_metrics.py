"""Task metrics against hand-computed values."""
import math

import numpy as np
import pytest

from linksim import metrics


def test_psnr_per_sample_and_cap():
    x = np.zeros((3, 2, 2))
    y = x.copy()
    y[0, 0, 0] = 0.5   # MSE 0.25 / 4
    y[1] = 0.1         # MSE 0.01
    value = metrics.psnr(x, y)
    assert value.shape == (3,)
    np.testing.assert_allclose(value[:2], [10 * math.log10(16), 20.0])
    assert value[2] == metrics.PSNR_CAP_DB
    np.testing.assert_allclose(metrics.psnr(x * 255, y * 255, max_value=255.0)[:2], value[:2])
    with pytest.raises(ValueError):
        metrics.psnr(x, y[:2])


def test_ssim_of_constant_images_is_the_luminance_term():
    x = np.full((2, 28, 28, 1), 0.5)
    y = np.stack([np.full((28, 28, 1), 0.25), np.full((28, 28, 1), 0.5)])
    c1 = 0.01 ** 2
    expected = (2 * 0.5 * 0.25 + c1) / (0.5 ** 2 + 0.25 ** 2 + c1)
    np.testing.assert_allclose(metrics.ssim(x, y), [expected, 1.0], rtol=1e-9)


def test_ssim_rgb_gray_and_small_images():
    rng = np.random.default_rng(0)
    x = rng.random((2, 32, 32, 3))
    y = np.clip(x + 0.05 * rng.standard_normal(x.shape), 0, 1)
    value = metrics.ssim(x, y)
    assert value.shape == (2,) and np.all((value > 0.5) & (value < 1.0))
    gray = metrics.ssim(x[..., 0], y[..., 0])
    np.testing.assert_allclose(gray, metrics.ssim(x[..., :1], y[..., :1]))
    assert metrics.ssim(x[:, :6, :5], y[:, :6, :5]).shape == (2,)
    with pytest.raises(ValueError):
        metrics.ssim(x[:, :2, :2], y[:, :2, :2])


def test_bleu():
    refs = ["the cat sat on the mat"]
    assert metrics.bleu(refs, refs) == pytest.approx(100.0)
    # All n-gram precisions are 1; the brevity penalty is exp(1 - 6/5).
    short = ["the cat sat on the"]
    assert metrics.bleu(refs, short) == pytest.approx(100 * math.exp(-0.2), abs=1e-6)
    assert metrics.bleu(refs, ["dog"]) == pytest.approx(0.0)
    per = metrics.sentence_bleu(refs * 2, ["the cat sat on the mat", "dog"])
    assert per.shape == (2,) and per[0] == pytest.approx(100.0) and per[1] < 10.0
    with pytest.raises(ValueError):
        metrics.bleu(refs, [])


def test_exact_match():
    np.testing.assert_array_equal(metrics.exact_match(["a b", "c"], ["a b", "c "]), [1.0, 0.0])


def test_wer_is_corpus_level():
    # One substitution and one deletion over 4 reference words, then 2 correct words.
    assert metrics.wer(["a b c d"], ["a x c"]) == pytest.approx(0.5)
    assert metrics.wer(["a b c d", "e f"], ["a x c", "e f"]) == pytest.approx(2 / 6)
    assert metrics.wer(["a b"], [""]) == pytest.approx(1.0)


def test_accuracy_from_labels_and_scores():
    labels = np.array([0, 1, 2, 1])
    assert metrics.accuracy(labels, [0, 2, 2, 1]) == pytest.approx(0.75)
    scores = np.eye(3)[[0, 2, 2, 1]] * 5.0
    assert metrics.accuracy(labels, scores) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        metrics.accuracy(labels, [0, 1])
