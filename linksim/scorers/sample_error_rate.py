"""Share of PCM samples received wrong."""
import numpy as np

from ..registry import register
from ..systems.base import Metric
from ..totals import RatioTotals
from .base import Scorer, waveforms


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
        pairs = list(waveforms(reference, output))
        return RatioTotals.of([np.sum(x != y) for x, y in pairs], [x.size for x, _ in pairs])

    def summarize(self, totals):
        return totals.columns("sample_error_rate")
