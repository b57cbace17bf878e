"""SMSC-FIR: scalable multi-task semantic coding with feature importance ranking (seed paper 003).

The data path of one image (Fig. 1 of the paper):

1. **Multi-task semantic encoder**: a CNN (stride-2 3x3 convolutions until the
   map is at most 8x8, then a dense layer) gives ``N`` semantic features ``e``.
2. **JSC encoder**: two dense layers give ``L`` complex features ``f``
   (``2L`` reals paired ``x[2i] + j x[2i+1]``).
3. **Scalable feature selector**: ``B = floor(T W log2(1 + SNR) / 64)``
   features (Section 3.1, :func:`~.layers.importance.feature_budget`; ``T W``
   channel uses per time slot, 64 bits per feature; clipped to ``[1, L]``)
   follow the SNR. ``selection: importance`` keeps the ``B`` features of
   highest importance ``s = |sum_k lambda_k dg_k/df|`` (Eqs. 1-2,
   :func:`importance`): ``g_k`` is the probability of task ``k``'s top class
   (the identity classifier for re-identification) computed at the
   transmitter from the noiseless ``f`` through the receiver's decoder and
   heads, per sample, with ``tf.GradientTape``; ``lambda_k`` are the task loss
   weights; the gradient of a complex feature is its (real, imaginary) pair
   and its magnitude is the score. ``random`` keeps ``B`` random features,
   ``sequential`` the first ``B`` (the paper's baselines, trained the same
   way). ``full_transmission: true`` sends all ``L`` (the upper bound).
4. **Channel**: the kept features are normalized to ``z = sqrt(B) z~ / ||z~||``
   (mean energy 1 per sent symbol) and sent through the scenario's channel
   and receiver (:class:`~linksim.phy.link.SymbolLink`; Rician K = 2 in the
   paper, ``rician_mean: standard | paper``). Only the ``B`` kept symbols
   count as channel uses (``symbols``, pilots added for an LS receiver);
   features not sent are zero at the receiver. Which positions were kept is
   side information the paper does not charge, and neither does this.
5. **Receiver**: the JSC decoder restores ``e^`` (``N`` features), then
   per-task heads: a re-identification embedding with an identity
   classifier, colour and type classifiers.

Training (Section 3.3): loss ``lambda_r (hard triplet + CE) + lambda_c CE +
lambda_t CE + feature_weight ||e - e^||^2 / N``; each training image and a
second view of its identity (``positive``) form the batch, so every identity
in it has a positive for the batch-hard triplet loss (margin ``margin``, on
L2-normalized embeddings). Stage 1 (``stage1_epochs``): full transmission;
stage 2 (``training.epochs``): ranking and selection at the ``B`` of each
sample's training SNR (drawn from ``training.snr_db``), all weights retrained.
Adam; the paper's 3e-4 and batch 32 are ``training`` keys. ``stage1_from``
(a label) starts stage 2 from another system's stage-1 weights (same model
keys), so that importance, random and sequential selection and full
transmission differ only from stage 2 on.

``tasks`` picks the tasks one model serves: all three is multi-task coding
(MTC); one task is single-task coding (STC, Table 1: one such system per
task, each with its own ``B``).

Scoring (columns ``<task>_<metric>``): ``reid_rank1`` and ``reid_map``
(:class:`~linksim.scorers.retrieval.Retrieval`, cosine similarity) rank a
gallery for each received query; the gallery is at the receiver, its
embeddings computed from its clean images through the same network with
all features and no noise. ``colour_accuracy``, ``type_accuracy``:
accuracy of the received queries. ``symbols``: channel uses per query.

``transmission: jpeg`` is the paper's traditional baseline: each query image
is JPEG-coded to fit ``T W`` channel uses of ``jpeg_code`` (5G LDPC, rate 3/4)
and ``jpeg_modulation`` (BPSK) through the same channel
(:class:`~linksim.systems.conventional.ConventionalSystem`, ``failure:
corrupt``, payload accounting), decoded, and scored by the network of
``model_from`` (the full-transmission system, whose YAML keys it must
repeat) on the noiseless full path: the same task network as the upper bound.
"""
import math
from typing import Annotated, Literal

import keras
import numpy as np
import tensorflow as tf
from pydantic import Field
from sionna.phy import config

from ... import registry
from ...errors import ScenarioError, UserError
from ...registry import Spec, register
from ...sim import train as train_lib
from ...sim.results import slug
from ...totals import MeanTotals, RateTotals, SampleTotals
from ..base import Metric
from ..context import Context
from ..options import TrainingOption
from .base import LearnedSystem, Task
from .layers import PACKAGE
from .layers.air import ChannelLayer
from .layers.complex_symbols import complex_to_real, real_to_complex
from .layers.importance import top_b_mask

#: The one task of the system: a query image, scored on every task head its model has.
TASK = "vehicle"
TASKS = ("reid", "colour", "type")
SELECTIONS = ("importance", "random", "sequential")
#: The batch entry each task learns from.
TARGETS = {"reid": "label", "colour": "colour", "type": "type"}


def budget(no, *, channel_uses, num_features, bits_per_feature=64):
    """Features sent per sample, ``clip(floor(T W log2(1 + 1/N0) / bits), 1, L)``.

    The TensorFlow form of :func:`~.layers.importance.feature_budget` (SNR =
    Es/N0 = 1/N0), in float64 so that it floors as that Python form does.

    Input: no [batch] float32, N0 (linear). Output: [batch] int32 in [1, L].
    """
    snr = 1.0 / tf.cast(no, tf.float64)
    bits = channel_uses * tf.math.log(1.0 + snr) / math.log(2.0)
    b = tf.floor(bits / bits_per_feature)
    return tf.cast(tf.clip_by_value(b, 1.0, float(num_features)), tf.int32)


def importance(features, probabilities, weights):
    """Importance ``s = |sum_k lambda_k d g_k / d f|`` of each complex feature (Eqs. 1-2).

    ``g_k`` is task ``k``'s largest class probability (its top class, as
    Grad-CAM explains the predicted class). Samples are independent, so the
    gradient of the batch sum gives every sample's own gradient.

    Parameters
    ----------
    features : [batch, 2L] float32
        Real features, paired ``x[2i] + j x[2i+1]`` into ``L`` complex ones.
    probabilities : callable
        ``features -> {task: [batch, classes] probabilities}``.
    weights : dict
        ``lambda_k`` by task.

    Output: [batch, L] float32, the magnitude of the (real, imaginary) gradient pair.
    """
    with tf.GradientTape() as tape:
        tape.watch(features)
        probs = probabilities(features)
        g = tf.reduce_sum(tf.add_n([weights[k] * tf.reduce_max(p, axis=-1)
                                    for k, p in probs.items()]))
    grad = tape.gradient(g, features)
    pairs = tf.reshape(grad, [tf.shape(grad)[0], -1, 2])
    return tf.sqrt(tf.reduce_sum(tf.square(pairs), axis=-1))


def selection_mask(selection, scores, b):
    """1 for the ``b`` features ``selection`` keeps: highest ``scores``, random, or the first.

    Input: scores [batch, L] float32; b [batch] int32. Output: [batch, L] float32.
    """
    if selection == "random":
        scores = config.tf_rng.uniform(tf.shape(scores))
    elif selection == "sequential":
        scores = tf.broadcast_to(-tf.range(tf.shape(scores)[1], dtype=tf.float32),
                                 tf.shape(scores))
    return top_b_mask(scores, b)


def _complex(x):
    """Real float32 -> complex64 (``tf.complex``: its gradient keeps the real part, as it should)."""
    return tf.complex(x, tf.zeros_like(x))


def _stem(image_shape, width):
    """Stride-2 3x3 convolutions (width doubling, at most 8x) until the map is at most 8x8."""
    size, layers, filters = max(image_shape[:2]), [], width
    while size > 8:
        layers.append(keras.layers.Conv2D(filters, 3, strides=2, padding="same",
                                          activation="relu"))
        size, filters = -(-size // 2), min(2 * filters, 8 * width)
    return layers + [keras.layers.Flatten()]


@keras.saving.register_keras_serializable(PACKAGE)
class SMSCFIRModel(keras.Model):
    """Semantic encoder, JSC encoder, scalable selector, link, JSC decoder and task heads.

    Parameters
    ----------
    image_shape : [H, W, C]
    classes : dict
        Task -> classes of its classifier (``reid``: training identities).
    num_features : int
        ``L`` complex features.
    semantic_dim : int
        ``N`` semantic features.
    width : int
        Filters of the first convolution.
    embedding_dim : int
        Re-identification embedding width.
    weights : dict
        ``lambda_k`` by task (importance weights, as in the loss).
    channel_uses : float
        ``T W``.
    bits_per_feature : int
    selection : "importance" | "random" | "sequential"
    full_transmission : bool
    channel, receiver : Channel | dict, Receiver | dict
    snr_db : float | (float, float)
        Training Es/N0 in dB.
    snr_draw : "sample" | "batch"

    Input
    -----
    inputs : dict
        ``image`` [batch, H, W, C] float32 in [0, 1].
    no : None | scalar | [batch] float32
        N0 (linear); None draws the training SNR.

    Output
    ------
    dict
        Per task: ``reid`` [batch, embedding_dim] embedding and ``identity``
        [batch, identities] logits; ``colour``, ``type`` [batch, classes]
        logits. ``kept`` [batch] float32 features sent; ``feature_mse``
        [batch] float32, ``||e - e^||^2 / N``.

    ``stage`` (set by the system before a call is traced): 1 sends every
    feature, 2 selects ``B``.
    """

    def __init__(self, *, image_shape, classes, num_features, semantic_dim=128, width=16,
                 embedding_dim=64, weights=None, channel_uses=1440.0, bits_per_feature=64,
                 selection="importance", full_transmission=False, channel=None, receiver=None,
                 snr_db=10.0, snr_draw="sample", **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.classes = dict(classes)
        self.options = dict(num_features=num_features, semantic_dim=semantic_dim, width=width,
                            embedding_dim=embedding_dim, channel_uses=float(channel_uses),
                            bits_per_feature=bits_per_feature, selection=selection,
                            full_transmission=full_transmission)
        self.task_weights = {k: float((weights or {}).get(k, 1.0)) for k in self.classes}
        self.stage = 2
        self.channel_layer = ChannelLayer(channel=channel, receiver=receiver, snr_db=snr_db,
                                          snr_draw=snr_draw)
        dense = keras.layers.Dense
        self.encoder = keras.Sequential(_stem(self.image_shape, width) + [dense(semantic_dim)],
                                        name="semantic_encoder")
        self.jsc_encoder = keras.Sequential(
            [dense(2 * semantic_dim, activation="relu"), dense(2 * num_features)],
            name="jsc_encoder")
        self.jsc_decoder = keras.Sequential(
            [dense(2 * semantic_dim, activation="relu"), dense(semantic_dim)],
            name="jsc_decoder")
        self.heads = {}
        for task, count in self.classes.items():
            if task == "reid":
                self.heads["reid"] = dense(embedding_dim, name="reid_embedding")
                self.heads["identity"] = dense(count, name="identity_classifier")
            else:
                self.heads[task] = keras.Sequential(
                    [dense(64, activation="relu"), dense(count)], name=f"{task}_classifier")

    @property
    def link(self):
        return self.channel_layer.link

    def decode(self, received):
        """Received reals [batch, 2L] -> task outputs (dict, see the class docstring) and e^."""
        e_hat = self.jsc_decoder(received)
        out = {}
        for task in self.classes:
            if task == "reid":
                out["reid"] = self.heads["reid"](e_hat)
                out["identity"] = self.heads["identity"](out["reid"])
            else:
                out[task] = self.heads[task](e_hat)
        return out, e_hat

    def _probabilities(self, features):
        out, _ = self.decode(features)
        return {k: tf.nn.softmax(out["identity" if k == "reid" else k]) for k in self.classes}

    def _normalized(self, f, mask, b):
        """Kept features as complex symbols of mean energy 1: ``sqrt(B) z~ / ||z~||``."""
        z = real_to_complex(f) * _complex(mask)
        energy = tf.reduce_sum(tf.square(tf.abs(z)), axis=1, keepdims=True)
        return z * _complex(tf.sqrt(tf.cast(b, tf.float32)[:, None] / tf.maximum(energy, 1e-12)))

    def clean(self, inputs):
        """Task outputs with every feature and no channel (gallery, decoded JPEG images)."""
        f = self.jsc_encoder(self.encoder(inputs["image"]))
        L = self.options["num_features"]
        batch = tf.shape(f)[0]
        z = self._normalized(f, tf.ones([batch, L]), tf.fill([batch], L))
        return self.decode(complex_to_real(z))[0]

    def call(self, inputs, no=None, training=False):
        e = self.encoder(inputs["image"], training=training)
        f = self.jsc_encoder(e, training=training)
        batch = tf.shape(f)[0]
        L = self.options["num_features"]
        no = self.channel_layer.noise_variance(batch, no)
        if self.stage == 1 or self.options["full_transmission"]:
            b, mask = tf.fill([batch], L), tf.ones([batch, L])
        else:
            b = budget(no, channel_uses=self.options["channel_uses"], num_features=L,
                       bits_per_feature=self.options["bits_per_feature"])
            scores = tf.zeros([batch, L])
            if self.options["selection"] == "importance":
                full = complex_to_real(self._normalized(f, tf.ones([batch, L]),
                                                        tf.fill([batch], L)))
                scores = tf.stop_gradient(importance(tf.stop_gradient(full),
                                                     self._probabilities, self.task_weights))
            mask = selection_mask(self.options["selection"], scores, b)
        z_hat, _ = self.link(self._normalized(f, mask, b), no)
        received = complex_to_real(z_hat * _complex(mask))
        out, e_hat = self.decode(received)
        out["kept"] = tf.cast(b, tf.float32)
        # The channel loss (Eq. 7) trains the JSC pair to restore e; without stop_gradient
        # it would also pull e itself towards whatever is easiest to restore (a constant).
        out["feature_mse"] = tf.reduce_mean(tf.square(tf.stop_gradient(e) - e_hat), axis=-1)
        return out

    def get_config(self):
        channel = self.channel_layer.get_config()
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "classes": self.classes, **self.options, "weights": self.task_weights,
                "channel": channel["channel"], "receiver": channel["receiver"],
                "snr_db": channel["snr_db"], "snr_draw": channel["snr_draw"]}


def batch_hard_triplet(embeddings, ids, margin):
    """Hard-mining triplet loss (Eq. 5) over a batch: hardest positive and negative per anchor.

    Input: embeddings [batch, D] float32 (L2-normalized here), ids [batch] int.
    Output: scalar float32, mean over anchors of ``max(d_ap) - min(d_an) + margin``, at least 0.
    """
    x = tf.math.l2_normalize(embeddings, axis=-1)
    d = tf.sqrt(tf.maximum(2.0 - 2.0 * tf.matmul(x, x, transpose_b=True), 1e-12))
    same = tf.equal(ids[:, None], ids[None, :])
    positive = tf.reduce_max(tf.where(same, d, 0.0), axis=1)
    negative = tf.reduce_min(tf.where(same, 1e9, d), axis=1)
    return tf.reduce_mean(tf.nn.relu(positive - negative + margin))


class _DecodedImages:
    """The JPEG baseline's scoring hook for :meth:`ConventionalSystem._run`: the decoded
    images of query samples go through the task network's noiseless path."""

    def __init__(self, system, dataset):
        self.system, self.dataset = system, dataset
        mean = np.mean(np.asarray(dataset.x, np.float32), axis=0)
        self.substitute = lambda index: mean

    def score(self, indices, outputs):
        system = self.system
        images = np.stack([np.asarray(o, np.float32).reshape(self.dataset.x.shape[1:])
                           for o in outputs])
        out = system.model.clean({"image": tf.constant(images)})
        batch = {k: v[indices] for k, v in system.test_data()[TASK].inputs.items()}
        return system.score_tasks(out, batch)



@register("system", "smscfir")
class SMSCFIR(LearnedSystem):
    """SMSC-FIR (003): importance-ranked scalable multi-task coding; random, sequential, full, JPEG."""

    needs = ("label", "colour", "type")

    def __init__(self, *, dataset: Spec("dataset"),
                 tasks: list[Literal["reid", "colour", "type"]] = ["reid", "colour", "type"],
                 reid_weight: Annotated[float, Field(ge=0, le=100)] = 1.0,
                 colour_weight: Annotated[float, Field(ge=0, le=100)] = 0.125,
                 type_weight: Annotated[float, Field(ge=0, le=100)] = 0.125,
                 feature_weight: Annotated[float, Field(ge=0, le=100)] = 1.0,
                 margin: Annotated[float, Field(ge=0, le=10)] = 0.3,
                 num_features: Annotated[int, Field(ge=1, le=65_536)] = 64,
                 semantic_dim: Annotated[int, Field(ge=1, le=65_536)] = 128,
                 width: Annotated[int, Field(ge=1, le=1024)] = 16,
                 embedding_dim: Annotated[int, Field(ge=1, le=65_536)] = 64,
                 slot_s: Annotated[float, Field(gt=0, le=1e3)] = 1e-3,
                 bandwidth_hz: Annotated[float, Field(gt=0, le=1e12)] = 1.44e6,
                 bits_per_feature: Annotated[int, Field(ge=1, le=1024)] = 64,
                 selection: Literal["importance", "random", "sequential"] = "importance",
                 full_transmission: bool = False,
                 stage1_epochs: Annotated[int, Field(ge=0, le=100_000)] = 5,
                 stage1_from: str | None = None,
                 test_samples: Annotated[int, Field(ge=1, le=1_000_000)] = 500,
                 gallery_samples: Annotated[int, Field(ge=1, le=10_000_000)] | None = None,
                 transmission: Literal["analog", "jpeg"] = "analog",
                 jpeg_code: Spec("code") = {"name": "ldpc5g", "k": 540, "n": 720},
                 jpeg_modulation: Spec("modulation") = {"name": "bpsk"},
                 model_from: str | None = None,
                 training: TrainingOption | None = None, label: str | None = None,
                 context: Context):
        key = context.key
        if not tasks or len(set(tasks)) != len(tasks):
            raise ScenarioError(f"{key}.tasks", f"{tasks} must name distinct tasks; allowed: "
                                f"{', '.join(TASKS)}")
        if transmission == "jpeg":
            if model_from is None:
                raise ScenarioError(f"{key}.model_from", "transmission: jpeg scores decoded "
                                    "images with a trained model: give the label of the "
                                    "full-transmission system")
            registry.build("code", jpeg_code, key=f"{key}.jpeg_code")
            registry.build("modulation", jpeg_modulation, key=f"{key}.jpeg_modulation")
        self.task_names = [t for t in TASKS if t in tasks]
        weights = {"reid": reid_weight, "colour": colour_weight, "type": type_weight}
        self.weights = {t: weights[t] for t in self.task_names}
        self.channel_uses = slot_s * bandwidth_hz
        self.mode = transmission
        self.jpeg = {"code": jpeg_code, "modulation": jpeg_modulation}
        self.gallery_samples = gallery_samples or test_samples
        self.model_settings = dict(
            num_features=num_features, semantic_dim=semantic_dim, width=width,
            embedding_dim=embedding_dim, channel_uses=self.channel_uses,
            bits_per_feature=bits_per_feature, selection=selection,
            full_transmission=full_transmission)
        settings = {**self.model_settings, "tasks": self.task_names, "weights": self.weights,
                    "feature_weight": feature_weight, "margin": margin,
                    "stage1_epochs": stage1_epochs, "stage1_from": stage1_from, "slot_s": slot_s,
                    "bandwidth_hz": bandwidth_hz}
        self.feature_weight, self.margin, self.stage1_epochs = feature_weight, margin, stage1_epochs
        self.stage1_from = stage1_from
        coding = "MTC" if len(self.task_names) > 1 else f"STC {self.task_names[0]}"
        kind = ("JPEG + LDPC + BPSK" if transmission == "jpeg" else "full transmission"
                if full_transmission else f"SMSC-FIR {selection}")
        super().__init__(label=label or f"{kind}, {coding}", settings=settings,
                         tasks=[Task(name=TASK, dataset=dataset, test_samples=test_samples)],
                         transmission="analog", training=training, context=context)
        if model_from is not None:
            self.directory = self.directory.parent / slug(model_from)
            self.curve = self.curve.parent / slug(model_from)
        self.model_from = model_from
        self.scorers = {name: registry.build("scorer", name, key=f"{key}.scorers")
                        for name in ("retrieval", "accuracy")}
        words = {"reid": [("rank1", "re-identification rank-1 accuracy"),
                          ("map", "re-identification mAP")],
                 "colour": [("accuracy", "colour accuracy")],
                 "type": [("accuracy", "type accuracy")]}
        self.metrics = tuple(Metric(f"{t}_{m}", text) for t in self.task_names
                             for m, text in words[t]) + (
            Metric("symbols", "channel uses per image"),)
        if transmission == "jpeg":
            self.metrics += (Metric("feasible_fraction",
                                    "JPEG fits the slot (lowest quality)"),)
        self._gallery = None
        self._conventional = None

    # ----------------------------------------------------------- model

    def _train_split(self):
        return self._load("train")[TASK]

    def build_model(self):
        split = self.test_data()[TASK]
        classes = {t: len(split.dataset.field_classes[t]) for t in self.task_names
                   if t != "reid"}
        if "reid" in self.task_names:
            classes["reid"] = int(self._train_split().dataset.num_classes)
        classes = {t: classes[t] for t in self.task_names}
        return SMSCFIRModel(image_shape=split.inputs["image"].shape[1:], classes=classes,
                            weights=self.weights, channel=self.channel, receiver=self.receiver,
                            snr_db=self.training.snr_db, snr_draw=self.training.snr_draw,
                            **self.model_settings)

    def compile_model(self, model):
        model.compile(optimizer=self.optimizer())

    def _loss(self, model):
        def loss(inputs, targets, task, training):
            images = tf.concat([inputs["image"], inputs["positive"]], axis=0)
            out = model({"image": images}, training=training)
            mse = tf.reduce_mean(out["feature_mse"])
            total, parts = self.feature_weight * mse, {"mse": mse}
            for name in self.task_names:
                labels = tf.concat([targets[TARGETS[name]]] * 2, axis=0)
                logits = out["identity" if name == "reid" else name]
                ce = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                    labels, logits, from_logits=True))
                if name == "reid":
                    triplet = batch_hard_triplet(out["reid"], labels, self.margin)
                    parts["triplet"] = triplet
                    ce = ce + triplet
                parts[name] = ce
                total += self.weights[name] * ce
            parts["kept"] = tf.reduce_mean(out["kept"])
            return total, parts
        return loss

    def fit(self, model, data, *, show_progress):
        """Stage 1 (every feature sent), then stage 2 (ranking and selection at B)."""
        split = data[TASK].inputs
        pairs = {TASK: ({"image": split["image"], "positive": split["positive"]},
                        {k: split[k] for k in ("label", "colour", "type")})}
        common = dict(loss=self._loss(model), seed=self.seed, training=self.training,
                      show_progress=show_progress)
        stage1 = self.directory / "stage1.weights.h5"
        if self.stage1_from is not None:
            stage1 = self.directory.parent / slug(self.stage1_from) / "stage1.weights.h5"
            if not stage1.exists():
                raise UserError(f"{self.key}.stage1_from: {stage1} does not exist; list the "
                                f"system labelled {self.stage1_from!r} (same model keys) earlier "
                                "in the scenario, so that it is trained first")
        if stage1.exists():
            model.load_weights(stage1)
        elif self.stage1_epochs:
            model.stage = 1
            model.compile(optimizer=self.optimizer())
            if show_progress:
                print("stage 1: every feature sent", flush=True)
            train_lib.fit_tasks(model, pairs, directory=self.directory / "stage1",
                                epochs=self.stage1_epochs,
                                curve=self.curve.with_name(f"{self.curve.name}.stage1"), **common)
            model.save_weights(stage1)
        model.stage = 2
        model.compile(optimizer=self.optimizer())
        if show_progress:
            print(f"stage 2: {self.model_settings['selection']} selection of B features"
                  if not self.model_settings["full_transmission"] else
                  "stage 2: every feature sent (full transmission)", flush=True)
        train_lib.fit_tasks(model, pairs, directory=self.directory / "stage2",
                            curve=self.curve.with_name(f"{self.curve.name}.stage2"), **common)

    def _use(self, model):
        model.stage = 2
        self._gallery = None
        super()._use(model)

    # ----------------------------------------------------------- evaluation

    def gallery(self):
        """(embeddings [G, D], ids [G]) of the gallery, from its clean images (computed once)."""
        if self._gallery is None:
            spec = {**self.tasks[0].dataset, "split": "gallery", "limit": self.gallery_samples}
            data = registry.build("dataset", spec, key=f"{self.key}.dataset")
            images = np.asarray(data.x, np.float32)
            parts = [self.model.clean({"image": tf.constant(images[i:i + 256])})["reid"].numpy()
                     for i in range(0, len(images), 256)]
            self._gallery = (np.concatenate(parts), data.y)
        return self._gallery

    def score_tasks(self, out, batch):
        """Totals of every task of query outputs ``out`` against their ``batch``."""
        counts = {}
        for name in self.task_names:
            if name == "reid":
                gallery, ids = self.gallery()
                counts["reid"] = self.scorers["retrieval"].score(
                    {"ids": batch["label"], "gallery": gallery, "gallery_ids": ids},
                    np.asarray(out["reid"]))
            else:
                counts[name] = self.scorers["accuracy"].score(batch[name],
                                                              np.asarray(out[name]))
        return counts

    def evaluate(self, outputs, batch, task):
        kept = outputs["kept"].numpy().astype(int)
        uses = np.array([self.model.link.channel_uses(int(b)) for b in kept], np.float64)
        return {**self.score_tasks(outputs, batch), "symbols": MeanTotals.of(uses)}

    def _jpeg(self):
        """The JPEG + LDPC + BPSK link over the query images (built once)."""
        if self._conventional is None:
            from ..conventional import ConventionalSystem
            spec = {**self.tasks[0].dataset, "split": "test",
                    "limit": self.tasks[0].test_samples}
            self._conventional = ConventionalSystem(
                codec={"name": "jpeg"}, mcs=self.jpeg, dataset=spec,
                channel_uses_per_sample=int(self.channel_uses), failure="corrupt",
                accounting="payload", classifier=False, label=f"{self.label} (link)",
                context=self.context)
        return self._conventional

    def run_batch(self, no, *, batch_index):
        if self.mode != "jpeg":
            return super().run_batch(no, batch_index=batch_index)
        conventional = self._jpeg()
        start = batch_index * self.batch_size
        n = min(self.batch_size, len(self.test_data()[TASK]) - start)
        if n <= 0:
            return SampleTotals(blocks=0, scores={})
        mcs = conventional.mcs_table[0]
        codewords = mcs.codewords(int(self.channel_uses))
        totals = conventional._run(_DecodedImages(self, conventional.dataset),
                                   np.arange(start, start + n), mcs, no)
        used = mcs.link.symbols_per_frame(codewords)[1] if codewords else 0
        return SampleTotals(blocks=n, scores={
            **totals.scores, "symbols": MeanTotals.of(np.full(n, float(used))),
            "feasible_fraction": RateTotals(totals.feasible, n)})

    def summarize(self, totals):
        scores, row = self.task_totals(totals, TASK), {"blocks": totals.blocks}
        for name in self.task_names:
            scorer = self.scorers["retrieval" if name == "reid" else "accuracy"]
            row |= {f"{name}_{k}": v for k, v in scorer.summarize(scores[name]).items()}
        row |= scores["symbols"].columns("symbols")
        if "feasible_fraction" in scores:
            row |= scores["feasible_fraction"].columns("feasible_fraction")
        return row

    def describe(self):
        facts = super().describe()
        facts.update(model_from=self.model_from, tasks=self.task_names, task_weights=self.weights,
                     slot_channel_uses=self.channel_uses, transmission_scheme=self.mode,
                     feature_budget="B = clip(floor(T W log2(1 + Es/N0) / bits_per_feature), "
                                    "1, L)", gallery_samples=self.gallery_samples)
        if self.mode == "jpeg" and self._conventional is not None:
            facts["jpeg_link"] = self._conventional.describe()
        return facts
