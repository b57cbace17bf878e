"""``LearnedSystem``: a Keras model trained and evaluated on the simulated link.

A subclass describes its model and task; this base class does the rest:

* data: the ``dataset`` spec (any registered image set) is loaded twice, the
  ``train`` split limited to ``training.train_samples`` and the ``test`` split
  from ``test_offset`` for ``test_samples`` samples (an offset keeps test
  samples apart from training samples where a data set's splits overlap, e.g.
  offline MNIST);
* training in :meth:`prepare` when no checkpoint exists (or via ``linksim
  train``): seeded (``keras.utils.set_random_seed`` and Sionna's
  ``config.seed``), resumable, logged to CSV and TensorBoard (see
  :mod:`linksim.sim.train`), saved as ``.keras`` under
  ``<checkpoint_dir>/<label slug>/``;
* evaluation: batch ``b`` of a Monte Carlo point is test samples
  ``b*bs .. (b+1)*bs - 1`` (``bs = stop.batch_size``) sent at the runner's N0;
  a point ends when the test set is used up or ``stop.max_blocks`` samples
  are done. Totals are additive; ``blocks`` counts samples.

Subclass contract
-----------------
``build_model()``
    Returns an uncompiled ``keras.Model`` whose ``call(x, no=None, training=False)``
    sends ``x`` through one or more :class:`~.layers.AirInterface` layers made
    with :meth:`air_interface`; ``no=None`` draws the training SNR.
``compile_model(model)``
    Compiles it (optimizer from :attr:`training`, loss, loss weights, named
    metrics: a model with several outputs returns a dict, so that every
    history.csv column names its output).
``targets(dataset)``
    Training targets of a loaded data set (an array, or a dict keyed by output
    name); also the evaluation targets (an array, dict or tuple of arrays)
    unless ``evaluation_targets(dataset)`` is overridden.
``evaluate(outputs, targets)``
    Totals of one evaluated batch, by metric or scorer name (a dict of
    :class:`~linksim.totals.Totals`, scored through :mod:`linksim.scorers`); the
    base class wraps them with ``blocks`` in a :class:`~linksim.totals.SampleTotals`.
``summarize(totals)`` and ``metrics``
    As for every :class:`~linksim.systems.base.System`.
``settings``
    The YAML keys that shape the model (hashed into ``settings.json``).

YAML keys shared by every learned system: ``dataset``, ``test_samples``,
``test_offset``, ``transmission`` (``analog`` | ``quantized`` | ``digital`` or a
mapping, see :class:`~linksim.systems.options.Transmission`), ``training`` (see
:class:`~linksim.systems.options.Training`; a scenario-level ``train:`` mapping
gives defaults), ``label``. Subclasses annotate them with
:data:`~linksim.systems.options.TransmissionOption` and ``TrainingOption`` so that
the scenario check sees their keys.
"""
import hashlib
import json
import pathlib
import re
import shutil
import keras
import numpy as np
import tensorflow as tf
from sionna.phy import config

from ... import registry
from ...errors import ScenarioError, UserError
from ...sim import train as train_lib
from ...totals import SampleTotals
from ..base import System
from ..options import Training, Transmission
from .layers.air import AirInterface

def slug(label):
    """A label as a directory name: lower case, runs of other characters -> '_'."""
    return re.sub(r"[^a-z0-9.+-]+", "_", label.lower()).strip("_") or "system"


def _slice(targets, start, stop):
    if isinstance(targets, dict):
        return {name: t[start:stop] for name, t in targets.items()}
    if isinstance(targets, tuple):
        return tuple(t[start:stop] for t in targets)
    return targets[start:stop]


class LearnedSystem(System):
    """Base of every Keras-trained system (see the module docstring for the contract).

    Checkpoints go to ``<checkpoint_dir>/<label slug>/`` (``checkpoint_dir``: the
    results directory's ``checkpoints``, see :func:`linksim.scenario.build`).

    Parameters
    ----------
    label : str
    settings : dict
        The subclass's model-shaping YAML keys, recorded and hashed with the checkpoint.
    dataset : dict
        Registry ``dataset`` spec without ``split`` and ``limit``.
    test_samples : int
        Test samples evaluated per SNR point (at most).
    test_offset : int
        First test sample used.
    transmission : str | dict
        See :class:`Transmission`.
    training : dict | None
        See :class:`Training`; overrides the scenario's ``train`` mapping key by key.
    channel, receiver, stop, train, seed, checkpoint_dir, key
        Framework context (see :func:`linksim.scenario.build`).
    """

    def __init__(self, *, label, settings, dataset, test_samples, test_offset, transmission,
                 training, channel, receiver, stop, train, seed, checkpoint_dir, key):
        super().__init__(label=label)
        for name in ("split", "limit"):
            if name in dataset:
                raise ScenarioError(f"{key}.dataset.{name}", "set by the system: use "
                                    "training.train_samples, test_samples and test_offset")
        if "name" not in dataset:
            raise ScenarioError(f"{key}.dataset.name", "required key is missing")
        # Data load lazily (at training or evaluation); the name is checked now.
        registry.get("dataset", dataset["name"], key=f"{key}.dataset.name")
        if test_samples < 1 or test_offset < 0:
            raise ValueError("test_samples must be >= 1 and test_offset >= 0")
        if isinstance(transmission, str):
            transmission = {"mode": transmission}
        self.transmission = registry.validated(Transmission, transmission, f"{key}.transmission")
        if self.transmission.mode == "digital":
            # Built here only to check them (k <= n, ...); the air interface builds its own.
            if self.transmission.code is not None:
                registry.build("code", self.transmission.code, key=f"{key}.transmission.code")
            registry.build("modulation", self.transmission.modulation,
                           key=f"{key}.transmission.modulation")
        self.training = registry.validated(Training, {**(train or {}), **(training or {})},
                                           f"{key}.training")
        self.settings = settings
        self.dataset_spec = dataset
        self.test_samples = test_samples
        self.test_offset = test_offset
        self.channel = channel
        self.receiver = receiver
        self.batch_size = stop.batch_size
        self.seed = seed
        self.key = key
        self.directory = pathlib.Path(checkpoint_dir) / slug(label)
        # Training curves are results (committed), next to the checkpoints (not committed).
        self.curve = pathlib.Path(checkpoint_dir).parent / "training" / slug(label)
        self.model = None
        self._data = None
        self._infer = None

    # ----------------------------------------------------------- subclass hooks

    # Facts of the built model (base, air interface and subclasses), for ``plot.x``.
    later_facts = ("test_data", "parameters", "transmission", "channel_uses_per_sample",
                   "quantization_bits", "codebook_size", "codeword_dim", "digital_link",
                   "latent_channels", "bandwidth_ratio_requested", "bandwidth_ratio_actual",
                   "transmissions_per_sample")

    def build_model(self):
        raise NotImplementedError

    def compile_model(self, model):
        raise NotImplementedError

    def targets(self, dataset):
        raise NotImplementedError

    def evaluation_targets(self, dataset):
        """What ``evaluate`` compares outputs with (e.g. images and labels); default ``targets``."""
        return self.targets(dataset)

    def evaluate(self, outputs, targets):
        raise NotImplementedError

    # ----------------------------------------------------------- helpers for subclasses

    def air_interface(self, num_features, *, snr_offset_db=0.0, snr_fixed_db=None, name=None):
        """An :class:`AirInterface` for ``num_features`` reals on this scenario's link."""
        return AirInterface(transmission=self.transmission.model_dump(),
                            num_features=num_features, channel=self.channel,
                            receiver=self.receiver, snr_db=self.training.snr_db,
                            snr_draw=self.training.snr_draw, snr_offset_db=snr_offset_db,
                            snr_fixed_db=snr_fixed_db, name=name)

    def optimizer(self):
        return keras.optimizers.Adam(learning_rate=self.training.learning_rate)

    # ----------------------------------------------------------- data

    def load_dataset(self, split):
        limit = (self.training.train_samples if split == "train"
                 else self.test_offset + self.test_samples)
        spec = {**self.dataset_spec, "split": split, "limit": limit}
        dataset = registry.build("dataset", spec, key=f"{self.key}.dataset")
        if dataset.modality != "image" or not isinstance(dataset.x, np.ndarray):
            raise ScenarioError(f"{self.key}.dataset.name", f"{dataset.name!r} is not a set of "
                                "equal-size images; learned systems here need one")
        return dataset

    def check(self, *, key):
        try:
            self._test_data()
        except ScenarioError:
            raise
        except UserError:
            # The data set is not installed here: reported when it is needed, as before.
            pass

    def _test_data(self):
        if self._data is None:
            dataset = self.load_dataset("test")
            if len(dataset.x) <= self.test_offset:
                raise ScenarioError(f"{self.key}.test_offset", f"{self.test_offset} skips the "
                                    f"whole test split ({len(dataset.x)} samples); allowed: "
                                    f"0..{len(dataset.x) - 1}")
            end = self.test_offset + self.test_samples
            self._data = (dataset, dataset.x[self.test_offset:end],
                          _slice(self.evaluation_targets(dataset), self.test_offset, end))
        return self._data

    # ----------------------------------------------------------- checkpoints

    @property
    def checkpoint(self):
        return self.directory / "model.keras"

    def fingerprint(self):
        """Everything that changes the trained weights, as JSON-able data."""
        # Registry specs: a channel or receiver with another name or key trains anew.
        link = {"channel": self.channel.spec, "receiver": self.receiver.spec}
        return {"system": type(self).__name__, "settings": self.settings,
                "dataset": self.dataset_spec, "transmission": self.transmission.model_dump(),
                "training": self.training.model_dump(), "link": link, "seed": self.seed}

    def _fingerprint_hash(self):
        blob = json.dumps(self.fingerprint(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def _new_model(self, *, compile_model=True):
        """A freshly built model (weights created by one call on two test-shaped samples)."""
        self.reseed()
        model = self.build_model()
        _, x, _ = self._test_data()
        model(x[:2], training=False)
        if compile_model:
            self.compile_model(model)
        return model

    def train(self, *, fresh=False, show_progress=True):
        """Train from scratch (``fresh``: discard checkpoint and backup) or resume; save."""
        if fresh and self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.load_dataset("train")
        model = self._new_model()
        (self.directory / "settings.json").write_text(json.dumps(
            {"hash": self._fingerprint_hash(), **self.fingerprint(),
             "train_data": data.provenance}, indent=2, default=str))
        if show_progress:
            print(f"training {self.label!r}: {model.count_params()} parameters, {len(data.x)} "
                  f"samples ({data.provenance}), at most {self.training.epochs} epochs -> "
                  f"{self.directory}", flush=True)
        self.fit(model, data, show_progress=show_progress)
        model.save(self.checkpoint)
        self._use(model)

    def reseed(self):
        """Seed Keras and Sionna so every training stage starts from the same state."""
        config.seed = self.seed
        keras.utils.set_random_seed(self.seed)

    def fit(self, model, data, *, show_progress):
        """Train ``model`` on the loaded train split; systems trained in stages override this."""
        self.reseed()
        train_lib.fit(model, data.x, self.targets(data), directory=self.directory,
                      training=self.training, seed=self.seed, curve=self.curve,
                      show_progress=show_progress)

    def _use(self, model):
        self.model = model
        self._infer = tf.function(lambda x, no: model(x, no=no, training=False),
                                  reduce_retracing=True)

    def prepare(self, *, show_progress=True):
        """Load the checkpoint, or train when there is none."""
        if self.model is not None:
            return
        if not self.checkpoint.exists():
            self.train(show_progress=show_progress)
            return
        settings = self.directory / "settings.json"
        saved = json.loads(settings.read_text()).get("hash") if settings.exists() else None
        if saved != self._fingerprint_hash():
            raise UserError(f"{self.checkpoint} was trained with other settings than "
                            f"{self.label!r} has now; run 'linksim train SCENARIO --fresh' "
                            f"or delete {self.directory}")
        # Evaluation only: no optimizer, so the saved optimizer state is not restored.
        model = self._new_model(compile_model=False)
        model.load_weights(self.checkpoint)
        self._use(model)

    # ----------------------------------------------------------- System interface

    def describe(self):
        facts = {"checkpoint": str(self.checkpoint), "settings": self.settings,
                 "training": self.training.model_dump(), "test_samples": self.test_samples,
                 "test_offset": self.test_offset}
        if self._data is not None:
            facts["test_data"] = self._data[0].provenance
        if self.model is not None:
            facts["parameters"] = int(self.model.count_params())
        # Why training stopped: train.json of the model, or of each stage (stage1/, ...).
        stops = {path.parent.relative_to(self.directory).as_posix(): json.loads(path.read_text())
                 for path in sorted(self.directory.glob("**/train.json"))}
        if stops:
            facts["training_stop"] = stops.pop(".", None) or stops
        return facts

    def run_batch(self, no, *, batch_index):
        _, x, targets = self._test_data()
        start = batch_index * self.batch_size
        stop = start + self.batch_size
        if start >= len(x):
            return SampleTotals()
        outputs = self._infer(tf.constant(x[start:stop]), tf.constant(no, tf.float32))
        return SampleTotals(blocks=len(x[start:stop]),
                            scores=self.evaluate(outputs, _slice(targets, start, stop)))

    def finished(self, totals, stop):
        _, x, _ = self._test_data()
        return totals.blocks >= min(len(x), stop.max_blocks)
