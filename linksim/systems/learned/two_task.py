"""Two tasks, one transmission: image classification and reconstruction from a shared encoder.

A demonstration of the learned-system contract (:mod:`.base`): everything
below is the model and its two tasks; data, training, checkpoints, the link
(``transmission: analog | quantized | digital``) and the Monte Carlo sweep come
from :class:`~.base.LearnedSystem`. A CNN encoder maps an image to
``2 channel_uses`` reals, sent once over the link; at the receiver a
classifier head and a decoder head read the same received features. Trained
on ``w CE(label) + (1 - w) MSE(image)``; each task has its own test split:
``classification_samples`` scored by accuracy (Wilson interval),
``reconstruction_samples`` by PSNR (MAX = 1, t-interval).
"""
from typing import Annotated

import keras
from pydantic import Field

from ... import registry
from ...registry import Spec, register
from ...sim import train as train_lib
from ..base import Metric
from ..context import Context
from ..options import TrainingOption, TransmissionOption
from .base import LearnedSystem, Task
from .layers import PACKAGE


@keras.saving.register_keras_serializable(PACKAGE)
class TwoTaskModel(keras.Model):
    """Shared encoder, :class:`~.layers.air.AirInterface`, classifier and decoder heads.

    Input: ``inputs["image"]`` [batch, H, W, C] float32 in [0, 1] (H, W divisible
    by 4); ``no``: None | scalar | [batch] float32 N0 (None draws the training SNR).
    Output: dict, ``classification`` [batch, num_classes] float32 probabilities,
    ``reconstruction`` [batch, H, W, C] float32 in [0, 1].
    """

    def __init__(self, *, image_shape, num_classes, air_interface, **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        if isinstance(air_interface, dict):
            air_interface = keras.saving.deserialize_keras_object(air_interface)
        self.air = air_interface
        h, w, c = self.image_shape
        conv = keras.layers.Conv2D
        self.encoder = keras.Sequential(
            [conv(16, 3, strides=2, padding="same", activation="relu"),
             conv(32, 3, strides=2, padding="same", activation="relu"),
             keras.layers.Flatten(), keras.layers.Dense(air_interface.num_features)],
            name="encoder")
        self.classifier = keras.Sequential(
            [keras.layers.Dense(64, activation="relu"),
             keras.layers.Dense(num_classes, activation="softmax")], name="classifier")
        deconv = keras.layers.Conv2DTranspose
        self.decoder = keras.Sequential(
            [keras.layers.Dense(h // 4 * w // 4 * 32, activation="relu"),
             keras.layers.Reshape((h // 4, w // 4, 32)),
             deconv(16, 3, strides=2, padding="same", activation="relu"),
             deconv(c, 3, strides=2, padding="same", activation="sigmoid")], name="decoder")

    def call(self, inputs, no=None, training=False):
        received = self.air(self.encoder(inputs["image"], training=training), no=no,
                            training=training)
        return {"classification": self.classifier(received, training=training),
                "reconstruction": self.decoder(received, training=training)}

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "num_classes": self.num_classes,
                "air_interface": keras.saving.serialize_keras_object(self.air)}


@register("system", "two_task")
class TwoTask(LearnedSystem):
    """Demo: one encoder and transmission, classification and reconstruction heads (accuracy, PSNR)."""

    metrics = (Metric("accuracy", "classification accuracy"), Metric("psnr", "PSNR [dB] (MAX = 1)"))
    needs = ("label",)

    def __init__(self, *, dataset: Spec("dataset"),
                 channel_uses: Annotated[int, Field(ge=1, le=100_000)] = 64,
                 classification_weight: Annotated[float, Field(ge=0, le=1)] = 0.5,
                 classification_samples: int = 1000, reconstruction_samples: int = 500,
                 transmission: TransmissionOption = "analog",
                 training: TrainingOption | None = None, label: str | None = None,
                 context: Context):
        self.channel_uses = channel_uses
        self.weight = classification_weight
        self.scorers = {name: registry.build("scorer", name, key=f"{context.key}.scorers")
                        for name in ("accuracy", "psnr")}
        mode = transmission if isinstance(transmission, str) else transmission.get("mode", "analog")
        super().__init__(
            label=label or f"two-task, {channel_uses} uses, w={classification_weight:g}, {mode}",
            settings={"channel_uses": channel_uses, "classification_weight": classification_weight},
            tasks=[Task(name="classification", dataset=dataset,
                        test_samples=classification_samples),
                   Task(name="reconstruction", dataset=dataset,
                        test_samples=reconstruction_samples)],
            transmission=transmission, training=training, context=context)

    def build_model(self):
        split = self.test_data()["classification"]
        return TwoTaskModel(image_shape=split.inputs["image"].shape[1:],
                            num_classes=split.dataset.num_classes,
                            air_interface=self.air_interface(2 * self.channel_uses, name="air"))

    def compile_model(self, model):
        model.compile(optimizer=self.optimizer(),
                      loss={"classification": "sparse_categorical_crossentropy",
                            "reconstruction": "mse"},
                      loss_weights={"classification": self.weight,
                                    "reconstruction": 1.0 - self.weight},
                      metrics={"classification": ["accuracy"], "reconstruction": [train_lib.psnr]})

    def targets(self, inputs):
        return {"classification": inputs["label"], "reconstruction": inputs["image"]}

    def evaluate(self, outputs, batch, task):
        if task.name == "classification":
            return {"accuracy": self.scorers["accuracy"].score(
                batch["label"], outputs["classification"].numpy())}
        return {"psnr": self.scorers["psnr"].score(batch["image"],
                                                   outputs["reconstruction"].numpy())}

    def summarize(self, totals):
        return {**self.scorers["accuracy"].summarize(
                    self.task_totals(totals, "classification")["accuracy"]),
                **self.scorers["psnr"].summarize(
                    self.task_totals(totals, "reconstruction")["psnr"]),
                "blocks": totals.blocks}

    def describe(self):
        facts = super().describe()
        if self.model is not None:
            facts.update(self.model.air.describe(),
                         channel_uses_per_sample=self.model.air.channel_uses)
        return facts
