"""Closed forms the simulations are checked against.

All SNRs are linear Es/N0 per complex symbol with unit-energy constellations
and CN(0, N0) noise, unless a name says otherwise.
"""
import math

import numpy as np
from scipy import integrate, special, stats
from sionna.phy.utils import db_to_lin


def qfunc(x):
    return 0.5 * special.erfc(np.asarray(x, float) / math.sqrt(2))


def _gray_pam_ber(points, esno_dim):
    """Exact BER of nearest-neighbour detection for Gray-labelled PAM.

    points: sorted amplitudes with unit energy per *complex* symbol split
    over two dimensions; ``esno_dim`` scales the per-dimension noise so that
    the noise std per real dimension is ``sqrt(1 / (2 Es/N0))``.
    """
    m = len(points)
    bits = int(math.log2(m))
    labels = np.arange(m) ^ (np.arange(m) >> 1)
    edges = np.concatenate([[-np.inf], (points[1:] + points[:-1]) / 2, [np.inf]])
    hamming = np.array([[bin(a ^ b).count("1") for b in labels] for a in labels])
    esno = np.atleast_1d(np.asarray(esno_dim, float))
    sigma = np.sqrt(1 / (2 * esno))[:, None, None]
    lo = (edges[None, None, :-1] - points[None, :, None]) / sigma
    hi = (edges[None, None, 1:] - points[None, :, None]) / sigma
    prob = stats.norm.cdf(hi) - stats.norm.cdf(lo)           # [snr, sent, decided]
    return (prob * hamming[None]).sum(axis=(1, 2)) / (m * bits)


def ber_awgn(esno, *, modulation, bits_per_symbol):
    """Uncoded BER on AWGN for Gray BPSK or square QAM with hard (nearest-point) decisions.

    esno : array, linear Es/N0. Exact (no union bound).
    """
    esno = np.asarray(esno, float)
    if modulation == "bpsk":
        return qfunc(np.sqrt(2 * esno))
    if modulation != "qam":
        raise ValueError(f"no closed form for {modulation}")
    side = 2 ** (bits_per_symbol // 2)
    amplitudes = np.arange(-(side - 1), side, 2, dtype=float)
    # Unit energy per complex symbol: two PAM dimensions share Es.
    amplitudes /= math.sqrt(2 * np.mean(amplitudes ** 2))
    return _gray_pam_ber(amplitudes, esno).reshape(esno.shape)


def ber_rayleigh(esno, *, modulation, bits_per_symbol):
    """Uncoded BER on Rayleigh fading with perfect CSI: AWGN BER averaged over |h|^2 ~ Exp(1).

    For BPSK this is 0.5 (1 - sqrt(g / (1 + g))); numerical integration of
    (1/g) * int BER_awgn(u) exp(-u/g) du covers every Gray QAM order.
    """
    esno = np.atleast_1d(np.asarray(esno, float))
    if modulation == "bpsk":
        return 0.5 * (1 - np.sqrt(esno / (1 + esno)))

    def average(g):
        def integrand(u):
            return ber_awgn(u, modulation=modulation, bits_per_symbol=bits_per_symbol) \
                * math.exp(-u / g) / g
        return integrate.quad(integrand, 0, np.inf, limit=200)[0]
    return np.array([average(g) for g in esno])


def ls_mse(no, num_pilots):
    """MSE E|h_ls - h|^2 of the LS estimate averaged over unit-energy pilots: N0 / num_pilots."""
    return np.asarray(no, float) / num_pilots


def biawgn_capacity_dispersion(snr, *, num_nodes=120):
    """Capacity C (bits/use) and dispersion V (bits^2/use) of the BPSK-input real AWGN channel.

    snr : linear 2 Ec/N0 per real dimension (BPSK with Ec energy, noise N0/2).
    """
    x, w = special.roots_hermite(num_nodes)
    w = w / math.sqrt(math.pi)
    z = math.sqrt(2) * x                                   # standard normal nodes
    out_c, out_v = [], []
    for s in np.atleast_1d(snr):
        # Information density for x = +1 sent: i = 1 - log2(1 + exp(-2 y / sigma^2)).
        sigma = 1 / math.sqrt(s)
        y = 1 + sigma * z
        dens = 1 - np.logaddexp(0, -2 * y / sigma ** 2) / math.log(2)
        c = np.sum(w * dens)
        out_c.append(c)
        out_v.append(np.sum(w * (dens - c) ** 2))
    return np.array(out_c), np.array(out_v)


def normal_approximation_bler(ebno_db, *, k, n):
    """Normal approximation (Polyanskiy-Poor-Verdu) of the best BLER of an (n, k) binary code.

    BI-AWGN channel (BPSK, or Gray QPSK which is two BPSK uses), x-axis Eb/N0 in dB:
    eps ~ Q((n C - k + log2(n) / 2) / sqrt(n V)).
    """
    ebno = db_to_lin(ebno_db, precision="double").numpy()
    snr = 2 * ebno * k / n
    c, v = biawgn_capacity_dispersion(snr)
    return qfunc((n * c - k + 0.5 * math.log2(n)) / np.sqrt(n * v))

