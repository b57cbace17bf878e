"""Task metrics: image fidelity, text similarity, speech transcripts and classification.

Per-sample metrics return a float64 array [N] so the runner can average,
take quantiles or count outages; corpus metrics (``bleu``, ``wer``,
``accuracy``) return one float, because they are not means of per-sample
values. Reference arguments come first throughout.
"""
import jiwer
import numpy as np
import sacrebleu
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


def _pair(x, y):
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} and {y.shape}")
    return x, y


def _same_length(refs, hyps):
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
