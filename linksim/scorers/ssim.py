"""Structural similarity per image."""
import numpy as np

from .. import metrics
from ..registry import register
from ..systems.base import Metric
from ..totals import MeanTotals
from .base import Scorer, images


@register("scorer", "ssim")
class SSIM(Scorer):
    """SSIM per image (Gaussian 11-tap window, :func:`linksim.metrics.ssim`); mean, t-interval.

    Reference and output as for ``psnr``. Totals: :class:`MeanTotals`.
    """

    metrics = (Metric("ssim", "SSIM"),)

    def __init__(self, *, max_value: float = 1.0):
        self.max_value = max_value

    def score(self, reference, output):
        x = np.asarray(reference, np.float32)
        return MeanTotals.of(metrics.ssim(x, images(output, x.shape[1:]),
                                          max_value=self.max_value))

    def summarize(self, totals):
        return totals.columns("ssim")
