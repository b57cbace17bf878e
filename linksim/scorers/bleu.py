"""Corpus BLEU from additive n-gram counts."""
import dataclasses

from .. import metrics
from ..registry import register
from ..systems.base import Metric
from ..totals import Totals, with_ci
from .base import Scorer


@dataclasses.dataclass
class BleuTotals(Totals):
    """Sentences scored and the sums of their BLEU statistics (:func:`linksim.metrics.bleu_statistics`:
    n-gram matches and totals for n = 1..4, hypothesis and reference lengths, and
    their cross sums), all integers, so corpus BLEU of summed batches is exact."""

    count: int = 0
    statistics: dict = dataclasses.field(default_factory=dict)


@register("scorer", "bleu")
class BLEU(Scorer):
    """Corpus BLEU (sacrebleu 13a, one reference) in [0, 100]; delta-method interval over sentences.

    Reference and output: sequences of str [N]. Totals: :class:`BleuTotals`.
    """

    metrics = (Metric("bleu", "BLEU"),)

    def __init__(self):
        pass

    def score(self, reference, output):
        reference = list(reference)
        return BleuTotals(count=len(reference), statistics=metrics.bleu_statistics(
            reference, [str(o) for o in output]))

    def summarize(self, totals):
        return with_ci("bleu", metrics.bleu_score(totals.statistics),
                       metrics.bleu_interval(totals.statistics, totals.count))
