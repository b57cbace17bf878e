"""Quantizers with straight-through gradients: a uniform per-element grid and a VQ codebook."""
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


@keras.saving.register_keras_serializable(PACKAGE)
class VectorQuantizer(keras.layers.Layer):
    """A learned codebook: each ``dim``-vector is replaced by its nearest codeword (VQ-VAE).

    Adds ``||sg(z) - e||^2 + commitment ||z - sg(e)||^2`` (mean over
    elements) with ``add_loss``; the gradient reaches the encoder
    straight-through.

    Parameters
    ----------
    num_codewords : int
        Codebook size K, a power of two so that an index is ``log2 K`` bits.
    dim : int
        Length of each codeword.
    commitment : float
        Weight beta of the commitment loss.

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

    def call(self, z):
        e = self.lookup(self.indices(z))
        self.add_loss(tf.reduce_mean(tf.square(tf.stop_gradient(z) - e))
                      + self.commitment * tf.reduce_mean(tf.square(z - tf.stop_gradient(e))))
        return z + tf.stop_gradient(e - z)

    def get_config(self):
        return {**super().get_config(), "num_codewords": self.num_codewords, "dim": self.dim,
                "commitment": self.commitment}


