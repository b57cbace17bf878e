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


# ------------------------------------------------------------------ confidence intervals

def test_mean_interval_known_values():
    # Values 1, 2, 3: mean 2, s = 1, t(0.975, 2) = 4.302653.
    low, high = metrics.mean_interval(6.0, 14.0, 3)
    half = 4.302652729911275 / math.sqrt(3)
    assert (low, high) == pytest.approx((2 - half, 2 + half))
    assert metrics.mean_interval(15.0, 75.0, 3) == pytest.approx((5.0, 5.0))  # constant values
    assert all(math.isnan(v) for v in metrics.mean_interval(1.0, 1.0, 1))


def test_wilson_interval_known_values():
    assert metrics.wilson_interval(5, 10) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    # No event in 10 trials: from 0 up to z^2 / (n + z^2).
    assert metrics.wilson_interval(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)
    assert metrics.wilson_interval(10, 10) == pytest.approx((1 - 0.277533, 1.0), abs=1e-6)
    assert all(math.isnan(v) for v in metrics.wilson_interval(0, 0))


def test_ratio_interval_reduces_to_the_mean_for_unit_denominators():
    a = np.array([0.0, 2.0, 1.0, 5.0])
    ones = np.ones_like(a)
    low, high = metrics.ratio_interval(a.sum(), ones.sum(), a.size,
                                       numerator_squares=np.sum(a ** 2),
                                       denominator_squares=a.size, cross=a.sum())
    assert (low, high) == pytest.approx(metrics.mean_interval(a.sum(), np.sum(a ** 2), a.size))
    # On the log scale the interval is positive and contains the ratio.
    b = np.array([2.0, 3.0, 1.0, 4.0])
    args = dict(numerator_squares=np.sum(a ** 2), denominator_squares=np.sum(b ** 2),
                cross=np.sum(a * b))
    low, high = metrics.ratio_interval(a.sum(), b.sum(), a.size, log=True, **args)
    assert 0 < low < a.sum() / b.sum() < high
    assert all(math.isnan(v) for v in metrics.ratio_interval(0.0, 1.0, 4, log=True, **args))


def test_bleu_interval_from_additive_statistics():
    refs = ["the cat sat on the mat", "a dog ran in the park today", "hello there my friend"]
    hyps = ["the cat sat on a mat", "a dog ran in park today", "hello there friend"]
    half = metrics.bleu_statistics(refs[:2], hyps[:2])
    rest = metrics.bleu_statistics(refs[2:], hyps[2:])
    totals = {k: half[k] + rest[k] for k in half}      # what the runner does over batches
    assert metrics.bleu_score(totals) == pytest.approx(metrics.bleu(refs, hyps))
    low, high = metrics.bleu_interval(totals, len(refs))
    assert 0 < low < metrics.bleu(refs, hyps) < high <= 100
    perfect = metrics.bleu_statistics(refs, refs)
    assert metrics.bleu_interval(perfect, 3) == pytest.approx((100.0, 100.0))
    # No 4-gram match: BLEU 0 has no linearization, so no interval.
    zero = metrics.bleu_statistics(refs, ["the cat", "a dog", "hello"])
    assert all(math.isnan(v) for v in metrics.bleu_interval(zero, 3))


def _coverage(draw, interval, truth, repeats=400):
    return np.mean([low <= truth <= high for low, high in (interval(draw()) for _ in range(repeats))])


def test_intervals_cover_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    # Mean of skewed per-sample values (exponential, mean 2), 60 samples.
    cover = _coverage(lambda: rng.exponential(2.0, 60),
                      lambda v: metrics.mean_interval(v.sum(), np.sum(v ** 2), v.size), 2.0)
    assert 0.91 <= cover <= 0.98
    # A rate of 0.1 in 100 trials.
    cover = _coverage(lambda: rng.binomial(100, 0.1), lambda k: metrics.wilson_interval(k, 100),
                      0.1)
    assert 0.91 <= cover <= 0.99
    # A ratio over samples of unequal size (errors / words per utterance; true ratio 0.2).
    def utterances():
        words = rng.integers(3, 30, 80)
        return rng.binomial(words, 0.2), words

    def ratio(sample):
        a, b = sample
        return metrics.ratio_interval(a.sum(), b.sum(), a.size, numerator_squares=np.sum(a ** 2),
                                      denominator_squares=np.sum(b ** 2), cross=np.sum(a * b))
    assert 0.91 <= _coverage(utterances, ratio, 0.2) <= 0.98


def test_bleu_interval_coverage():
    """Synthetic sentence statistics: n-gram matches binomial with fixed precisions."""
    rng = np.random.default_rng(2)
    precision = np.array([0.8, 0.6, 0.45, 0.35])

    def sentences(count):
        length = rng.integers(6, 25, count)
        ngrams = np.maximum(length[:, None] - np.arange(4), 0)
        matches = rng.binomial(ngrams, precision)
        reference = length + rng.integers(-1, 4, count)
        return np.column_stack([matches, ngrams, length, reference])

    population = sentences(400_000)
    truth = metrics.bleu_score(metrics._bleu_totals(population))
    cover = _coverage(lambda: metrics._bleu_totals(sentences(100)),
                      lambda totals: metrics.bleu_interval(totals, 100), truth, repeats=300)
    assert 0.91 <= cover <= 0.98
