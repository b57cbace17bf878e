"""Structural similarity per image."""
from ..metrics import ssim
from ..registry import register
from ..systems.base import Metric
from .base import PerImageScorer


@register("scorer", "ssim")
class SSIM(PerImageScorer):
    """SSIM per image (Gaussian 11-tap window, :func:`linksim.metrics.ssim`); mean, t-interval.

    Reference and output: see :class:`~.base.PerImageScorer`.
    """

    metrics = (Metric("ssim", "SSIM"),)
    measure = staticmethod(ssim)

    def __init__(self, *, max_value: float = 1.0):
        self.max_value = max_value
