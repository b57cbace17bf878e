"""Importance masks: send the B highest-scoring features (SMSC-FIR Section 3; U-DeepSC inference).

SMSC-FIR ranks its L features by an importance score and sends the B most
important, B set by the SNR (Section 3.1); U-DeepSC at inference keeps the
``N_d delta^Nq`` vectors of highest keep probability. Both are a top-B mask.
"""
import math

import tensorflow as tf


def top_b_mask(scores, b):
    """1 for the ``b`` highest scores of each sample, 0 elsewhere.

    Ties go to the lower index (a stable ranking), so exactly ``min(b, n)``
    entries are 1. A step function: no gradient passes to ``scores``.

    Input: scores [batch, n] float32; b int, or [batch] int32 (one budget per sample).
    Output: [batch, n] float32 in {0, 1}.
    """
    order = tf.argsort(scores, axis=-1, direction="DESCENDING", stable=True)
    rank = tf.argsort(order, axis=-1, stable=True)   # rank[i] = position of feature i
    b = tf.cast(tf.reshape(b, [-1, 1]), rank.dtype)
    return tf.cast(rank < b, scores.dtype)


def feature_budget(snr_db, *, channel_uses, bits_per_feature=64):
    """SMSC-FIR's feature quantity mapping (Section 3.1): ``B = floor(T W log2(1 + SNR) / 64)``.

    ``T W`` is the number of channel uses of the time slot; each feature
    counts as a 64-bit float, as in the paper. Returns a Python int >= 0.

    Parameters
    ----------
    snr_db : float
        Es/N0 in dB.
    channel_uses : float
        ``T W``, complex channel uses per slot.
    bits_per_feature : int
        Bits charged per feature.
    """
    capacity_bits = channel_uses * math.log2(1.0 + 10.0 ** (snr_db / 10.0))
    return math.floor(capacity_bits / bits_per_feature)
