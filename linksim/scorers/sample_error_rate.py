"""Share of PCM samples received wrong."""
import numpy as np

from ..registry import register
from ..systems.base import Metric
from ..totals import RatioTotals
from .base import Scorer


@register("scorer", "sample_error_rate")
class SampleErrorRate(Scorer):
    """Share of PCM samples received wrong; delta-method interval over utterances.

    Reference and output: waveforms per utterance; the rate is wrong samples
    over all samples (utterances differ in length, hence a ratio interval).
    Totals: :class:`RatioTotals`.
    """

    metrics = (Metric("sample_error_rate", "PCM sample error rate", log=True),)
    higher_is_better = False

    def __init__(self):
        pass

    def score(self, reference, output):
        errors, samples = [], []
        for ref, out in zip(reference, output):
            x = np.asarray(ref, np.float64)
            errors.append(np.sum(x != np.asarray(out, np.float64).reshape(x.shape)))
            samples.append(x.size)
        return RatioTotals.of(errors, samples)

    def summarize(self, totals):
        return totals.columns("sample_error_rate")
