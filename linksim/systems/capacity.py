"""Ideal separate coding: the codec at a capacity-achieving, error-free channel code.

A sample granted ``n`` channel uses carries ``floor(sum_i log2(1 + |h_i|^2 Es/N0))``
bits, ``i = 1..n``: ``n log2(1 + SNR)`` on AWGN, and on fading channels the
instantaneous capacity of the seeded channel draw, one ``h`` per sample under
block fading (the outage view: a deep fade shrinks that sample's budget) or
one per symbol under fast fading. The draw has the shape the digital link
draws, so it is the realization the conventional systems' frames see. The
receiver knows ``h`` perfectly and sends no pilots; delivery is error-free
and needs no length field, so this bounds every real MCS from above.
"""
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from ..registry import Spec, register
from ..totals import RateTotals
from .base import Metric
from .context import Context
from .conventional import CodecSystem, CodecTotals, fit


@register("system", "capacity_bound")
class CapacityBound(CodecSystem):
    """Codec at its best quality within channel_uses * log2(1 + |h|^2 SNR) bits, delivered error-free.

    Keys as for ``conventional`` without ``mcs`` and ``failure``: samples whose
    lowest codec quality exceeds the bits are infeasible and get the
    substitute (mean image, empty string, silence); ``feasible_fraction``
    reports their share, with its Wilson interval.
    """

    def __init__(self, *, codec: Spec("codec"), dataset: Spec("dataset") | None = None,
                 channel_uses_per_sample: Annotated[int, Field(ge=1)] | None = None,
                 bandwidth_ratio: Annotated[float, Field(gt=0, le=1000)] | None = None,
                 accounting: Literal["payload", "with_headers"] = "payload",
                 classifier: bool = True, classifier_train_samples: int = 20000,
                 label: str | None = None, context: Context):
        self._use_source(codec=codec, dataset=dataset,
                         channel_uses_per_sample=channel_uses_per_sample,
                         bandwidth_ratio=bandwidth_ratio, accounting=accounting,
                         classifier=classifier, classifier_train_samples=classifier_train_samples,
                         context=context)
        self.channel = context.channel
        self.metrics = self.task.metrics + (
            Metric("feasible_fraction", "feasible fraction (lowest codec quality fits)"),)
        super().__init__(label=label or f"{self.codec_name} at capacity (ideal code)")

    def describe(self):
        return {**self.source_facts(), "accounting": self.accounting,
                "bits": "floor(sum over channel uses of log2(1 + |h|^2 Es/N0)), perfect CSI, "
                        "no pilots, error-free", **self.task.describe()}

    def capacity_bits(self, uses, no):
        """Bits per sample [batch], int, for channel uses per sample ``uses`` [batch] and N0."""
        uses = np.asarray(uses)
        h = self.channel.draw(len(uses), int(uses.max())).numpy()
        rate = np.log2(1.0 + np.abs(h) ** 2 / no)
        mask = np.arange(h.shape[1])[None, :] < uses[:, None]
        return np.floor(np.sum(rate * mask, axis=1)).astype(np.int64)

    def run_batch(self, no, *, batch_index):
        start = batch_index * self.batch_size
        indices = (start + np.arange(self.batch_size)) % len(self.dataset)
        samples = [self.dataset.x[i] for i in indices]
        bits = self.capacity_bits([self.channel_uses(s) for s in samples], no)
        totals = CodecTotals(blocks=len(indices), budget_bits=int(np.sum(bits)))
        outputs = []
        for i, sample, budget in zip(indices, samples, bits):
            encoded = fit(self.codec, sample, int(budget), accounting=self.accounting)
            decoded = None if encoded is None else self.codec.decode(
                encoded.payload, shape=np.shape(sample))
            outputs.append(self.task.substitute(i) if decoded is None else decoded)
            if encoded is not None:
                totals.feasible += 1
                totals.payload_bits += encoded.bits
                totals.header_bits += 8 * encoded.header_bytes
                totals.quality_sum += encoded.quality
        totals.scores = self.task.score(indices, outputs)
        return totals

    def summarize(self, totals):
        return {**self.task.summarize(totals.scores),
                **RateTotals(totals.feasible, totals.blocks).columns("feasible_fraction"),
                "payload_bits": totals.per_feasible("payload_bits"),
                "header_bits": totals.per_feasible("header_bits"),
                "mean_quality": totals.per_feasible("quality_sum"),
                "budget_bits": totals.budget_bits / totals.blocks,
                "blocks": totals.blocks}
