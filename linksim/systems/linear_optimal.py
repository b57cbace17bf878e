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
import json
import math
from typing import Annotated

import numpy as np
from pydantic import Field

from ..registry import Spec, register
from .context import Context
from .linear_analog import LinearAnalogSystem, Projection, gains_for_powers, reverse_waterfilling


@register("system", "linear_optimal")
class LinearOptimal(LinearAnalogSystem):
    """PCA of the training split, reverse water-filling power allocation, LMMSE: best linear JSCC."""

    def __init__(self, *, dataset: Spec("dataset"),
                 bandwidth_ratio: Annotated[float, Field(gt=0, le=1000)] | None = None,
                 channel_uses_per_sample: Annotated[int, Field(ge=1, le=10 ** 7)] | None = None,
                 test_samples: Annotated[int, Field(ge=1)] = 1000,
                 test_offset: Annotated[int, Field(ge=0)] = 0,
                 train_samples: Annotated[int, Field(ge=1)] | None = None,
                 classifier: bool = False, classifier_train_samples: int = 20000,
                 label: str | None = None, context: Context):
        super().__init__(label=label or "linear optimal (PCA + power allocation + LMMSE)",
                         dataset=dataset, bandwidth_ratio=bandwidth_ratio,
                         channel_uses_per_sample=channel_uses_per_sample,
                         test_samples=test_samples, test_offset=test_offset,
                         train_samples=train_samples, classifier=classifier,
                         classifier_train_samples=classifier_train_samples, context=context)

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


def _training_range(system):
    snr_db = system.training.snr_db
    return (snr_db, snr_db) if isinstance(snr_db, (int, float)) else tuple(snr_db)


def _floor(system, facts, systems):
    """The ``linear_optimal`` system of the scenario that ``system`` is compared with, or None:
    same data set, test images, channel uses per sample and receiver."""
    uses = facts[system.label].get("channel_uses_per_sample")
    task = system.tasks[0]
    for other in systems:
        if isinstance(other, LinearOptimal) \
                and facts[other.label].get("channel_uses_per_sample") == uses \
                and other.dataset_spec.get("name") == task.dataset.get("name") \
                and (other.test_samples, other.test_offset) == (task.test_samples,
                                                                task.test_offset) \
                and other.receiver.description == system.receiver.description:
            return other
    return None


def floor_warnings(systems, facts, rows, *, seed, stop, definition, show_progress=False):
    """One line per learned analog system whose PSNR is below ``linear_optimal`` at an SNR point
    inside its training SNR range.

    The floor is the scenario's own ``linear_optimal`` with the same data set, test images,
    channel uses per sample (pilots included) and receiver, where there is one with a point
    at that SNR; otherwise one is built with those settings (its training statistics from the
    learned system's ``training.train_samples``) and simulated here on the same seeded
    channel realizations (seconds). Systems whose channel uses are unknown (never built
    here, no earlier run.json) are skipped.

    Parameters
    ----------
    systems : list of System
    facts : dict
        Label -> the facts run.json records (``channel_uses_per_sample``).
    rows : list of dict
        metrics.csv rows.
    seed, stop, definition
        The scenario's seed, ``stop`` rule and SNR definition.
    """
    from ..sim.runner import evaluate_point
    from .learned.base import LearnedSystem

    psnr = {(r["system"], r["snr_db"]): r.get("psnr") for r in rows}
    lines, floors = [], {}  # floors: computed ones by their settings, shared (seeds)
    for system in systems:
        uses = facts[system.label].get("channel_uses_per_sample")
        if not isinstance(system, LearnedSystem) or system.transmission.mode != "analog" \
                or "psnr" not in [m.name for m in system.metrics] or uses is None:
            continue
        lo, hi = _training_range(system)
        points = sorted(snr for (label, snr), value in psnr.items()
                        if label == system.label and lo <= snr <= hi and value is not None
                        and math.isfinite(value))
        floor = _floor(system, facts, systems)
        reference, computed = {}, None
        task = system.tasks[0]
        settings = json.dumps([task.dataset, uses, task.test_samples,
                               task.test_offset, system.training.train_samples,
                               system.receiver.description], sort_keys=True)
        for snr in points:
            if floor is not None and psnr.get((floor.label, snr)) is not None:
                reference[snr] = psnr[floor.label, snr]
                continue
            if settings not in floors:
                floors[settings] = (LinearOptimal(
                    dataset=task.dataset, channel_uses_per_sample=uses,
                    test_samples=task.test_samples, test_offset=task.test_offset,
                    train_samples=system.training.train_samples,
                    context=Context(channel=system.channel, receiver=system.receiver, stop=stop,
                                    key=system.key)), {})
                floors[settings][0].prepare(show_progress=show_progress)
            computed, done = floors[settings]
            if snr not in done:
                done[snr] = evaluate_point(computed, snr_db=snr, definition=definition,
                                           seed=seed, stop=stop)["psnr"]
            reference[snr] = done[snr]
        below = [snr for snr in points if psnr[system.label, snr] < reference[snr]]
        if below:
            source = f"{floor.label!r} in this scenario" if floor is not None and computed is None \
                else f"computed at {uses} channel uses"
            lines.append(f"{system.label!r} is below linear_optimal ({source}) inside its "
                         f"training range {lo:g}..{hi:g} dB at " + ", ".join(
                             f"{snr:g} dB ({psnr[system.label, snr]:.2f} < {reference[snr]:.2f} "
                             "dB PSNR)" for snr in below))
    return lines
