"""Gray-labelled constellations with Sionna's mapper and APP / max-log demapper.

Every constellation has unit average energy (Es = 1), which fixes the SNR
convention Es/N0 = 1/N0.
"""
from typing import Literal

import numpy as np
from sionna.phy.mapping import Constellation, Demapper, Mapper

from ..registry import register

Demapping = Literal["app", "maxlog"]


class Modulation:
    """A Sionna constellation with the mapper and demapper that use it.

    Attributes
    ----------
    bits_per_symbol : int
    mapper : sionna.phy.mapping.Mapper
        bits [..., m * bits_per_symbol] -> symbols [..., m], complex64.
    demapper : sionna.phy.mapping.Demapper
        (symbols [..., m], N0 broadcastable) -> LLRs [..., m * bits_per_symbol].
    """

    def __init__(self, *, name, constellation, demapping, description):
        self.name = name
        self.constellation = constellation
        self.bits_per_symbol = constellation.num_bits_per_symbol
        self.mapper = Mapper(constellation=constellation)
        self.demapper = Demapper(demapping, constellation=constellation)
        self.demapping = demapping
        self.description = description


@register("modulation", "bpsk")
def bpsk(*, demapping: Demapping = "app"):
    """BPSK (+-1 on the real axis, Sionna PAM with 1 bit)."""
    return Modulation(name="bpsk", constellation=Constellation("pam", 1), demapping=demapping,
                      description="BPSK")


@register("modulation", "qam")
def qam(*, bits_per_symbol: Literal[2, 4, 6, 8, 10] = 2, demapping: Demapping = "app"):
    """Square Gray QAM: 2 bits = QPSK, 4 = 16-QAM, 6 = 64-QAM, 8 = 256-QAM."""
    name = "QPSK" if bits_per_symbol == 2 else f"{2 ** bits_per_symbol}-QAM"
    return Modulation(name="qam", constellation=Constellation("qam", bits_per_symbol), demapping=demapping,
                      description=name)


@register("modulation", "psk")
def psk(*, bits_per_symbol: Literal[1, 2, 3, 4, 5] = 3, demapping: Demapping = "app"):
    """Gray-labelled M-PSK on the unit circle (a Sionna custom constellation)."""
    m = 2 ** bits_per_symbol
    positions = np.arange(m)
    gray = positions ^ (positions >> 1)
    points = np.zeros(m, np.complex64)
    # Sionna reads point i as the symbol labelled with the binary form of i.
    points[gray] = np.exp(1j * (2 * np.pi * positions / m + np.pi / m))
    constellation = Constellation("custom", bits_per_symbol, points=points,
                                  normalize=False, center=False)
    return Modulation(name="psk", constellation=constellation, demapping=demapping,
                      description=f"{m}-PSK")
