"""Waveform signal-to-noise ratio of received audio."""
import numpy as np

from .. import metrics
from ..registry import register
from ..systems.base import Metric
from ..totals import RatioTotals, with_ci
from .base import Scorer, waveforms


@register("scorer", "waveform_snr")
class WaveformSNR(Scorer):
    """Signal over error energy, summed over utterances, in dB (capped like PSNR at 100 dB).

    Reference and output: waveforms per utterance (any shape; output reshaped to
    the reference's). Interval: delta method on the log of the ratio, over
    utterances (needs some error energy). Totals: :class:`RatioTotals`.
    """

    metrics = (Metric("waveform_snr", "waveform SNR [dB]"),)

    def __init__(self):
        pass

    def score(self, reference, output):
        pairs = list(waveforms(reference, output))
        return RatioTotals.of([np.sum(x ** 2) for x, _ in pairs],
                              [np.sum((x - y) ** 2) for x, y in pairs])

    def summarize(self, totals):
        signal, error = totals.numerator, totals.denominator
        # Capped like PSNR so a lossless point stays finite; the interval is built on the
        # log of signal / error energy, so it needs some error energy.
        floor = signal * 10 ** (-metrics.PSNR_CAP_DB / 10)
        low = high = np.nan
        if error > floor:
            low, high = totals.interval(log=True)
        return with_ci("waveform_snr", 10 * np.log10(signal / max(error, floor)),
                       (10 * np.log10(low), 10 * np.log10(high)))
