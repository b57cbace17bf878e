"""Input embeddings of Transformer encoders: image patches and text tokens, with learned positions.

U-DeepSC's semantic encoders (Section III-B: "patch embedding" for images,
token embeddings for text when the pretrained text encoder is not used) and
MFMSC's modality encoders start from these.
"""
import keras
import tensorflow as tf

from . import PACKAGE


def position_weight(layer, length, dim):
    """A learned position embedding [length, dim] of ``layer`` (ViT / BERT initialization)."""
    return layer.add_weight(name="position", shape=(length, dim),
                            initializer=keras.initializers.TruncatedNormal(stddev=0.02))


@keras.saving.register_keras_serializable(PACKAGE)
class PatchEmbedding(keras.layers.Layer):
    """Image -> one vector per ``patch`` x ``patch`` patch, plus learned position embeddings.

    Input: [batch, H, W, C] float32 (H, W multiples of ``patch``).
    Output: [batch, (H / patch) (W / patch), dim] float32.
    """

    def __init__(self, *, patch, dim, num_patches, **kwargs):
        super().__init__(**kwargs)
        self.patch, self.dim, self.num_patches = patch, dim, num_patches
        self.projection = keras.layers.Conv2D(dim, patch, strides=patch)

    def build(self, input_shape):
        self.projection.build(input_shape)
        self.position = position_weight(self, self.num_patches, self.dim)

    def call(self, image):
        x = self.projection(image)
        return tf.reshape(x, [tf.shape(x)[0], -1, self.dim]) + self.position

    def get_config(self):
        return {**super().get_config(), "patch": self.patch, "dim": self.dim,
                "num_patches": self.num_patches}


@keras.saving.register_keras_serializable(PACKAGE)
class TokenEmbedding(keras.layers.Layer):
    """Token ids -> trained token plus position embeddings.

    Input: [batch, L] int32. Output: [batch, L, dim] float32.
    """

    def __init__(self, *, vocabulary, length, dim, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary, self.length, self.dim = vocabulary, length, dim
        self.tokens = keras.layers.Embedding(vocabulary, dim)

    def build(self, input_shape):
        self.tokens.build(input_shape)
        self.position = position_weight(self, self.length, self.dim)

    def call(self, tokens):
        return self.tokens(tokens) + self.position[:tf.shape(tokens)[1]]

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "length": self.length,
                "dim": self.dim}
