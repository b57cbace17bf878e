"""Nakagami-m flat fading: ``|h|`` Nakagami-m with unit power, phase uniform.

``|h|^2 ~ Gamma(m, 1/m)`` (shape ``m``, scale ``1/m``), so ``E|h|^2 = 1`` and
``E|h|^4 = (m + 1) / m``; ``m = 1`` is Rayleigh, ``m -> inf`` approaches AWGN,
``m = 0.5`` is one-sided Gaussian (the most severe fading the model allows).

Gamma variates are drawn with Marsaglia and Tsang's method from Sionna's seeded
generator (normal and uniform draws only, so the channel also runs under XLA,
where TensorFlow has no gamma sampler); rejected proposals are redrawn until
every one is accepted (each is accepted with probability above 0.95).
"""
import math
from typing import Annotated

import numpy as np
import tensorflow as tf
from pydantic import Field
from scipy import integrate
from sionna.phy import config

from ..registry import register
from .channel import Fading, FadingChannel


def ber_nakagami_bpsk(esno, *, m):
    r"""Uncoded BPSK BER on Nakagami-m fading with perfect CSI, via the MGF of the SNR.

    ``P_b = (1/pi) int_0^{pi/2} M(-1 / sin^2 t) dt`` with the MGF of the SNR
    ``M(s) = (1 - s g / m)^{-m}`` (the MGF approach of Simon and Alouini, *Digital
    Communication over Fading Channels*), exact for any ``m >= 0.5``; ``m = 1`` gives Rayleigh's ``(1 - sqrt(g / (1 + g))) / 2``.

    esno : array, linear Es/N0 (average over the fading). Returns an array of its shape.
    """
    esno = np.asarray(esno, float)

    def one(g):
        return integrate.quad(lambda t: (1 + g / (m * math.sin(t) ** 2)) ** -m,
                              0, math.pi / 2)[0] / math.pi
    return np.vectorize(one)(esno)


@register("channel", "nakagami")
class NakagamiChannel(FadingChannel):
    r"""Nakagami-m flat fading, unit power, uniform phase; block (per sample/frame) or fast.

    Parameters
    ----------
    m : float
        Nakagami shape parameter, ``m >= 0.5`` (1 is Rayleigh; larger is milder).
    fading, coherence_symbols
        See :class:`~linksim.phy.channel.FadingChannel`.

    Closed forms: uncoded BPSK and Gray QPSK BER (QPSK is two BPSK at half the Es/N0).
    """

    registry_name = "nakagami"

    def __init__(self, *, m: Annotated[float, Field(ge=0.5, le=1000.0)] = 1.0,
                 fading: Fading = "block", coherence_symbols: int | None = None):
        if not 0.5 <= m:
            raise ValueError(f"m must be >= 0.5, got {m}")
        super().__init__(fading=fading, coherence_symbols=coherence_symbols,
                         options={"m": m})
        self.m = float(m)

    @property
    def description(self):
        return f"Nakagami m={self.m:g}, {self._span}"

    def _gamma(self, shape, alpha):
        """Gamma(alpha, 1) variates for ``alpha >= 1`` (Marsaglia and Tsang, 2000)."""
        d = alpha - 1 / 3
        c = 1 / math.sqrt(9 * d)

        def propose():
            x = config.tf_rng.normal(shape, dtype=self.rdtype)
            u = config.tf_rng.uniform(shape, dtype=self.rdtype)
            v = (1 + c * x) ** 3
            log_v = tf.math.log(tf.maximum(v, tf.cast(1e-30, self.rdtype)))
            accept = (v > 0) & (tf.math.log(u) < 0.5 * x ** 2 + d - d * v + d * log_v)
            return d * v, accept

        def redraw(sample, accepted):
            new, new_accepted = propose()
            # Static shapes may be less known inside the loop; they are the same shape.
            return (tf.ensure_shape(tf.where(accepted, sample, new), sample.shape),
                    tf.ensure_shape(accepted | new_accepted, accepted.shape))

        sample, accepted = propose()
        sample, _ = tf.while_loop(lambda _, accepted: ~tf.reduce_all(accepted), redraw,
                                  (sample, accepted))
        return sample

    def draw_blocks(self, shape):
        # Gamma(m) = Gamma(m + 1) U^(1/m) keeps the sampler in its alpha >= 1 range.
        boost = self.m < 1
        power = self._gamma(shape, self.m + 1 if boost else self.m)
        if boost:
            power *= config.tf_rng.uniform(shape, dtype=self.rdtype) ** (1 / self.m)
        amplitude = tf.sqrt(power / self.m)
        phase = config.tf_rng.uniform(shape, maxval=2 * math.pi, dtype=self.rdtype)
        return tf.complex(amplitude * tf.cos(phase), amplitude * tf.sin(phase))

    def uncoded_ber(self, esno, *, modulation, bits_per_symbol):
        if modulation == "bpsk":
            return ber_nakagami_bpsk(esno, m=self.m)
        if modulation == "qam" and bits_per_symbol == 2:
            return ber_nakagami_bpsk(np.asarray(esno, float) / 2, m=self.m)
        return None
