"""MFMSC: multi-modal fusion for multi-task semantic communication (Zhu et al., seed paper 001).

The data path of one sample of task ``t``:

1. **Semantic encoders per modality** (Section III-A). Image: ResNet-style,
   a strided ``patch_size`` convolution to width P and ``image_blocks``
   residual blocks of two 3x3 convolutions; each cell of the feature map is
   one token, no position embeddings ("image semantic features are
   essentially the feature map"). Text: trained token plus position
   embeddings (or the frozen pretrained MiniLM with ``text_encoder:
   minilm``, projected to P), the task embedding prepended, ``text_layers``
   post-LN Transformer layers (BERT); the task token is dropped after them.
2. **Fusion module** (Section III-B, multi-modal tasks only): the modality
   token sequences are concatenated (Eq. 9), each token gets its modality's
   **segment embedding** (Eq. 10; no position embeddings in the fusion), the
   task embedding is prepended (``L = L' + 1``), ``fusion_layers`` post-LN
   attention layers follow (Eq. 11; ``heads`` heads of width ``P / heads``,
   scores divided by ``sqrt(P)`` as Eq. 13 writes, ``attention_scale``), and
   the output is **averaged over its L tokens to one vector** (Step 4;
   padding tokens of the question are left out of the mean). Single-modal
   tasks skip the fusion: their token features go to the channel encoder as
   they are ("directly dispatched to the channel encoder").
3. **Channel encoder** (Section III-C): a 2-layer MLP, shared by all tasks,
   maps every vector it gets to ``2 x channel_uses`` reals; all vectors of
   a sample are sent **analog** as one frame (``2k`` reals paired into ``k``
   complex symbols, power-normalized per sample, Es/N0 convention of
   :class:`~.layers.air.ChannelLayer`) through the scenario's channel and receiver.
4. **Receiver**: a shared 2-layer MLP channel decoder per received vector,
   then light per-task heads: the class of a fused vector from a 2-layer MLP
   (the mean of the decoded vectors when several arrive), an image patch per
   token (dense, sigmoid), a token id per text token (dense).

Baselines, as keys of the same system:

- **MMSC** (``fusion: false``): no fusion module; the multi-modal task's
  modality tokens and the task token are concatenated and **all** sent,
  ``L x channel_uses`` channel uses; the receiver averages the decoded
  vectors and applies the same head. Single-modal tasks are the same as MFMSC's.
- **MFSC** (``shared: false``): the same model trained per task, one model
  per task, nothing shared.

Training (Algorithm 1): one batch of one randomly chosen task per step
(:func:`linksim.sim.train.fit_tasks`), with **a separate Adam optimizer per
task** (``training.learning_rate``, paper 1e-4). Losses: cross-entropy for
classes and tokens (padding excluded), MSE for images.

Table I (communication overhead per task instance) is :func:`overhead_bytes`
with :data:`BYTES_PER_SYMBOL`; ``tools/overhead_table.py`` prints it for the
paper's settings and for a scenario.

Tasks and columns are those of :mod:`.multitask` (shared with U-DeepSC): ``<task>_<metric>``
and ``<task>_symbols`` (complex channel uses per sample, pilots included).
Speech recognition is left out: the offline ``speech`` set has 10 utterances.
"""
from typing import Annotated, Literal

import keras
import numpy as np
import tensorflow as tf
from pydantic import Field

from ... import registry
from ...errors import ScenarioError
from ...registry import register
from ...sim import train as train_lib
from ...sources.tokenizer import vocabulary_size
from ...totals import MeanTotals
from ..context import Context
from ..options import TaskOptions, TrainingOption
from .base import Task
from .layers import PACKAGE
from .layers.air import ChannelLayer
from .layers.embeddings import TokenEmbedding
from .layers.transformer import TaskTokens, TransformerEncoderLayer
from .multitask import TASKS, MultiTaskSystem, PerTaskModels, task_inputs, task_loss, \
    task_metrics, task_pairs, task_target

#: Table I's bytes per complex channel use: its real and imaginary parts as two float32.
#: With it the paper's 0.128 KB for one fused vector is 16 channel uses, and 6.400 KB
#: (MMSC, VQA v2) is 50 such vectors; 0.240 KB (U-DeepSC) is its Table II's 30 VQA symbols.
BYTES_PER_SYMBOL = 8

#: The paper's Table I settings: vectors ``L`` MMSC sends (task token included), U-DeepSC's
#: symbols (VQA: its Table II; MM-IMDb: 352 B / 8, not printed elsewhere), and the
#: printed KB of MMSC, T-DeepSC, U-DeepSC, MFMSC.
PAPER_TABLE_I = {
    "VQA v2": {"tokens": 50, "udeepsc_symbols": 30, "printed_kb": (6.400, 0.240, 0.240, 0.128)},
    "MM-IMDb": {"tokens": 31, "udeepsc_symbols": 44, "printed_kb": (3.968, 0.352, 0.352, 0.128)},
}
#: Channel uses per vector that give the paper's 0.128 KB.
PAPER_CHANNEL_USES = 16


def overhead_bytes(*, vectors, channel_uses, bytes_per_symbol=BYTES_PER_SYMBOL):
    """Bytes per task instance of ``vectors`` analog vectors of ``channel_uses`` complex symbols.

    MFMSC sends one fused vector (``vectors = 1``); MMSC all ``L`` tokens.
    """
    return vectors * channel_uses * bytes_per_symbol


def paper_table():
    """Table I from the paper's settings: {data set: {system: KB}} (1 KB = 1000 bytes)."""
    table = {}
    for name, s in PAPER_TABLE_I.items():
        fused = overhead_bytes(vectors=1, channel_uses=PAPER_CHANNEL_USES)
        udeepsc = overhead_bytes(vectors=s["udeepsc_symbols"], channel_uses=1)
        table[name] = {"MMSC": overhead_bytes(vectors=s["tokens"], channel_uses=PAPER_CHANNEL_USES)
                       / 1000, "T-DeepSC": udeepsc / 1000, "U-DeepSC": udeepsc / 1000,
                       "MFMSC": fused / 1000}
    return table


def _tokens(spec, patch):
    h, w, _ = spec
    if h % patch or w % patch:
        raise ValueError(f"image {h}x{w} does not split into {patch}x{patch} cells")
    return (h // patch) * (w // patch)


def sent_vectors(task, *, image_shape, patch_size, text_length, fusion):
    """Vectors a sample of ``task`` puts on the air: 1 for a fused multi-modal task, the
    image cells / text tokens of a single-modal one, and for MMSC's multi-modal task all
    modality tokens plus the task token."""
    modalities = TASKS[task][0]
    if len(modalities) > 1 and fusion:
        return 1
    count = sum(_tokens(image_shape, patch_size) if m == "image" else text_length
                for m in modalities)
    return count + (1 if len(modalities) > 1 else 0)


@keras.saving.register_keras_serializable(PACKAGE)
class ImageEncoder(keras.layers.Layer):
    """ResNet-style image semantic encoder: a strided convolution, then residual blocks.

    Parameters
    ----------
    patch : int
        Kernel and stride of the first convolution: one token per ``patch x patch`` cell.
    dim : int
        Token width P.
    blocks : int
        Residual blocks ``x + conv3x3(relu(conv3x3(x)))``, each followed by a ReLU.

    Input: [batch, H, W, C] float32. Output: [batch, (H / patch) (W / patch), dim] float32.
    """

    def __init__(self, *, patch, dim, blocks, **kwargs):
        super().__init__(**kwargs)
        self.patch, self.dim, self.blocks = patch, dim, blocks
        self.stem = keras.layers.Conv2D(dim, patch, strides=patch, activation="relu")
        self.convolutions = [[keras.layers.Conv2D(dim, 3, padding="same", activation=a)
                              for a in ("relu", None)] for _ in range(blocks)]

    def build(self, input_shape):
        self.stem.build(input_shape)
        shape = self.stem.compute_output_shape(input_shape)
        for pair in self.convolutions:
            for conv in pair:
                conv.build(shape)

    def call(self, image):
        x = self.stem(image)
        for first, second in self.convolutions:
            x = tf.nn.relu(x + second(first(x)))
        return tf.reshape(x, [tf.shape(x)[0], -1, self.dim])

    def get_config(self):
        return {**super().get_config(), "patch": self.patch, "dim": self.dim,
                "blocks": self.blocks}


@keras.saving.register_keras_serializable(PACKAGE)
class MFMSCModel(keras.Model):
    """MFMSC's (or MMSC's) transmitter, analog link and receiver (module docstring).

    Parameters
    ----------
    tasks : dict
        Task name -> ``{"image_shape": [H, W, C] | None, "patch_size": int,
        "num_classes": int | None}``.
    dim, heads, mlp_units : int
        Width P, attention heads and MLP width of every Transformer layer.
    text_layers, image_blocks, fusion_layers : int
        Depth of the text encoder, the image encoder and the fusion module.
    fusion : bool
        False: MMSC (no fusion module, every token sent).
    attention_scale : "model_dim" | "head_dim"
        Scores divided by ``sqrt(P)`` (Eq. 13) or ``sqrt(P / heads)``.
    channel_units : int
        Hidden width of the channel encoder and decoder MLPs.
    channel_uses : int
        Complex channel uses per vector sent.
    text_length : int
    text_encoder : "embedding" | "minilm"
    output_vocabulary : int | None
        The text-reconstruction head predicts WordPiece ids below this; None: all.
    channel, receiver, snr_db, snr_draw
        As for :class:`~.layers.air.ChannelLayer`.

    Input
    -----
    inputs : dict
        The task's entries (:func:`~.multitask.task_inputs`).
    task : str
    no : None | scalar | [batch], float32
        N0 (linear); None draws the training SNR.
    training : bool

    Output
    ------
    dict
        ``output``: class logits [batch, classes], image [batch, H, W, C] in
        [0, 1] or token logits [batch, text_length, vocabulary].
    """

    def __init__(self, *, tasks, dim=64, heads=4, mlp_units=128, text_layers=2, image_blocks=1,
                 fusion_layers=2, fusion=True, attention_scale="model_dim", channel_units=128,
                 channel_uses=8, text_length=32, text_encoder="embedding",
                 output_vocabulary=None, channel=None, receiver=None, snr_db=10.0,
                 snr_draw="sample", **kwargs):
        super().__init__(**kwargs)
        self.task_specs = {name: dict(spec) for name, spec in tasks.items()}
        self.task_names = list(self.task_specs)
        self.options = dict(dim=dim, heads=heads, mlp_units=mlp_units, text_layers=text_layers,
                            image_blocks=image_blocks, fusion_layers=fusion_layers, fusion=fusion,
                            attention_scale=attention_scale, channel_units=channel_units,
                            channel_uses=channel_uses, text_length=text_length,
                            text_encoder=text_encoder,
                            output_vocabulary=output_vocabulary or vocabulary_size())
        self.channel_layer = ChannelLayer(channel=channel, receiver=receiver, snr_db=snr_db,
                                          snr_draw=snr_draw)
        layer = dict(dim=dim, num_heads=heads, mlp_units=mlp_units, norm="post",
                     scale=attention_scale)
        self.modalities = sorted({m for name in self.task_names for m in TASKS[name][0]})
        # One stem per (image shape, cell size) in use; the residual blocks are per stem too
        # (their input statistics differ), the layers after them are shared.
        self.stem_keys = sorted({self._stem_key(name) for name in self.task_names
                                 if "image" in TASKS[name][0]})
        self.image_encoders = [ImageEncoder(patch=patch, dim=dim, blocks=image_blocks,
                                            name=f"image_encoder_{i}")
                               for i, (_, patch) in enumerate(self.stem_keys)]
        if "text" in self.modalities:
            if text_encoder == "minilm":
                from .layers.text_encoder import TextEncoder
                self.text_backbone = TextEncoder(trainable=False, name="minilm")
                self.text_stem = keras.layers.Dense(dim, name="text_projection")
            else:
                self.text_stem = TokenEmbedding(vocabulary=vocabulary_size(), length=text_length,
                                                dim=dim, name="text_embedding")
            self.text_task_tokens = TaskTokens(num_tasks=len(self.task_names), dim=dim,
                                               name="text_task_tokens")
            self.text_layers = [TransformerEncoderLayer(**layer, name=f"text_encoder_{i}")
                                for i in range(text_layers)]
        # Only a multi-modal task has a fusion module (MMSC: only its task token).
        if any(len(TASKS[name][0]) > 1 for name in self.task_names):
            self.fusion_task_tokens = TaskTokens(num_tasks=len(self.task_names), dim=dim,
                                                 name="fusion_task_tokens")
            if fusion:
                self.segments = self.add_weight(
                    name="segment_embeddings", shape=(len(self.modalities), dim),
                    initializer=keras.initializers.TruncatedNormal(stddev=0.02))
                self.fusion_layers = [TransformerEncoderLayer(**layer, name=f"fusion_{i}")
                                      for i in range(fusion_layers)]
        self.channel_encoder = keras.Sequential(
            [keras.layers.Dense(channel_units, activation="gelu"),
             keras.layers.Dense(2 * channel_uses)], name="channel_encoder")
        self.channel_decoder = keras.Sequential(
            [keras.layers.Dense(channel_units, activation="gelu"), keras.layers.Dense(dim)],
            name="channel_decoder")
        self.heads = {}
        for name, spec in self.task_specs.items():
            kind = TASKS[name][1]
            if kind == "class":
                self.heads[name] = keras.Sequential(
                    [keras.layers.Dense(dim, activation="gelu"),
                     keras.layers.Dense(spec["num_classes"])], name=f"{name}_head")
            elif kind == "image":
                patch, c = spec["patch_size"], spec["image_shape"][2]
                self.heads[name] = keras.layers.Dense(patch * patch * c, activation="sigmoid",
                                                      name=f"{name}_head")
            else:
                self.heads[name] = keras.layers.Dense(self.options["output_vocabulary"],
                                                      name=f"{name}_head")

    # -------------------------------------------------------------- shapes

    def _stem_key(self, name):
        spec = self.task_specs[name]
        return (tuple(spec["image_shape"]), spec["patch_size"])

    def model_of(self, task):
        """The model that serves ``task``: this one (MFSC has one per task)."""
        return self

    def vectors(self, task):
        """Vectors a sample of ``task`` sends (:func:`sent_vectors`)."""
        spec = self.task_specs[task]
        return sent_vectors(task, image_shape=spec["image_shape"], patch_size=spec["patch_size"],
                            text_length=self.options["text_length"],
                            fusion=self.options["fusion"])

    def symbols(self, task):
        """Complex channel uses per sample of ``task``, pilots included."""
        return self.channel_layer.channel_uses(2 * self.options["channel_uses"]
                                               * self.vectors(task))

    # -------------------------------------------------------------- the data path

    def encode_modality(self, inputs, task, modality, training=False):
        """Semantic features [batch, n, P] of one modality and their valid mask [batch, n]."""
        if modality == "image":
            encoder = self.image_encoders[self.stem_keys.index(self._stem_key(task))]
            x = encoder(tf.cast(inputs["image"], tf.float32))
            return x, tf.ones(tf.shape(x)[:2], tf.float32)
        tokens_key, mask_key = task_inputs(task)[-2:]
        tokens = tf.cast(inputs[tokens_key], tf.int32)
        valid = tf.cast(inputs[mask_key], tf.float32)
        if self.options["text_encoder"] == "minilm":
            x = self.text_stem(self.text_backbone(
                {"token_ids": tokens, "padding_mask": valid})["token_features"])
        else:
            x = self.text_stem(tokens)
        batch = tf.shape(x)[0]
        x = self.text_task_tokens(x, tf.fill([batch], self.task_names.index(task)))
        mask = tf.pad(valid, [[0, 0], [1, 0]], constant_values=1.0)
        for layer in self.text_layers:
            x = layer(x, key_mask=mask, training=training)
        return x[:, 1:], valid

    def fuse(self, features, task, training=False):
        """The fusion module: {modality: (features, mask)} -> one vector [batch, P] (Eqs. 9-13,
        Step 4: the mean over the valid ones of the L = L' + 1 output tokens)."""
        parts, masks = [], []
        for modality, (x, mask) in features.items():
            parts.append(x + self.segments[self.modalities.index(modality)])
            masks.append(mask)
        x, mask = tf.concat(parts, axis=1), tf.concat(masks, axis=1)
        batch = tf.shape(x)[0]
        x = self.fusion_task_tokens(x, tf.fill([batch], self.task_names.index(task)))
        mask = tf.pad(mask, [[0, 0], [1, 0]], constant_values=1.0)
        for layer in self.fusion_layers:
            x = layer(x, key_mask=mask, training=training)
        weights = mask[..., tf.newaxis]
        return tf.reduce_sum(x * weights, axis=1) / tf.reduce_sum(weights, axis=1)

    def transmitted(self, inputs, task, training=False):
        """The vectors a sample of ``task`` sends, before the channel encoder: [batch, n, P]."""
        modalities = [m for m in self.modalities if m in TASKS[task][0]]
        features = {m: self.encode_modality(inputs, task, m, training) for m in modalities}
        if len(modalities) == 1:
            return features[modalities[0]][0]
        if self.options["fusion"]:
            return self.fuse(features, task, training)[:, tf.newaxis]
        x = tf.concat([f for f, _ in features.values()], axis=1)
        return self.fusion_task_tokens(x, tf.fill([tf.shape(x)[0]],
                                                  self.task_names.index(task)))

    def call(self, inputs, task, no=None, training=False):
        x = self.transmitted(inputs, task, training)
        z = self.channel_encoder(x)
        # All vectors of a sample form one frame, power-normalized together.
        received = tf.reshape(self.channel_layer(tf.reshape(z, [tf.shape(z)[0], -1]), no=no),
                              tf.shape(z))
        y = self.channel_decoder(received)
        return {"output": self._head(task, y)}

    def _head(self, name, y):
        kind, head = TASKS[name][1], self.heads[name]
        if kind == "class":
            return head(tf.reduce_mean(y, axis=1))
        if kind == "tokens":
            return head(y)
        spec = self.task_specs[name]
        (h, w, c), p = spec["image_shape"], spec["patch_size"]
        x = tf.reshape(head(y), [-1, h // p, w // p, p, p, c])
        return tf.reshape(tf.transpose(x, [0, 1, 3, 2, 4, 5]), [-1, h, w, c])

    def get_config(self):
        channel = self.channel_layer.get_config()
        return {**super().get_config(), "tasks": self.task_specs, **self.options,
                **{k: channel[k] for k in ("channel", "receiver", "snr_db", "snr_draw")}}


@keras.saving.register_keras_serializable(PACKAGE)
class MFSCModels(PerTaskModels):
    """MFSC: one :class:`MFMSCModel` per task, nothing shared (:class:`~.multitask.PerTaskModels`)."""

    model_class = MFMSCModel
    name_prefix = "mfsc"


# ------------------------------------------------------------------------------ system


@register("system", "mfmsc")
class MFMSC(MultiTaskSystem):
    """MFMSC: per-modality encoders, a fusion module sending one vector, per-task heads.

    Keys (module docstring): ``tasks`` (task name -> ``{dataset, test_samples,
    test_offset, patch_size}``; ``patch_size``: the image encoder's cell, one
    token per cell), ``dim`` (P), ``heads``, ``mlp_units``, ``text_layers``,
    ``image_blocks``, ``fusion_layers``, ``attention_scale`` (``model_dim``:
    ``sqrt(P)``, Eq. 13), ``channel_units``, ``channel_uses`` (complex channel
    uses per vector sent), ``text_encoder``, ``output_vocabulary``;
    ``fusion: false`` is MMSC (every token of the multi-modal task sent),
    ``shared: false`` MFSC (one model per task). Analog transmission only.
    """

    routes_tasks = True
    metrics = ()

    def __init__(self, *, tasks: dict[Literal[tuple(TASKS)], TaskOptions],
                 dim: Annotated[int, Field(ge=8, le=4096)] = 64,
                 heads: Annotated[int, Field(ge=1, le=64)] = 4,
                 mlp_units: Annotated[int, Field(ge=8, le=16384)] = 128,
                 text_layers: Annotated[int, Field(ge=1, le=48)] = 2,
                 image_blocks: Annotated[int, Field(ge=0, le=48)] = 1,
                 fusion_layers: Annotated[int, Field(ge=1, le=48)] = 2,
                 attention_scale: Literal["model_dim", "head_dim"] = "model_dim",
                 channel_units: Annotated[int, Field(ge=2, le=16384)] = 128,
                 channel_uses: Annotated[int, Field(ge=1, le=65536)] = 8,
                 text_encoder: Literal["embedding", "minilm"] = "embedding",
                 output_vocabulary: Annotated[int, Field(ge=200, le=30522)] | None = None,
                 fusion: bool = True, shared: bool = True,
                 transmission: Literal["analog"] = "analog",
                 training: TrainingOption | None = None, label: str | None = None,
                 context: Context):
        if dim % heads:
            raise ScenarioError(f"{context.key}.heads", f"{heads} heads do not divide dim {dim}")
        if not tasks:
            raise ScenarioError(f"{context.key}.tasks",
                                f"no task given; allowed: {', '.join(TASKS)}")
        tasks = {name: TaskOptions.model_validate(spec) for name, spec in tasks.items()}
        self.model_settings = dict(
            dim=dim, heads=heads, mlp_units=mlp_units, text_layers=text_layers,
            image_blocks=image_blocks, fusion_layers=fusion_layers, fusion=fusion,
            attention_scale=attention_scale, channel_units=channel_units,
            channel_uses=channel_uses, text_encoder=text_encoder,
            output_vocabulary=output_vocabulary)
        self.patch_size = {name: spec.patch_size for name, spec in tasks.items()}
        settings = {**self.model_settings, "shared": shared, "patch_size": self.patch_size}
        self.shared, self.fusion = shared, fusion
        self.scorers = {name: registry.build("scorer", name, key=f"{context.key}.scorers")
                        for name in ("accuracy", "psnr", "bleu", "exact_match", "vqa_accuracy")}
        kind = {(True, True): "MFMSC", (True, False): "MMSC", (False, True): "MFSC",
                (False, False): "MMSC, per task"}[shared, fusion]
        super().__init__(
            label=label or kind, settings=settings,
            tasks=[Task(name=name, dataset=spec.dataset, test_samples=spec.test_samples,
                        test_offset=spec.test_offset, key=f"tasks.{name}.",
                        inputs=task_inputs(name), needs=(task_target(name),))
                   for name, spec in tasks.items()],
            transmission=transmission, training=training, context=context)
        self.metrics = tuple(m for name in tasks for m in task_metrics(name))

    # ----------------------------------------------------------- model

    def overhead(self):
        """{task: (vectors sent, complex channel uses, bytes at :data:`BYTES_PER_SYMBOL`)}
        from the configuration (the data sets give the image shapes)."""
        out = {}
        for name, spec in self._task_specs().items():
            vectors = sent_vectors(name, image_shape=spec["image_shape"],
                                   patch_size=spec["patch_size"], text_length=self.text_length,
                                   fusion=self.fusion)
            uses = self.receiver.num_transmitted(vectors * self.model_settings["channel_uses"],
                                                 self.channel.coherence)
            out[name] = (vectors, uses, overhead_bytes(vectors=1, channel_uses=uses))
        return out

    def build_model(self):
        model_class = MFMSCModel if self.shared else MFSCModels
        return model_class(tasks=self._task_specs(), **self.model_settings,
                           text_length=self.text_length, channel=self.channel,
                           receiver=self.receiver, snr_db=self.training.snr_db,
                           snr_draw=self.training.snr_draw)

    def compile_model(self, model):
        model.compile(optimizer=self.optimizer())

    def _loss(self, model):
        def loss(inputs, targets, task, training):
            out = model(inputs, task=task, training=training)["output"]
            value = task_loss(
                task, targets, out,
                output_vocabulary=model.model_of(task).options["output_vocabulary"])
            return value, {"task": value}
        return loss

    def fit(self, model, data, *, show_progress):
        """Algorithm 1: a random task per step, each task with its own Adam optimizer."""
        pairs = task_pairs(data)
        self.reseed()
        train_lib.fit_tasks(model, pairs, loss=self._loss(model), directory=self.directory,
                            training=self.training, seed=self.seed, curve=self.curve,
                            show_progress=show_progress,
                            optimizers={name: self.optimizer() for name in pairs})

    # ----------------------------------------------------------- evaluation

    def evaluate(self, outputs, batch, task):
        name, output = task.name, outputs["output"].numpy()
        symbols = self.model.model_of(name).symbols(name)
        counts = {"symbols": MeanTotals.of(np.full(len(output), float(symbols)))}
        counts.update(self.score_task(name, output, batch))
        return counts

    def describe(self):
        facts = super().describe()
        if self.model is not None:
            models = getattr(self.model, "models", [self.model])
            facts["parameters_per_model"] = {m.name: int(m.count_params()) for m in models}
        facts["overhead_per_instance"] = {
            name: {"vectors": v, "channel_uses": u, "bytes": b}
            for name, (v, u, b) in self.overhead().items()} if self._data is not None else None
        return facts
