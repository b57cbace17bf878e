"""``LearnedSystem``: a Keras model trained and evaluated on the simulated link.

A subclass describes its model and tasks; this base class does the rest:

* data: each :class:`Task` names a registered data set; its ``train`` split
  (limited to ``training.train_samples``) and its ``test`` split (from
  ``test_offset`` for ``test_samples`` samples; an offset keeps test samples
  apart from training samples where a data set's splits overlap, e.g. offline
  MNIST) are loaded as **mappings of named inputs**
  (:meth:`~linksim.sources.datasets.Dataset.inputs`: ``image``, ``label``,
  ``tokens``, ``token_mask``, ``question``, ``answer``, ``audio``, ...); tasks
  on the same data set share one load;
* training in :meth:`prepare` when no checkpoint exists (or via ``linksim
  train``): seeded (``keras.utils.set_random_seed`` and Sionna's
  ``config.seed``), resumable, logged to CSV and TensorBoard (see
  :mod:`linksim.sim.train`), saved as ``.keras`` under
  ``<checkpoint_dir>/<label slug>/``;
* evaluation: batch ``b`` of a Monte Carlo point is, for every task, its test
  samples ``b*bs .. (b+1)*bs - 1`` (``bs = stop.batch_size``) as a mapping,
  sent at the runner's N0; a task whose test split is used up sits out, and a
  point ends when every task's split is used up or ``stop.max_blocks`` samples
  are done. Totals are additive; ``blocks`` counts samples (with several
  tasks: the largest task's, each task's scorer totals prefixed ``<task>.``,
  see :meth:`LearnedSystem.task_totals`).

Subclass contract
-----------------
``inputs``
    Names of the batch entries the model reads (default ``("image",)``).
``build_model()``
    Returns an uncompiled ``keras.Model`` whose ``call(inputs, no=None,
    training=False)`` takes a mapping of those inputs and sends them through
    one or more :class:`~.layers.air.AirInterface` layers made with
    :meth:`air_interface`; ``no=None`` draws the training SNR.
``compile_model(model)``
    Compiles it (optimizer from :attr:`training`, loss, loss weights, named
    metrics: a model with several outputs returns a dict, so that every
    history.csv column names its output).
``targets(inputs)``
    Training targets from the train split's mapping (an array, or a dict keyed
    by output name).
``evaluate(outputs, batch, task)``
    Totals of one evaluated batch, by metric or scorer name (a dict of
    :class:`~linksim.totals.Totals`, scored through :mod:`linksim.scorers`):
    ``batch`` is the task's slice of its test mapping, ``task`` its :class:`Task`.
    The base class wraps them with ``blocks`` in a
    :class:`~linksim.totals.SampleTotals` (names prefixed ``<task>.`` when the
    system has several tasks).
``summarize(totals)`` and ``metrics``
    As for every :class:`~linksim.systems.base.System`.
``settings``
    The YAML keys that shape the model (hashed into ``settings.json``).

A system with one data set passes ``tasks=[Task(...)]`` built from its
``dataset``, ``test_samples`` and ``test_offset`` keys. Training fits the model
on the first task's train split; a system whose tasks learn from different
data sets overrides :meth:`LearnedSystem.fit` (it gets every task's split).

YAML keys shared by every learned system: ``transmission`` (``analog`` |
``quantized`` | ``digital`` or a mapping, see
:class:`~linksim.systems.options.Transmission`), ``training`` (see
:class:`~linksim.systems.options.Training`; a scenario-level ``train:`` mapping
gives defaults), ``label``. Subclasses annotate them with
:data:`~linksim.systems.options.TransmissionOption` and ``TrainingOption`` so that
the scenario check sees their keys.
"""
import dataclasses
import hashlib
import json
import pathlib
import shutil
import keras
import numpy as np
import tensorflow as tf
from sionna.phy import config

from ... import registry
from ...errors import ScenarioError, UserError
from ...sim import train as train_lib
from ...sim.results import slug
from ...sources.datasets import TEXT_LENGTH, Dataset
from ...totals import SampleTotals
from ..base import System
from ..context import Context
from ..options import Training, Transmission
from .layers.air import AirInterface



def _slice(inputs, start, stop):
    """Samples ``start .. stop - 1`` of every entry of a mapping of named inputs."""
    return {name: values[start:stop] for name, values in inputs.items()}


def _length(inputs):
    return len(next(iter(inputs.values())))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Task:
    """One task of a learned system: the data set it learns from and how much of it is scored.

    Attributes
    ----------
    name : str
        Prefix of the task's totals (``<name>.<total>``) when a system has several tasks.
    dataset : dict
        Registry ``dataset`` spec without ``split`` and ``limit``.
    test_samples : int
        Test samples evaluated per SNR point (at most).
    test_offset : int
        First test sample used.
    key : str
        Where these keys sit in the system's YAML, ending in '.' (``""``: the
        system's own ``dataset``, ``test_samples``, ``test_offset``), for error lines.
    inputs : tuple of str
        Batch entries the model reads for this task (empty: the system's :attr:`~LearnedSystem.inputs`).
    needs : tuple of str
        Further entries its targets and scores need, besides the system's ``needs``.
    """

    name: str
    dataset: dict
    test_samples: int
    test_offset: int = 0
    key: str = ""
    inputs: tuple = ()
    needs: tuple = ()


@dataclasses.dataclass(frozen=True)
class Split:
    """A loaded split of a task's data set: the :class:`Dataset` and its named inputs."""

    dataset: Dataset
    inputs: dict

    def __len__(self):
        return _length(self.inputs)


class LearnedSystem(System):
    """Base of every Keras-trained system (see the module docstring for the contract).

    Checkpoints go to ``<context.checkpoint_dir>/<label slug>/`` (the results
    directory's ``checkpoints``, see :func:`linksim.scenario.build`).

    Parameters
    ----------
    label : str
    settings : dict
        The subclass's model-shaping YAML keys, recorded and hashed with the checkpoint.
    tasks : sequence of Task
        At least one; names unique.
    transmission : str | dict
        See :class:`Transmission`.
    training : dict | None
        See :class:`Training`; overrides the scenario's ``train`` mapping key by key.
    context : Context
        Channel, receiver, stop rule, seed, checkpoint directory and key path.
    """

    #: Batch entries the model reads (its input mapping).
    inputs = ("image",)
    #: Further batch entries the targets and scores need (e.g. ``("label",)``).
    needs = ()
    #: Token positions of text inputs (``tokens``, ``<name>_tokens``).
    text_length = TEXT_LENGTH
    #: The model takes ``task=<task name>`` (a multi-task model routing each batch to its task).
    routes_tasks = False

    def __init__(self, *, label, settings, tasks, transmission, training, context: Context):
        super().__init__(label=label)
        key = context.key
        self.tasks = tuple(dataclasses.replace(t, dataset={"name": t.dataset})
                           if isinstance(t.dataset, str) else t for t in tasks)
        if not self.tasks or len({t.name for t in self.tasks}) != len(self.tasks):
            raise ValueError(f"a learned system needs tasks with distinct names, got "
                             f"{[t.name for t in self.tasks]}")
        for task in self.tasks:
            where = f"{key}.{task.key}dataset"
            for name in ("split", "limit"):
                if name in task.dataset:
                    raise ScenarioError(f"{where}.{name}", "set by the system: use "
                                        "training.train_samples, test_samples and test_offset")
            if "name" not in task.dataset:
                raise ScenarioError(f"{where}.name", "required key is missing")
            # Data load lazily (at training or evaluation); the name is checked now.
            registry.get("dataset", task.dataset["name"], key=f"{where}.name")
            if task.test_samples < 1 or task.test_offset < 0:
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
        self.training = registry.validated(Training, {**(context.train or {}), **(training or {})},
                                           f"{key}.training")
        self.settings = settings
        self.context = context
        self.channel = context.channel
        self.receiver = context.receiver
        self.batch_size = context.stop.batch_size
        self.seed = context.seed
        self.key = key
        self.directory = pathlib.Path(context.checkpoint_dir) / slug(label)
        # Training curves are results (committed), next to the checkpoints (not committed).
        self.curve = pathlib.Path(context.checkpoint_dir).parent / "training" / slug(label)
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

    def targets(self, inputs):
        raise NotImplementedError

    def evaluate(self, outputs, batch, task):
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

    def model_inputs(self, inputs, task=None):
        """The entries of a mapping of named inputs that the model reads for ``task``
        (:attr:`Task.inputs`, default :attr:`inputs`)."""
        names = (task.inputs if task is not None else ()) or self.inputs
        return {name: inputs[name] for name in names}

    def call_model(self, model, inputs, task, *, no=None, training=False):
        """``model(inputs, no=no, training=training)``, with ``task=<name>`` when it routes tasks."""
        if self.routes_tasks:
            return model(inputs, task=task.name, no=no, training=training)
        return model(inputs, no=no, training=training)

    def task_totals(self, totals, task):
        """One task's scorer totals, by name, from a point's :class:`SampleTotals`."""
        if len(self.tasks) == 1:
            return totals.scores
        prefix = f"{task}."
        return {k[len(prefix):]: v for k, v in totals.scores.items() if k.startswith(prefix)}

    # ----------------------------------------------------------- data

    def load_inputs(self, split, task):
        """``(Dataset, mapping of named inputs)`` of ``split`` of ``task``'s data set."""
        limit = (self.training.train_samples if split == "train"
                 else task.test_offset + task.test_samples)
        where = f"{self.key}.{task.key}dataset"
        dataset = registry.build("dataset", {**task.dataset, "split": split, "limit": limit},
                                 key=where)
        inputs = dataset.inputs(sequence_length=self.text_length)
        needed = (*(task.inputs or self.inputs), *self.needs, *task.needs)
        missing = [n for n in needed if not isinstance(inputs.get(n), np.ndarray)]
        if missing:
            raise ScenarioError(f"{where}.name", f"{dataset.name!r} has no {', '.join(missing)} "
                                f"of equal-size samples (its inputs: {', '.join(inputs)}); "
                                f"{type(self).__name__} needs {', '.join(needed)}")
        return dataset, inputs

    def _load(self, split):
        """{task name: :class:`Split`} of ``split``; tasks on the same data set share one load."""
        loaded, out = {}, {}
        for task in self.tasks:
            same = json.dumps(task.dataset, sort_keys=True, default=str)
            if split == "test":
                same += f":{task.test_offset + task.test_samples}"
            if same not in loaded:
                loaded[same] = Split(*self.load_inputs(split, task))
            out[task.name] = loaded[same]
        return out

    def check(self, *, key):
        try:
            self.test_data()
        except ScenarioError:
            raise
        except UserError:
            # The data set is not installed here: reported when it is needed, as before.
            pass

    def test_data(self):
        """{task name: :class:`Split`} of each task's test samples (loaded once)."""
        if self._data is None:
            data = {}
            for task, loaded in zip(self.tasks, self._load("test").values()):
                n = len(loaded)
                if n <= task.test_offset:
                    raise ScenarioError(f"{self.key}.{task.key}test_offset",
                                        f"{task.test_offset} skips the whole test split ({n} "
                                        f"samples); allowed: 0..{n - 1}")
                data[task.name] = Split(loaded.dataset, _slice(
                    loaded.inputs, task.test_offset, task.test_offset + task.test_samples))
            self._data = data
        return self._data

    # ----------------------------------------------------------- checkpoints

    @property
    def checkpoint(self):
        return self.directory / "model.keras"

    def fingerprint(self):
        """Everything that changes the trained weights, as JSON-able data."""
        # Registry specs: a channel or receiver with another name or key trains anew.
        link = {"channel": self.channel.spec, "receiver": self.receiver.spec}
        data = ({"dataset": self.tasks[0].dataset} if len(self.tasks) == 1 else
                {"datasets": {t.name: t.dataset for t in self.tasks}})
        return {"system": type(self).__name__, "settings": self.settings, **data,
                "transmission": self.transmission.model_dump(),
                "training": self.training.model_dump(), "link": link, "seed": self.seed}

    def _fingerprint_hash(self):
        blob = json.dumps(self.fingerprint(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def _new_model(self, *, compile_model=True):
        """A freshly built model (weights created by one call on two test samples of each task)."""
        self.reseed()
        model = self.build_model()
        for task in self.tasks:
            split = self.test_data()[task.name]
            self.call_model(model, self.model_inputs(_slice(split.inputs, 0, 2), task), task)
        if compile_model:
            self.compile_model(model)
        return model

    def train(self, *, fresh=False, show_progress=True):
        """Train from scratch (``fresh``: discard checkpoint and backup) or resume; save."""
        # Data first: a data set that is not installed stops here, before anything is written.
        data = self._load("train")
        self.test_data()
        if fresh and self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        model = self._new_model()
        provenance = {name: split.dataset.provenance for name, split in data.items()}
        if len(set(provenance.values())) == 1:
            provenance = next(iter(provenance.values()))
        (self.directory / "settings.json").write_text(json.dumps(
            {"hash": self._fingerprint_hash(), **self.fingerprint(),
             "train_data": provenance}, indent=2, default=str))
        if show_progress:
            print(f"training {self.label!r}: {model.count_params()} parameters, "
                  f"{len(next(iter(data.values())))} samples ({provenance}), at most "
                  f"{self.training.epochs} epochs -> {self.directory}", flush=True)
        self.fit(model, data, show_progress=show_progress)
        model.save(self.checkpoint)
        self._use(model)

    def parameter_counts(self):
        """{model name: stored parameters} of the untrained model (built on two test samples
        of each task); a system of several separately trained models lists each."""
        model = self._new_model(compile_model=False)
        models = getattr(model, "models", None) or [model]
        return {m.name: int(m.count_params()) for m in models}

    def reseed(self):
        """Seed Keras and Sionna so every training stage starts from the same state."""
        config.seed = self.seed
        keras.utils.set_random_seed(self.seed)

    def fit(self, model, data, *, show_progress):
        """Train ``model`` on the first task's train split (``data``: {task name: Split});
        systems trained in stages or on several data sets override this."""
        inputs = data[self.tasks[0].name].inputs
        self.reseed()
        train_lib.fit(model, self.model_inputs(inputs), self.targets(inputs),
                      directory=self.directory, training=self.training, seed=self.seed,
                      curve=self.curve,
                      show_progress=show_progress)

    def _use(self, model):
        self.model = model
        # One function per task: a task's inputs have their own structure and shapes.
        def infer(task):
            return tf.function(lambda inputs, no: self.call_model(model, inputs, task, no=no),
                               reduce_retracing=True)
        self._infer = {task.name: infer(task) for task in self.tasks}

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
                 "training": self.training.model_dump()}
        if len(self.tasks) == 1:
            facts.update(test_samples=self.tasks[0].test_samples,
                         test_offset=self.tasks[0].test_offset)
        else:
            facts["tasks"] = {t.name: {"dataset": t.dataset, "test_samples": t.test_samples,
                                       "test_offset": t.test_offset} for t in self.tasks}
        if self._data is not None:
            provenance = {name: split.dataset.provenance for name, split in self._data.items()}
            facts["test_data"] = (next(iter(provenance.values())) if len(self.tasks) == 1
                                  else provenance)
        if self.model is not None:
            facts["parameters"] = int(self.model.count_params())
        # Why training stopped: train.json of the model, or of each stage (stage1/, ...).
        stops = {path.parent.relative_to(self.directory).as_posix(): json.loads(path.read_text())
                 for path in sorted(self.directory.glob("**/train.json"))}
        if stops:
            facts["training_stop"] = stops.pop(".", None) or stops
        return facts

    def run_batch(self, no, *, batch_index):
        start = batch_index * self.batch_size
        blocks, scores = 0, {}
        for task in self.tasks:
            batch = _slice(self.test_data()[task.name].inputs, start, start + self.batch_size)
            n = _length(batch)
            if n == 0:
                continue
            inputs = {k: tf.constant(v) for k, v in self.model_inputs(batch, task).items()}
            outputs = self._infer[task.name](inputs, tf.constant(no, tf.float32))
            counts = self.evaluate(outputs, batch, task)
            if len(self.tasks) > 1:
                counts = {f"{task.name}.{k}": v for k, v in counts.items()}
            scores.update(counts)
            blocks = max(blocks, n)
        return SampleTotals(blocks=blocks, scores=scores)

    def finished(self, totals, stop):
        longest = max(len(split) for split in self.test_data().values())
        return totals.blocks >= min(longest, stop.max_blocks)
