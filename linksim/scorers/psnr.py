"""Peak signal-to-noise ratio per image."""
import numpy as np

from .. import metrics
from ..registry import register
from ..systems.base import Metric
from ..totals import MeanTotals
from .base import Scorer, images


@register("scorer", "psnr")
class PSNR(Scorer):
    """PSNR per image, ``10 log10(max_value^2 / MSE)`` capped at 100 dB; mean with a t-interval.

    Reference: images [N, H, W(, C)] in [0, max_value]; output: reconstructions of
    the same shape (or a list of per-image arrays). Totals: :class:`MeanTotals`.
    """

    metrics = (Metric("psnr", "PSNR [dB]"),)

    def __init__(self, *, max_value: float = 1.0):
        self.max_value = max_value

    def score(self, reference, output):
        x = np.asarray(reference, np.float32)
        return MeanTotals.of(metrics.psnr(x, images(output, x.shape[1:]),
                                          max_value=self.max_value))

    def summarize(self, totals):
        return totals.columns("psnr")
