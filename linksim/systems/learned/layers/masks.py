"""Noise-driven masks: the monotone noise net, decreasing scores and prefix masks.

:class:`NoiseEncoder` is the one monotone map of the noise level used by two papers:
A-MIJSCC's ``N_enc`` (Eq. 19, abs kernels and biases, many outputs) and U-DeepSC's
ratio net ``delta = f_n(sigma^2)`` (Eq. 18, ``tanh(abs(W) x)``, one output, no bias).
"""
import keras
import tensorflow as tf

from . import PACKAGE


@keras.saving.register_keras_serializable(PACKAGE)
class NoiseEncoder(keras.layers.Layer):
    """A monotone noise net: noise level -> features in [0, 1) that never fall as it rises.

    ``len(hidden_units) + 1`` dense layers, each followed by tanh, whose
    kernels (and biases, if any) pass through ``abs``. With an input >= 0
    every pre-activation is then non-negative and non-decreasing in it, so
    each output lies in [0, 1) and is non-decreasing (A-MIJSCC Eq. B.3,
    U-DeepSC Eq. 18: "the monotonicity can be easily acknowledged by deriving
    the derivatives").

    A-MIJSCC's ``N_enc`` (Eq. 19, Appendix B) is the default: N0 in, a
    non-negative bias (Appendix B only asks for a "small" bias; a
    non-negative one is what makes ``g >= 0``, which the reverse cumulative
    sum needs to be non-increasing). U-DeepSC's ratio net ``delta(sigma^2)``
    is ``num_outputs=1, use_bias=False`` (Eq. 18 has no bias; then
    ``delta(0) = 0``).

    Kernels start uniform in [0, 2 / fan_in] (mean weight 1 / fan_in, unit
    gain per layer), the last one scaled by ``initial_sum / num_outputs``, and
    biases at 0. While tanh is near-linear, ``sum_j g_j ~ initial_sum * N0``
    whatever ``num_outputs`` is: with A-MIJSCC's 512 that sum is about 4 at
    21 dB, the top of the paper's SNR range, so even ``eta = 2`` keeps about
    half the symbols there, and it grows to 16 at 15 dB, so at low SNR nearly
    all are sent. (With 256, ``eta = 2`` sent nothing at 21 dB.) As
    A-MIJSCC's threshold passes no gradient, this initial map is the one used.

    Parameters
    ----------
    num_outputs : int
        Output features (A-MIJSCC: one per symbol; U-DeepSC: 1, the ratio).
    hidden_units : sequence of int
        Widths of the hidden layers.
    initial_sum : float
        Initial slope of the summed outputs against the input, see above.
    use_bias : bool
        Add ``abs(bias)`` before each tanh.

    Input: no [batch] or [batch, 1], float32, the noise level (N0 or sigma^2, linear) >= 0.
    Output: g [batch, num_outputs], float32 in [0, 1), non-decreasing in ``no``.
    """

    def __init__(self, *, num_outputs, hidden_units=(64, 64, 64), initial_sum=512.0,
                 use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.num_outputs = num_outputs
        self.hidden_units = tuple(hidden_units)
        self.initial_sum = initial_sum
        self.use_bias = use_bias

    def build(self, input_shape):
        sizes = (1, *self.hidden_units, self.num_outputs)
        self.kernels, self.biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            gain = self.initial_sum / fan_out if i == len(sizes) - 2 else 1.0
            init = keras.initializers.RandomUniform(0.0, 2.0 * gain / fan_in)
            self.kernels.append(self.add_weight(shape=(fan_in, fan_out), initializer=init,
                                                name=f"kernel_{i}"))
            if self.use_bias:
                self.biases.append(self.add_weight(shape=(fan_out,), initializer="zeros",
                                                   name=f"bias_{i}"))

    def call(self, no):
        x = tf.reshape(tf.cast(no, self.compute_dtype), [-1, 1])
        for i, kernel in enumerate(self.kernels):
            x = tf.matmul(x, tf.abs(kernel))
            if self.use_bias:
                x = x + tf.abs(self.biases[i])
            x = tf.tanh(x)
        return x

    def get_config(self):
        return {**super().get_config(), "num_outputs": self.num_outputs,
                "hidden_units": list(self.hidden_units), "initial_sum": self.initial_sum,
                "use_bias": self.use_bias}


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


