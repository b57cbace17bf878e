"""Transformer encoder and decoder layers, task tokens and task queries (U-DeepSC, MFMSC).

The attention is written out rather than taken from
``keras.layers.MultiHeadAttention`` for two reasons the papers need:

- the score scale: both papers divide ``Q K^T`` by the square root of the
  *model* width (U-DeepSC Eqs. 8, 26: ``sqrt(D)``; MFMSC Eq. 13: ``sqrt(P)``),
  not of the head width, and Keras' layer fixes ``1 / sqrt(key_dim)``;
- the key mask of U-DeepSC's masked cross-attention (Eqs. 30-32) *multiplies*
  ``exp(A)``, so a straight-through 0/1 selection mask still passes a gradient
  to the feature selection module, where Keras' boolean mask cannot.

A key whose mask is 0 gets weight exactly 0: changing it changes nothing.
"""
import keras
import tensorflow as tf

from . import PACKAGE

SCALES = ("head_dim", "model_dim")


@keras.saving.register_keras_serializable(PACKAGE)
class Attention(keras.layers.Layer):
    """Multi-head attention ``softmax(Q K^T / s) V`` with a multiplicative key mask.

    ``B[i, j] = exp(A[i, j]) M[j] / sum_l exp(A[i, l]) M[l]`` (U-DeepSC Eq. 32),
    ``A = Q K^T / s``, per head, then the heads are concatenated and projected.

    Parameters
    ----------
    dim : int
        Model width D (input and output), a multiple of ``num_heads``.
    num_heads : int
    scale : "head_dim" | "model_dim"
        ``s = sqrt(D / num_heads)`` (Vaswani, BERT) or ``s = sqrt(D)`` (U-DeepSC, MFMSC).
    dropout : float
        Dropout on the attention weights while training.

    Input
    -----
    query : [batch, l_q, D], float32
    value : [batch, l_k, D], float32
        Keys and values (``query`` itself for self-attention).
    key_mask : [batch, l_k], float32 or bool, or None
        1 for keys that may be attended to; 0/1 or soft (its gradient is Eq. 32's).
        A query row with no key left gets a zero output before the projection.

    Output
    ------
    : [batch, l_q, D], float32
    """

    def __init__(self, *, dim, num_heads, scale="head_dim", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if dim % num_heads:
            raise ValueError(f"model width {dim} is not a multiple of {num_heads} heads")
        if scale not in SCALES:
            raise ValueError(f"attention scale must be one of {SCALES}, got {scale!r}")
        self.dim, self.num_heads, self.scale, self.dropout = dim, num_heads, scale, dropout
        self.head_dim = dim // num_heads
        self.factor = float(self.head_dim if scale == "head_dim" else dim) ** -0.5
        self.query_dense = keras.layers.Dense(dim, name="query")
        self.key_dense = keras.layers.Dense(dim, name="key")
        self.value_dense = keras.layers.Dense(dim, name="value")
        self.output_dense = keras.layers.Dense(dim, name="output")
        self.weights_dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        for dense in (self.query_dense, self.key_dense, self.value_dense):
            dense.build((None, None, self.dim))
        self.output_dense.build((None, None, self.dim))

    def _heads(self, x):
        """[batch, l, D] -> [batch, heads, l, D / heads]."""
        shape = tf.shape(x)
        return tf.transpose(tf.reshape(x, [shape[0], shape[1], self.num_heads, self.head_dim]),
                            [0, 2, 1, 3])

    def call(self, query, value, key_mask=None, training=None):
        q = self._heads(self.query_dense(query))
        k = self._heads(self.key_dense(value))
        v = self._heads(self.value_dense(value))
        scores = tf.einsum("bhqd,bhkd->bhqk", q, k) * self.factor
        if key_mask is None:
            weights = tf.nn.softmax(scores, axis=-1)
        else:
            mask = tf.cast(key_mask, scores.dtype)[:, tf.newaxis, tf.newaxis, :]
            # Shift by the largest *kept* score: exp never overflows for kept keys, and a
            # masked key with a larger score is clipped to exp(0) before it is zeroed.
            kept = tf.where(mask > 0, scores, tf.reduce_min(scores, axis=-1, keepdims=True))
            shift = tf.stop_gradient(tf.reduce_max(kept, axis=-1, keepdims=True))
            unnormalized = tf.exp(tf.minimum(scores - shift, 0.0)) * mask
            weights = unnormalized / tf.maximum(
                tf.reduce_sum(unnormalized, axis=-1, keepdims=True), 1e-12)
        weights = self.weights_dropout(weights, training=training)
        out = tf.transpose(tf.einsum("bhqk,bhkd->bhqd", weights, v), [0, 2, 1, 3])
        shape = tf.shape(out)
        return self.output_dense(tf.reshape(out, [shape[0], shape[1], self.dim]))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_heads": self.num_heads,
                "scale": self.scale, "dropout": self.dropout}


class _Block(keras.layers.Layer):
    """What encoder and decoder layers share: options, the MLP, norms and residual wiring."""

    def __init__(self, *, dim, num_heads, mlp_units, norm="pre", scale="head_dim",
                 dropout=0.0, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if norm not in ("pre", "post"):
            raise ValueError(f"layer norm placement must be 'pre' or 'post', got {norm!r}")
        self.dim, self.num_heads, self.mlp_units = dim, num_heads, mlp_units
        self.norm, self.scale, self.dropout, self.epsilon = norm, scale, dropout, epsilon
        self.mlp = keras.Sequential([keras.layers.Dense(mlp_units, activation="gelu"),
                                     keras.layers.Dropout(dropout),
                                     keras.layers.Dense(dim)], name="mlp")
        self.residual_dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        shape = (None, None, self.dim)
        for layer in self._sublayers():
            layer.build(shape)

    def _attention(self, name):
        return Attention(dim=self.dim, num_heads=self.num_heads, scale=self.scale,
                         dropout=self.dropout, name=name)

    def _norm(self, name):
        return keras.layers.LayerNormalization(epsilon=self.epsilon, name=name)

    def _residual(self, x, norm, sublayer, training):
        """Pre-LN ``x + f(LN(x))`` or post-LN ``LN(x + f(x))``."""
        if self.norm == "pre":
            return x + self.residual_dropout(sublayer(norm(x)), training=training)
        return norm(x + self.residual_dropout(sublayer(x), training=training))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_heads": self.num_heads,
                "mlp_units": self.mlp_units, "norm": self.norm, "scale": self.scale,
                "dropout": self.dropout, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(PACKAGE)
class TransformerEncoderLayer(_Block):
    """Self-attention + GeLU MLP, each with residual and layer norm (U-DeepSC 6-9, MFMSC 11-14).

    U-DeepSC puts the norms before each sub-layer (``norm="pre"``, ViT);
    MFMSC after (``norm="post"``, BERT).

    Parameters
    ----------
    dim : int
        Model width D.
    num_heads : int
    mlp_units : int
        Hidden width of the MLP.
    norm : "pre" | "post"
    scale : "head_dim" | "model_dim"
        See :class:`Attention`.
    dropout : float
    epsilon : float
        Layer-norm epsilon.

    Input
    -----
    x : [batch, l, D], float32
    key_mask : [batch, l], float32 or bool, or None
        Vectors with 0 are not attended to (padding, dropped vectors).

    Output
    ------
    : [batch, l, D], float32
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = self._attention("self_attention")
        self.attention_norm = self._norm("attention_norm")
        self.mlp_norm = self._norm("mlp_norm")

    def _sublayers(self):
        return self.attention, self.attention_norm, self.mlp_norm, self.mlp

    def call(self, x, key_mask=None, training=None):
        x = self._residual(x, self.attention_norm,
                           lambda h: self.attention(h, h, key_mask, training=training), training)
        return self._residual(x, self.mlp_norm, self.mlp, training)


@keras.saving.register_keras_serializable(PACKAGE)
class TransformerDecoderLayer(_Block):
    """Self-attention over the queries, masked cross-attention to the memory, GeLU MLP.

    U-DeepSC's decoder layer (Eqs. 24-29, 32): the queries are the task query
    matrix (first layer) or the previous layer's output; the memory is the
    received feature vectors, of which those with ``memory_mask = 0`` (dropped
    by the FSM) are ignored. Residuals and norms as in
    :class:`TransformerEncoderLayer` (the standard wiring; Eq. 24's outer
    residual ``MSA(F) + FFN(...)`` reads as the usual one once MSA and MCA
    carry their own residuals, Eqs. 7, 25).

    Parameters
    ----------
    As :class:`TransformerEncoderLayer`.

    Input
    -----
    x : [batch, l_q, D], float32
    memory : [batch, l_k, D], float32
    memory_mask : [batch, l_k], float32 or bool, or None

    Output
    ------
    : [batch, l_q, D], float32
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.self_attention = self._attention("self_attention")
        self.cross_attention = self._attention("cross_attention")
        self.self_norm = self._norm("self_attention_norm")
        self.cross_norm = self._norm("cross_attention_norm")
        self.mlp_norm = self._norm("mlp_norm")

    def _sublayers(self):
        return (self.self_attention, self.cross_attention, self.self_norm, self.cross_norm,
                self.mlp_norm, self.mlp)

    def call(self, x, memory, memory_mask=None, training=None):
        x = self._residual(x, self.self_norm,
                           lambda h: self.self_attention(h, h, training=training), training)
        x = self._residual(x, self.cross_norm,
                           lambda h: self.cross_attention(h, memory, memory_mask,
                                                          training=training), training)
        return self._residual(x, self.mlp_norm, self.mlp, training)


@keras.saving.register_keras_serializable(PACKAGE)
class TaskTokens(keras.layers.Layer):
    """A trainable embedding vector per task joined to a sequence (U-DeepSC Eq. 10, MFMSC).

    The token tells a shared encoder which task it extracts features for; like
    BERT's [CLS] it attends and is attended to. A key mask for the longer
    sequence gets a 1 at the token's place (``tf.pad(mask, [[0, 0], [1, 0]],
    constant_values=1)`` for ``prepend``).

    Parameters
    ----------
    num_tasks : int
    dim : int
        Vector length (the sequence's width).
    position : "prepend" | "append"
        Where the token goes (U-DeepSC writes ``concat(X, w)``: append).

    Input
    -----
    x : [batch, l, dim], float32
    task : [batch], int32
        Task index of each sample, in [0, num_tasks).

    Output
    ------
    : [batch, l + 1, dim], float32
    """

    def __init__(self, *, num_tasks, dim, position="prepend", **kwargs):
        super().__init__(**kwargs)
        if position not in ("prepend", "append"):
            raise ValueError(f"task token position must be 'prepend' or 'append', "
                             f"got {position!r}")
        self.num_tasks, self.dim, self.position = num_tasks, dim, position

    def build(self, input_shape):
        self.tokens = self.add_weight(name="tokens", shape=(self.num_tasks, self.dim),
                                      initializer=keras.initializers.TruncatedNormal(stddev=0.02))

    def call(self, x, task):
        token = tf.gather(self.tokens, tf.cast(task, tf.int32))[:, tf.newaxis]
        parts = [token, x] if self.position == "prepend" else [x, token]
        return tf.concat(parts, axis=1)

    def get_config(self):
        return {**super().get_config(), "num_tasks": self.num_tasks, "dim": self.dim,
                "position": self.position}


@keras.saving.register_keras_serializable(PACKAGE)
class TaskQueries(keras.layers.Layer):
    """A trainable query matrix ``W_ry`` per task, the decoder's first input (U-DeepSC Eq. 28).

    One ``num_queries`` for all tasks, so that a batch of mixed tasks stays one
    tensor; a task that needs fewer outputs (a class label: 1) reads the first rows.

    Parameters
    ----------
    num_tasks : int
    num_queries : int
        Rows ``N_r`` per task.
    dim : int
        Model width ``E_p``.

    Input
    -----
    task : [batch], int32

    Output
    ------
    : [batch, num_queries, dim], float32
    """

    def __init__(self, *, num_tasks, num_queries, dim, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks, self.num_queries, self.dim = num_tasks, num_queries, dim

    def build(self, input_shape):
        self.queries = self.add_weight(
            name="queries", shape=(self.num_tasks, self.num_queries, self.dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02))

    def call(self, task):
        return tf.gather(self.queries, tf.cast(task, tf.int32))

    def get_config(self):
        return {**super().get_config(), "num_tasks": self.num_tasks,
                "num_queries": self.num_queries, "dim": self.dim}
