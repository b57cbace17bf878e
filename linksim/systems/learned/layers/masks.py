"""Noise-driven prefix masks (A-MIJSCC Eqs. 19-21): noise encoder, decreasing scores, mask."""
import keras
import tensorflow as tf

from . import PACKAGE


@keras.saving.register_keras_serializable(PACKAGE)
class NoiseEncoder(keras.layers.Layer):
    """``N_enc`` of A-MIJSCC (Eq. 19, Appendix B): N0 -> noise feature ``g``.

    ``len(hidden_units) + 1`` dense layers, each followed by tanh, whose
    kernels *and* biases pass through ``abs``. With N0 >= 0 every
    pre-activation is then non-negative and non-decreasing in N0, so each
    ``g_j`` lies in [0, 1) and never falls as the noise rises (Eq. B.3).
    Appendix B only asks for a "small" bias; a non-negative one is what makes
    ``g >= 0``, which the reverse cumulative sum needs to be non-increasing.

    Kernels start uniform in [0, 2 / fan_in] (mean weight 1 / fan_in, unit
    gain per layer), the last one scaled by ``initial_sum / num_outputs``, and
    biases at 0. While tanh is near-linear, ``sum_j g_j ~ initial_sum * N0``
    whatever ``num_outputs`` is: with the default 512 that sum is about 4 at
    21 dB, the top of the paper's SNR range, so even ``eta = 2`` keeps about
    half the symbols there, and it grows to 16 at 15 dB, so at low SNR nearly
    all are sent. (With 256, ``eta = 2`` sent nothing at 21 dB.) As
    A-MIJSCC's threshold passes no gradient, this initial map is the one used.

    Input: no [batch] or [batch, 1], float32, N0 (linear) per complex symbol.
    Output: g [batch, num_outputs], float32.
    """

    def __init__(self, *, num_outputs, hidden_units=(64, 64, 64), initial_sum=512.0, **kwargs):
        super().__init__(**kwargs)
        self.num_outputs = num_outputs
        self.hidden_units = tuple(hidden_units)
        self.initial_sum = initial_sum

    def build(self, input_shape):
        sizes = (1, *self.hidden_units, self.num_outputs)
        self.kernels, self.biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            gain = self.initial_sum / fan_out if i == len(sizes) - 2 else 1.0
            init = keras.initializers.RandomUniform(0.0, 2.0 * gain / fan_in)
            self.kernels.append(self.add_weight(shape=(fan_in, fan_out), initializer=init,
                                                name=f"kernel_{i}"))
            self.biases.append(self.add_weight(shape=(fan_out,), initializer="zeros",
                                               name=f"bias_{i}"))

    def call(self, no):
        x = tf.reshape(tf.cast(no, self.compute_dtype), [-1, 1])
        for kernel, bias in zip(self.kernels, self.biases):
            x = tf.tanh(tf.matmul(x, tf.abs(kernel)) + tf.abs(bias))
        return x

    def get_config(self):
        return {**super().get_config(), "num_outputs": self.num_outputs,
                "hidden_units": list(self.hidden_units), "initial_sum": self.initial_sum}


def decreasing_scores(g):
    """Eq. 20 as intended: ``g~_j = sum_{i >= j} g_i``, a *reverse* cumulative sum.

    The paper's ``g U`` with upper-triangular ``U`` sums ``i <= j`` and grows
    with ``j``; the reverse sum is non-increasing whenever ``g >= 0``.
    Input and output: [batch, d], float32.
    """
    return tf.cumsum(g, axis=-1, reverse=True)


def prefix_mask(scores, *, threshold):
    """Eq. 21, ``m_j = 1[g~_j > eta]``: a 0/1 mask, a prefix since ``scores`` is non-increasing.

    A step, so no gradient passes (see :class:`AdaptiveMijsccModel` for why
    no surrogate is used). Input and output: [batch, d], float32.
    """
    return tf.cast(scores > threshold, scores.dtype)


