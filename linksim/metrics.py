"""Task metrics and their 95% confidence intervals.

Per-sample metrics return a float64 array [N] so the runner can average,
take quantiles or count outages; corpus metrics (``bleu``, ``wer``,
``accuracy``) return one float, because they are not means of per-sample
values. Reference arguments come first throughout.

Intervals are computed from additive totals (sums over samples, which the
Monte Carlo runner adds up over batches), treating the evaluated samples as
independent draws; each is two-sided at ``confidence`` (0.95 by default):

* **means** of per-sample values (PSNR, SSIM, channel uses per sample, ...):
  Student-t interval ``mean +- t(n-1) s / sqrt(n)`` from the sum and the sum of
  squares (:func:`mean_interval`); zero width where every sample gave the same
  value (e.g. all at the PSNR cap), undefined (NaN) below two samples;
* **rates** of independent trials (accuracy, exact-sentence rate, feasible
  fraction, frame error rate, BLER): Wilson score interval
  (:func:`wilson_interval`), which stays in [0, 1] and is not empty at 0 or
  all events. Bit error rates use it too, counting bits as trials although
  errors cluster within a block, so a BER interval is narrower than the truth;
* **ratios of totals** over samples of unequal size (WER = word errors /
  reference words, PCM sample error rate, waveform SNR = signal / error
  energy): delta-method (linearization) interval of the ratio estimator with
  t(n-1) quantiles over samples (utterances), from the sums, sums of squares
  and the cross sum (:func:`ratio_interval`; ``log=True`` builds it on the log
  of the ratio, for quantities shown in dB);
* **corpus BLEU**: not a mean of sentence scores, so its interval is the
  delta-method interval of log corpus BLEU as a function of the mean
  per-sentence n-gram statistics (matches and totals for n = 1..4, hypothesis
  and reference length), whose covariance comes from additive cross sums
  (:func:`bleu_statistics`, :func:`bleu_interval`): it says how much the corpus
  BLEU of this many sentences would vary over other sentences of the same
  source and channel. NaN where an n-gram order has no match (BLEU 0: the
  logarithm has no linearization there).

These intervals count sampling noise of the evaluated samples and channel
draws only; a fixed test set, a trained model's seed or an MCS chosen on
calibration frames are not resampled.
"""
import math

import jiwer
import numpy as np
import sacrebleu
from sacrebleu.metrics import BLEU
from scipy import stats
from skimage.metrics import structural_similarity

#: PSNR of identical samples (dB): a finite cap keeps averages finite.
PSNR_CAP_DB = 100.0

# Gaussian window of Wang et al. 2004 (sigma 1.5, 11 taps), as in tf.image.ssim.
_SSIM_SIGMA = 1.5
_SSIM_WINDOW = 11


def psnr(x, y, *, max_value=1.0):
    """Peak signal-to-noise ratio per sample.

    Parameters
    ----------
    x, y : array [N, ...]
        Reference and reconstruction, same shape; sample ``n`` is ``x[n]``.
    max_value : float
        Peak signal value (1.0 for images in [0, 1], 255 for uint8).

    Returns
    -------
    array [N], float64
        ``10 log10(max_value^2 / MSE)`` in dB, at most :data:`PSNR_CAP_DB`
        (identical samples give the cap).
    """
    x, y = _pair(x, y)
    mse = np.mean((x - y) ** 2, axis=tuple(range(1, x.ndim)))
    with np.errstate(divide="ignore"):
        value = 10.0 * np.log10(max_value ** 2 / mse)
    return np.minimum(value, PSNR_CAP_DB)


def ssim(x, y, *, max_value=1.0):
    """Structural similarity per image (scikit-image, Gaussian window as in Wang et al. 2004).

    Uses an 11-tap Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03 and
    population covariances, the settings of the original paper and of
    ``tf.image.ssim`` (they agree to 1e-6 on 28x28 and 32x32 images); the
    mean is taken over the valid region and over channels. Images smaller than 11 pixels on a side use the largest odd
    window that fits (at least 3).

    Parameters
    ----------
    x, y : array [N, H, W] or [N, H, W, C]
        Reference and reconstructed images, same shape.
    max_value : float
        Data range (1.0 for images in [0, 1]).

    Returns
    -------
    array [N], float64
        SSIM in [-1, 1]; 1 for identical images.
    """
    x, y = _pair(x, y)
    if x.ndim not in (3, 4):
        raise ValueError(f"ssim expects [N, H, W] or [N, H, W, C], got shape {x.shape}")
    side = min(x.shape[1], x.shape[2])
    window = min(_SSIM_WINDOW, side if side % 2 else side - 1)
    if window < 3:
        raise ValueError(f"ssim needs images of at least 3x3 pixels, got {x.shape[1:3]}")
    channel_axis = -1 if x.ndim == 4 else None
    return np.array([
        structural_similarity(a, b, data_range=max_value, channel_axis=channel_axis,
                              gaussian_weights=True, sigma=_SSIM_SIGMA, win_size=window,
                              use_sample_covariance=False)
        for a, b in zip(x, y)])


def bleu(refs, hyps):
    """Corpus BLEU (sacrebleu, 13a tokenisation, one reference per sentence).

    Parameters
    ----------
    refs, hyps : sequence of str, length N

    Returns
    -------
    float
        BLEU in [0, 100].
    """
    _same_length(refs, hyps)
    return float(sacrebleu.corpus_bleu(list(hyps), [list(refs)]).score)


def sentence_bleu(refs, hyps):
    """Sentence-level BLEU per sample (sacrebleu, exponential smoothing).

    Returns
    -------
    array [N], float64
        BLEU in [0, 100].
    """
    _same_length(refs, hyps)
    return np.array([sacrebleu.sentence_bleu(h, [r]).score for r, h in zip(refs, hyps)],
                    np.float64)


def exact_match(refs, hyps):
    """1.0 where the hypothesis equals the reference exactly (no normalisation), else 0.0.

    Returns
    -------
    array [N], float64
    """
    _same_length(refs, hyps)
    return np.array([float(r == h) for r, h in zip(refs, hyps)], np.float64)


def wer(refs, hyps):
    """Corpus word error rate (jiwer): word edits over all sentences / reference words.

    Parameters
    ----------
    refs : sequence of str, length N
        Reference transcripts; each must contain at least one word.
    hyps : sequence of str, length N
        Hypotheses; may be empty.

    Returns
    -------
    float
        WER >= 0 (above 1 when hypotheses insert many words).
    """
    _same_length(refs, hyps)
    return float(jiwer.wer(list(refs), list(hyps)))


def accuracy(labels, predictions):
    """Fraction of correct classifications.

    Parameters
    ----------
    labels : int array [N]
    predictions : int array [N], or scores [N, K] (argmax over the last axis)

    Returns
    -------
    float
        Accuracy in [0, 1].
    """
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    if predictions.ndim == labels.ndim + 1:
        predictions = np.argmax(predictions, axis=-1)
    if predictions.shape != labels.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ")
    return float(np.mean(predictions == labels))


# ------------------------------------------------------------------ confidence intervals

#: Per-sentence BLEU statistics, in the order of :func:`bleu_statistics`' cross sums.
_BLEU_FEATURES = ([f"bleu_correct_{n}" for n in range(4)] + [f"bleu_total_{n}" for n in range(4)]
                  + ["bleu_sys_len", "bleu_ref_len"])


def _t(count, confidence):
    return stats.t.ppf(0.5 + confidence / 2, count - 1)


def mean_interval(total, squares, count, *, confidence=0.95):
    """Student-t interval of a mean from additive totals.

    Parameters
    ----------
    total, squares : float
        Sum of the per-sample values and sum of their squares.
    count : int
        Number of samples.

    Returns
    -------
    (float, float)
        ``mean -+ t(count-1) s / sqrt(count)``; (nan, nan) below two samples.
    """
    if count < 2:
        return math.nan, math.nan
    mean = total / count
    # Rounding can make the difference slightly negative for (nearly) constant values.
    variance = max(0.0, (squares - count * mean ** 2) / (count - 1))
    half = _t(count, confidence) * math.sqrt(variance / count)
    return mean - half, mean + half


def wilson_interval(successes, trials, *, confidence=0.95):
    """Wilson score interval of a binomial proportion; (nan, nan) without trials."""
    if trials == 0:
        return math.nan, math.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / trials
    denom = 1 + z ** 2 / trials
    centre = (p + z ** 2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z ** 2 / (4 * trials ** 2)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def ratio_interval(numerator, denominator, count, *, numerator_squares, denominator_squares,
                   cross, log=False, confidence=0.95):
    """Delta-method interval of ``R = sum(a) / sum(b)`` over ``count`` independent samples.

    Parameters
    ----------
    numerator, denominator : float
        ``sum(a)`` and ``sum(b)`` over samples (``sum(b) > 0``).
    count : int
        Number of samples.
    numerator_squares, denominator_squares, cross : float
        ``sum(a^2)``, ``sum(b^2)`` and ``sum(a b)``.
    log : bool
        Build the interval on ``log R`` and exponentiate it (positive, asymmetric;
        for ratios reported in dB). Needs ``sum(a) > 0``.

    Returns
    -------
    (float, float)
        ``R -+ t(count-1) se`` with ``se^2 = var(a - R b) / (count mean(b)^2)``
        (sample variance), or ``exp(log R -+ t se / R)``; (nan, nan) below two
        samples, with ``sum(b) = 0``, or with ``log`` and ``sum(a) = 0``.
    """
    if count < 2 or denominator <= 0 or (log and numerator <= 0):
        return math.nan, math.nan
    ratio = numerator / denominator
    residual = numerator_squares - 2 * ratio * cross + ratio ** 2 * denominator_squares
    variance = max(0.0, residual / (count - 1))
    se = math.sqrt(variance / count) / (denominator / count)
    half = _t(count, confidence) * se
    if log:
        return ratio * math.exp(-half / ratio), ratio * math.exp(half / ratio)
    return ratio - half, ratio + half


def bleu_statistics(refs, hyps):
    """Additive totals of sentence-level BLEU statistics for :func:`bleu_interval`.

    Parameters
    ----------
    refs, hyps : sequence of str, length N

    Returns
    -------
    dict
        Sums over sentences of the n-gram matches ``bleu_correct_{0..3}`` and
        totals ``bleu_total_{0..3}`` (n = 1..4, 13a tokenisation), of
        ``bleu_sys_len`` and ``bleu_ref_len``, and the cross sums
        ``bleu_cross_{i}_{j}`` (``i <= j``) of these ten statistics: corpus BLEU
        of the summed statistics equals :func:`bleu` of the whole corpus.
    """
    _same_length(refs, hyps)
    rows = []
    for ref, hyp in zip(refs, hyps):
        s = sacrebleu.sentence_bleu(hyp, [ref])
        rows.append([*s.counts, *s.totals, s.sys_len, s.ref_len])
    return _bleu_totals(np.array(rows, np.int64).reshape(-1, len(_BLEU_FEATURES)))


def _bleu_totals(features):
    """Sums and cross sums of per-sentence statistics ``features`` int [N, 10]."""
    totals = {name: int(v) for name, v in zip(_BLEU_FEATURES, features.sum(axis=0))}
    cross = features.T @ features
    for i in range(len(_BLEU_FEATURES)):
        for j in range(i, len(_BLEU_FEATURES)):
            totals[f"bleu_cross_{i}_{j}"] = int(cross[i, j])
    return totals


def bleu_score(totals):
    """Corpus BLEU in [0, 100] (sacrebleu, no smoothing) from :func:`bleu_statistics` totals."""
    return BLEU.compute_bleu([totals[f"bleu_correct_{n}"] for n in range(4)],
                             [totals[f"bleu_total_{n}"] for n in range(4)],
                             totals["bleu_sys_len"], totals["bleu_ref_len"]).score


def bleu_interval(totals, count, *, confidence=0.95):
    """Delta-method interval of corpus BLEU from :func:`bleu_statistics` totals of ``count`` sentences.

    ``log BLEU = min(0, 1 - r/c) + sum_n log(m_n / t_n) / 4`` is a function of the
    mean statistics (matches ``m_n``, totals ``t_n``, lengths ``c``, ``r``); its
    gradient and the statistics' sample covariance give the standard error of
    log BLEU, and the interval ``BLEU exp(-+ t(count-1) se)``. (nan, nan) below
    two sentences or where BLEU is 0.

    Returns
    -------
    (float, float)
        Interval in BLEU points [0, 100].
    """
    d = len(_BLEU_FEATURES)
    mean = np.array([totals[name] for name in _BLEU_FEATURES], np.float64) / max(count, 1)
    matches, ngrams, hyp_len, ref_len = mean[:4], mean[4:8], mean[8], mean[9]
    if count < 2 or np.any(matches <= 0) or hyp_len <= 0:
        return math.nan, math.nan
    second = np.zeros((d, d))
    for i in range(d):
        for j in range(i, d):
            second[i, j] = second[j, i] = totals[f"bleu_cross_{i}_{j}"]
    covariance = (second - count * np.outer(mean, mean)) / (count - 1)
    gradient = np.concatenate([0.25 / matches, -0.25 / ngrams, [0.0, 0.0]])
    if ref_len > hyp_len:  # brevity penalty exp(1 - r/c) is active
        gradient[8], gradient[9] = ref_len / hyp_len ** 2, -1.0 / hyp_len
    se = math.sqrt(max(0.0, gradient @ covariance @ gradient) / count)
    score = bleu_score(totals)
    half = _t(count, confidence) * se
    return score * math.exp(-half), min(100.0, score * math.exp(half))


def _pair(x, y):
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} and {y.shape}")
    return x, y


def _same_length(refs, hyps):
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
