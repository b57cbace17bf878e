"""Bit-level link: random bits through FEC, mapping, channel and receiver; BER and BLER."""

import dataclasses
from typing import Annotated

import numpy as np
import tensorflow as tf
from pydantic import Field
from sionna.phy.mapping import BinarySource

from .. import registry
from ..errors import ScenarioError
from ..metrics import wilson_interval
from ..phy.link import DigitalLink
from ..phy.snr import noise_variance
from ..registry import Spec, register
from ..totals import Totals
from .base import Metric, System
from .context import Context

# Code bits one batch may carry: beyond this a batch no longer fits in memory.
MAX_BATCH_BITS = 50_000_000


@dataclasses.dataclass
class LinkTotals(Totals):
    """Codewords (``blocks``) and information bits sent, those in error, and BP iterations run."""

    blocks: int = 0
    block_errors: int = 0
    bits: int = 0
    bit_errors: int = 0
    iterations: int = 0


@register("system", "link")
class LinkSystem(System):
    """BER/BLER of a coded digital link (the classic Sionna Monte Carlo)."""

    metrics = (
        Metric("bler", "BLER", log=True, ci=("bler_ci_low", "bler_ci_high")),
        Metric("ber", "BER", log=True, ci=("ber_ci_low", "ber_ci_high")),
    )

    def __init__(self, *, code: Spec("code"), modulation: Spec("modulation"),
                 codewords_per_frame: Annotated[int, Field(ge=1, le=100_000)] = 1,
                 xla: bool = True, label: str | None = None, context: Context):
        stop, key = context.stop, context.key
        self.code = registry.build("code", code, key=f"{key}.code")
        self.modulation = registry.build("modulation", modulation, key=f"{key}.modulation")
        bits = stop.batch_size * codewords_per_frame * self.code.n
        if bits > MAX_BATCH_BITS:
            raise ScenarioError(f"{key}.codewords_per_frame", f"stop.batch_size "
                                f"{stop.batch_size} x codewords_per_frame {codewords_per_frame} "
                                f"x n {self.code.n} = {bits} code bits per batch exceed "
                                f"{MAX_BATCH_BITS}; lower one of them")
        super().__init__(label=label or f"{self.code.description}, {self.modulation.description}")
        self.link = DigitalLink(code=self.code, modulation=self.modulation,
                                channel=context.channel, receiver=context.receiver)
        self.codewords_per_frame = codewords_per_frame
        self.batch_size = stop.batch_size
        self._source = BinarySource()
        self._step = tf.function(self._simulate, jit_compile=xla)
        self._xla = xla

    @property
    def info_bits_per_channel_use(self):
        return self.code.rate * self.modulation.bits_per_symbol

    def describe(self):
        data, uses = self.link.symbols_per_frame(self.codewords_per_frame)
        return {"code": self.code.description, "modulation": self.modulation.description,
                "k": self.code.k, "n": self.code.n, "code_rate": self.code.rate,
                "codewords_per_frame": self.codewords_per_frame,
                "channel_uses_per_frame": uses, "data_symbols_per_frame": data}

    def _simulate(self, no):
        bits = self._source([self.batch_size, self.codewords_per_frame, self.code.k])
        bits_hat, iterations = self.link(bits, no, return_iterations=True)
        errors = tf.cast(tf.not_equal(bits, bits_hat), tf.int64)
        bit_errors = tf.reduce_sum(errors)
        block_errors = tf.reduce_sum(tf.cast(tf.reduce_any(errors > 0, axis=-1), tf.int64))
        return bit_errors, block_errors, tf.reduce_sum(tf.cast(iterations, tf.int64))

    def run_batch(self, no, *, batch_index):
        try:
            bit_errors, block_errors, iterations = self._step(tf.constant(no, tf.float32))
        except tf.errors.InvalidArgumentError:
            if not self._xla:
                raise
            # Some Sionna decoders have ops XLA cannot compile; graph mode still runs them.
            self._xla = False
            self._step = tf.function(self._simulate)
            bit_errors, block_errors, iterations = self._step(tf.constant(no, tf.float32))
        blocks = self.batch_size * self.codewords_per_frame
        return LinkTotals(blocks=blocks, block_errors=int(block_errors),
                          bits=blocks * self.code.k, bit_errors=int(bit_errors),
                          iterations=int(iterations))

    def finished(self, totals, stop):
        return totals.block_errors >= stop.block_errors or totals.blocks >= stop.max_blocks

    @staticmethod
    def no_errors(saved):
        return saved["block_errors"] == 0

    def summarize(self, totals):
        bler_lo, bler_hi = wilson_interval(totals.block_errors, totals.blocks)
        ber_lo, ber_hi = wilson_interval(totals.bit_errors, totals.bits)
        return {"ber": totals.bit_errors / totals.bits,
                "bler": totals.block_errors / totals.blocks,
                "blocks": totals.blocks, "block_errors": totals.block_errors,
                "bits": totals.bits, "bit_errors": totals.bit_errors,
                "bler_ci_low": bler_lo, "bler_ci_high": bler_hi,
                "ber_ci_low": ber_lo, "ber_ci_high": ber_hi,
                "iterations_mean": totals.iterations / totals.blocks}

    def theory(self, snr_db, definition):
        curves = {}
        rate = self.info_bits_per_channel_use
        esno = 1 / noise_variance(snr_db, definition, rate, precision="double").numpy()
        channel, receiver = self.link.symbol_link.channel, self.link.symbol_link.receiver
        uncoded = self.code.name == "uncoded"
        if uncoded and receiver.num_pilots == 0:
            ber = channel.uncoded_ber(esno, modulation=self.modulation.name,
                                      bits_per_symbol=self.modulation.bits_per_symbol)
            if ber is not None:
                curves["ber"] = (f"closed form (hard decisions), {channel.description}", ber)
        binary_input = self.modulation.bits_per_symbol <= 2 and self.modulation.name != "psk"
        if not uncoded and binary_input and self.codewords_per_frame == 1:
            ebno_db = np.asarray(snr_db, float) - (0.0 if definition == "ebno"
                                                   else 10 * np.log10(rate))
            bler = channel.normal_approximation_bler(ebno_db, k=self.code.k, n=self.code.n)
            if bler is not None:
                curves["bler"] = (f"normal approximation, ({self.code.n},{self.code.k}) BI-AWGN",
                                  bler)
        return curves
