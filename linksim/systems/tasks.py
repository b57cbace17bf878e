"""What a codec system's received samples are worth: the scorers of the data set's modality.

A data set declares its modality (``Dataset.modality``); :data:`MODALITIES`
says which registered scorers score samples of it, against which field of the
data set (``x``: the samples, ``y``: labels, ``transcripts``), which scorer's
metric ``mcs: {select: metric}`` optimizes, and what the receiver outputs for a
sample it cannot decode. A modality without an entry is refused by name, never
scored as another one. Scorers and their intervals: :mod:`linksim.scorers`.
"""
import dataclasses
import functools

import numpy as np

from .. import registry
from ..errors import ScenarioError


@dataclasses.dataclass(frozen=True)
class Modality:
    """How samples of one modality are scored.

    ``scorers``: (scorer spec, data set field it compares against), in column
    order. ``primary``: scorer names in order of preference for ``select:
    metric`` (the first one present). ``substitutes(dataset)``: a function of a
    sample index giving the receiver's output for an infeasible or undecodable
    sample.
    """

    scorers: tuple
    primary: tuple
    substitutes: object


def _mean_image(dataset):
    mean = np.mean(np.asarray(dataset.x, np.float32), axis=0)
    return lambda index: mean


MODALITIES = {
    "image": Modality(scorers=(("psnr", "x"), ("ssim", "x"), ("accuracy", "y")),
                      primary=("psnr",),
                      substitutes=_mean_image),
    "text": Modality(scorers=(("bleu", "x"), ("exact_match", "x")), primary=("bleu",),
                     substitutes=lambda dataset: lambda index: ""),
    "speech": Modality(scorers=(("waveform_snr", "x"), ("sample_error_rate", "x"),
                                ("wer", "transcripts")),
                       primary=("wer", "waveform_snr"),
                       substitutes=lambda dataset: lambda index: np.zeros_like(dataset.x[index])),
}


class SourceTask:
    """The scorers of a data set's modality, applied to received samples.

    The data set is loaded when first needed (:attr:`dataset`): its factory's
    declaration (:class:`~linksim.sources.datasets.Holds`) already says which
    scorers apply, so building a system and ``linksim validate`` read no data.

    Parameters
    ----------
    dataset_spec : str | dict
        Registry spec of the samples sent (the accuracy scorer's classifier trains on
        its train split); kept as a mapping (:attr:`dataset_spec`).
    key : str
        The system's key path, for errors.
    dataset_key : str
        Key path of ``dataset_spec`` (``<key>.dataset`` or the scenario's ``source``).
    classifier : bool
        Score classification accuracy of received images (where the set has labels).
    classifier_train_samples : int | None
        Training images of that classifier (with ``classifier``).
    dataset : linksim.sources.datasets.Dataset | None
        The samples sent, where the caller has loaded them already.
    """

    def __init__(self, *, dataset_spec, key, dataset_key=None, classifier,
                 classifier_train_samples=None, dataset=None):
        self.dataset_key = dataset_key or f"{key}.dataset"
        dataset_spec = registry.as_spec(dataset_spec, "dataset", self.dataset_key)
        name = dataset_spec["name"]
        factory = registry.get("dataset", name, key=f"{self.dataset_key}.name").factory
        if not hasattr(factory, "holds"):
            raise TypeError(f"data set factory {name!r} must declare what it returns: "
                            "decorate it with linksim.sources.datasets.holds")
        self.holds = factory.holds
        modality = MODALITIES.get(self.holds.modality)
        if modality is None:
            raise ScenarioError(self.dataset_key, f"{name!r} holds {self.holds.modality}, "
                                "which no scorer set covers; allowed modalities: "
                                + ", ".join(MODALITIES))
        self.dataset_spec = dataset_spec
        self.modality = modality
        self._dataset = dataset
        options = {"accuracy": {"classifier_train_samples": classifier_train_samples}}
        present = {"x", *self.holds.attributes}
        self.scorers = {
            name: (registry.build("scorer", {"name": name, **options.get(name, {})},
                                  key=f"{key}.scorers.{name}"), field)
            for name, field in modality.scorers
            if field in present and (name != "accuracy" or classifier)}
        self.metrics = tuple(m for scorer, _ in self.scorers.values() for m in scorer.metrics)

    @property
    def loaded(self):
        return self._dataset is not None

    @property
    def dataset(self):
        """The samples sent (:class:`~linksim.sources.datasets.Dataset`), loaded on first use."""
        if self._dataset is None:
            dataset = registry.build("dataset", self.dataset_spec, key=self.dataset_key)
            self.holds.check(dataset)
            self._dataset = dataset
        return self._dataset

    @property
    def description(self):
        """For ``describe()``: the loaded set's provenance, else (not loaded yet) its spec."""
        return self._dataset.provenance if self.loaded else self.dataset_spec

    @functools.cached_property
    def substitute(self):
        """The receiver's output for an infeasible or undecodable sample: index -> sample."""
        return self.modality.substitutes(self.dataset)

    @property
    def primary(self):
        """(metric name, sign): what ``select: metric`` maximizes (sign -1: lower is better)."""
        for name in self.modality.primary:
            scorer = self.scorers.get(name, (None,))[0]
            if scorer is not None and scorer.metrics:
                return scorer.metrics[0].name, 1.0 if scorer.higher_is_better else -1.0
        raise ValueError(f"no scorer of {self.holds.modality} data can rank MCSs")

    def prepare(self, *, show_progress=True):
        for scorer, _ in self.scorers.values():
            scorer.prepare(dataset=self.dataset, dataset_spec=self.dataset_spec,
                           show_progress=show_progress)

    def describe(self):
        return {k: v for scorer, _ in self.scorers.values() for k, v in scorer.describe().items()}

    def score(self, indices, outputs):
        """Totals of each scorer, by name, of ``outputs`` received for samples ``indices``."""
        totals = {}
        for name, (scorer, field) in self.scorers.items():
            values = getattr(self.dataset, field)
            reference = (values[indices] if isinstance(values, np.ndarray)
                         else [values[i] for i in indices])
            totals[name] = scorer.score(reference, outputs)
        return totals

    def summarize(self, totals):
        """Metric columns (value and interval) of every scorer, in scorer order."""
        return {k: v for name, (scorer, _) in self.scorers.items()
                for k, v in scorer.summarize(totals[name]).items()}
