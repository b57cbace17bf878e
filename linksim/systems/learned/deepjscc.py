"""Deep JSCC for images (Bourtsoulatze, Kurka, Gunduz 2019): CNN encoder -> link -> CNN decoder.

The paper's network (its Fig. 2): the encoder is four 5x5 convolutions of
``filters = (16, 32, 32, 32)`` channels with strides 2, 2, 1, 1, each followed by
a PReLU, then the bottleneck; the decoder mirrors it with transposed 5x5
convolutions (``32, 32, 32, 16`` channels, strides 1, 1, 1, 2, PReLU) and a
last stride-2 transposed convolution to the image's channels with a sigmoid
(images in [0, 1]). Two bottlenecks (``bottleneck:``):

``dense`` (default)
    Flatten -> Dense to exactly ``2k`` reals (``k`` complex channel uses, any
    ``k``); the decoder starts with Dense -> PReLU -> reshape to
    [H/4, W/4, filters[3]].
``conv``
    The paper's fifth convolution (5x5, stride 1, ``c`` channels; linear, where
    the paper has a PReLU, which Keras starts at slope 0: every channel input
    would begin non-negative, spending power on its mean): a
    feature map [H/4, W/4, c] of ``H W c / 16`` reals, i.e. ``H W c / 32``
    channel uses; ``c = round(32 rho C)`` (made even when the feature count
    would be odd), so the *actual* ratio can differ from the requested one.

The number of channel uses ``k`` comes from ``channel_uses`` or from
``bandwidth_ratio`` ``rho = k / (H W C)`` (``k = round(rho H W C)``); both are
recorded in run.json with the actual ratio and the parameter count.
Trained on MSE; reported per SNR point with the metrics every image system uses
(the ``psnr`` and ``ssim`` scorers of :mod:`linksim.scorers`): mean PSNR (MAX = 1)
and SSIM with t-intervals, and with ``classifier: true`` the accuracy (Wilson
interval) of the ``accuracy`` scorer's clean-trained CNN, the one that scores
the codec baselines' reconstructions.
"""

from typing import Annotated, Literal

import keras
import numpy as np
from pydantic import Field

from ... import registry
from ...errors import ScenarioError
from ...registry import Spec, register
from ...sim import train as train_lib
from ...totals import MeanTotals
from ..base import Metric
from ..options import FilterWidths, TrainingOption, TransmissionOption
from ..context import Context
from .base import LearnedSystem, Task
from .layers import PACKAGE

#: The paper's encoder widths (the decoder uses them in reverse).
PAPER_FILTERS = (16, 32, 32, 32)


def feature_channels(image_shape, bandwidth_ratio):
    """Channels ``c`` of the ``conv`` bottleneck's map for a bandwidth ratio (module docstring)."""
    h, w, c_in = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"image size {h}x{w} must be divisible by 4")
    cells = (h // 4) * (w // 4)
    c = max(1, round(2 * bandwidth_ratio * h * w * c_in / cells))
    return c + 1 if (cells * c) % 2 else c


def hidden_filters(filters):
    """The four encoder widths: ``filters`` itself, or for an int ``F`` ``(F/2, F, F, F)``."""
    if isinstance(filters, int):
        return (max(1, filters // 2), filters, filters, filters)
    return tuple(int(f) for f in filters)


@keras.saving.register_keras_serializable(PACKAGE)
class DeepJSCCModel(keras.Model):
    """Encoder, :class:`~.layers.AirInterface`, decoder (the paper's network).

    Parameters
    ----------
    image_shape : (int, int, int)
        H, W, C of the input images; H and W divisible by 4.
    features : int
        Reals the encoder emits (``2k`` for ``k`` analog channel uses).
    filters : (int, int, int, int)
        Widths of the four hidden encoder convolutions (decoder: reversed).
    bottleneck : "dense" | "conv"
        See the module docstring; with ``conv``, ``features`` must be a
        multiple of ``H W / 16``.
    air_interface : AirInterface | dict
        The link (a serialized config when loaded from a ``.keras`` file).

    Input
    -----
    inputs : dict
        ``image``: [batch, H, W, C], float32 in [0, 1].
    no : None | scalar | [batch], float32
        N0 (linear); None draws the training SNR.

    Output
    ------
    : [batch, H, W, C], float32 in [0, 1]
        Reconstructed images.
    """

    def __init__(self, *, image_shape, features, filters=PAPER_FILTERS, bottleneck="dense",
                 air_interface, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.features = int(features)
        self.filters = tuple(filters)
        self.bottleneck = bottleneck
        if isinstance(air_interface, dict):
            air_interface = keras.saving.deserialize_keras_object(air_interface)
        self.air = air_interface
        h, w, c_in = self.image_shape
        cells = (h // 4) * (w // 4)
        if len(self.filters) != 4 or h % 4 or w % 4:
            raise ValueError("need 4 encoder widths and an image size divisible by 4, got "
                             f"{self.filters} and {h}x{w}")
        if bottleneck == "conv" and self.features % cells:
            raise ValueError(f"a conv bottleneck emits a multiple of {cells} reals, not "
                             f"{self.features}")

        def conv(units, stride, transpose=False):
            layer = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
            return [layer(units, 5, strides=stride, padding="same"),
                    keras.layers.PReLU(shared_axes=[1, 2])]

        f1, f2, f3, f4 = self.filters
        if bottleneck == "dense":
            neck_in = [keras.layers.Flatten(), keras.layers.Dense(self.features)]
            neck_out = [keras.layers.Dense(cells * f4), keras.layers.PReLU(),
                        keras.layers.Reshape((h // 4, w // 4, f4))]
        elif bottleneck == "conv":
            # Linear, unlike the paper's PReLU here: Keras starts a PReLU's slope at 0, so
            # every channel input would begin non-negative, spending power on its mean.
            neck_in = [keras.layers.Conv2D(self.features // cells, 5, padding="same"),
                       keras.layers.Flatten()]
            neck_out = [keras.layers.Reshape((h // 4, w // 4, self.features // cells))]
        else:
            raise ValueError(f"bottleneck must be 'dense' or 'conv', got {bottleneck!r}")
        self.encoder = keras.Sequential(
            [*conv(f1, 2), *conv(f2, 2), *conv(f3, 1), *conv(f4, 1), *neck_in], name="encoder")
        self.decoder = keras.Sequential(
            [*neck_out, *conv(f4, 1, True), *conv(f3, 1, True), *conv(f2, 1, True),
             *conv(f1, 2, True),
             keras.layers.Conv2DTranspose(c_in, 5, strides=2, padding="same",
                                          activation="sigmoid")],
            name="decoder")

    def call(self, inputs, no=None, training=False):
        z = self.encoder(inputs["image"], training=training)
        return self.decoder(self.air(z, no=no, training=training), training=training)

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "features": self.features, "filters": list(self.filters),
                "bottleneck": self.bottleneck,
                "air_interface": keras.saving.serialize_keras_object(self.air)}


@register("system", "deepjscc")
class DeepJSCC(LearnedSystem):
    """Deep JSCC image transmission (the paper's CNN autoencoder over the link): PSNR, SSIM vs SNR."""

    metrics = (Metric("psnr", "PSNR [dB] (MAX = 1)"), Metric("ssim", "SSIM"))
    later_facts = LearnedSystem.later_facts + ("bottleneck", "channel_uses_requested")

    def __init__(self, *, dataset: Spec("dataset"), bandwidth_ratio: float | None = None,
                 channel_uses: Annotated[int, Field(ge=1, le=10_000_000)] | None = None,
                 bottleneck: Literal["dense", "conv"] = "dense",
                 filters: FilterWidths = PAPER_FILTERS,
                 classifier: bool = False, classifier_train_samples: int = 20000,
                 test_samples: int = 1000, test_offset: int = 0,
                 transmission: TransmissionOption = "analog",
                 training: TrainingOption | None = None,
                 label: str | None = None, context: Context):
        key = context.key
        if bandwidth_ratio is not None and channel_uses is not None:
            raise ScenarioError(f"{key}.channel_uses", "give bandwidth_ratio or channel_uses, "
                                "not both")
        if channel_uses is None and bandwidth_ratio is None:
            bandwidth_ratio = 1 / 6
        if bandwidth_ratio is not None and not 0 < bandwidth_ratio <= 1:
            raise ValueError(f"bandwidth_ratio must be in (0, 1], got {bandwidth_ratio}")
        self.bandwidth_ratio = bandwidth_ratio
        self.channel_uses = channel_uses
        self.bottleneck = bottleneck
        self.filters = hidden_filters(filters)
        # Scoring only: not part of the trained model, so not in the checkpoint settings.
        self.use_classifier = classifier
        self.scorers = {"psnr": registry.build("scorer", "psnr", key=f"{key}.scorers"),
                        "ssim": registry.build("scorer", "ssim", key=f"{key}.scorers")}
        if classifier:
            self.scorers["accuracy"] = registry.build(
                "scorer", {"name": "accuracy",
                           "classifier_train_samples": classifier_train_samples},
                key=f"{key}.classifier_train_samples")
        self.labelled = False  # evaluation targets carry labels once the classifier is ready
        if classifier:
            self.metrics = self.metrics + (Metric("accuracy", "classification accuracy"),)
        mode = transmission if isinstance(transmission, str) else transmission.get("mode", "analog")
        size = (f"rho={bandwidth_ratio:.3g}" if channel_uses is None else f"k={channel_uses}")
        super().__init__(
            label=label or f"Deep JSCC, {size}, {mode}",
            settings={"bandwidth_ratio": bandwidth_ratio, "channel_uses": channel_uses,
                      "bottleneck": bottleneck, "filters": list(self.filters)},
            tasks=[Task(name="reconstruction", dataset=dataset, test_samples=test_samples,
                        test_offset=test_offset)],
            transmission=transmission, training=training, context=context)

    def _shape(self):
        return tuple(self.test_data()["reconstruction"].inputs["image"].shape[1:])

    def features(self, shape):
        """Reals the encoder emits for images of ``shape`` (``2k``; see the module docstring)."""
        h, w, c = shape
        if self.bottleneck == "conv":
            ratio = (self.bandwidth_ratio if self.channel_uses is None
                     else self.channel_uses / (h * w * c))
            return (h // 4) * (w // 4) * feature_channels(shape, ratio)
        uses = self.channel_uses or max(1, round(self.bandwidth_ratio * h * w * c))
        return 2 * uses

    def build_model(self):
        shape = self._shape()
        if shape[0] % 4 or shape[1] % 4:
            raise ScenarioError(f"{self.key}.dataset", f"images of {shape[0]}x{shape[1]} do not "
                                "fit Deep JSCC's two stride-2 layers; need sides divisible by 4")
        features = self.features(shape)
        model = DeepJSCCModel(image_shape=shape, features=features, filters=self.filters,
                              bottleneck=self.bottleneck,
                              air_interface=self.air_interface(features, name="air"))
        return model

    def compile_model(self, model):
        model.compile(optimizer=self.optimizer(), loss="mse", metrics=[train_lib.psnr])

    def targets(self, inputs):
        return inputs["image"]

    def prepare(self, *, show_progress=True):
        super().prepare(show_progress=show_progress)
        if self.use_classifier and not self.labelled:
            dataset = self.test_data()["reconstruction"].dataset
            if dataset.y is None:
                raise ScenarioError(f"{self.key}.classifier", f"{dataset.name!r} has no labels "
                                    "to score accuracy with; set classifier: false")
            self.scorers["accuracy"].prepare(dataset=dataset, dataset_spec=self.tasks[0].dataset,
                                             show_progress=show_progress)
            self.labelled = True

    def evaluate(self, outputs, batch, task):
        x = batch["image"]
        y = np.asarray(outputs, np.float32)
        scores = {"mse": MeanTotals.of(np.mean((y - x) ** 2, axis=(1, 2, 3))),
                  "psnr": self.scorers["psnr"].score(x, y),
                  "ssim": self.scorers["ssim"].score(x, y)}
        if self.labelled:
            scores["accuracy"] = self.scorers["accuracy"].score(batch["label"], y)
        return scores

    def summarize(self, totals):
        scores = totals.scores
        out = {**self.scorers["psnr"].summarize(scores["psnr"]),
               **self.scorers["ssim"].summarize(scores["ssim"]),
               "mse": scores["mse"].mean, "blocks": totals.blocks}
        if "accuracy" in scores:
            out |= self.scorers["accuracy"].summarize(scores["accuracy"])
        return out

    def describe(self):
        facts = super().describe()
        if self.model is not None:
            h, w, c = self.model.image_shape
            uses = self.model.air.channel_uses
            facts.update(self.model.air.describe(), bottleneck=self.bottleneck,
                         bandwidth_ratio_requested=self.bandwidth_ratio,
                         channel_uses_requested=self.channel_uses,
                         bandwidth_ratio_actual=uses / (h * w * c))
            if self.bottleneck == "conv":
                facts["latent_channels"] = self.model.features // ((h // 4) * (w // 4))
        if "accuracy" in self.scorers:
            facts.update(self.scorers["accuracy"].describe())
        return facts
