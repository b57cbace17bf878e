"""The optimal linear analog JSCC: KLT (PCA) + power allocation + LMMSE.

The classic linear scheme (Lee and Petersen 1976): the image minus its
training mean is rotated onto the principal components of the training split
(KLT), the ``2k`` strongest components that the ``k`` data symbols carry are
kept, component ``c`` gets power ``p_c = max(0, theta sqrt(lambda_c) - N0/2)``
(reverse water-filling, the MSE-optimal allocation of the total energy ``k``
for AWGN at the evaluation SNR, :func:`~.linear_analog.reverse_waterfilling`),
and the receiver estimates each component by LMMSE and rotates back. Among
linear encoders and decoders this minimises the MSE on AWGN, so a learned
analog system below it has not learned what a matrix already does.

Fading: the transmitter has no channel knowledge, so the allocation is the
AWGN one at the nominal N0 (unit mean channel gain); the receiver's LMMSE uses
each symbol's actual post-equalization noise (``N0 / |h|^2``, plus the
estimation error with LS), so it shrinks faded components accordingly.
More real dimensions than components (``2k > n``): the strongest components
are repeated round robin, their power split over the repeats (no gain on
AWGN, diversity under fast fading).

:func:`floor_warnings` compares learned analog systems with this floor.
"""
from typing import Annotated

import numpy as np
from pydantic import Field

from ..registry import Spec, register
from .linear_analog import LinearAnalogSystem, Projection, gains_for_powers, reverse_waterfilling


@register("system", "linear_optimal")
class LinearOptimal(LinearAnalogSystem):
    """PCA of the training split, reverse water-filling power allocation, LMMSE: the best linear JSCC."""

    def __init__(self, *, dataset: Spec("dataset"),
                 bandwidth_ratio: Annotated[float, Field(gt=0, le=1000)] | None = None,
                 channel_uses_per_sample: Annotated[int, Field(ge=1, le=10 ** 7)] | None = None,
                 test_samples: Annotated[int, Field(ge=1)] = 1000,
                 test_offset: Annotated[int, Field(ge=0)] = 0,
                 train_samples: Annotated[int, Field(ge=1)] | None = None,
                 classifier: bool = False, classifier_train_samples: int = 20000,
                 label: str | None = None, channel=None, receiver=None, stop=None, train=None,
                 key="system"):
        super().__init__(label=label or "linear optimal (PCA + power allocation + LMMSE)",
                         dataset=dataset, bandwidth_ratio=bandwidth_ratio,
                         channel_uses_per_sample=channel_uses_per_sample,
                         test_samples=test_samples, test_offset=test_offset,
                         train_samples=train_samples, classifier=classifier,
                         classifier_train_samples=classifier_train_samples, channel=channel,
                         receiver=receiver, stop=stop, train=train, key=key)

    def fit(self, train, num_dims):
        mean = train.mean(axis=0)
        centred = train - mean
        eigenvalues, vectors = np.linalg.eigh(centred.T @ centred / len(train))
        basis = vectors[:, np.argsort(-eigenvalues)[:min(num_dims, train.shape[1])]]
        return Projection(mean=mean, forward=basis.T, backward=basis, train=train)

    def gains(self, no):
        variances = self.projection.variances
        powers = reverse_waterfilling(variances, self.data_symbols(), no / 2.0)
        return gains_for_powers(powers, variances, self.owner)
