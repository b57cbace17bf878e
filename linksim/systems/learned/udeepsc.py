"""U-DeepSC: one model for many tasks and modalities (Zhang et al., seed paper 000).

The data path of one sample of task ``t``:

1. **Semantic encoders per modality** (Section III): an image is cut into
   ``patch_size`` patches (a strided convolution, plus learned position
   embeddings), a text is embedded token by token (trained embeddings, or
   the pretrained MiniLM encoder with ``text_encoder: minilm``); the task
   embedding vector of ``t`` is appended (Eq. 10) and ``encoder_layers``
   pre-LN Transformer layers (GeLU, attention scaled by ``sqrt(D)``,
   Eqs. 8-9) follow.
2. **Dynamic channel encoder** (Section IV): ``channel_layers`` more layers,
   the first ``num_fsm`` of them preceded by a feature selection module
   (:class:`~.layers.selection.FeatureSelection`). In training each FSM
   samples a keep mask with Gumbel-softmax and ``m^q = m^(q-1) m``; the
   vectors stay in place but dropped ones are masked out of every later
   attention. The ratio net ``delta(sigma^2)``
   (:class:`~.layers.masks.NoiseEncoder`, abs weights and tanh, so it rises
   with the noise) sets the target kept fractions ``delta^q`` (Eqs. 19-20).
   At inference FSM ``q`` keeps the ``ceil(N_d delta^q)`` vectors of highest
   keep probability among those still kept, and only those are sent.
3. **Unified codebook** (Section V-A): each kept vector is projected to
   ``indices_per_vector`` codewords of ``codeword_dim`` reals, each replaced
   by the nearest entry of its modality's sub-codebook (Eq. 23 loss,
   straight-through gradient). **Only indices go on the air**: ``log2 K``
   bits each, through the scenario's digital link (optional FEC, the Sionna
   mapper, the channel, equalizer and demapper; 16-QAM with hard (max-log)
   demapping by default, as in the paper's code), see
   :class:`~.layers.air.IndexLink`. The receiver looks the received indices
   up in the same codebook.
4. **Unified receiver** (Section V-B): a per-modality channel decoder (dense,
   plus a modality embedding), the received vectors of all the task's
   modalities as the memory of ``decoder_layers`` Transformer decoder layers
   whose first input is the task's query matrix; masked cross-attention
   (Eq. 32) ignores vectors that were not sent, so the receiver needs no
   mask: it attends to what arrived. Light heads: a dense classifier on the
   first query, a dense patch decoder (sigmoid) per patch query, a dense
   token classifier per token query.

Training (Algorithm 1): phase 1 (``phase1_epochs``, ``training.learning_rate``) sends the projected
vectors analog over the channel (no codebook) with the ratio net frozen and
Eq. 19's FSM loss; phase 2 (``training.epochs``) adds the codebook, trains
the ratio net with Eq. 20 (``ratio_l1`` weighs the L1 term) and sends the
indices through the digital link at the training SNR, so the decoder learns
from the codewords of indices received with bit errors; it fine-tunes at
``phase2_learning_rate`` (default a tenth of phase 1's). Each step is one
batch of one task (:func:`linksim.sim.train.fit_tasks`). AdamW; the paper's
weight decay "5e-31" is a misprint (it would do nothing): ``weight_decay``
is a key, default 0.05, the usual value for ViT training (DeiT), the
backbone U-DeepSC starts from.

T-DeepSC (the paper's baseline, ``shared: false``) is the same blocks as
one model per task, nothing shared, trained the same way (a batch of one
task per step); its parameter count is the sum over tasks.

Tasks and their scores (one column per task and metric, ``<task>_<metric>``):

==========================  ==============================  =======================
task                        inputs -> output                scored by
==========================  ==============================  =======================
``image_classification``    image -> class                  accuracy (Wilson)
``image_reconstruction``    image -> image                  PSNR (MAX = 1)
``text_classification``     text -> class                   accuracy
``text_reconstruction``     text -> tokens                  corpus BLEU, exact rate
``vqa``                     image + question -> answer      VQA answer accuracy
==========================  ==============================  =======================

and ``<task>_symbols``: complex channel uses sent per sample (the kept
vectors' index bits, FEC, modulation, pilots), a mean with its t-interval.
The paper's video sentiment task (MOSEI) has no offline data here and is left out.
"""
from typing import Annotated, Literal

import keras
import numpy as np
import tensorflow as tf
from pydantic import Field
from sionna.phy import config

from ... import registry
from ...errors import ScenarioError
from ...registry import register
from ...sim import train as train_lib
from ...sources.tokenizer import vocabulary_size
from ...totals import MeanTotals
from ..context import Context
from ..options import DigitalTransmission, DigitalTransmissionOption, TaskOptions, \
    TrainingOption
from .base import Task
from .layers import PACKAGE
from .layers.air import ChannelLayer, IndexLink
from .layers.embeddings import PatchEmbedding, TokenEmbedding
from .layers.importance import top_b_mask
from .layers.masks import NoiseEncoder
from .layers.quantizers import VectorQuantizer
from .layers.selection import FeatureSelection
from .layers.transformer import TaskQueries, TaskTokens, TransformerDecoderLayer, \
    TransformerEncoderLayer
from .multitask import TASKS, MultiTaskSystem, PerTaskModels, task_inputs, task_loss, \
    task_metrics, task_pairs, task_target

def _patchify_shape(image_shape, patch):
    h, w, _ = image_shape
    if h % patch or w % patch:
        raise ValueError(f"image {h}x{w} does not split into {patch}x{patch} patches")
    return (h // patch) * (w // patch)


@keras.saving.register_keras_serializable(PACKAGE)
class UDeepSCModel(keras.Model):
    """U-DeepSC's transmitters, unified codebook, link and unified receiver (module docstring).

    Parameters
    ----------
    tasks : dict
        Task name -> ``{"image_shape": [H, W, C] | None, "patch_size": int,
        "num_classes": int | None}`` (classes for class heads).
    dim, heads, mlp_units : int
        Width D, attention heads and MLP width of every Transformer layer.
    encoder_layers, channel_layers, decoder_layers : int
        Layers of each modality's semantic encoder and channel encoder, and of the decoder.
    num_fsm : int
        FSMs, before the first ``num_fsm`` channel-encoder layers.
    fsm_units : int
        Width ``E_l`` of the FSMs' local, global and noise features.
    temperature : float
        Gumbel-softmax temperature.
    ratio_slope : float
        Initial slope of ``delta(sigma^2)`` (see :class:`NoiseEncoder`'s ``initial_sum``).
    text_length : int
        Token positions of a text ([CLS] and [SEP] included).
    text_encoder : "embedding" | "minilm"
    output_vocabulary : int | None
        The text-reconstruction head predicts WordPiece ids below this (BERT's
        vocabulary is roughly in order of frequency); a rarer token is out of
        its reach. None: the whole vocabulary.
    indices_per_vector, codeword_dim, codebook_size : int
        Codewords per feature vector, their length, and the size of each modality's sub-codebook.
    commitment : float
        Beta of Eq. 23.
    code, modulation : dict | None, dict
        Registry specs of the digital link's FEC (None: uncoded) and modulation.
    channel, receiver : Channel | dict, Receiver | dict
    snr_db : float | (float, float)
        Training Es/N0 in dB.

    Input
    -----
    inputs : dict
        The task's entries (:func:`task_inputs`).
    task : str
    no : None | scalar | [batch], float32
        N0 (linear); None draws the training SNR.
    training : bool

    Output
    ------
    dict
        ``output``: class logits [batch, classes], image [batch, H, W, C] in
        [0, 1] or token logits [batch, text_length, vocabulary];
        ``kept`` [batch] float32, feature vectors sent; ``fsm_loss``, ``vq_loss``: scalars.

    Attributes set by the system, read when a call is traced: ``phase`` (1:
    analog, no codebook; 2: digital), ``selection`` (``"fsm"`` | ``"random"``
    at inference), ``noiseless`` (indices delivered without errors: the upper bound).
    """

    def __init__(self, *, tasks, dim=64, heads=4, mlp_units=128, encoder_layers=2,
                 channel_layers=2, decoder_layers=2, num_fsm=2, fsm_units=32, temperature=1.0,
                 ratio_slope=16.0, text_length=32, text_encoder="embedding",
                 output_vocabulary=None,
                 indices_per_vector=4, codeword_dim=4, codebook_size=256, commitment=0.25,
                 code=None, modulation=None, channel=None, receiver=None, snr_db=10.0,
                 **kwargs):
        super().__init__(**kwargs)
        if num_fsm > channel_layers:
            raise ValueError(f"{num_fsm} FSMs need at least as many channel-encoder layers, "
                             f"got {channel_layers}")
        self.task_specs = {name: dict(spec) for name, spec in tasks.items()}
        self.task_names = list(self.task_specs)
        self.options = dict(dim=dim, heads=heads, mlp_units=mlp_units,
                            encoder_layers=encoder_layers, channel_layers=channel_layers,
                            decoder_layers=decoder_layers, num_fsm=num_fsm, fsm_units=fsm_units,
                            temperature=temperature, ratio_slope=ratio_slope,
                            text_length=text_length, text_encoder=text_encoder,
                            output_vocabulary=output_vocabulary or vocabulary_size(),
                            indices_per_vector=indices_per_vector, codeword_dim=codeword_dim,
                            codebook_size=codebook_size, commitment=commitment, code=code,
                            modulation=modulation or {"name": "qam", "bits_per_symbol": 4,
                                                      "demapping": "maxlog"})
        self.phase, self.selection, self.noiseless = 2, "fsm", False
        self.channel_layer = ChannelLayer(channel=channel, receiver=receiver, snr_db=snr_db)
        layer = dict(dim=dim, num_heads=heads, mlp_units=mlp_units, norm="pre",
                     scale="model_dim")
        modalities = sorted({m for name in self.task_names for m in TASKS[name][0]})
        self.modalities = modalities
        # Image stems: one per (image shape, patch size) in use; the layers after them are shared.
        self.stem_keys = sorted({self._stem_key(name) for name in self.task_names
                                 if "image" in TASKS[name][0]})
        self.image_stems = [PatchEmbedding(
            patch=patch, dim=dim, num_patches=_patchify_shape(shape, patch), name=f"stem_{i}")
            for i, (shape, patch) in enumerate(self.stem_keys)]
        if "text" in modalities:
            if text_encoder == "minilm":
                from .layers.text_encoder import TextEncoder
                self.text_backbone = TextEncoder(trainable=False, name="minilm")
                self.text_stem = keras.layers.Dense(dim, name="text_projection")
            else:
                self.text_stem = TokenEmbedding(vocabulary=vocabulary_size(), length=text_length,
                                                dim=dim, name="text_embedding")
        self.task_tokens, self.encoders, self.channel_encoders, self.fsms = {}, {}, {}, {}
        self.projections, self.codebooks, self.channel_decoders = {}, {}, {}
        for m in modalities:
            self.task_tokens[m] = TaskTokens(num_tasks=len(self.task_names), dim=dim,
                                             position="append", name=f"{m}_task_tokens")
            self.encoders[m] = [TransformerEncoderLayer(**layer, name=f"{m}_encoder_{i}")
                                for i in range(encoder_layers)]
            self.channel_encoders[m] = [
                TransformerEncoderLayer(**layer, name=f"{m}_channel_encoder_{i}")
                for i in range(channel_layers)]
            self.fsms[m] = [FeatureSelection(units=fsm_units, temperature=temperature,
                                             name=f"{m}_fsm_{q}") for q in range(num_fsm)]
            self.projections[m] = keras.layers.Dense(indices_per_vector * codeword_dim,
                                                     name=f"{m}_channel_projection")
            self.codebooks[m] = VectorQuantizer(num_codewords=codebook_size, dim=codeword_dim,
                                                commitment=commitment, name=f"{m}_codebook")
            self.channel_decoders[m] = keras.Sequential(
                [keras.layers.Dense(dim, activation="gelu"), keras.layers.Dense(dim)],
                name=f"{m}_channel_decoder")
        self.modality_embedding = self.add_weight(
            name="modality_embedding", shape=(len(modalities), dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02))
        self.ratio_net = NoiseEncoder(num_outputs=1, hidden_units=(16,), use_bias=False,
                                      initial_sum=ratio_slope, name="ratio_net")
        self.queries = TaskQueries(num_tasks=len(self.task_names),
                                   num_queries=max(self._queries(n) for n in self.task_names),
                                   dim=dim, name="task_queries")
        self.decoder = [TransformerDecoderLayer(**layer, name=f"decoder_{i}")
                        for i in range(decoder_layers)]
        self.decoder_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")
        self.heads = {}
        for name, spec in self.task_specs.items():
            kind = TASKS[name][1]
            if kind == "class":
                units, activation = spec["num_classes"], None
            elif kind == "image":
                patch, c = spec["patch_size"], spec["image_shape"][2]
                units, activation = patch * patch * c, "sigmoid"
            else:
                units, activation = self.options["output_vocabulary"], None
            self.heads[name] = keras.layers.Dense(units, activation=activation,
                                                  name=f"{name}_head")
        # Every index of a task's modality goes through one IndexLink (built here, outside
        # tf.function: Sionna's blocks create variables); only kept vectors count as sent.
        self.links = {f"{name}/{m}": IndexLink(
            num_indices=self.vectors(name, m) * indices_per_vector,
            bits_per_index=self.codebooks[m].bits_per_index, code=code,
            modulation=self.options["modulation"], channel=self.channel_layer.channel,
            receiver=self.channel_layer.receiver) for name in self.task_names
            for m in TASKS[name][0]}

    # -------------------------------------------------------------- shapes

    def _stem_key(self, name):
        spec = self.task_specs[name]
        return (tuple(spec["image_shape"]), spec["patch_size"])

    def _queries(self, name):
        kind = TASKS[name][1]
        if kind == "class":
            return 1
        if kind == "image":
            spec = self.task_specs[name]
            return _patchify_shape(spec["image_shape"], spec["patch_size"])
        return self.options["text_length"]

    def vectors(self, name, modality):
        """Feature vectors ``N_d`` a task's modality has before selection (task token included)."""
        if modality == "image":
            return self.image_stems[self.stem_keys.index(self._stem_key(name))].num_patches + 1
        return self.options["text_length"] + 1

    def model_of(self, task):
        """The model that serves ``task``: this one (T-DeepSC has one per task)."""
        return self

    def sent_vectors(self, task):
        """Feature vectors ``N_d`` of all the task's modalities, before selection."""
        return sum(self.vectors(task, m) for m in TASKS[task][0])

    def symbols(self, kept, task):
        """Channel uses [batch] float64 for ``kept`` vectors [batch] of ``task``.

        All kept indices of a sample form one frame: ``kept x indices_per_vector
        x log2 K`` bits, FEC codewords (when a code is set), the modulation's
        symbols and the receiver's pilots.
        """
        link = self.links[f"{task}/{TASKS[task][0][0]}"]
        bits_per_vector = self.options["indices_per_vector"] * link.bits_per_index
        m = link.modulation.bits_per_symbol
        out = np.zeros(len(kept))
        for value in np.unique(kept):
            bits = int(value) * bits_per_vector
            if self.options["code"] is not None:
                bits = -(-bits // link.code.k) * link.code.n
            data = -(-bits // m)
            out[kept == value] = link.link.symbol_link.channel_uses(data) if data else 0
        return out

    # -------------------------------------------------------------- the data path

    def ratio(self, no):
        """``delta(sigma^2)`` [batch, 1]: the kept fraction after the first FSM."""
        return self.ratio_net(no)

    def _features(self, inputs, name, modality):
        """Semantic features [batch, n, D] and their valid mask [batch, n] before the task token."""
        if modality == "image":
            stem = self.image_stems[self.stem_keys.index(self._stem_key(name))]
            x = stem(tf.cast(inputs["image"], tf.float32))
            return x, tf.ones(tf.shape(x)[:2], tf.float32)
        tokens_key, mask_key = task_inputs(name)[-2:]
        tokens = tf.cast(inputs[tokens_key], tf.int32)
        valid = tf.cast(inputs[mask_key], tf.float32)
        if self.options["text_encoder"] == "minilm":
            features = self.text_backbone({"token_ids": tokens, "padding_mask": valid})
            return self.text_stem(features["token_features"]), valid
        return self.text_stem(tokens), valid

    def _select(self, fsm, x, previous, valid, no, target, training):
        """One FSM: a Gumbel mask in training; at inference the ``ceil(N_d target)`` vectors
        of highest keep probability (or random ones) among those still kept."""
        mask, keep = fsm(x, previous, no, training=training)
        if training:
            return mask
        budget = tf.maximum(tf.math.ceil(valid * target), 1.0)
        budget = tf.minimum(budget, tf.reduce_sum(previous, axis=1))
        scores = keep if self.selection == "fsm" else config.tf_rng.uniform(tf.shape(keep))
        scores = tf.where(previous > 0, scores, -1.0)
        return top_b_mask(scores, tf.cast(budget, tf.int32)) * previous

    def _transmit(self, name, modality, z, mask, no, training):
        """Projected vectors [batch, n, c] -> what the receiver gets, and the VQ loss."""
        batch, n = tf.shape(z)[0], tf.shape(z)[1]
        if self.phase == 1:
            flat = tf.reshape(z * mask[..., tf.newaxis], [batch, -1])
            return tf.reshape(self.channel_layer(flat, no), tf.shape(z)), 0.0
        per = self.options["indices_per_vector"]
        vectors = tf.reshape(z, [batch, n * per, self.options["codeword_dim"]])
        codebook = self.codebooks[modality]
        values, indices, loss = codebook.quantize_with_loss(
            vectors, mask=tf.repeat(mask, per, axis=1))
        if not self.noiseless:
            received = codebook.lookup(self.links[f"{name}/{modality}"](indices, no))
            values = vectors + tf.stop_gradient(received - vectors)
        return tf.reshape(values, tf.shape(z)), loss

    def encode(self, inputs, task, no, delta, training=False):
        """The transmitter: per modality of ``task``, (projected vectors [batch, n, c], mask
        [batch, n] of the vectors sent, Eq. 19 FSM loss)."""
        batch = tf.shape(next(iter(inputs.values())))[0]
        task_index = tf.fill([batch], self.task_names.index(task))
        out = {}
        for modality in (m for m in self.modalities if m in TASKS[task][0]):
            x, valid = self._features(inputs, task, modality)
            x = self.task_tokens[modality](x, task_index)
            mask = tf.concat([valid, tf.ones([batch, 1])], axis=1)
            for layer in self.encoders[modality]:
                x = layer(x, key_mask=mask, training=training)
            count, fsm_loss = tf.reduce_sum(mask, axis=1), 0.0
            for q, layer in enumerate(self.channel_encoders[modality]):
                if q < len(self.fsms[modality]):
                    target = delta[:, 0] ** (q + 1)
                    mask = self._select(self.fsms[modality][q], x, mask, count, no, target,
                                        training)
                    ratio = tf.reduce_sum(mask, axis=1) / count
                    fsm_loss += tf.reduce_mean(tf.square(target - ratio))  # Eq. 19
                x = layer(x, key_mask=mask, training=training)
            out[modality] = (self.projections[modality](x), mask, fsm_loss)
        return out

    def call(self, inputs, task, no=None, training=False):
        batch = tf.shape(next(iter(inputs.values())))[0]
        no = self.channel_layer.noise_variance(batch, no)
        delta = self.ratio(no)
        if self.phase == 1:
            delta = tf.stop_gradient(delta)
        memory, memory_mask, fsm_loss, vq_loss = [], [], 0.0, 0.0
        for modality, (z, mask, loss) in self.encode(inputs, task, no, delta,
                                                     training).items():
            fsm_loss += loss
            received, loss = self._transmit(task, modality, z, mask, no, training)
            vq_loss += loss
            index = self.modalities.index(modality)
            memory.append(self.channel_decoders[modality](received)
                          + self.modality_embedding[index])
            memory_mask.append(mask)
        fsm_loss /= len(memory) * max(1, self.options["num_fsm"])
        memory, memory_mask = tf.concat(memory, axis=1), tf.concat(memory_mask, axis=1)
        y = self.queries(tf.fill([batch], self.task_names.index(task)))
        for layer in self.decoder:
            y = layer(y, memory, memory_mask, training=training)
        y = self.decoder_norm(y)
        return {"output": self._head(task, y), "kept": tf.reduce_sum(memory_mask, axis=1),
                "fsm_loss": fsm_loss, "vq_loss": vq_loss, "delta": delta[:, 0]}

    def _head(self, name, y):
        kind, head = TASKS[name][1], self.heads[name]
        if kind == "class":
            return head(y[:, 0])
        if kind == "tokens":
            return head(y[:, :self.options["text_length"]])
        spec = self.task_specs[name]
        (h, w, c), p = spec["image_shape"], spec["patch_size"]
        patches = head(y[:, :(h // p) * (w // p)])
        x = tf.reshape(patches, [-1, h // p, w // p, p, p, c])
        return tf.reshape(tf.transpose(x, [0, 1, 3, 2, 4, 5]), [-1, h, w, c])

    def get_config(self):
        channel = self.channel_layer.get_config()
        return {**super().get_config(), "tasks": self.task_specs, **self.options,
                "channel": channel["channel"], "receiver": channel["receiver"],
                "snr_db": channel["snr_db"]}


@keras.saving.register_keras_serializable(PACKAGE)
class TaskModels(PerTaskModels):
    """T-DeepSC: one :class:`UDeepSCModel` per task, nothing shared (:class:`~.multitask.PerTaskModels`)."""

    model_class = UDeepSCModel
    name_prefix = "tdeepsc"

    def __setattr__(self, name, value):
        # phase / selection / noiseless reach every per-task model.
        if name in ("phase", "selection", "noiseless"):
            for model in self.__dict__.get("models", []):
                setattr(model, name, value)
        super().__setattr__(name, value)


# ------------------------------------------------------------------------------ systems


@register("system", "udeepsc")
class UDeepSC(MultiTaskSystem):
    """U-DeepSC: one model, several tasks and modalities, FSM-selected vectors, VQ indices on the air.

    Keys (module docstring): ``tasks`` (task name -> ``{dataset, test_samples,
    test_offset, patch_size}``), the widths and depths, ``num_fsm``,
    ``temperature``, ``ratio_slope``, ``ratio_l1``, ``indices_per_vector``,
    ``text_encoder``, ``output_vocabulary``, ``phase1_epochs``, ``weight_decay``,
    ``shared`` (false: T-DeepSC, one model per task); the codebook and the
    digital link under ``transmission`` (``mode: digital`` only:
    ``codebook_size``, ``codeword_dim``, ``commitment``, ``code``,
    ``modulation``). Evaluation only (not part of the trained model):
    ``selection: fsm | random`` (Fig. 10), ``noiseless`` (the upper bound:
    indices arrive without errors) and ``model_from``: the label of another
    system of the scenario with the same model keys, whose trained model this one
    evaluates instead of training its own.
    """

    routes_tasks = True
    metrics = ()

    def __init__(self, *, tasks: dict[Literal[tuple(TASKS)], TaskOptions],
                 dim: Annotated[int, Field(ge=8, le=4096)] = 64,
                 heads: Annotated[int, Field(ge=1, le=64)] = 4,
                 mlp_units: Annotated[int, Field(ge=8, le=16384)] = 128,
                 encoder_layers: Annotated[int, Field(ge=1, le=48)] = 2,
                 channel_layers: Annotated[int, Field(ge=1, le=48)] = 2,
                 decoder_layers: Annotated[int, Field(ge=1, le=48)] = 2,
                 num_fsm: Annotated[int, Field(ge=1, le=12)] = 2,
                 fsm_units: Annotated[int, Field(ge=2, le=4096)] = 32,
                 temperature: Annotated[float, Field(gt=0, le=100)] = 1.0,
                 ratio_slope: Annotated[float, Field(gt=0, le=1e6)] = 16.0,
                 ratio_l1: Annotated[float, Field(ge=0, le=100)] = 1.0,
                 indices_per_vector: Annotated[int, Field(ge=1, le=64)] = 4,
                 text_encoder: Literal["embedding", "minilm"] = "embedding",
                 output_vocabulary: Annotated[int, Field(ge=200, le=30522)] | None = None,
                 phase1_epochs: Annotated[int, Field(ge=0, le=100_000)] = 10,
                 phase2_learning_rate: Annotated[float, Field(gt=0, le=1)] | None = None,
                 weight_decay: Annotated[float, Field(ge=0, le=1)] = 0.05,
                 selection: Literal["fsm", "random"] = "fsm", noiseless: bool = False,
                 model_from: str | None = None, shared: bool = True,
                 transmission: DigitalTransmissionOption = "digital",
                 training: TrainingOption | None = None, label: str | None = None,
                 context: Context):
        if dim % heads:
            raise ScenarioError(f"{context.key}.heads", f"{heads} heads do not divide dim {dim}")
        if num_fsm > channel_layers:
            raise ScenarioError(f"{context.key}.num_fsm", f"{num_fsm} FSMs need as many "
                                f"channel_layers (have {channel_layers}); allowed: 1..{channel_layers}")
        if not tasks:
            raise ScenarioError(f"{context.key}.tasks", f"no task given; allowed: {', '.join(TASKS)}")
        tasks = {name: TaskOptions.model_validate(spec) for name, spec in tasks.items()}
        transmission = registry.validated(DigitalTransmission, {"mode": transmission} if
                                          isinstance(transmission, str) else transmission,
                                          f"{context.key}.transmission").model_dump()
        self.model_settings = dict(
            dim=dim, heads=heads, mlp_units=mlp_units, encoder_layers=encoder_layers,
            channel_layers=channel_layers, decoder_layers=decoder_layers, num_fsm=num_fsm,
            fsm_units=fsm_units, temperature=temperature, ratio_slope=ratio_slope,
            indices_per_vector=indices_per_vector, text_encoder=text_encoder,
            output_vocabulary=output_vocabulary)
        settings = {**self.model_settings, "ratio_l1": ratio_l1, "phase1_epochs": phase1_epochs,
                    "phase2_learning_rate": phase2_learning_rate,
                    "weight_decay": weight_decay, "shared": shared,
                    "patch_size": {name: spec.patch_size for name, spec in tasks.items()}}
        self.patch_size = settings["patch_size"]
        self.ratio_l1, self.phase1_epochs, self.weight_decay = ratio_l1, phase1_epochs, weight_decay
        self.phase2_learning_rate = phase2_learning_rate
        self.selection, self.noiseless, self.shared = selection, noiseless, shared
        self.scorers = {name: registry.build("scorer", name, key=f"{context.key}.scorers")
                        for name in ("accuracy", "psnr", "bleu", "exact_match", "vqa_accuracy")}
        kind = "U-DeepSC" if self.shared else "T-DeepSC"
        extra = (", random selection" if selection == "random" else "") + (
            ", noiseless" if noiseless else "")
        super().__init__(
            label=label or f"{kind}{extra}", settings=settings,
            tasks=[Task(name=name, dataset=spec.dataset, test_samples=spec.test_samples,
                        test_offset=spec.test_offset, key=f"tasks.{name}.",
                        inputs=task_inputs(name), needs=(task_target(name),))
                   for name, spec in tasks.items()],
            transmission=transmission, training=training, context=context)
        if model_from is not None:
            from ...sim.results import slug
            self.directory = self.directory.parent / slug(model_from)
            self.curve = self.curve.parent / slug(model_from)
        self.model_from = model_from
        self.metrics = tuple(m for name in tasks for m in task_metrics(name))

    # ----------------------------------------------------------- model

    def _model_options(self):
        t = self.transmission
        return dict(**self.model_settings, text_length=self.text_length,
                    codeword_dim=t.codeword_dim, codebook_size=t.codebook_size,
                    commitment=t.commitment, code=t.code, modulation=t.modulation,
                    channel=self.channel, receiver=self.receiver, snr_db=self.training.snr_db)

    def build_model(self):
        model_class = UDeepSCModel if self.shared else TaskModels
        model = model_class(tasks=self._task_specs(), **self._model_options())
        model.selection, model.noiseless = self.selection, self.noiseless
        return model

    def optimizer(self):
        return keras.optimizers.AdamW(learning_rate=self.training.learning_rate,
                                      weight_decay=self.weight_decay)

    def compile_model(self, model):
        model.compile(optimizer=self.optimizer())

    def _loss(self, model):
        def loss(inputs, targets, task, training):
            out = model(inputs, task=task, training=training)
            task_loss_value = task_loss(
                task, targets, out["output"],
                output_vocabulary=model.model_of(task).options["output_vocabulary"])
            l1 = 0.0 if self._phase == 1 else self.ratio_l1 * tf.reduce_mean(out["delta"])
            total = task_loss_value + out["fsm_loss"] + out["vq_loss"] + l1
            return total, {"task": task_loss_value, "fsm": out["fsm_loss"], "vq": out["vq_loss"],
                           "kept": tf.reduce_mean(out["kept"]), "delta": tf.reduce_mean(out["delta"])}
        return loss

    def fit(self, model, data, *, show_progress):
        """Algorithm 1: phase 1 (analog, no codebook, ratio net frozen), then phase 2 (all)."""
        pairs = task_pairs(data)
        phase1 = self.directory / "phase1.weights.h5"
        common = dict(loss=self._loss(model), seed=self.seed, show_progress=show_progress)
        if self.phase1_epochs and not phase1.exists():
            self._set_phase(model, 1)
            if show_progress:
                print("phase 1: analog features, no codebook, ratio net frozen", flush=True)
            train_lib.fit_tasks(model, pairs, directory=self.directory / "phase1",
                                epochs=self.phase1_epochs, training=self.training,
                                curve=self.curve.with_name(f"{self.curve.name}.phase1"), **common)
            model.save_weights(phase1)
        elif phase1.exists():
            model.load_weights(phase1)
        self._set_phase(model, 2)
        self._init_codebooks(model, pairs)
        if show_progress:
            print("phase 2: codebook indices over the digital link, FSM ratio loss", flush=True)
        # A fresh AdamW moves every weight by about its learning rate per step at first:
        # phase 2 fine-tunes at phase2_learning_rate (default a tenth) so as not to undo phase 1.
        fine = self.phase2_learning_rate or self.training.learning_rate / 10
        training = self.training.model_copy(update={
            "learning_rate": fine, "min_learning_rate": min(self.training.min_learning_rate, fine)})
        train_lib.fit_tasks(model, pairs, directory=self.directory / "phase2",
                            training=training,
                            curve=self.curve.with_name(f"{self.curve.name}.phase2"), **common)
        self._set_phase(model, 2)

    def _init_codebooks(self, model, pairs, samples=256):
        """Start each sub-codebook on sub-vectors the phase-1 encoder sends (drawn at random),
        so that no codeword starts far from every encoder output and stays unused.
        (A resumed phase 2 then loads its own codebook over this.)"""
        rng = np.random.default_rng(self.seed)
        for m in getattr(model, "models", [model]):
            found = {}
            for task in m.task_names:
                inputs = {k: tf.constant(v[:samples]) for k, v in pairs[task][0].items()}
                batch = len(next(iter(pairs[task][0].values()))[:samples])
                no = m.channel_layer.noise_variance(batch)
                for modality, (z, mask, _) in m.encode(inputs, task, no, m.ratio(no)).items():
                    dim = m.options["codeword_dim"]
                    vectors = tf.reshape(z, [batch, -1, dim])
                    sent = tf.repeat(mask, m.options["indices_per_vector"], axis=1) > 0
                    found.setdefault(modality, []).append(tf.boolean_mask(vectors, sent).numpy())
            for modality, parts in found.items():
                vectors = np.concatenate(parts)
                codebook = m.codebooks[modality].codebook
                pick = rng.choice(len(vectors), codebook.shape[0],
                                  replace=len(vectors) < codebook.shape[0])
                codebook.assign(vectors[pick])

    def _set_phase(self, model, phase):
        """Phase 1 freezes the ratio net; a new optimizer for the phase's trainable variables."""
        self._phase = phase
        model.phase = phase
        for ratio_net in self._ratio_nets(model):
            ratio_net.trainable = phase == 2
        # Its learning rate is set every epoch by fit_tasks' schedule.
        model.compile(optimizer=self.optimizer())

    @staticmethod
    def _ratio_nets(model):
        return [m.ratio_net for m in getattr(model, "models", [model])]

    _phase = 2

    def _use(self, model):
        model.phase, model.selection, model.noiseless = 2, self.selection, self.noiseless
        super()._use(model)

    # ----------------------------------------------------------- evaluation

    def evaluate(self, outputs, batch, task):
        name, output = task.name, outputs["output"].numpy()
        counts = {"symbols": MeanTotals.of(
            self.model.model_of(name).symbols(outputs["kept"].numpy(), name))}
        counts.update(self.score_task(name, output, batch))
        return counts

    def describe(self):
        facts = super().describe()
        facts["model_from"] = self.model_from
        if self.model is not None:
            models = getattr(self.model, "models", [self.model])
            facts["parameters_per_model"] = {m.name: int(m.count_params()) for m in models}
            facts["symbols_if_all_sent"] = {}
            for task in self.tasks:
                model = self.model.model_of(task.name)
                every = np.array([model.sent_vectors(task.name)])
                facts["symbols_if_all_sent"][task.name] = float(model.symbols(every, task.name)[0])
        return facts
