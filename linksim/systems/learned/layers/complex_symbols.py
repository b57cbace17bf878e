"""Real features <-> complex channel symbols, and per-sample power normalization."""
import keras
import tensorflow as tf

from . import PACKAGE


def real_to_complex(x):
    """[batch, 2k] float32 -> [batch, k] complex64, pairing ``x[2i] + j x[2i+1]``."""
    # A static k (when known) keeps the symbol count static in graphs with a dynamic batch:
    # receivers that frame symbols into pilot blocks need it.
    k = x.shape[-1] // 2 if x.shape[-1] is not None else -1
    pairs = tf.reshape(x, [tf.shape(x)[0], k, 2])
    return tf.complex(pairs[..., 0], pairs[..., 1])


def complex_to_real(z):
    """[batch, k] complex64 -> [batch, 2k] float32, the inverse of :func:`real_to_complex`."""
    pairs = tf.stack([tf.math.real(z), tf.math.imag(z)], axis=-1)
    reals = 2 * z.shape[-1] if z.shape[-1] is not None else -1
    return tf.reshape(pairs, [tf.shape(z)[0], reals])


@keras.saving.register_keras_serializable(PACKAGE)
class PowerNormalization(keras.layers.Layer):
    """Per-sample power normalization ``z <- sqrt(k) z / ||z||``.

    Input
    -----
    x : [batch, 2k], float32
        Real features; pairs are the real and imaginary parts of ``k`` symbols.

    Output
    ------
    : [batch, 2k], float32
        Same features scaled so that ``sum |z|^2 = k`` (mean energy 1 per complex symbol).
    """

    def call(self, x):
        k = tf.cast(tf.shape(x)[-1], x.dtype) / 2.0
        energy = tf.reduce_sum(tf.square(x), axis=-1, keepdims=True)
        return x * tf.sqrt(k / tf.maximum(energy, 1e-12))


