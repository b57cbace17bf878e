"""The channel interface and the classic frequency-flat SISO channels: AWGN, Rayleigh, Rician.

A :class:`Channel` follows Sionna's generate/apply style: :meth:`Channel.draw`
generates channel coefficients ``h``, :meth:`Channel.call` applies them,
``y = h * x + n`` with ``n ~ CN(0, N0)`` per complex symbol. Every draw comes
from Sionna's seeded generator, so a run is reproducible, and every channel is
differentiable with respect to ``x``, so learned systems train through the very
block the conventional baselines are simulated on.

A channel knows its registry ``spec`` (what rebuilds it from YAML, learned
layers' configs and checkpoint fingerprints) and the closed forms it has
(:meth:`Channel.uncoded_ber`, :meth:`Channel.normal_approximation_bler`;
``None`` where it has none). A new channel is one module with a registered
subclass (see :mod:`linksim.phy.nakagami`).
"""
import math
from typing import Literal

import tensorflow as tf
from sionna.phy import Block
from sionna.phy.channel import AWGN
from sionna.phy.utils import complex_normal

from ..registry import register
from . import theory

Fading = Literal["block", "fast"]


class Channel(Block):
    r"""Interface of a frequency-flat SISO channel: draw ``h``, then ``y = h x + n``.

    Subclasses set :attr:`registry_name` (the name they are registered under),
    implement :meth:`draw` and :attr:`description`, and override the closed
    forms they know.

    Parameters
    ----------
    options : dict
        The subclass's YAML keys and their values (with ``registry_name`` they
        form :attr:`spec`).
    coherence : int | None
        Symbols sharing one ``h``; ``None`` is one ``h`` per row (one sample or frame).

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

    registry_name = None

    def __init__(self, *, options, coherence=None, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        self._options = dict(options)
        self.coherence = coherence
        self._awgn = AWGN(precision=precision)

    @property
    def spec(self):
        """The registry spec that rebuilds this channel: ``{"name": ..., **options}``."""
        return {"name": self.registry_name, **self._options}

    @property
    def description(self):
        """One line for plots and ``run.json`` (e.g. ``"Rayleigh, fast fading"``)."""
        raise NotImplementedError

    def draw(self, batch_size, num_symbols):
        """Channel coefficients ``h``, [batch_size, num_symbols], tf.complex64."""
        raise NotImplementedError

    def call(self, x, no):
        shape = tf.shape(x)
        h = self.draw(shape[0], shape[1])
        no = tf.cast(no, self.rdtype)
        if no.shape.rank == 1:
            no = no[:, tf.newaxis]
        return self._awgn(h * x, no), h

    def uncoded_ber(self, esno, *, modulation, bits_per_symbol):
        """Closed-form uncoded BER with perfect CSI and hard decisions, or None if unknown.

        esno : array, linear Es/N0 (unit-energy Gray constellations).
        modulation : registry name of the modulation ("bpsk", "qam", ...).
        """

    def normal_approximation_bler(self, ebno_db, *, k, n):
        """Normal approximation of the best (n, k) binary code's BLER vs Eb/N0 in dB, or None."""


@register("channel", "awgn")
class AWGNChannel(Channel):
    """Additive white Gaussian noise, h = 1, noise CN(0, N0)."""

    registry_name = "awgn"

    def __init__(self):
        super().__init__(options={})

    @property
    def description(self):
        return "AWGN"

    def draw(self, batch_size, num_symbols):
        return tf.complex(tf.ones([batch_size, num_symbols], self.rdtype),
                          tf.zeros([batch_size, num_symbols], self.rdtype))

    def uncoded_ber(self, esno, *, modulation, bits_per_symbol):
        if modulation not in ("bpsk", "qam"):
            return None
        return theory.ber_awgn(esno, modulation=modulation, bits_per_symbol=bits_per_symbol)

    def normal_approximation_bler(self, ebno_db, *, k, n):
        return theory.normal_approximation_bler(ebno_db, k=k, n=n)



class FadingChannel(Channel):
    """A fading channel: one ``h`` per coherence block, drawn by :meth:`draw_blocks`.

    Parameters
    ----------
    fading : "block" | "fast"
        "block": one ``h`` per ``coherence_symbols`` symbols (default: per row,
        i.e. per transmitted sample or frame); "fast": a new ``h`` every symbol.
    coherence_symbols : int | None
        Block length of block fading in symbols; ``None`` is one block per row.
    options : dict
        The subclass's other YAML keys.
    """

    def __init__(self, *, fading, coherence_symbols, options=None):
        if coherence_symbols is not None and coherence_symbols < 1:
            raise ValueError(f"coherence_symbols must be >= 1, got {coherence_symbols}")
        if fading not in ("block", "fast"):
            raise ValueError(f"fading must be 'block' or 'fast', got {fading!r}")
        super().__init__(options={**(options or {}), "fading": fading,
                                  "coherence_symbols": coherence_symbols},
                         coherence=1 if fading == "fast" else coherence_symbols)
        self.fading = fading

    @property
    def _span(self):
        return {None: "block fading per frame", 1: "fast fading"}.get(
            self.coherence, f"block fading every {self.coherence} symbols")

    def draw_blocks(self, shape):
        """One coefficient per coherence block: ``shape`` [batch, num_blocks, 1], tf.complex64."""
        raise NotImplementedError

    def draw(self, batch_size, num_symbols):
        # Symbols sharing one h; None means the whole row (one sample or frame).
        coherence = num_symbols if self.coherence is None else self.coherence
        num_blocks = -(-num_symbols // coherence)
        h = self.draw_blocks([batch_size, num_blocks, 1])
        h = tf.reshape(tf.tile(h, [1, 1, coherence]), [batch_size, num_blocks * coherence])
        return h[:, :num_symbols]


@register("channel", "rayleigh")
class RayleighChannel(FadingChannel):
    """Rayleigh flat fading, h ~ CN(0, 1), block (per sample/frame) or fast (per symbol)."""

    registry_name = "rayleigh"

    def __init__(self, *, fading: Fading = "block", coherence_symbols: int | None = None):
        super().__init__(fading=fading, coherence_symbols=coherence_symbols)

    @property
    def description(self):
        return f"Rayleigh, {self._span}"

    def draw_blocks(self, shape):
        return complex_normal(shape, precision=self.precision)

    def uncoded_ber(self, esno, *, modulation, bits_per_symbol):
        if modulation not in ("bpsk", "qam"):
            return None
        return theory.ber_rayleigh(esno, modulation=modulation, bits_per_symbol=bits_per_symbol)



@register("channel", "rician")
class RicianChannel(FadingChannel):
    r"""Rician flat fading with K factor (linear), unit power unless rician_mean is 'paper'.

    ``h = mu + sqrt(s) * g`` with ``g ~ CN(0, 1)`` and ``s = 1/(K+1)``. The
    ``standard`` form uses ``mu = sqrt(K/(K+1))``, so that ``E|h|^2 = 1``; the
    ``paper`` form (SMSC-FIR, Eq. 2) uses ``mu = sqrt(K)/(K+1)``, which is not
    unit power (``E|h|^2 = 0.556`` at K = 2). No closed form is implemented.

    Parameters
    ----------
    k_factor : float
        Rician K factor, linear, >= 0 (0 is Rayleigh).
    fading, coherence_symbols
        See :class:`FadingChannel`.
    rician_mean : "standard" | "paper"
        Which parameterisation to use (see above).
    """

    registry_name = "rician"

    def __init__(self, *, k_factor: float = 2.0, fading: Fading = "block",
                 coherence_symbols: int | None = None,
                 rician_mean: Literal["standard", "paper"] = "standard"):
        if k_factor < 0:
            raise ValueError(f"k_factor must be >= 0 (linear), got {k_factor}")
        super().__init__(fading=fading, coherence_symbols=coherence_symbols,
                         options={"k_factor": k_factor, "rician_mean": rician_mean})
        self.k_factor = k_factor
        self.rician_mean = rician_mean

    @property
    def description(self):
        name = f"Rician K={self.k_factor:g}"
        if self.k_factor and self.rician_mean == "paper":
            name += " (paper mean)"
        return f"{name}, {self._span}"

    def line_of_sight(self):
        """Mean ``mu`` and scatter variance ``s`` of ``h`` (see class docstring)."""
        k = float(self.k_factor)
        if self.rician_mean == "paper":
            return math.sqrt(k) / (k + 1), 1 / (k + 1)
        return math.sqrt(k / (k + 1)), 1 / (k + 1)

    def draw_blocks(self, shape):
        mean, scatter = self.line_of_sight()
        g = complex_normal(shape, precision=self.precision)
        return tf.cast(mean, self.cdtype) + tf.cast(math.sqrt(scatter), self.cdtype) * g

