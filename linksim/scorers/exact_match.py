"""Exact-sentence rate."""
import numpy as np

from .. import metrics
from ..registry import register
from ..systems.base import Metric
from ..totals import RateTotals
from .base import Scorer


@register("scorer", "exact_match")
class ExactMatch(Scorer):
    """Share of outputs equal to their reference string (no normalisation); Wilson interval.

    Reference and output: sequences of str [N]. Totals: :class:`RateTotals`.
    """

    metrics = (Metric("exact_match", "exact sentence rate"),)

    def __init__(self):
        pass

    def score(self, reference, output):
        hits = metrics.exact_match(list(reference), [str(o) for o in output])
        return RateTotals(events=int(np.sum(hits)), trials=len(hits))

    def summarize(self, totals):
        return totals.columns("exact_match")
