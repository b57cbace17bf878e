"""Classification accuracy, of decisions or of a classifier applied to received images."""
import pathlib
from typing import Annotated

import numpy as np
from pydantic import Field

from .. import metrics, registry
from ..registry import register
from ..seeding import derive_seed, seeded
from ..systems.base import Metric
from ..totals import RateTotals
from .base import Scorer, images


@register("scorer", "accuracy")
class Accuracy(Scorer):
    """Share of correct classifications; Wilson interval.

    Reference: labels int [N]. Output: predicted labels int [N] or class scores
    [N, K] (argmax); or, once :meth:`prepare` was given an image data set,
    received images [N, H, W(, C)] that a clean-trained CNN classifies: two conv
    layers and one hidden dense layer (Keras), trained for ``classifier_epochs``
    epochs on the first ``classifier_train_samples`` images of the data set's
    train split from a seed derived from (data set, image shape, samples), and
    cached under ``<data_dir>/classifiers``. Its accuracy on the clean test
    images is in :meth:`describe`. Totals: :class:`RateTotals`.
    """

    metrics = (Metric("accuracy", "classification accuracy"),)

    def __init__(self, *, classifier_train_samples: Annotated[int, Field(ge=1)] = 20000,
                 classifier_epochs: Annotated[int, Field(ge=1, le=1000)] = 3):
        self.classifier_train_samples = classifier_train_samples
        self.classifier_epochs = classifier_epochs
        self.classifier = None
        self.clean_accuracy = None
        self._path = None

    def _seed(self, dataset):
        shape = "x".join(str(s) for s in dataset.x.shape[1:])
        return derive_seed("classifier", dataset.name, shape, self.classifier_train_samples,
                           self.classifier_epochs)

    def prepare(self, *, dataset=None, dataset_spec=None, show_progress=True):
        """With an image ``dataset``: train (or load) the classifier of received images."""
        if dataset is None or dataset.modality != "image" or self.classifier is not None:
            return
        import keras

        from ..sim.train import ProgressBar
        from ..sources.datasets import data_dir
        seed = self._seed(dataset)
        shape = "x".join(str(s) for s in dataset.x.shape[1:])
        # The seed names the file: a classifier made by another recipe is never reused.
        self._path = (pathlib.Path(data_dir()) / "classifiers" / f"{dataset.name}-{shape}-"
                      f"{self.classifier_train_samples}-cnn-e{self.classifier_epochs}"
                      f"-s{seed}.keras")
        if self._path.exists():
            self.classifier = keras.models.load_model(self._path)
        else:
            train_spec = {**registry.as_spec(dataset_spec, "dataset", "classifier"),
                          "split": "train", "limit": self.classifier_train_samples}
            train = registry.build("dataset", train_spec, key="classifier")
            with seeded(seed, keras=True):
                model = keras.Sequential([
                    keras.Input(train.x.shape[1:]),
                    keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
                    keras.layers.MaxPooling2D(),
                    keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
                    keras.layers.MaxPooling2D(),
                    keras.layers.Flatten(),
                    keras.layers.Dense(128, activation="relu"),
                    keras.layers.Dense(train.num_classes, activation="softmax")])
                model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
                model.fit(train.x, train.y, epochs=self.classifier_epochs, batch_size=128,
                          verbose=0, callbacks=[ProgressBar()] if show_progress else [])
            self._path.parent.mkdir(parents=True, exist_ok=True)
            model.save(self._path)
            self.classifier = model
        self.clean_accuracy = metrics.accuracy(dataset.y, self.predict(dataset.x))

    def predict(self, output):
        """Predicted labels int [N] of ``output``: images (classifier), class scores or labels."""
        if self.classifier is not None:
            received = images(output, self.classifier.input_shape[1:])
            return np.argmax(self.classifier.predict(received, verbose=0, batch_size=256),
                             axis=-1)
        output = np.asarray(output)
        return np.argmax(output, axis=-1) if output.ndim == 2 else output

    def describe(self):
        if self.classifier is None:
            return {}
        return {"classifier": f"Keras CNN trained on {self.classifier_train_samples} clean "
                              f"training images, cached at {self._path}",
                "classifier_clean_accuracy": self.clean_accuracy}

    def score(self, reference, output):
        labels = np.asarray(reference)
        return RateTotals(events=int(np.sum(self.predict(output) == labels)),
                          trials=int(labels.size))

    def summarize(self, totals):
        return totals.columns("accuracy")
