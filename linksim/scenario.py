"""Scenario files: YAML -> validated settings -> systems ready to simulate.

Every mistake becomes one :class:`~linksim.errors.ScenarioError` line naming
the file, the key path, the bad value and what is allowed.
"""
import hashlib
import json
import pathlib
from typing import Literal

import numpy as np
import pydantic
import yaml

from . import registry
from .errors import ScenarioError, UserError

_STRICT = pydantic.ConfigDict(extra="forbid")


class SNRRange(pydantic.BaseModel):
    """Inclusive grid ``start, start+step, ..., stop`` in dB."""
    model_config = _STRICT
    start: float
    stop: float
    step: float = pydantic.Field(gt=0)


class SNR(pydantic.BaseModel):
    """The SNR axis. ``esno``: Es/N0 per complex symbol; ``ebno``: Eb/N0 per information bit."""
    model_config = _STRICT
    definition: Literal["esno", "ebno"] = "esno"
    db: list[float] | SNRRange

    def values(self):
        if isinstance(self.db, SNRRange):
            r = self.db
            count = int(np.floor((r.stop - r.start) / r.step + 1e-9)) + 1
            return [round(r.start + i * r.step, 6) for i in range(max(count, 0))]
        return sorted(float(v) for v in self.db)


class Stop(pydantic.BaseModel):
    """When a Monte Carlo point is done: ``block_errors`` reached or ``max_blocks`` spent.

    ``batch_size`` frames are simulated per step; ``early_stop`` ends an error-rate sweep
    at the first SNR point without a single block error.
    """
    model_config = _STRICT
    block_errors: int = pydantic.Field(100, ge=1)
    max_blocks: int = pydantic.Field(100_000, ge=1)
    batch_size: int = pydantic.Field(1000, ge=1)
    early_stop: bool = True


class Plot(pydantic.BaseModel):
    """How plots are drawn. Default: metric vs SNR, one curve per system.

    ``x``: a dotted key of each system's facts in run.json (e.g. ``settings.n_c`` or
    ``channel_uses_per_sample``) to put on the x axis instead, for sweeps over a system
    parameter; one curve per SNR point (and per ``series`` value when given).
    """
    model_config = _STRICT
    x: str | None = None
    x_label: str | None = None
    series: str | None = None


class Scenario(pydantic.BaseModel):
    """A whole experiment: one channel, receiver and SNR grid shared by every system."""
    model_config = _STRICT
    name: str
    description: str = ""
    seed: int = 1
    snr: SNR
    channel: dict = {"name": "awgn"}
    receiver: dict = {"name": "perfect"}
    stop: Stop = Stop()
    link: dict | None = None
    systems: list[dict] | None = None
    source: dict | None = None
    train: dict | None = None
    plot: Plot = Plot()

    def system_specs(self):
        """The ``systems`` list; a top-level ``link`` is shorthand for one link system."""
        specs = list(self.systems or [])
        if self.link is not None:
            specs.insert(0, {"name": "link", **self.link})
        return specs

    def content_hash(self):
        """Hash of everything that changes a simulated point (not name, text or the SNR list)."""
        data = self.model_dump(exclude={"name", "description", "plot"})
        data["snr"].pop("db")
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _yaml_error_line(err):
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{where}invalid YAML: {problem}"


def load(path, *, seed=None, snr_db=None):
    """Read and validate a scenario file.

    ``seed`` and ``snr_db`` (list of dB values) override the file's values.
    Raises :class:`UserError` / :class:`ScenarioError` with a one-line message.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"{path}: scenario file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"{path}: {_yaml_error_line(err)}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a scenario must be a YAML mapping of keys, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    if seed is not None:
        data["seed"] = seed
    if snr_db is not None:
        data.setdefault("snr", {})
        if not isinstance(data["snr"], dict):
            raise UserError(f"{path}: snr: expected a mapping with 'definition' and 'db'")
        data["snr"]["db"] = list(snr_db)
    try:
        scenario = Scenario.model_validate(data)
    except pydantic.ValidationError as err:
        error = registry.format_validation_error(err, "", Scenario)
        error.file = str(path)
        raise error from None
    if not scenario.system_specs():
        raise ScenarioError("systems", "nothing to simulate: give 'link' or a 'systems' list",
                            file=str(path))
    return scenario


def build(scenario, *, file=None, checkpoint_root="checkpoints"):
    """Channel, receiver and systems of a validated scenario.

    Returns ``(channel, receiver, systems)``. Component errors carry the file name.
    """
    try:
        channel = registry.build("channel", scenario.channel, key="channel")
        receiver = registry.build("receiver", scenario.receiver, key="receiver")
        context = {"channel": channel, "receiver": receiver, "stop": scenario.stop,
                   "source": scenario.source, "train": scenario.train, "seed": scenario.seed,
                   "checkpoint_dir": pathlib.Path(checkpoint_root) / scenario.name}
        systems, labels = [], set()
        for i, spec in enumerate(scenario.system_specs()):
            key = "link" if (scenario.link is not None and i == 0) else \
                f"systems[{i - (scenario.link is not None)}]"
            spec = dict(spec)
            # A system may bring its own receiver (e.g. LS vs perfect CSI on one plot);
            # the channel is always the scenario's, so every system shares the same link.
            own_receiver = spec.pop("receiver", None)
            system_context = {**context, "key": key}
            if own_receiver is not None:
                system_context["receiver"] = registry.build("receiver", own_receiver,
                                                            key=f"{key}.receiver")
            system = registry.build("system", spec, key=key, context=system_context)
            if system.label in labels:
                raise ScenarioError(f"{key}.label", f"duplicate label {system.label!r}; "
                                                    "give each system its own 'label'")
            labels.add(system.label)
            if scenario.snr.definition == "ebno" and system.info_bits_per_channel_use is None:
                raise ScenarioError("snr.definition", f"'ebno' needs information bits per "
                                    f"channel use, which {system.label!r} does not define; "
                                    "use 'esno'")
            systems.append(system)
    except ScenarioError as err:
        err.file = file
        raise
    return channel, receiver, systems
