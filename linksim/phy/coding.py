"""Forward error correction: 5G LDPC, Turbo, or none, from Sionna 1.x.

A code exposes ``k`` (information bits), ``n`` (coded bits), ``encoder``
(bits [..., k] -> [..., n]) and ``decoder`` (LLRs [..., n] -> hard bits
[..., k]), all Sionna blocks, and ``decode`` (the decoder plus the iterations
it used per codeword). LLRs follow Sionna's convention ``log(P(b=1)/P(b=0))``,
the one its demappers produce.
"""
from typing import Annotated, Literal

import tensorflow as tf
from pydantic import Field
from sionna.phy import Block
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder

from ..registry import register
from .early_termination import EarlyTerminationLDPC5GDecoder


class Code:
    """A pair of Sionna encoder/decoder blocks with the sizes the link needs.

    ``iterations``: decoder iterations per codeword where the decoder always
    runs all of them (0: not iterative); an early-terminating decoder reports
    its own.
    """

    def __init__(self, *, name, encoder, decoder, k, n, description, iterations=0):
        self.name = name
        self.encoder = encoder
        self.decoder = decoder
        self.k = k
        self.n = n
        self.description = description
        self.iterations = iterations

    @property
    def rate(self):
        return self.k / self.n

    def decode(self, llr):
        """LLRs [..., n] -> hard info bits [..., k] tf.float32, iterations used [...] tf.int32."""
        if isinstance(self.decoder, EarlyTerminationLDPC5GDecoder):
            return self.decoder(llr, return_num_iter=True)
        bits = self.decoder(llr)
        return bits, tf.fill(tf.shape(bits)[:-1], self.iterations)


@register("code", "ldpc5g")
def ldpc5g(*, k: int, n: int, iterations: Annotated[int, Field(ge=1, le=1000)] = 20,
           check_update: Literal["boxplus-phi", "boxplus", "minsum", "offset-minsum"] = "boxplus-phi",
           early_termination: bool = True):
    """3GPP 5G NR LDPC (Sionna LDPC5GEncoder/Decoder), BP with a chosen check-node update, early termination.

    ``iterations`` is the maximum number of flooding BP iterations.
    ``early_termination: true`` checks every codeword's parity checks after
    each iteration and stops decoding it once they all hold (its decisions
    from that iteration are its output); the codewords still decoding continue
    in narrower working sets, so the cost follows the mean number of
    iterations (reported per SNR point as ``iterations_mean``) rather than the
    maximum. ``false`` runs Sionna's ``LDPC5GDecoder`` unchanged: every
    codeword for all ``iterations``.
    """
    if k > n:
        raise ValueError(f"k={k} must not exceed n={n}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    encoder = LDPC5GEncoder(k, n)
    decoder_class = EarlyTerminationLDPC5GDecoder if early_termination else LDPC5GDecoder
    decoder = decoder_class(encoder, num_iter=iterations, cn_update=check_update,
                            hard_out=True, return_infobits=True)
    return Code(name="ldpc5g", encoder=encoder, decoder=decoder, k=k, n=n, iterations=iterations,
                description=f"5G LDPC ({n},{k}), {iterations} BP iter.")


@register("code", "turbo")
def turbo(*, k: int, rate: Literal["1/2", "1/3"] = "1/3", constraint_length: int = 4,
          iterations: Annotated[int, Field(ge=1, le=1000)] = 6, terminate: bool = True):
    """Parallel concatenated Turbo code with 3GPP interleaver (Sionna TurboEncoder/Decoder), MAP."""
    if constraint_length not in (3, 4, 5, 6):
        raise ValueError(f"constraint_length must be one of 3, 4, 5, 6, got {constraint_length}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    encoder = TurboEncoder(constraint_length=constraint_length, rate=1 / int(rate[-1]),
                           terminate=terminate)
    decoder = TurboDecoder(encoder, num_iter=iterations, hard_out=True)
    n = int(encoder(tf.zeros([1, k])).shape[-1])
    return Code(name="turbo", encoder=encoder, decoder=decoder, k=k, n=n, iterations=iterations,
                description=f"Turbo rate {rate} K={constraint_length} ({n},{k}), {iterations} iter.")


class _Identity(Block):
    """Uncoded transmission: passes bits through."""

    def call(self, bits):
        return bits


class _HardDecision(Block):
    """Sign of the LLR, Sionna convention: LLR > 0 means bit 1."""

    def call(self, llr):
        return tf.cast(llr > 0, self.rdtype)


@register("code", "uncoded")
def uncoded(*, k: int = 1024):
    """No FEC: k bits per block, hard decisions on the demapper LLRs."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return Code(name="uncoded", encoder=_Identity(), decoder=_HardDecision(), k=k, n=k,
                description=f"uncoded, {k} bits/block")
