"""Deep-InfoMax critics (MIJSCC Table II) and the Jensen-Shannon mutual-information estimate."""
import keras
import tensorflow as tf

from . import PACKAGE


def _channels(base, width):
    return max(1, int(round(base * width)))


@keras.saving.register_keras_serializable(PACKAGE)
class GlobalCritic(keras.layers.Layer):
    """Global Deep-InfoMax discriminator ``T_g(s, z)`` of Table II.

    Two 3x3 convolutions of stride 2 on the image (ReLU, then none), flattened
    and concatenated with ``z``, then dense layers (ReLU, ReLU, none) to one score.

    Input: image [batch, H, W, C] float32; z [batch, 2n] float32.
    Output: [batch] float32, the critic's log-odds that (s, z) is a matched pair.
    """

    def __init__(self, *, width=1.0, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.convs = [keras.layers.Conv2D(_channels(64, width), 3, strides=2, padding="same",
                                          activation="relu"),
                      keras.layers.Conv2D(_channels(32, width), 3, strides=2, padding="same")]
        self.flatten = keras.layers.Flatten()
        self.dense = [keras.layers.Dense(_channels(512, width), activation="relu"),
                      keras.layers.Dense(_channels(512, width), activation="relu"),
                      keras.layers.Dense(1)]

    def call(self, image, z):
        x = image
        for layer in self.convs:
            x = layer(x)
        x = tf.concat([self.flatten(x), z], axis=-1)
        for layer in self.dense:
            x = layer(x)
        return x[:, 0]

    def get_config(self):
        return {**super().get_config(), "width": self.width}


@keras.saving.register_keras_serializable(PACKAGE)
class LocalCritic(keras.layers.Layer):
    """Local Deep-InfoMax discriminator ``T_l(f_i, z)`` of Table II, one score per position.

    ``z`` is expanded to every position of the feature map and concatenated
    with it; three 1x1 convolutions (ReLU, ReLU, none) score each pair.

    Input: f [batch, N, N, C] float32; z [batch, 2n] float32.
    Output: [batch, N, N] float32 scores.
    """

    def __init__(self, *, width=1.0, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.convs = [keras.layers.Conv2D(_channels(512, width), 1, activation="relu"),
                      keras.layers.Conv2D(_channels(512, width), 1, activation="relu"),
                      keras.layers.Conv2D(1, 1)]

    def call(self, features, z):
        shape = tf.shape(features)
        z_map = tf.broadcast_to(z[:, None, None, :], [shape[0], shape[1], shape[2], z.shape[-1]])
        x = tf.concat([features, z_map], axis=-1)
        for layer in self.convs:
            x = layer(x)
        return x[..., 0]

    def get_config(self):
        return {**super().get_config(), "width": self.width}


def jsd_mutual_information(joint, marginal):
    """Jensen-Shannon MI estimate, Eq. 13: ``E_P[-softplus(-T)] - E_Q[softplus(T)]``.

    ``joint``: critic scores of matched pairs (s, z); ``marginal``: scores of
    mismatched pairs (s', z); any shapes, each averaged over all elements.
    Returns a float32 scalar in nats, at most 0 (it is ``2 JSD - log 4``).
    """
    return tf.reduce_mean(-tf.nn.softplus(-joint)) - tf.reduce_mean(tf.nn.softplus(marginal))


