"""Learned keep/drop selection of feature vectors (U-DeepSC Section IV).

:class:`GumbelSelection` turns keep/drop logits into a 0/1 mask with the
Gumbel-softmax trick (Eqs. 15-17) and the hierarchical update
``m^q = m^(q-1) * m`` (a vector dropped once stays dropped);
:class:`FeatureSelection` is U-DeepSC's feature selection module (FSM,
Eqs. 11-14), which predicts those logits from local, masked-pooled global and
noise features.

The Gumbel noise comes from Sionna's ``config.tf_rng``, which the runner
reseeds before every batch, like every other random draw of a learned model.
"""
import keras
import tensorflow as tf
from sionna.phy import config

from . import PACKAGE


def masked_mean(x, mask):
    """Mean of the vectors whose mask is 1 (U-DeepSC Eq. 12).

    Input: x [batch, n, e] float32; mask [batch, n] float32 (0/1 or soft weights).
    Output: [batch, e] float32; zeros for a sample with no vector kept.
    """
    mask = tf.cast(mask, x.dtype)[..., tf.newaxis]
    return tf.reduce_sum(x * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-6)


@keras.saving.register_keras_serializable(PACKAGE)
class GumbelSelection(keras.layers.Layer):
    """Keep/drop logits -> a hierarchical 0/1 selection mask (U-DeepSC Eqs. 15-17).

    Training: a hard Gumbel-max sample ``argmax(logits + g)`` with
    ``g ~ Gumbel(0, 1)`` whose gradient is that of the tempered softmax
    ``softmax((logits + g) / temperature)`` (straight-through), so the mask
    is exactly 0/1 in the forward pass yet the logits learn. Inference: the
    deterministic keep ``p_keep >= p_drop``, no noise. Either way the new
    mask multiplies the previous one.

    Parameters
    ----------
    temperature : float
        Softmax temperature tau > 0 of Eq. 16 (low: near one-hot gradients).

    Input
    -----
    logits : [batch, n, 2], float32
        Unnormalized log-probabilities of (keep, drop) per vector.
    previous : [batch, n], float32, or None
        The mask ``m^(q-1)``; None means all kept.
    training : bool

    Output
    ------
    : [batch, n], float32 in {0, 1}
        ``m^q = m^(q-1) * m``; its gradient reaches ``logits`` and ``previous``.
    """

    def __init__(self, *, temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"Gumbel-softmax temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def call(self, logits, previous=None, training=None):
        if training:
            u = config.tf_rng.uniform(tf.shape(logits), 1e-20, 1.0, dtype=logits.dtype)
            noisy = logits - tf.math.log(-tf.math.log(u))
            soft = tf.nn.softmax(noisy / self.temperature, axis=-1)
            hard = tf.one_hot(tf.argmax(noisy, axis=-1), 2, dtype=soft.dtype)
            keep = (soft + tf.stop_gradient(hard - soft))[..., 0]
        else:
            keep = tf.cast(logits[..., 0] >= logits[..., 1], logits.dtype)
        return keep if previous is None else tf.cast(previous, keep.dtype) * keep

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(PACKAGE)
class FeatureSelection(keras.layers.Layer):
    """U-DeepSC's feature selection module (FSM, Eqs. 11-17): which vectors to keep.

    Local features ``F_l = MLP(LN(F))`` per vector; the global feature
    ``f_g`` = mean of ``F_l`` over the vectors still kept (Eq. 12); the noise
    feature ``f_n = MLP(sigma^2)``; both broadcast to every vector and
    concatenated with ``F_l`` (Eq. 13); an MLP of that gives keep/drop
    log-probabilities (Eq. 14), sampled by :class:`GumbelSelection`.
    The MLP widths follow DynamicViT (the paper's reference [42]): GeLU layers of
    ``units`` and ``units / 2`` before the 2-way output.

    Parameters
    ----------
    units : int
        ``E_l``, the width of local, global and noise features.
    temperature : float
        Gumbel-softmax temperature.

    Input
    -----
    features : [batch, n, e], float32
        ``F^q``, the feature vectors at this layer.
    previous : [batch, n], float32
        ``m^(q-1)`` (ones before the first FSM).
    noise_variance : [batch] or [batch, 1], float32
        ``sigma^2`` (N0, linear) of each sample.
    training : bool

    Output
    ------
    mask : [batch, n], float32 in {0, 1}
        ``m^q = m^(q-1) * m``.
    keep_probability : [batch, n], float32
        ``P[:, 0]`` of Eq. 14, for ranking at inference (keep the top ``n delta^Nq``).
    """

    def __init__(self, *, units=64, temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.temperature = temperature
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.local = keras.layers.Dense(units, activation="gelu")
        self.noise = keras.Sequential([keras.layers.Dense(units, activation="gelu"),
                                       keras.layers.Dense(units, activation="gelu")])
        self.head = keras.Sequential([keras.layers.Dense(units, activation="gelu"),
                                      keras.layers.Dense(max(1, units // 2), activation="gelu"),
                                      keras.layers.Dense(2)])
        self.select = GumbelSelection(temperature=temperature)

    def build(self, features_shape):
        self.norm.build(features_shape)
        self.local.build(features_shape)
        self.noise.build((None, 1))
        self.head.build((None, None, 3 * self.units))

    def call(self, features, previous, noise_variance, training=None):
        local = self.local(self.norm(features))
        n = tf.shape(features)[1]
        pooled = masked_mean(local, previous)
        noise = self.noise(tf.reshape(tf.cast(noise_variance, local.dtype), [-1, 1]))
        combined = tf.concat([local,
                              tf.repeat(pooled[:, tf.newaxis], n, axis=1),
                              tf.repeat(noise[:, tf.newaxis], n, axis=1)], axis=-1)
        log_p = tf.nn.log_softmax(self.head(combined), axis=-1)
        mask = self.select(log_p, previous, training=training)
        return mask, tf.exp(log_p[..., 0])

    def get_config(self):
        return {**super().get_config(), "units": self.units, "temperature": self.temperature}
