"""Typed, additive totals: what one batch contributes to an SNR point, summed over batches.

A :class:`Totals` is a dataclass whose every field adds: numbers add, NumPy
arrays add elementwise (e.g. samples sent per MCS of a table), nested totals
add with their own ``+``, and a ``dict`` of totals adds key by key (a key one
side lacks is taken from the other). The Monte Carlo runner therefore only ever
writes ``totals = totals + batch``, and a point's totals are saved in
``points/`` as :meth:`Totals.to_json`.

The generic kinds every scorer and system builds on, each with its 95% interval
(rules in :mod:`linksim.metrics`):

* :class:`MeanTotals`: mean of per-sample values, Student-t interval;
* :class:`RateTotals`: events over independent trials, Wilson interval;
* :class:`RatioTotals`: ``sum(a) / sum(b)`` over samples of unequal size (WER,
  waveform SNR), delta-method interval;
* :class:`SampleTotals`: samples of a point (``blocks``) and the totals of each
  scorer by name, what a system scoring source samples returns.
"""
import dataclasses

import numpy as np

from . import metrics


@dataclasses.dataclass
class Totals:
    """Base of additive totals: ``a + b`` adds every field (see the module docstring)."""

    def __add__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(**{f.name: _add(getattr(self, f.name), getattr(other, f.name))
                             for f in dataclasses.fields(self)})

    def to_json(self):
        """The fields as JSON data (arrays as lists, nested totals as mappings)."""
        return {f.name: _json(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _add(a, b):
    if isinstance(a, dict):
        return {k: a[k] + b[k] if k in a and k in b else a.get(k, b.get(k))
                for k in {**a, **b}}
    return a + b


def _json(value):
    if isinstance(value, Totals):
        return value.to_json()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def with_ci(name, value, interval):
    """Columns of one metric: ``name`` and its interval ``(low, high)`` as ``<name>_ci_low/high``."""
    low, high = interval
    return {name: value, f"{name}_ci_low": low, f"{name}_ci_high": high}


@dataclasses.dataclass
class MeanTotals(Totals):
    """Sum and sum of squares of per-sample values, and their count."""

    count: int = 0
    sum: float = 0.0
    squares: float = 0.0

    @classmethod
    def of(cls, values):
        """Totals of per-sample ``values`` (array [N], summed in float64)."""
        values = np.asarray(values, np.float64)
        return cls(count=int(values.size), sum=float(np.sum(values)),
                   squares=float(np.sum(values ** 2)))

    @property
    def mean(self):
        return self.sum / self.count if self.count else np.nan

    def columns(self, name, *, scale=1.0):
        """``name`` = mean times ``scale`` with its t-interval (NaN below two samples)."""
        low, high = metrics.mean_interval(self.sum, self.squares, self.count)
        return with_ci(name, scale * self.mean, (scale * low, scale * high))


@dataclasses.dataclass
class RateTotals(Totals):
    """Events among independent trials (correct decisions, exact sentences, ...)."""

    events: int = 0
    trials: int = 0

    @property
    def rate(self):
        return self.events / self.trials if self.trials else np.nan

    def columns(self, name):
        """``name`` = events / trials with its Wilson interval."""
        return with_ci(name, self.rate, metrics.wilson_interval(self.events, self.trials))


@dataclasses.dataclass
class RatioTotals(Totals):
    """Per-sample ``a`` and ``b`` of a ratio ``sum(a) / sum(b)``: sums, squares, cross sum."""

    count: int = 0
    numerator: float = 0.0
    denominator: float = 0.0
    numerator_squares: float = 0.0
    denominator_squares: float = 0.0
    cross: float = 0.0

    @classmethod
    def of(cls, a, b):
        """Totals of per-sample numerators ``a`` and denominators ``b`` (arrays [N])."""
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return cls(count=int(a.size), numerator=float(a.sum()), denominator=float(b.sum()),
                   numerator_squares=float(np.sum(a ** 2)),
                   denominator_squares=float(np.sum(b ** 2)), cross=float(np.sum(a * b)))

    @property
    def ratio(self):
        return self.numerator / self.denominator if self.denominator else np.nan

    def interval(self, *, log=False):
        """Delta-method interval of the ratio (:func:`linksim.metrics.ratio_interval`)."""
        return metrics.ratio_interval(
            self.numerator, self.denominator, self.count,
            numerator_squares=self.numerator_squares,
            denominator_squares=self.denominator_squares, cross=self.cross, log=log)

    def columns(self, name):
        """``name`` = the ratio with its delta-method interval, clipped at 0."""
        low, high = self.interval()
        return with_ci(name, self.ratio, (float(np.maximum(0.0, low)), high))


@dataclasses.dataclass
class SampleTotals(Totals):
    """Source samples of a point (``blocks``) and each scorer's totals, by scorer or column name."""

    blocks: int = 0
    scores: dict = dataclasses.field(default_factory=dict)
