"""Peak signal-to-noise ratio per image."""
from ..metrics import psnr
from ..registry import register
from ..systems.base import Metric
from .base import PerImageScorer


@register("scorer", "psnr")
class PSNR(PerImageScorer):
    """PSNR per image, ``10 log10(max_value^2 / MSE)`` capped at 100 dB; mean with a t-interval.

    Reference and output: see :class:`~.base.PerImageScorer`.
    """

    metrics = (Metric("psnr", "PSNR [dB]"),)
    measure = staticmethod(psnr)

    def __init__(self, *, max_value: float = 1.0):
        self.max_value = max_value
