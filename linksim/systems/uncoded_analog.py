"""Uncoded analog transmission: each mean-removed pixel on its own real channel dimension.

The simplest analog scheme (:mod:`linksim.systems.linear_analog`): the image
minus the training mean, scaled by one common gain so that a data symbol has
unit energy on average (Es = 1), two pixels per complex channel use, and a
per-symbol LMMSE estimate at the receiver (each pixel's training variance,
the equalizer's per-symbol noise; correlations between pixels are not used).

A channel-use budget other than ``n / 2`` complex uses for ``n`` pixels is
met linearly:

* more real dimensions than pixels: pixels are repeated round robin (pixel
  ``i`` on dimensions ``i, i + n, ...``) and the receiver combines the repeats
  (maximum ratio, then LMMSE). On AWGN this only spreads the same energy;
  under fast fading it adds diversity;
* fewer: the ``n`` pixels (flattened H, W, C order) are cut into ``2k``
  contiguous runs of ``n / 2k`` (+-1) pixels, each run's mean is sent, and the
  receiver writes its LMMSE estimate of the run mean into every pixel of the
  run (block averaging, then upsampling).
"""
from typing import Annotated

import numpy as np
from pydantic import Field

from ..registry import Spec, register
from .context import Context
from .linear_analog import LinearAnalogSystem, Projection, common_gain


@register("system", "uncoded_analog")
class UncodedAnalog(LinearAnalogSystem):
    """Mean-removed pixels as analog symbols (Es = 1), per-symbol LMMSE; repeats or block means."""

    def __init__(self, *, dataset: Spec("dataset"),
                 bandwidth_ratio: Annotated[float, Field(gt=0, le=1000)] | None = None,
                 channel_uses_per_sample: Annotated[int, Field(ge=1, le=10 ** 7)] | None = None,
                 test_samples: Annotated[int, Field(ge=1)] = 1000,
                 test_offset: Annotated[int, Field(ge=0)] = 0,
                 train_samples: Annotated[int, Field(ge=1)] | None = None,
                 classifier: bool = False, classifier_train_samples: int = 20000,
                 label: str | None = None, context: Context):
        super().__init__(label=label or "uncoded analog + LMMSE", dataset=dataset,
                         bandwidth_ratio=bandwidth_ratio,
                         channel_uses_per_sample=channel_uses_per_sample,
                         test_samples=test_samples, test_offset=test_offset,
                         train_samples=train_samples, classifier=classifier,
                         classifier_train_samples=classifier_train_samples, context=context)

    def fit(self, train, num_dims):
        n = train.shape[1]
        if num_dims >= n:
            forward = backward = np.eye(n)
        else:
            bounds = np.round(np.linspace(0, n, num_dims + 1)).astype(int)
            backward = np.zeros((n, num_dims))
            for c in range(num_dims):
                backward[bounds[c]:bounds[c + 1], c] = 1.0
            forward = backward.T / backward.sum(axis=0)[:, None]
        return Projection(mean=train.mean(axis=0), forward=forward, backward=backward,
                          train=train)

    def gains(self, no):
        return common_gain(self.projection.variances, self.owner, self.data_symbols())
