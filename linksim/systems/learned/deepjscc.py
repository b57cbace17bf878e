"""Deep JSCC for images (Bourtsoulatze, Kurka, Gunduz 2019): CNN encoder -> link -> CNN decoder.

The encoder (5x5 convolutions, two of stride 2, PReLU) maps an image
[H, W, C] to a feature map [H/4, W/4, c]; its ``H W c / 4^2`` reals become
``H W c / 32`` complex channel uses. ``c`` is chosen from the bandwidth ratio
``rho = channel uses / (H W C)`` as ``round(32 rho C)`` (made even when the
feature count would be odd) so the *actual* ratio, recorded in run.json,
can differ slightly from the requested one. The decoder mirrors the encoder
with transposed convolutions and a sigmoid output (images in [0, 1]).
Trained on MSE; reported per SNR point with the metrics every image system uses
(:mod:`linksim.metrics`): mean PSNR (MAX = 1) and SSIM with t-intervals, and with
``classifier: true`` the accuracy (Wilson interval) of the same clean-trained CNN
that scores the codec baselines' reconstructions
(:class:`~linksim.systems.tasks.ImageTask`).
"""

from typing import Annotated

import keras
import numpy as np
from pydantic import Field

from ... import metrics as task_metrics
from ...errors import ScenarioError
from ...registry import Spec, register
from ...sim import train as train_lib
from ..base import Metric, mean_with_ci, rate_with_ci, sums
from ..tasks import ImageTask
from ..options import TrainingOption, TransmissionOption
from ..context import Context
from .base import LearnedSystem, Task
from .layers import PACKAGE


def feature_channels(image_shape, bandwidth_ratio):
    """Channels ``c`` of the latent map for a bandwidth ratio (see module docstring)."""
    h, w, c_in = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"image size {h}x{w} must be divisible by 4")
    cells = (h // 4) * (w // 4)
    c = max(1, round(2 * bandwidth_ratio * h * w * c_in / cells))
    return c + 1 if (cells * c) % 2 else c


@keras.saving.register_keras_serializable(PACKAGE)
class DeepJSCCModel(keras.Model):
    """Encoder, :class:`~.layers.AirInterface`, decoder.

    Parameters
    ----------
    image_shape : (int, int, int)
        H, W, C of the input images.
    channels : int
        Channels ``c`` of the transmitted feature map [H/4, W/4, c].
    filters : int
        Width of the hidden convolutions.
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

    def __init__(self, *, image_shape, channels, filters, air_interface, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.channels = channels
        self.filters = filters
        if isinstance(air_interface, dict):
            air_interface = keras.saving.deserialize_keras_object(air_interface)
        self.air = air_interface
        h, w, c_in = self.image_shape

        def conv(units, stride):
            return [keras.layers.Conv2D(units, 5, strides=stride, padding="same"),
                    keras.layers.PReLU(shared_axes=[1, 2])]

        def deconv(units, stride):
            return [keras.layers.Conv2DTranspose(units, 5, strides=stride, padding="same"),
                    keras.layers.PReLU(shared_axes=[1, 2])]

        self.encoder = keras.Sequential(
            [*conv(filters // 2, 2), *conv(filters, 2), *conv(filters, 1), *conv(filters, 1),
             keras.layers.Conv2D(channels, 5, padding="same"), keras.layers.Flatten()],
            name="encoder")
        self.decoder = keras.Sequential(
            [keras.layers.Reshape((h // 4, w // 4, channels)),
             *deconv(filters, 1), *deconv(filters, 1), *deconv(filters, 1),
             *deconv(filters // 2, 2),
             keras.layers.Conv2DTranspose(c_in, 5, strides=2, padding="same",
                                          activation="sigmoid")],
            name="decoder")

    def call(self, inputs, no=None, training=False):
        z = self.encoder(inputs["image"], training=training)
        return self.decoder(self.air(z, no=no, training=training), training=training)

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "channels": self.channels, "filters": self.filters,
                "air_interface": keras.saving.serialize_keras_object(self.air)}


@register("system", "deepjscc")
class DeepJSCC(LearnedSystem):
    """Deep JSCC image transmission (CNN autoencoder over the link): PSNR and SSIM vs SNR."""

    metrics = (Metric("psnr", "PSNR [dB] (MAX = 1)"), Metric("ssim", "SSIM"))

    def __init__(self, *, dataset: Spec("dataset"), bandwidth_ratio: float = 1 / 6,
                 filters: Annotated[int, Field(ge=1, le=1024)] = 32,
                 classifier: bool = False, classifier_train_samples: int = 20000,
                 test_samples: int = 1000, test_offset: int = 0,
                 transmission: TransmissionOption = "analog",
                 training: TrainingOption | None = None,
                 label: str | None = None, context: Context):
        if not 0 < bandwidth_ratio <= 1:
            raise ValueError(f"bandwidth_ratio must be in (0, 1], got {bandwidth_ratio}")
        if filters < 2:
            raise ValueError(f"filters must be >= 2, got {filters}")
        self.bandwidth_ratio = bandwidth_ratio
        self.filters = filters
        # Scoring only: not part of the trained model, so not in the checkpoint settings.
        self.use_classifier = classifier
        self.classifier_train_samples = classifier_train_samples
        self.task = None
        if classifier:
            self.metrics = self.metrics + (Metric("accuracy", "classification accuracy"),)
        mode = transmission if isinstance(transmission, str) else transmission.get("mode", "analog")
        super().__init__(
            label=label or f"Deep JSCC, rho={bandwidth_ratio:.3g}, {mode}",
            settings={"bandwidth_ratio": bandwidth_ratio, "filters": filters},
            tasks=[Task(name="reconstruction", dataset=dataset, test_samples=test_samples,
                        test_offset=test_offset)],
            transmission=transmission, training=training, context=context)

    def _shape(self):
        return tuple(self.test_data()["reconstruction"].inputs["image"].shape[1:])

    def build_model(self):
        shape = self._shape()
        channels = feature_channels(shape, self.bandwidth_ratio)
        air = self.air_interface(shape[0] * shape[1] * channels // 16, name="air")
        return DeepJSCCModel(image_shape=shape, channels=channels, filters=self.filters,
                             air_interface=air)

    def compile_model(self, model):
        model.compile(optimizer=self.optimizer(), loss="mse", metrics=[train_lib.psnr])

    def targets(self, inputs):
        return inputs["image"]

    def prepare(self, *, show_progress=True):
        super().prepare(show_progress=show_progress)
        if self.use_classifier and self.task is None:
            dataset = self.test_data()["reconstruction"].dataset
            if dataset.y is None:
                raise ScenarioError(f"{self.key}.classifier", f"{dataset.name!r} has no labels "
                                    "to score accuracy with; set classifier: false")
            self.task = ImageTask(dataset, dataset_spec=self.tasks[0].dataset, classifier=True,
                                  classifier_train_samples=self.classifier_train_samples)
            self.task.prepare(show_progress=show_progress)

    def evaluate(self, outputs, batch, task):
        x = batch["image"]
        y = np.asarray(outputs, np.float32)
        totals = (sums("mse", np.mean((y - x) ** 2, axis=(1, 2, 3)))
                  | sums("psnr", task_metrics.psnr(x, y)) | sums("ssim", task_metrics.ssim(x, y)))
        if self.task is not None:
            totals["correct"] = int(np.sum(self.task._predict(y) == batch["label"]))
        return totals

    def summarize(self, totals):
        n = totals["blocks"]
        out = {**mean_with_ci("psnr", totals), **mean_with_ci("ssim", totals),
               "mse": totals["mse_sum"] / n, "blocks": n}
        if "correct" in totals:
            out |= rate_with_ci("accuracy", totals["correct"], n)
        return out

    def describe(self):
        facts = super().describe()
        if self.model is not None:
            h, w, c = self.model.image_shape
            uses = self.model.air.channel_uses
            facts.update(self.model.air.describe(), latent_channels=self.model.channels,
                         bandwidth_ratio_requested=self.bandwidth_ratio,
                         bandwidth_ratio_actual=uses / (h * w * c))
        return facts
