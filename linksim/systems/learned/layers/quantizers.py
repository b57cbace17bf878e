"""Quantizers with straight-through gradients: a uniform per-element grid and a VQ codebook.

Also the index <-> bits conversion of a codebook (fixed width, most significant bit first),
shared by every system that sends codebook indices digitally.
"""
import math

import keras
import tensorflow as tf

from . import PACKAGE


@keras.saving.register_keras_serializable(PACKAGE)
class UniformQuantizer(keras.layers.Layer):
    """``bits``-bit uniform per-element quantization and dequantization (MIJSCC Eqs. 8-11).

    The grid spans each sample's own [min, max], so the transmitter sends
    ``2^bits`` distinct amplitudes per real dimension. Gradients pass straight
    through (the rounding has zero derivative almost everywhere).

    Parameters
    ----------
    bits : int
        Bits per real element, 1..16.

    Input
    -----
    x : [batch, d], float32

    Output
    ------
    : [batch, d], float32
        Dequantized values on the sample's grid.
    """

    def __init__(self, *, bits=8, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= bits <= 16:
            raise ValueError(f"quantization bits must be in 1..16, got {bits}")
        self.bits = bits

    def call(self, x):
        levels = float(2 ** self.bits - 1)
        lo = tf.reduce_min(x, axis=-1, keepdims=True)
        hi = tf.reduce_max(x, axis=-1, keepdims=True)
        scale = levels / tf.maximum(hi - lo, 1e-9)
        q = tf.clip_by_value(tf.round(scale * (x - lo)), 0.0, levels)
        dequantized = q / scale + lo
        return x + tf.stop_gradient(dequantized - x)

    def get_config(self):
        return {**super().get_config(), "bits": self.bits}


def indices_to_bits(indices, *, bits_per_index):
    """Fixed-width big-endian bits of each index (most significant bit first).

    Input: indices [..., m], int32, each in [0, 2^bits_per_index).
    Output: [..., m * bits_per_index], float32 in {0, 1}.
    """
    weights = 2 ** tf.range(bits_per_index - 1, -1, -1)
    bits = tf.bitwise.bitwise_and(indices[..., tf.newaxis] // weights, 1)
    shape = tf.concat([tf.shape(indices)[:-1], [-1]], axis=0)
    return tf.cast(tf.reshape(bits, shape), tf.float32)


def bits_to_indices(bits, *, bits_per_index):
    """The inverse of :func:`indices_to_bits`; hard decisions ``bit > 0.5`` of soft input.

    Input: bits [..., m * bits_per_index], any real dtype, 0/1 (or probabilities).
    Output: [..., m], int32.
    """
    shape = tf.concat([tf.shape(bits)[:-1], [-1, bits_per_index]], axis=0)
    hard = tf.cast(tf.reshape(bits, shape) > 0.5, tf.int32)
    return tf.reduce_sum(hard * 2 ** tf.range(bits_per_index - 1, -1, -1), axis=-1)


@keras.saving.register_keras_serializable(PACKAGE)
class VectorQuantizer(keras.layers.Layer):
    """A learned codebook: each ``dim``-vector is replaced by its nearest codeword (VQ-VAE).

    The loss is U-DeepSC's Eq. 23 (and VQ-VAE's),
    ``||sg(z) - e||^2 + commitment * ||z - sg(e)||^2``, as a mean over elements
    (Eq. 23's per-vector squared norm divided by ``dim``, so that ``commitment``
    means the same whatever the codeword length): the first term moves the
    codewords to the encoder outputs, the second, weighted by beta, keeps the
    encoder near its codewords. Calling the layer adds it with ``add_loss``;
    :meth:`quantize_with_loss` returns it instead (``quantize`` is Keras'
    own model-quantization method), optionally over kept vectors only.
    The gradient reaches the encoder straight-through.

    Parameters
    ----------
    num_codewords : int
        Codebook size K, a power of two so that an index is ``log2 K`` bits.
    dim : int
        Length of each codeword.
    commitment : float
        Weight beta of the commitment term (Eq. 23).

    Input
    -----
    z : [batch, m, dim], float32

    Output
    ------
    : [batch, m, dim], float32
        Nearest codewords (values), straight-through gradient to ``z``.
    """

    def __init__(self, *, num_codewords=256, dim=4, commitment=0.25, **kwargs):
        super().__init__(**kwargs)
        if num_codewords < 2 or num_codewords & (num_codewords - 1):
            raise ValueError(f"codebook size must be a power of two >= 2, got {num_codewords}")
        if dim < 1:
            raise ValueError(f"codeword dim must be >= 1, got {dim}")
        self.num_codewords = num_codewords
        self.dim = dim
        self.commitment = commitment
        self.bits_per_index = int(math.log2(num_codewords))

    def build(self, input_shape):
        self.codebook = self.add_weight(
            name="codebook", shape=(self.num_codewords, self.dim),
            initializer=keras.initializers.RandomUniform(-1.0 / self.num_codewords,
                                                         1.0 / self.num_codewords))

    def indices(self, z):
        """[batch, m, dim] float32 -> [batch, m] int32, the nearest codeword of each vector."""
        distance = (tf.reduce_sum(tf.square(z), axis=-1, keepdims=True)
                    - 2.0 * tf.einsum("bmd,kd->bmk", z, self.codebook)
                    + tf.reduce_sum(tf.square(self.codebook), axis=-1))
        return tf.argmin(distance, axis=-1, output_type=tf.int32)

    def lookup(self, indices):
        """[batch, m] int32 -> [batch, m, dim] float32 codewords."""
        return tf.gather(self.codebook, indices)

    def to_bits(self, indices):
        """[batch, m] int32 -> [batch, m * log2 K] float32 bits, MSB first per index."""
        return indices_to_bits(indices, bits_per_index=self.bits_per_index)

    def from_bits(self, bits):
        """[batch, m * log2 K] bits (hard decisions at 0.5) -> [batch, m] int32 indices."""
        return bits_to_indices(bits, bits_per_index=self.bits_per_index)

    def quantize_with_loss(self, z, mask=None):
        """Quantize without adding a loss: for systems that weigh or sum the losses themselves.

        Input: z [batch, m, dim] float32; mask [batch, m] float32 or None, 1 for
        vectors that are sent (the loss is the mean over those only).
        Output: (values [batch, m, dim] float32, straight-through; indices
        [batch, m] int32; loss scalar float32, Eq. 23).
        """
        if not self.built:
            self.build(z.shape)
        indices = self.indices(z)
        e = self.lookup(indices)
        per_vector = (tf.reduce_mean(tf.square(tf.stop_gradient(z) - e), axis=-1)
                      + self.commitment * tf.reduce_mean(tf.square(z - tf.stop_gradient(e)),
                                                         axis=-1))
        if mask is None:
            loss = tf.reduce_mean(per_vector)
        else:
            mask = tf.cast(mask, per_vector.dtype)
            loss = tf.reduce_sum(per_vector * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
        return z + tf.stop_gradient(e - z), indices, loss

    def call(self, z):
        values, _, loss = self.quantize_with_loss(z)
        self.add_loss(loss)
        return values

    def get_config(self):
        return {**super().get_config(), "num_codewords": self.num_codewords, "dim": self.dim,
                "commitment": self.commitment}
