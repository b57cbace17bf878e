"""The scorer interface shared by conventional and learned systems."""
import numpy as np

from ..systems.base import Metric
from ..totals import MeanTotals


class Scorer:
    """Scores receiver outputs against references; totals add over batches.

    Subclasses set ``metrics`` (the columns :meth:`summarize` writes, each with
    ``<name>_ci_low`` / ``<name>_ci_high``; the first is the scorer's primary
    metric) and ``higher_is_better`` (for the primary metric: what ``mcs: {select:
    metric}`` maximizes), and implement :meth:`score` and :meth:`summarize`.
    """

    metrics: tuple[Metric, ...] = ()
    higher_is_better: bool = True

    def prepare(self, *, dataset=None, dataset_spec=None, show_progress=True):
        """Train or load what scoring ``dataset``'s samples needs (a classifier, a recognizer).

        ``dataset``: the :class:`~linksim.sources.datasets.Dataset` whose samples the
        outputs reconstruct; ``dataset_spec``: its registry spec (to load its train
        split). Scorers comparing outputs with references directly need neither.
        """

    def describe(self):
        """Facts for run.json (the classifier or recognizer used and its clean score)."""
        return {}

    def score(self, reference, output):
        """Additive totals of a batch: ``output`` [N, ...] against ``reference`` [N, ...]."""
        raise NotImplementedError

    def summarize(self, totals):
        """``{metric: value, metric_ci_low: ..., metric_ci_high: ...}`` from summed totals."""
        raise NotImplementedError


def images(output, shape):
    """Receiver outputs (an array, or a list of per-sample arrays) as float32 [N, *shape]."""
    if isinstance(output, (list, tuple)):
        return np.stack([np.asarray(o, np.float32).reshape(shape) for o in output])
    return np.asarray(output, np.float32).reshape(-1, *shape)


def renamed(columns, old, new):
    """Metric columns of ``old`` (value and interval) under the name ``new``."""
    return {new + key[len(old):] if key == old or key.startswith(f"{old}_ci_") else key: value
            for key, value in columns.items()}


class PerImageScorer(Scorer):
    """Mean over images of a per-image ``measure(x, y, *, max_value)`` [N] -> [N]; t-interval.

    Reference: images [N, H, W(, C)] in [0, max_value]; output: reconstructions of
    the same shape (or a list of per-image arrays). Subclasses set ``measure``,
    ``metrics`` and ``self.max_value``. Totals: :class:`MeanTotals`.
    """

    measure = None

    def score(self, reference, output):
        x = np.asarray(reference, np.float32)
        return MeanTotals.of(type(self).measure(x, images(output, x.shape[1:]),
                                                max_value=self.max_value))

    def summarize(self, totals):
        return totals.columns(self.metrics[0].name)


def waveforms(reference, output):
    """Pairs (reference, output) per utterance as float64, the output shaped like its reference."""
    for ref, out in zip(reference, output):
        x = np.asarray(ref, np.float64)
        yield x, np.asarray(out, np.float64).reshape(x.shape)
