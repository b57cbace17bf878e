"""The interface between a system and the Monte Carlo runner."""
import dataclasses
import types

from .. import registry
from ..errors import ScenarioError


@dataclasses.dataclass(frozen=True)
class Metric:
    """A column of metrics.csv and how to plot it.

    ``log``: plot on a log axis (error rates). ``ci``: names of the columns
    holding the 95% interval, drawn as error bars; by default
    ``<name>_ci_low`` and ``<name>_ci_high``, the columns :func:`linksim.totals.with_ci`
    writes (how each interval is computed: :mod:`linksim.metrics`).
    """

    name: str
    label: str
    log: bool = False
    ci: tuple[str, str] | None = None

    def __post_init__(self):
        if self.ci is None:
            object.__setattr__(self, "ci", (f"{self.name}_ci_low", f"{self.name}_ci_high"))

    def renamed(self, name):
        """This metric written as column ``name``, its interval as ``<name>_ci_low/high``."""
        return dataclasses.replace(self, name=name, ci=None)


class System:
    """Base class of everything a scenario lists under ``systems``.

    Subclasses set ``metrics`` and implement ``run_batch`` and ``summarize``.
    The runner seeds Sionna's generators before every batch from
    (scenario seed, SNR, batch index), so two systems that draw channel
    realizations of the same shape see the same ones.
    """

    metrics: tuple[Metric, ...] = ()
    #: Top-level keys :meth:`describe` adds only once prepared (a model built): ``plot.x``
    #: may name them although the scenario check cannot see them yet.
    later_facts: tuple[str, ...] = ()
    #: The label of the ``systems`` entry this system is one training seed of (``seeds:``,
    #: set by :func:`linksim.scenario.build`); None for a system without ``seeds``.
    seed_of: str | None = None
    #: ``{metric: column}``: the ``metric_names`` key of the system's scenario entry (set by
    #: :meth:`rename_metrics`). Points in ``points/`` keep the system's own names; results
    #: (metrics.csv, run.json, table.md, plots, the progress line) show these metrics under
    #: the new names, through :attr:`reported_metrics` and :meth:`reported`.
    metric_names: types.MappingProxyType = types.MappingProxyType({})
    _metric_names_key = "metric_names"

    def __init__(self, *, label):
        self.label = label

    @property
    def info_bits_per_channel_use(self):
        """Information bits per channel use (for Eb/N0), or None where undefined."""
        return None

    def describe(self):
        """Facts recorded in run.json and the results table (channel uses per sample, ...)."""
        return {}

    def check(self, *, key):
        """Input checks that need more than the keys (data set sizes, ...); called by
        :func:`linksim.scenario.build`, so ``validate`` and ``run`` agree. ``key``: the
        system's key path for :class:`~linksim.errors.ScenarioError`."""

    def prepare(self, *, show_progress=True):
        """Called once before the SNR sweep: a learned system trains here if it has no checkpoint."""

    def run_batch(self, no, *, batch_index):
        """Simulate one batch at noise variance ``no`` (linear N0).

        Returns the batch's :class:`~linksim.totals.Totals` (a subclass with a
        ``blocks`` field: samples or codewords simulated); the runner adds them up.
        """
        raise NotImplementedError

    def finished(self, totals, stop):
        """Whether the point has enough statistics under the scenario's ``stop`` rule."""
        return totals.blocks >= stop.max_blocks

    def summarize(self, totals):
        """Metric columns of one SNR point from its summed totals."""
        raise NotImplementedError

    def rename_metrics(self, names, *, key):
        """Report metrics under other column names: ``names`` is ``{metric: column}``, each
        column checked as a name by the scenario pass; ``key``: its key path for errors.

        Each metric must be the system's own, and a new name must not be a column (value or
        interval) of another of its metrics, under that metric's own name or its new one.
        Called by :func:`linksim.scenario.build` once the system is built.
        """
        own = [m.name for m in self.metrics]
        renamed = {m.name: m.renamed(names[m.name]) for m in self.metrics if m.name in names}
        for metric, name in names.items():
            if metric not in own:
                raise ScenarioError(f"{key}.{metric}", f"system {self.label!r} has no metric "
                                    f"{metric!r}{registry.suggest(metric, own)}; its metrics: "
                                    f"{', '.join(own)}")
            columns = {name, *renamed[metric].ci}
            for other in self.metrics:
                shown = renamed.get(other.name, other)
                if other.name != metric and columns & {other.name, *other.ci, shown.name,
                                                       *shown.ci}:
                    raise ScenarioError(f"{key}.{metric}", f"{name!r} collides with the columns "
                                        f"of metric {other.name!r} of system {self.label!r}; "
                                        f"its metrics: {', '.join(own)}")
        self.metric_names = types.MappingProxyType(dict(names))
        self._metric_names_key = key

    @property
    def reported_metrics(self):
        """``metrics`` as the results show them: renamed by :attr:`metric_names`."""
        return tuple(m.renamed(self.metric_names[m.name]) if m.name in self.metric_names
                     else m for m in self.metrics)

    def reported(self, record):
        """A point's record (or metrics.csv row) with renamed metrics' columns (value and
        interval) under their new names, in the same column order."""
        columns, renamed = {}, {}
        for metric, shown in zip(self.metrics, self.reported_metrics):
            if shown is not metric:
                pairs = dict(zip((metric.name, *metric.ci), (shown.name, *shown.ci)))
                columns |= pairs
                renamed |= dict.fromkeys(pairs.values(), metric.name)
        # Columns that are not metrics (blocks, mcs, ...) are known only now.
        for column in record:
            if column in renamed and column not in columns:
                raise ScenarioError(f"{self._metric_names_key}.{renamed[column]}",
                                    f"{column!r} is also a column that system {self.label!r} "
                                    "writes; choose another name (finished points are kept: "
                                    "rerun after the change)")
        return {columns.get(k, k): v for k, v in record.items()}

    def theory(self, snr_db, definition):
        """Closed-form curves to overlay: {metric: (label, values)}; empty where none exists."""
        return {}

    @staticmethod
    def no_errors(saved):
        """True when a point saw no errors at all, which ends an error-rate sweep early.

        ``saved``: the point's totals as saved in ``points/`` (:meth:`Totals.to_json`).
        """
        return False
