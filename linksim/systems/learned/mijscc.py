"""MIJSCC and A-MIJSCC (Wang et al.): one representation for image reconstruction and classification.

Stage 1 (unsupervised) trains the Table I encoder/decoder with Eq. 18,
``MSE(s, s_hat) - lambda (mu_1 Omega_global + mu_2 Omega_local)``, where the
Omegas are Jensen-Shannon MI estimates (Eq. 13) from the Table II global and
local Deep-InfoMax critics. The representation ``z`` (``2n`` reals) is
optionally quantized per element to ``q`` bits and dequantized at the
transmitter (Eqs. 8-11, straight-through gradient), packed pairwise into
``n`` complex symbols, power-normalized per sample and sent over the
scenario's channel and receiver. Stage 2 (supervised) freezes everything and
trains a 3-layer dense classifier on the *received* representation, at
training SNRs drawn like stage 1's.

A-MIJSCC adds, between encoder and quantizer, a noise encoder ``g = N_enc(N0)``
(abs weights, tanh; Eq. 19 and Appendix B), decreasing scores by a *reverse*
cumulative sum (the paper's ``g U`` of Eq. 20 runs the wrong way), the
prefix mask ``1[g~ > eta]`` (Eq. 21; a step, so the noise encoder keeps its
initial monotone map, see :class:`AdaptiveMijsccModel`) and the attention
re-weighting ``w (.) z'`` (Eq. 23); it is fine-tuned from a trained MIJSCC
system of the same scenario (the paper: 8-bit, 20 epochs). Masked symbols
are not sent: the mask is per complex symbol (the paper masks reals; per
symbol keeps the count of channel uses whole), power is normalized over the
symbols actually sent (mean energy 1 per *used* channel use, so Es/N0 keeps
its meaning), and the receiver fills the rest with zeros.

Per SNR point: mean PSNR (MAX = 1) and SSIM (both on the unpadded source
image), accuracy with a Wilson 95% interval, and for A-MIJSCC the fraction of
symbols sent and the channel uses per sample actually used (pilots included).
"""
import functools
import json

import keras
import numpy as np
import tensorflow as tf

from ... import registry
from ...errors import ScenarioError, UserError
from ...registry import Spec, register
from ...sim import train as train_lib
from ...totals import MeanTotals
from ..base import Metric
from ..options import TrainingOption, TransmissionOption
from ..context import Context
from ...sim.results import slug
from .base import LearnedSystem, Task
from .layers import PACKAGE
from .layers.masks import NoiseEncoder, decreasing_scores, prefix_mask
from .layers.mutual_information import GlobalCritic, LocalCritic, jsd_mutual_information
from .layers.prefix_channel import PrefixChannel

# PyTorch's BatchNorm default (momentum 0.1 there is 0.9 here): the paper's tables are
# PyTorch-style (C x H x W), and short CPU runs need running statistics that settle fast.
BN_MOMENTUM = 0.9


def _channels(base, width):
    return max(1, int(round(base * width)))


# --------------------------------------------------------------------------- networks

@keras.saving.register_keras_serializable(PACKAGE)
class ResidualBlock(keras.layers.Layer):
    """Down-sampling residual block of the MIJSCC encoder (Table I).

    Two 3x3 convolutions with batch normalization, the first of stride 2, and a
    strided 1x1 convolution with batch normalization on the shortcut; ReLU
    after the sum.

    Input: [batch, H, W, C_in], float32. Output: [batch, H/2, W/2, filters], float32.
    """

    def __init__(self, *, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv1 = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)
        self.bn1 = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)
        self.conv2 = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn2 = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)
        self.skip = keras.layers.Conv2D(filters, 1, strides=2, use_bias=False)
        self.bn_skip = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)

    def call(self, x, training=None):
        y = tf.nn.relu(self.bn1(self.conv1(x), training=training))
        y = self.bn2(self.conv2(y), training=training)
        return tf.nn.relu(y + self.bn_skip(self.skip(x), training=training))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


def build_encoder(*, image_shape, num_symbols, width):
    """Table I encoder: image -> (local feature map f, representation z).

    Conv3x3+BN+ReLU (64), residual blocks 64, 128, 256 (each halving H and W),
    then a convolution over the whole H/8 x W/8 map to ``2 num_symbols``
    outputs (Table I's "512 x 1 x 1" for 256 symbols). Channel counts are
    scaled by ``width``.

    Returns a functional ``keras.Model``:
    image [batch, H, W, C] float32 in [0, 1] ->
    f [batch, H/8, W/8, 256 width] float32 (the local DIM feature map, ``E_omega``),
    z [batch, 2 num_symbols] float32.
    """
    image = keras.Input(image_shape, name="image")
    x = keras.layers.Conv2D(_channels(64, width), 3, padding="same", use_bias=False)(image)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
    for base in (64, 128, 256):
        x = ResidualBlock(filters=_channels(base, width))(x)
    z = keras.layers.Conv2D(2 * num_symbols, tuple(x.shape[1:3]), padding="valid")(x)
    return keras.Model(image, [x, keras.layers.Flatten()(z)], name="encoder")


def build_decoder(*, image_shape, num_symbols, width):
    """Table I decoder: received z [batch, 2 num_symbols] -> image [batch, H, W, C] in (0, 1).

    Four transposed convolutions, each with batch normalization: 1x1 -> H/8
    (256 width), then stride 2 to H/4 (128 width), H/2 (64 width) and H (C),
    ReLU after the first three and sigmoid at the output.
    """
    h, w, c = image_shape
    z = keras.Input((2 * num_symbols,), name="z_hat")
    x = keras.layers.Reshape((1, 1, 2 * num_symbols))(z)
    x = keras.layers.Conv2DTranspose(_channels(256, width), (h // 8, w // 8))(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
    for base in (128, 64):
        x = keras.layers.Conv2DTranspose(_channels(base, width), 4, strides=2, padding="same")(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
    x = keras.layers.Conv2DTranspose(c, 4, strides=2, padding="same")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return keras.Model(z, keras.layers.Activation("sigmoid")(x), name="decoder")


def build_classifier(*, num_features, num_classes, hidden_units):
    """Stage-2 classifier psi: three dense layers, received z [batch, num_features] -> logits."""
    z_hat = keras.Input((num_features,), name="z_hat")
    x = z_hat
    for units in hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(z_hat, keras.layers.Dense(num_classes)(x), name="classifier")


@keras.saving.register_keras_serializable(PACKAGE)
class SemanticEnhancement(keras.layers.Layer):
    """``N_attn`` of A-MIJSCC, Eq. 23: ``z* = w (.) z'``, ``w`` from dense ReLU -> dense sigmoid.

    Input and output: [batch, 2n], float32 (masked representation in, re-weighted out).
    """

    def __init__(self, *, hidden_units=256, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden_units

    def build(self, input_shape):
        self.hidden = keras.layers.Dense(self.hidden_units, activation="relu")
        self.gate = keras.layers.Dense(input_shape[-1], activation="sigmoid")

    def call(self, z):
        return self.gate(self.hidden(z)) * z

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units}


# --------------------------------------------------------------------------- models

@keras.saving.register_keras_serializable(PACKAGE)
class MijsccModel(keras.Model):
    """MIJSCC: encoder, critics, air interface, decoder and stage-2 classifier.

    Parameters
    ----------
    image_shape : (int, int, int)
        H, W, C; H and W divisible by 8.
    num_symbols : int
        Complex channel uses ``n`` of the representation (``2n`` reals).
    width : float
        Multiplier of every hidden layer's channel count (1 = Tables I and II).
    num_classes : int
    classifier_units : (int, int)
        Hidden widths of the 3-layer classifier.
    mi_weight, global_weight, local_weight : float
        ``lambda``, ``mu_1``, ``mu_2`` of Eq. 18; ``mi_weight = 0`` is plain
        Deep JSCC and builds no critics.
    air_interface : AirInterface | dict
        The link (a serialized config when loaded from ``.keras``).

    Input
    -----
    x : [batch, H, W, C], float32 in [0, 1]
    no : None | scalar | [batch], float32
        N0 (linear); None draws the training SNR.

    Output
    ------
    dict
        ``reconstruction`` [batch, H, W, C] float32 in (0, 1); ``logits``
        [batch, num_classes] float32; ``symbols_sent`` [batch] float32, data
        symbols (complex channel uses without pilots) sent per sample. In
        training with ``mi_weight > 0`` the term ``-lambda (mu_1 Omega_g +
        mu_2 Omega_l)`` is added with ``add_loss``.
    """

    def __init__(self, *, image_shape, num_symbols, width, num_classes, classifier_units,
                 mi_weight, global_weight, local_weight, air_interface, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.num_symbols = num_symbols
        self.width = width
        self.num_classes = num_classes
        self.classifier_units = tuple(classifier_units)
        self.mi_weight = mi_weight
        self.global_weight = global_weight
        self.local_weight = local_weight
        if isinstance(air_interface, dict):
            air_interface = keras.saving.deserialize_keras_object(air_interface)
        self.air = air_interface
        self.encoder = build_encoder(image_shape=self.image_shape, num_symbols=num_symbols,
                                     width=width)
        self.decoder = build_decoder(image_shape=self.image_shape, num_symbols=num_symbols,
                                     width=width)
        self.classifier = build_classifier(num_features=2 * num_symbols, num_classes=num_classes,
                                           hidden_units=self.classifier_units)
        if mi_weight:
            self.global_critic = GlobalCritic(width=width)
            self.local_critic = LocalCritic(width=width)

    def build(self, input_shape):
        # The critics only run in training; build them here so that a checkpoint's
        # weights load into a model that has only been called for inference.
        if self.mi_weight:
            image = tf.zeros([1, *self.image_shape])
            features, z = self.encoder(image)
            self.global_critic(image, z)
            self.local_critic(features, z)

    def mutual_information(self, image, features, z):
        """(Omega_global, Omega_local), Eqs. 15 and 17, float32 scalars.

        The fake image ``s'`` of Algorithm 1 is the batch rolled by one, so every
        sample is paired with another one; its feature map ``f'`` is ``f`` rolled
        the same way (the encoder is per-sample, so this equals ``E_omega(s')``
        up to batch-norm statistics, which a permutation does not change).
        """
        fake_image = tf.roll(image, 1, axis=0)
        fake_features = tf.roll(features, 1, axis=0)
        omega_g = jsd_mutual_information(self.global_critic(image, z),
                                         self.global_critic(fake_image, z))
        omega_l = jsd_mutual_information(self.local_critic(features, z),
                                         self.local_critic(fake_features, z))
        return omega_g, omega_l

    def transmit(self, z, no=None, training=False):
        """z [batch, 2n] -> (received z_hat [batch, 2n], data symbols sent [batch] float32)."""
        z_hat = self.air(z, no=no, training=training)
        return z_hat, tf.fill([tf.shape(z)[0]], float(self.num_symbols))

    def call(self, inputs, no=None, training=False):
        x = inputs["image"]
        features, z = self.encoder(x, training=training)
        if training and self.mi_weight:
            omega_g, omega_l = self.mutual_information(x, features, z)
            self.add_loss(-self.mi_weight * (self.global_weight * omega_g
                                             + self.local_weight * omega_l))
        z_hat, sent = self.transmit(z, no, training)
        return {"reconstruction": self.decoder(z_hat, training=training),
                "logits": self.classifier(z_hat, training=training), "symbols_sent": sent}

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Stage 1 has a target for the reconstruction only; Keras would look one
        # up for every output, so the metrics see the outputs that have targets.
        return super().compute_metrics(x, y, {name: y_pred[name] for name in y}, sample_weight)

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "num_symbols": self.num_symbols, "width": self.width,
                "num_classes": self.num_classes, "classifier_units": list(self.classifier_units),
                "mi_weight": self.mi_weight, "global_weight": self.global_weight,
                "local_weight": self.local_weight,
                "air_interface": keras.saving.serialize_keras_object(self.air)}


@keras.saving.register_keras_serializable(PACKAGE)
class AdaptiveMijsccModel(MijsccModel):
    """A-MIJSCC: :class:`MijsccModel` with an SNR-adaptive prefix mask and attention.

    Extra parameters
    ----------------
    threshold : float
        Pruning threshold ``eta`` of Eq. 21.
    attention : bool
        Apply the semantic enhancement module (Eq. 23).
    noise_units : (int, ...)
        Hidden widths of the noise encoder (the paper's 4-layer MLP: three hidden).
    attention_units : int
        Hidden width of the enhancement module.

    The air interface supplies the quantizer (``quantized`` mode) and the
    channel, receiver and training-SNR settings of a :class:`PrefixChannel`.
    Input and output as for ``MijsccModel``; ``symbols_sent`` varies with N0.

    The threshold of Eq. 21 is a step with zero gradient, so the noise
    encoder keeps its initial non-decreasing map (frozen here, so that no
    optimizer sees a variable without a gradient): what fine-tuning learns is
    an encoder, attention and decoder that put what matters first, since every
    training SNR cuts the prefix at another place. A straight-through sigmoid
    surrogate was tried and rejected: within 3 epochs it drove the prefix to
    zero symbols at 18 dB and above (the gradient of a mask *value* is not the
    worth of *sending* a symbol), and Eq. 18 has no rate term that a learned
    cut could trade against.
    """

    def __init__(self, *, threshold, attention, noise_units, attention_units, **kwargs):
        super().__init__(**kwargs)
        if self.air.mode not in ("analog", "quantized"):
            raise ValueError(f"A-MIJSCC sends analog or quantized symbols, not {self.air.mode!r}")
        self.threshold = threshold
        self.attention = attention
        self.noise_units = tuple(noise_units)
        self.attention_units = attention_units
        link = self.air.channel_layer
        self.prefix_channel = PrefixChannel(channel=link.channel, receiver=link.receiver,
                                            snr_db=link.snr_range, snr_draw=link.snr_draw,
                                            snr_offset_db=link.snr_offset_db)
        self.noise_encoder = NoiseEncoder(num_outputs=self.num_symbols,
                                          hidden_units=self.noise_units, trainable=False)
        if attention:
            self.enhance = SemanticEnhancement(hidden_units=attention_units)

    def mask(self, no):
        """N0 [batch] -> prefix mask [batch, n] float32 (1 = symbol sent), Eqs. 19-21."""
        return prefix_mask(decreasing_scores(self.noise_encoder(no)), threshold=self.threshold)

    def transmit(self, z, no=None, training=False):
        no = self.prefix_channel.noise_variance(tf.shape(z)[0], no)
        mask = self.mask(no)
        on = tf.repeat(mask, 2, axis=-1)
        z = z * on
        if self.attention:
            z = self.enhance(z)
        if self.air.mode == "quantized":
            # Dequantized zeros land on the nearest grid point; masked reals are not sent.
            z = self.air.quantizer(z) * on
        return self.prefix_channel(z, mask, no), tf.reduce_sum(mask, axis=-1)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold,
                "attention": self.attention, "noise_units": list(self.noise_units),
                "attention_units": self.attention_units}


class ReceivedClassifier(keras.Model):
    """Stage-2 training wrapper (never saved): frozen link of a MIJSCC model, then its classifier.

    Only the classifier is tracked (and trained); the transmitter and channel
    of ``model`` run as they are, with the training SNR drawn per sample.

    Input: z [batch, 2n] float32, representations of the frozen encoder.
    Output: logits [batch, num_classes] float32.
    """

    def __init__(self, *, model, **kwargs):
        super().__init__(**kwargs)
        self.classifier = model.classifier
        self._transmit = model.transmit

    def call(self, z, training=False):
        z_hat, _ = self._transmit(z)
        return self.classifier(z_hat, training=training)


# --------------------------------------------------------------------------- systems

def fit_images(x, image_shape):
    """Images [N, h, w, c] -> [N, H, W, C]: zero-padded to the centre, grey repeated to C.

    Lets 28x28 grey sets (Fashion-MNIST) stand in on the paper's 32x32x3 network.
    """
    h, w, c = image_shape
    n, h_in, w_in, c_in = x.shape
    if h_in > h or w_in > w or c_in not in (1, c):
        raise ValueError(f"images of shape {x.shape[1:]} do not fit image_shape {image_shape} "
                         "(only zero-padding and grey -> colour are done)")
    top, left = (h - h_in) // 2, (w - w_in) // 2
    out = np.zeros((n, h, w, c_in), np.float32)
    out[:, top:top + h_in, left:left + w_in] = x
    return np.repeat(out, c // c_in, axis=-1)


class _MijsccSystem(LearnedSystem):
    """Keys, data, two-stage training and evaluation shared by ``mijscc`` and ``amijscc``."""

    metrics = (Metric("psnr", "PSNR [dB] (MAX = 1)"), Metric("ssim", "SSIM"),
               Metric("accuracy", "accuracy", ci=("accuracy_ci_low", "accuracy_ci_high")))
    needs = ("label",)  # stage 2 trains a classifier

    def __init__(self, *, name, dataset, image_shape, num_symbols, width, mi_weight,
                 global_weight, local_weight, classifier_units, classifier_epochs, extra,
                 test_samples, test_offset, transmission, training, label, context):
        key = context.key
        h, w, _ = image_shape
        if h % 8 or w % 8:
            raise ValueError(f"image_shape {image_shape}: H and W must be divisible by 8")
        if num_symbols < 1 or width <= 0 or mi_weight < 0 or classifier_epochs < 1:
            raise ValueError("num_symbols, width and classifier_epochs must be positive and "
                             "mi_weight >= 0")
        if len(classifier_units) != 2:
            raise ValueError(f"classifier_units: two hidden widths (a 3-layer classifier), "
                             f"got {classifier_units}")
        mode = transmission if isinstance(transmission, str) else transmission.get("mode", "analog")
        if mode not in ("analog", "quantized"):
            raise ScenarioError(f"{key}.transmission", f"{name} sends analog or quantized "
                                f"symbols (Eqs. 8-11), not {mode!r}")
        bits = None if mode == "analog" else (
            transmission.get("bits", 8) if isinstance(transmission, dict) else 8)
        self.architecture = {"image_shape": list(image_shape), "num_symbols": num_symbols,
                             "width": width, "classifier_units": list(classifier_units),
                             "mi_weight": mi_weight, "global_weight": global_weight,
                             "local_weight": local_weight}
        self.classifier_epochs = classifier_epochs
        super().__init__(
            label=label or (f"{name}, lambda={mi_weight:g}, "
                            + ("analog" if bits is None else f"{bits}-bit")
                            + "".join(f", {k}={v}" for k, v in extra.items())),
            settings={**self.architecture, "classifier_epochs": classifier_epochs, **extra},
            tasks=[Task(name="reconstruction_classification", dataset=dataset,
                        test_samples=test_samples, test_offset=test_offset)],
            transmission=transmission, training=training, context=context)

    # ------------------------------------------------------------ data

    def load_inputs(self, split, task):
        dataset, inputs = super().load_inputs(split, task)
        # PSNR is scored on the source image only, not on the zero padding around it.
        self.source_shape = inputs["image"].shape[1:3]
        image = fit_images(inputs["image"], tuple(self.architecture["image_shape"]))
        return dataset, {**inputs, "image": image}

    # ------------------------------------------------------------ model

    def model_arguments(self):
        dataset = self.test_data()[self.tasks[0].name].dataset
        return {**self.architecture, "num_classes": dataset.num_classes,
                "air_interface": self.air_interface(2 * self.architecture["num_symbols"],
                                                    name="air")}

    def build_model(self):
        return MijsccModel(**self.model_arguments())

    def compile_model(self, model):
        model.compile(optimizer=self.optimizer(), loss={"reconstruction": "mse"},
                      metrics={"reconstruction": [train_lib.psnr]})

    def initialize(self, model):
        """Hook before stage 1 (A-MIJSCC loads its pretrained MIJSCC here)."""

    def fit(self, model, data, *, show_progress):
        """Stage 1 (Eq. 18, no labels) then stage 2 (classifier on the frozen link)."""
        split = data[self.tasks[0].name]
        images, labels = split.inputs["image"], split.inputs["label"]
        fit = dict(training=self.training, seed=self.seed, show_progress=show_progress)
        stage1 = self.directory / "stage1.weights.h5"
        if stage1.exists():
            model.load_weights(stage1)
        else:
            self.initialize(model)
            if show_progress:
                print(f"training {self.label!r} stage 1: {len(images)} samples "
                      f"({split.dataset.provenance}), {self.training.epochs} epochs", flush=True)
            model.classifier.trainable = False
            self.compile_model(model)
            self.reseed()
            train_lib.fit(model, {"image": images}, {"reconstruction": images},
                          directory=self.directory / "stage1",
                          curve=self.curve.with_name(f"{self.curve.name}.stage1"), **fit)
            model.save_weights(stage1)
        if show_progress:
            print(f"training {self.label!r} stage 2: classifier, {self.classifier_epochs} "
                  "epochs", flush=True)
        z = model.encoder.predict(images, batch_size=256, verbose=0)[1]
        model.classifier.trainable = True
        stage2 = ReceivedClassifier(model=model)
        stage2(z[:2])
        stage2.compile(optimizer=self.optimizer(),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
        self.reseed()
        train_lib.fit(stage2, z, labels, directory=self.directory / "stage2",
                      epochs=self.classifier_epochs,
                      curve=self.curve.with_name(f"{self.curve.name}.stage2"), **fit)

    # ------------------------------------------------------------ evaluation

    def evaluate(self, outputs, batch, task):
        images, labels = batch["image"], batch["label"]
        (h, w), (height, width) = self.source_shape, images.shape[1:3]
        top, left = (height - h) // 2, (width - w) // 2
        crop = (slice(None), slice(top, top + h), slice(left, left + w))
        received = outputs["reconstruction"].numpy()[crop]
        psnr = self.scorers["psnr"].score(images[crop], received)
        ssim = self.scorers["ssim"].score(images[crop], received)
        accuracy = self.scorers["accuracy"].score(labels, outputs["logits"].numpy())
        sent = outputs["symbols_sent"].numpy().astype(int)
        # Pilots included; a sample with nothing to send sends no pilots either.
        uses = [self.receiver.num_transmitted(int(k), self.channel.coherence) if k else 0
                for k in sent]
        return {"psnr": psnr, "ssim": ssim, "accuracy": accuracy, "symbols_sent": MeanTotals.of(sent),
                "channel_uses": MeanTotals.of(uses)}

    @functools.cached_property
    def scorers(self):
        """The ``psnr``, ``ssim`` and ``accuracy`` scorers (of the classifier head's logits)."""
        return {name: registry.build("scorer", name, key=f"{self.key}.scorers")
                for name in ("psnr", "ssim", "accuracy")}

    def summarize(self, totals):
        # t-intervals for the means (PSNR, symbols and channel uses per sample), Wilson for
        # accuracy (linksim.metrics).
        scores = totals.scores
        return {**self.scorers["psnr"].summarize(scores["psnr"]),
                **self.scorers["ssim"].summarize(scores["ssim"]),
                **self.scorers["accuracy"].summarize(scores["accuracy"]),
                **scores["symbols_sent"].columns("fraction_sent",
                                                 scale=1 / self.architecture["num_symbols"]),
                **scores["channel_uses"].columns("channel_uses"), "blocks": totals.blocks,
                "correct": scores["accuracy"].events}

    def describe(self):
        facts = super().describe()
        n = self.architecture["num_symbols"]
        h, w, c = self.architecture["image_shape"]
        uses = self.receiver.num_transmitted(n, self.channel.coherence)
        facts.update(transmission=self.transmission.mode, symbols_per_sample=n,
                     channel_uses_per_sample=uses, bandwidth_ratio=uses / (h * w * c))
        if self.transmission.mode == "quantized":
            facts["quantization_bits"] = self.transmission.bits
        return facts


@register("system", "mijscc")
class Mijscc(_MijsccSystem):
    """MIJSCC: one representation for image reconstruction and classification (PSNR, accuracy)."""

    def __init__(self, *, dataset: Spec("dataset"),
                 image_shape: tuple[int, int, int] = (32, 32, 3),
                 num_symbols: int = 256, width: float = 1.0, mi_weight: float = 0.01,
                 global_weight: float = 0.01, local_weight: float = 1.0,
                 classifier_units: tuple[int, ...] = (256, 128), classifier_epochs: int = 10,
                 test_samples: int = 1000, test_offset: int = 0,
                 transmission: TransmissionOption = "analog",
                 training: TrainingOption | None = None,
                 label: str | None = None, context: Context):
        super().__init__(
            name="MIJSCC", dataset=dataset, image_shape=image_shape, num_symbols=num_symbols,
            width=width, mi_weight=mi_weight, global_weight=global_weight,
            local_weight=local_weight, classifier_units=classifier_units,
            classifier_epochs=classifier_epochs, extra={}, test_samples=test_samples,
            test_offset=test_offset, transmission=transmission, training=training, label=label,
            context=context)


@register("system", "amijscc")
class AdaptiveMijscc(_MijsccSystem):
    """A-MIJSCC: MIJSCC with an SNR-adaptive prefix of symbols, fine-tuned from a MIJSCC system."""

    metrics = (*_MijsccSystem.metrics,
               Metric("fraction_sent", "fraction of symbols sent"),
               Metric("channel_uses", "channel uses per sample (sent)"))

    def __init__(self, *, dataset: Spec("dataset"), pretrained: str, threshold: float = 0.6,
                 attention: bool = True, noise_units: tuple[int, ...] = (64, 64, 64),
                 attention_units: int = 256, image_shape: tuple[int, int, int] = (32, 32, 3),
                 num_symbols: int = 256, width: float = 1.0, mi_weight: float = 0.01,
                 global_weight: float = 0.01, local_weight: float = 1.0,
                 classifier_units: tuple[int, ...] = (256, 128), classifier_epochs: int = 10,
                 test_samples: int = 1000, test_offset: int = 0,
                 transmission: TransmissionOption = "quantized",
                 training: TrainingOption | None = None, label: str | None = None,
                 context: Context):
        if threshold <= 0:
            raise ValueError(f"threshold (eta) must be > 0, got {threshold}")
        self.pretrained = pretrained
        self.adaptive = {"threshold": threshold, "attention": attention,
                         "noise_units": list(noise_units), "attention_units": attention_units}
        super().__init__(
            name="A-MIJSCC", dataset=dataset, image_shape=image_shape, num_symbols=num_symbols,
            width=width, mi_weight=mi_weight, global_weight=global_weight,
            local_weight=local_weight, classifier_units=classifier_units,
            classifier_epochs=classifier_epochs,
            extra={"eta": threshold, "attention": attention}, test_samples=test_samples,
            test_offset=test_offset, transmission=transmission, training=training, label=label,
            context=context)
        self.settings.update(self.adaptive, pretrained=pretrained)

    @property
    def pretrained_directory(self):
        return self.directory.parent / slug(self.pretrained)

    def fingerprint(self):
        # A retrained MIJSCC invalidates the fine-tuned model built on it.
        settings = self.pretrained_directory / "settings.json"
        saved = json.loads(settings.read_text()).get("hash") if settings.exists() else None
        return {**super().fingerprint(), "pretrained_hash": saved}

    def build_model(self):
        return AdaptiveMijsccModel(**self.model_arguments(), **self.adaptive)

    def initialize(self, model):
        """Copy encoder, decoder and critics from the trained MIJSCC system ``pretrained``."""
        checkpoint = self.pretrained_directory / "model.keras"
        if not checkpoint.exists():
            raise UserError(f"{self.label!r} fine-tunes {self.pretrained!r}, which has no "
                            f"checkpoint ({checkpoint}): list that mijscc system earlier in "
                            "the same scenario")
        saved = json.loads((self.pretrained_directory / "settings.json").read_text())
        differ = [k for k, v in self.architecture.items() if saved["settings"].get(k) != v]
        if differ:
            raise ScenarioError(f"{self.key}.pretrained", f"{self.pretrained!r} differs in "
                                f"{', '.join(differ)}; A-MIJSCC must share its architecture")
        arguments = self.model_arguments()
        base = MijsccModel(**arguments)
        base({"image": tf.zeros([2, *arguments["image_shape"]])})
        base.load_weights(checkpoint)
        for part in ("encoder", "decoder", "classifier"):
            getattr(model, part).set_weights(getattr(base, part).get_weights())
        if model.mi_weight:
            model.global_critic.set_weights(base.global_critic.get_weights())
            model.local_critic.set_weights(base.local_critic.get_weights())

    def describe(self):
        return {**super().describe(), "pretrained": self.pretrained, **self.adaptive}
