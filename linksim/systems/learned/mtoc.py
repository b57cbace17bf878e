"""MTOC: multi-receiver task-oriented communications (Sagduyu et al., 004), and STOC.

One transmitter, ``n`` receivers, each with its own binary classification
task on the same image. MTOC trains a *common* encoder and one decoder per
receiver on ``L = sum_i w_i CE_i``; the encoder output is broadcast once and
each receiver sees its own independent channel realization and noise.
The ``stoc`` system serves the same receivers with single-task TOC: one
encoder-decoder pair per receiver, each trained on its own task and sent in
its own transmission.

Architectures (Table I of the paper, exact): ``fnn_mnist`` Dense 256 ReLU,
Dense 128 ReLU, Dense n_c linear; ``cnn_fashion_mnist`` Conv 32 3x3 ReLU,
MaxPool 2, Conv 32 3x3 ReLU, MaxPool 2, Flatten, Dropout 0.5, Dense 128 ReLU,
Dense n_c linear; ``cnn_cifar10`` Conv 8 3x3, Conv 4 3x3, MaxPool, Dropout 0.1,
Conv 4 3x3, MaxPool, Dropout 0.1, Flatten, Dense 128 ReLU, Dense n_c linear.
Every decoder: Dense n_c ReLU, Dense n_c/2 ReLU, Dense 2 softmax.

Channel uses. The paper counts ``n_c`` encoder outputs as ``n_c`` channel
uses, one real symbol each. linksim's link is complex baseband: the ``n_c``
reals are packed pairwise into ``n_c / 2`` complex symbols (so ``n_c`` must be
even), the same ``n_c`` real dimensions. ``channel_uses_per_sample`` in
run.json is therefore ``n_c / 2`` complex uses for MTOC (plus pilots with an
LS receiver) and ``n * n_c / 2`` for STOC serving ``n`` receivers. The
paper's ``y_i = h_i E(x) + n_i`` is simulated as block Rayleigh fading (one
``h_i`` per sample and receiver) with the scenario's receiver equalizing
(perfect CSI ZF by default) before the decoder; power is normalized per sample.

Tasks (``tasks``): ``rotating`` (Sec. IV, Fig. 12): receiver ``i`` (1-based)
separates classes ``C_i .. C_{i+4}`` (1-based, mod 10), i.e. labels
``i-1 .. i+3 mod 10``, from the rest; ``paper``: the two-receiver tasks of
Sec. IV for the data set (MNIST even / odd and < 5; Fashion-MNIST dress items
and formal clothing; CIFAR-10 animals and small ground entities); or an
explicit list of positive-label lists, one per receiver.
"""
import functools
from typing import Annotated, Literal

import keras
import numpy as np
from pydantic import Field

from ... import registry
from ...registry import Spec, register
from ...scorers.base import renamed
from ...totals import MeanTotals
from ..base import Metric
from ..options import TrainingOption, TransmissionOption
from ..context import Context
from .base import LearnedSystem, Task
from .layers import PACKAGE

Architecture = Literal["auto", "fnn_mnist", "cnn_fashion_mnist", "cnn_cifar10"]

# Two-receiver tasks of Sec. IV: positive labels of task 1 and task 2.
PAPER_TASKS = {
    "mnist": ([0, 2, 4, 6, 8], [0, 1, 2, 3, 4]),
    "fashion_mnist": ([0, 1, 2, 3, 4, 6], [1, 3, 5, 6, 8]),
    "cifar10": ([2, 3, 4, 5, 6, 7], [1, 3, 4, 5, 7]),
}
DEFAULT_ARCHITECTURE = {"mnist": "fnn_mnist", "fashion_mnist": "cnn_fashion_mnist",
                        "cifar10": "cnn_cifar10"}


def encoder_layers(architecture, n_c):
    """Table I encoder layers (ending in Dense(n_c), linear) for one architecture."""
    if architecture == "fnn_mnist":
        return [keras.layers.Flatten(), keras.layers.Dense(256, activation="relu"),
                keras.layers.Dense(128, activation="relu"), keras.layers.Dense(n_c)]
    if architecture == "cnn_fashion_mnist":
        return [keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                keras.layers.Flatten(), keras.layers.Dropout(0.5),
                keras.layers.Dense(128, activation="relu"), keras.layers.Dense(n_c)]
    if architecture == "cnn_cifar10":
        return [keras.layers.Conv2D(8, 3, activation="relu"),
                keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                keras.layers.Dropout(0.1), keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.MaxPooling2D(2), keras.layers.Dropout(0.1), keras.layers.Flatten(),
                keras.layers.Dense(128, activation="relu"), keras.layers.Dense(n_c)]
    raise ValueError(f"unknown architecture {architecture!r}")


def decoder_layers(n_c):
    """Table I decoder: Dense n_c ReLU, Dense n_c/2 ReLU, Dense 2 softmax."""
    return [keras.layers.Dense(n_c, activation="relu"),
            keras.layers.Dense(n_c // 2, activation="relu"),
            keras.layers.Dense(2, activation="softmax")]


@keras.saving.register_keras_serializable(PACKAGE)
class MTOCModel(keras.Model):
    """Encoder(s), one :class:`~.layers.AirInterface` and one decoder per receiver.

    Parameters
    ----------
    architecture : str
        Table I encoder (see module docstring).
    n_c : int
        Real encoder outputs (even).
    air_interfaces : list of AirInterface | dict
        One per receiver (its own channel draw, SNR offset or fixed SNR).
    shared_encoder : bool
        True: MTOC, one encoder broadcast to all receivers. False: STOC, one
        encoder per receiver (separate transmissions).

    Input
    -----
    inputs : dict
        ``image``: [batch, H, W, C], float32 in [0, 1].
    no : None | scalar | [batch], float32
        Nominal N0 (linear); None draws the training SNR.

    Output
    ------
    : dict
        ``rx1`` .. ``rx<n>``: [batch, 2] float32, class probabilities (negative,
        positive) at each receiver (the keys name the per-receiver columns
        of history.csv, e.g. ``rx2_accuracy``).
    """

    def __init__(self, *, architecture, n_c, air_interfaces, shared_encoder=True, **kwargs):
        super().__init__(**kwargs)
        self.architecture = architecture
        self.n_c = n_c
        self.shared_encoder = shared_encoder
        self.airs = [keras.saving.deserialize_keras_object(a) if isinstance(a, dict) else a
                     for a in air_interfaces]
        num_encoders = 1 if shared_encoder else len(self.airs)
        self.encoders = [keras.Sequential(encoder_layers(architecture, n_c), name=f"encoder_{i}")
                         for i in range(num_encoders)]
        self.decoders = [keras.Sequential(decoder_layers(n_c), name=f"decoder_{i + 1}")
                         for i in range(len(self.airs))]

    def call(self, inputs, no=None, training=False):
        x = inputs["image"]
        if self.shared_encoder:
            z = self.encoders[0](x, training=training)
            features = [z] * len(self.airs)
        else:
            features = [encoder(x, training=training) for encoder in self.encoders]
        return {f"rx{i + 1}": decoder(air(z, no=no, training=training), training=training)
                for i, (z, air, decoder) in enumerate(zip(features, self.airs, self.decoders))}

    def get_config(self):
        return {**super().get_config(), "architecture": self.architecture, "n_c": self.n_c,
                "shared_encoder": self.shared_encoder,
                "air_interfaces": [keras.saving.serialize_keras_object(a) for a in self.airs]}


class _TaskOriented(LearnedSystem):
    """Shared parts of MTOC and STOC: tasks, receivers, accuracy per receiver."""

    shared_encoder = True
    needs = ("label",)

    def __init__(self, *, name, dataset, n_c, num_receivers, tasks, weights, snr_offsets_db,
                 receiver_snr_db, architecture, test_samples, test_offset, transmission,
                 training, label, context):
        if n_c < 2 or n_c % 2:
            raise ValueError(f"n_c must be even and >= 2 (n_c reals = n_c/2 complex channel "
                             f"uses), got {n_c}")
        if num_receivers < 1:
            raise ValueError(f"num_receivers must be >= 1, got {num_receivers}")
        n = num_receivers
        dataset_name = dataset.get("name")
        self.receiver_tasks = self._tasks(tasks, n, dataset_name)
        self.weights = [1.0 / n] * n if weights is None else list(weights)
        self.snr_offsets_db = [0.0] * n if snr_offsets_db is None else list(snr_offsets_db)
        self.receiver_snr_db = [None] * n if receiver_snr_db is None else list(receiver_snr_db)
        for field, values in (("weights", self.weights), ("snr_offsets_db", self.snr_offsets_db),
                              ("receiver_snr_db", self.receiver_snr_db)):
            if len(values) != n:
                raise ValueError(f"{field} needs {n} values (one per receiver), got {len(values)}")
        if any(not 0 <= w <= 1 for w in self.weights):
            raise ValueError(f"weights must lie in [0, 1], got {self.weights}")
        if architecture == "auto":
            if dataset_name not in DEFAULT_ARCHITECTURE:
                raise ValueError(f"no Table I architecture for dataset {dataset_name!r}; "
                                 f"set architecture to one of {sorted(DEFAULT_ARCHITECTURE.values())}")
            architecture = DEFAULT_ARCHITECTURE[dataset_name]
        self.architecture = architecture
        self.n_c = n_c
        self.num_receivers = n
        self.metrics = tuple(
            Metric(f"accuracy_rx{i + 1}", f"accuracy, receiver {i + 1}",
                   ci=(f"accuracy_rx{i + 1}_ci_low", f"accuracy_rx{i + 1}_ci_high"))
            for i in range(n)) + (Metric("accuracy_mean", "accuracy, mean over receivers"),)
        if self.shared_encoder:
            default = f"{name}, n={n}, n_c={n_c}, w={'/'.join(f'{w:.2g}' for w in self.weights)}"
        else:
            default = f"{name}, n={n}, n_c={n_c}, {n} transmissions"
        super().__init__(
            label=label or default,
            settings={"n_c": n_c, "num_receivers": n, "tasks": self.receiver_tasks,
                      "weights": self.weights, "snr_offsets_db": self.snr_offsets_db,
                      "receiver_snr_db": self.receiver_snr_db, "architecture": architecture,
                      "shared_encoder": self.shared_encoder},
            tasks=[Task(name="classification", dataset=dataset, test_samples=test_samples,
                        test_offset=test_offset)],
            transmission=transmission, training=training, context=context)

    @staticmethod
    def _tasks(tasks, n, dataset_name):
        if tasks == "rotating":
            return [sorted((i + j) % 10 for j in range(5)) for i in range(n)]
        if tasks == "paper":
            if dataset_name not in PAPER_TASKS or n != 2:
                raise ValueError("tasks: paper is defined for 2 receivers on mnist, "
                                 "fashion_mnist and cifar10; use rotating or explicit lists")
            return [list(t) for t in PAPER_TASKS[dataset_name]]
        if isinstance(tasks, str):
            raise ValueError(f"tasks must be 'rotating', 'paper' or a list of label lists, "
                             f"got {tasks!r}")
        if len(tasks) != n:
            raise ValueError(f"tasks needs {n} label lists (one per receiver), got {len(tasks)}")
        return [sorted(int(c) for c in t) for t in tasks]

    def build_model(self):
        airs = [self.air_interface(self.n_c, snr_offset_db=offset, snr_fixed_db=fixed,
                                   name=f"air_rx{i + 1}")
                for i, (offset, fixed) in enumerate(zip(self.snr_offsets_db,
                                                        self.receiver_snr_db))]
        return MTOCModel(architecture=self.architecture, n_c=self.n_c, air_interfaces=airs,
                         shared_encoder=self.shared_encoder)

    def compile_model(self, model):
        receivers = [f"rx{i + 1}" for i in range(self.num_receivers)]
        model.compile(optimizer=self.optimizer(),
                      loss={rx: "sparse_categorical_crossentropy" for rx in receivers},
                      loss_weights=dict(zip(receivers, self.weights)),
                      metrics={rx: ["accuracy"] for rx in receivers})

    def targets(self, inputs):
        return {f"rx{i + 1}": np.isin(inputs["label"], task).astype(np.int32)
                for i, task in enumerate(self.receiver_tasks)}

    @functools.cached_property
    def accuracy(self):
        """The ``accuracy`` scorer, of each receiver's binary decisions."""
        return registry.build("scorer", "accuracy", key=f"{self.key}.scorers")

    def evaluate(self, outputs, batch, task):
        targets = self.targets(batch)
        scores = {rx: self.accuracy.score(t, outputs[rx].numpy()) for rx, t in targets.items()}
        correct = np.stack([self.accuracy.predict(outputs[rx].numpy()) == t
                            for rx, t in targets.items()])               # [receivers, batch]
        # Per-sample mean over receivers: its sum of squares gives accuracy_mean a t-interval.
        return scores | {"accuracy_mean": MeanTotals.of(correct.mean(axis=0))}

    def summarize(self, totals):
        row = {"blocks": totals.blocks}
        for i in range(self.num_receivers):
            row |= renamed(self.accuracy.summarize(totals.scores[f"rx{i + 1}"]), "accuracy",
                           f"accuracy_rx{i + 1}")
        # Accuracy averaged over receivers = mean over samples of each sample's share of
        # receivers decided right: a t-interval (linksim.metrics).
        return row | totals.scores["accuracy_mean"].columns("accuracy_mean")

    def describe(self):
        facts = super().describe()
        facts.update(self.settings)
        facts.update(n_c_reals=self.n_c, channel_uses_convention=(
            "n_c real encoder outputs = n_c/2 complex channel uses per transmission"))
        if self.model is not None:
            air = self.model.airs[0]
            transmissions = 1 if self.shared_encoder else self.num_receivers
            facts.update(air.describe(),
                         channel_uses_per_sample=transmissions * air.channel_uses,
                         transmissions_per_sample=transmissions)
        return facts


@register("system", "mtoc")
class MTOC(_TaskOriented):
    """MTOC (004): common encoder broadcast to n receivers, one binary-task decoder each."""

    def __init__(self, *, dataset: Spec("dataset"), n_c: Annotated[int, Field(ge=1, le=100_000)] = 20,
                 num_receivers: Annotated[int, Field(ge=1, le=10)] = 2,
                 tasks: str | list[list[int]] = "rotating", weights: list[float] | None = None,
                 snr_offsets_db: list[float] | None = None,
                 receiver_snr_db: list[float | None] | None = None,
                 architecture: Architecture = "auto", test_samples: int = 2000,
                 test_offset: int = 0, transmission: TransmissionOption = "analog",
                 training: TrainingOption | None = None, label: str | None = None,
                 context: Context):
        super().__init__(
            name="MTOC", dataset=dataset, n_c=n_c, num_receivers=num_receivers, tasks=tasks,
            weights=weights, snr_offsets_db=snr_offsets_db, receiver_snr_db=receiver_snr_db,
            architecture=architecture, test_samples=test_samples, test_offset=test_offset,
            transmission=transmission, training=training, label=label, context=context)


@register("system", "stoc")
class STOC(_TaskOriented):
    """STOC serving n receivers: one encoder-decoder pair and one transmission per receiver."""

    shared_encoder = False

    def __init__(self, *, dataset: Spec("dataset"), n_c: Annotated[int, Field(ge=1, le=100_000)] = 20,
                 num_receivers: Annotated[int, Field(ge=1, le=10)] = 2,
                 tasks: str | list[list[int]] = "rotating",
                 snr_offsets_db: list[float] | None = None,
                 receiver_snr_db: list[float | None] | None = None,
                 architecture: Architecture = "auto", test_samples: int = 2000,
                 test_offset: int = 0, transmission: TransmissionOption = "analog",
                 training: TrainingOption | None = None, label: str | None = None,
                 context: Context):
        # Separate encoders share nothing, so summing the n losses trains n independent pairs.
        super().__init__(
            name="STOC", dataset=dataset, n_c=n_c, num_receivers=num_receivers, tasks=tasks,
            weights=[1.0] * num_receivers, snr_offsets_db=snr_offsets_db,
            receiver_snr_db=receiver_snr_db, architecture=architecture,
            test_samples=test_samples, test_offset=test_offset, transmission=transmission,
            training=training, label=label, context=context)
