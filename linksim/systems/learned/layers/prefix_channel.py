"""Analog transmission of a per-sample prefix of the symbols (masked symbols are not sent)."""
import keras
import tensorflow as tf

from . import PACKAGE
from .air import ChannelLayer
from .complex_symbols import complex_to_real, real_to_complex


@keras.saving.register_keras_serializable(PACKAGE)
class PrefixChannel(ChannelLayer):
    """:class:`~.layers.ChannelLayer` for a per-sample prefix of the complex symbols.

    Only the symbols with ``mask = 1`` are sent: power is normalized over
    them (mean energy 1 per used channel use) and the receiver zeroes the rest.
    Same parameters as ``ChannelLayer``.

    Input
    -----
    x : [batch, 2n], float32
        Real features, zero outside the mask (pairs ``x[2i], x[2i+1]`` are symbol ``i``).
    mask : [batch, n], float32
        1 for the symbols sent, 0 elsewhere.
    no : [batch], float32
        N0 (linear) per sample, as returned by :meth:`noise_variance`.

    Output
    ------
    : [batch, 2n], float32
        Equalized received features, zero outside the mask.
    """

    def build(self, x_shape, mask_shape=None, no_shape=None):
        # Channel and receiver hold no weights.
        self.built = True

    def call(self, x, mask, no):
        sent = tf.reduce_sum(mask, axis=-1, keepdims=True)
        energy = tf.reduce_sum(tf.square(x), axis=-1, keepdims=True)
        z_hat, _ = self.link(real_to_complex(x * tf.sqrt(sent / tf.maximum(energy, 1e-12))), no)
        return complex_to_real(z_hat) * tf.repeat(mask, 2, axis=-1)


