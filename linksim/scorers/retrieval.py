"""Retrieval of received query features against a gallery: rank-1 and mean average precision."""
import dataclasses
from typing import Literal

import numpy as np

from ..registry import register
from ..systems.base import Metric
from ..totals import MeanTotals, RateTotals, Totals
from .base import Scorer


@dataclasses.dataclass
class RetrievalTotals(Totals):
    """Queries whose nearest gallery item has their id, and average precision per query."""

    rank1: RateTotals = dataclasses.field(default_factory=RateTotals)
    average_precision: MeanTotals = dataclasses.field(default_factory=MeanTotals)


@register("scorer", "retrieval")
class Retrieval(Scorer):
    """Rank-1 accuracy (Wilson interval) and mAP (t-interval over queries) of query features.

    Reference: a mapping with ``ids`` [N] (the queries' identities),
    ``gallery`` float [G, D] (features of the gallery) and ``gallery_ids`` [G].
    Output: received query features float [N, D]. Gallery items are ranked by
    ``similarity`` (``cosine``, or ``euclidean``: negative distance); ties keep
    gallery order. Average precision of a query: mean over its relevant items of
    the precision at their ranks (0 for a query whose id is not in the gallery).
    """

    metrics = (Metric("rank1", "rank-1 retrieval accuracy"),
               Metric("map", "mean average precision"))

    def __init__(self, *, similarity: Literal["cosine", "euclidean"] = "cosine"):
        self.similarity = similarity

    def _similarity(self, queries, gallery):
        if self.similarity == "euclidean":
            return -np.linalg.norm(queries[:, None, :] - gallery[None, :, :], axis=-1)
        q = queries / np.maximum(np.linalg.norm(queries, axis=-1, keepdims=True), 1e-12)
        g = gallery / np.maximum(np.linalg.norm(gallery, axis=-1, keepdims=True), 1e-12)
        return q @ g.T

    def score(self, reference, output):
        queries = np.asarray(output, np.float64).reshape(len(reference["ids"]), -1)
        gallery = np.asarray(reference["gallery"], np.float64).reshape(
            len(reference["gallery_ids"]), -1)
        order = np.argsort(-self._similarity(queries, gallery), axis=1, kind="stable")
        relevant = (np.asarray(reference["gallery_ids"])[order]
                    == np.asarray(reference["ids"])[:, None])            # [N, G] by rank
        hits = np.cumsum(relevant, axis=1)
        ranks = np.arange(1, relevant.shape[1] + 1)
        precision_sum = np.sum(relevant * hits / ranks, axis=1)
        ap = np.where(hits[:, -1] > 0, precision_sum / np.maximum(hits[:, -1], 1), 0.0)
        return RetrievalTotals(rank1=RateTotals(events=int(relevant[:, 0].sum()),
                                                trials=len(relevant)),
                               average_precision=MeanTotals.of(ap))

    def summarize(self, totals):
        return totals.rank1.columns("rank1") | totals.average_precision.columns("map")
