"""Frequency-flat SISO channels: AWGN, Rayleigh and Rician, block or fast fading.

``y = h * x + n`` with ``n ~ CN(0, N0)`` per complex symbol, drawn from Sionna's
seeded generator so a run is reproducible. All channels are differentiable with
respect to ``x``, so learned systems train through the very block the
conventional baselines are simulated on.
"""
import math
from typing import Literal

import tensorflow as tf
from sionna.phy import Block
from sionna.phy.channel import AWGN
from sionna.phy.utils import complex_normal

from ..registry import register

Fading = Literal["block", "fast"]


class FlatFadingChannel(Block):
    r"""Flat fading with a line-of-sight part, then AWGN.

    ``h = mu + sqrt(s) * g`` with ``g ~ CN(0, 1)``. With ``k_factor = K`` (linear)
    the ``standard`` Rician form uses ``mu = sqrt(K/(K+1))`` and ``s = 1/(K+1)``
    so that ``E|h|^2 = 1``; the ``paper`` form (SMSC-FIR, Eq. 2) uses
    ``mu = sqrt(K)/(K+1)``, which is not unit power (``E|h|^2 = 0.556`` at K = 2).
    ``k_factor = 0`` is Rayleigh; ``None`` is no fading (AWGN).

    Parameters
    ----------
    k_factor : float | None
        Rician K factor, linear. ``None`` for AWGN.
    fading : "block" | "fast"
        "block": one ``h`` per ``coherence_symbols`` symbols (default: per row,
        i.e. per transmitted sample or frame); "fast": a new ``h`` every symbol.
    coherence_symbols : int | None
        Block length of block fading in symbols; ``None`` is one block per row.
    rician_mean : "standard" | "paper"
        Which Rician parameterisation to use (see above).

    Input
    -----
    x : [batch, num_symbols], tf.complex64
        Transmitted symbols.
    no : scalar or [batch] or [batch, 1], tf.float32
        Noise variance N0 per complex symbol (linear).

    Output
    ------
    y : [batch, num_symbols], tf.complex64
        Received symbols.
    h : [batch, num_symbols], tf.complex64
        Channel coefficient seen by every symbol.
    """

    def __init__(self, *, k_factor=None, fading="block", coherence_symbols=None,
                 rician_mean="standard", precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if k_factor is not None and k_factor < 0:
            raise ValueError(f"k_factor must be >= 0 (linear), got {k_factor}")
        if coherence_symbols is not None and coherence_symbols < 1:
            raise ValueError(f"coherence_symbols must be >= 1, got {coherence_symbols}")
        if fading not in ("block", "fast"):
            raise ValueError(f"fading must be 'block' or 'fast', got {fading!r}")
        self.k_factor = k_factor
        self.fading = fading
        self.rician_mean = rician_mean
        self.coherence = 1 if fading == "fast" else coherence_symbols
        self._awgn = AWGN(precision=precision)

    @property
    def description(self):
        if self.k_factor is None:
            return "AWGN"
        name = "Rayleigh" if self.k_factor == 0 else f"Rician K={self.k_factor:g}"
        if self.k_factor and self.rician_mean == "paper":
            name += " (paper mean)"
        span = {None: "block fading per frame", 1: "fast fading"}.get(
            self.coherence, f"block fading every {self.coherence} symbols")
        return f"{name}, {span}"

    @property
    def is_fading(self):
        return self.k_factor is not None

    def line_of_sight(self):
        """Mean ``mu`` and scatter variance ``s`` of ``h`` (see class docstring)."""
        if self.k_factor is None:
            return 1.0, 0.0
        k = float(self.k_factor)
        if self.rician_mean == "paper":
            return math.sqrt(k) / (k + 1), 1 / (k + 1)
        return math.sqrt(k / (k + 1)), 1 / (k + 1)

    def draw(self, batch_size, num_symbols):
        """Channel coefficients ``h``, [batch_size, num_symbols], tf.complex64."""
        mean, scatter = self.line_of_sight()
        if scatter == 0.0:
            return tf.complex(tf.fill([batch_size, num_symbols], tf.cast(mean, self.rdtype)),
                              tf.zeros([batch_size, num_symbols], self.rdtype))
        # Symbols sharing one h; None means the whole row (one sample or frame).
        coherence = num_symbols if self.coherence is None else self.coherence
        num_blocks = -(-num_symbols // coherence)
        g = complex_normal([batch_size, num_blocks, 1], precision=self.precision)
        g = tf.reshape(tf.tile(g, [1, 1, coherence]), [batch_size, num_blocks * coherence])
        h = tf.cast(mean, self.cdtype) + tf.cast(math.sqrt(scatter), self.cdtype) * g
        return h[:, :num_symbols]

    def call(self, x, no):
        shape = tf.shape(x)
        h = self.draw(shape[0], shape[1])
        no = tf.cast(no, self.rdtype)
        if no.shape.rank == 1:
            no = no[:, tf.newaxis]
        return self._awgn(h * x, no), h


@register("channel", "awgn")
def awgn() -> FlatFadingChannel:
    """Additive white Gaussian noise, h = 1, noise CN(0, N0)."""
    return FlatFadingChannel(k_factor=None)


@register("channel", "rayleigh")
def rayleigh(*, fading: Fading = "block", coherence_symbols: int | None = None):
    """Rayleigh flat fading, h ~ CN(0, 1), block (per sample/frame) or fast (per symbol)."""
    return FlatFadingChannel(k_factor=0.0, fading=fading, coherence_symbols=coherence_symbols)


@register("channel", "rician")
def rician(*, k_factor: float = 2.0, fading: Fading = "block",
           coherence_symbols: int | None = None,
           rician_mean: Literal["standard", "paper"] = "standard"):
    """Rician flat fading with K factor (linear), unit power unless rician_mean is 'paper'."""
    return FlatFadingChannel(k_factor=k_factor, fading=fading,
                             coherence_symbols=coherence_symbols, rician_mean=rician_mean)
