"""Scenario files: YAML -> validated settings -> systems ready to simulate.

Every mistake becomes one :class:`~linksim.errors.ScenarioError` line naming
the file, the key path, the bad value and what is allowed. :func:`load` checks
the whole file, every component's keys included, from the components' source
(see :mod:`linksim.registry`) without importing TensorFlow; :func:`build`
then builds the components, where checks that need them (code sizes, data set
lengths, ...) run.

Input is bounded (``scenarios/README.md``, "Input bounds"): the file size, the
nesting depth, the number of values after YAML aliases are expanded, integers
(|n| < 2**63), floats (finite), SNR values and the number of SNR points.
"""
import dataclasses
import hashlib
import json
import math
import pathlib
import re
from typing import Annotated, Any, Literal

import pydantic
import yaml

from . import registry
from .errors import ScenarioError, UserError
from .sim.results import POINT_KEYS
from .sources.declared import check_codec_source
from .systems.context import Context
from .systems.options import TrainingOption

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_VALUES = 100_000  # YAML nodes after alias expansion (a "billion laughs" file has 10**9)
MAX_INT = 2 ** 63
MAX_SNR_POINTS = 1000
SNR_DB_LIMIT = 100.0
COLUMN_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}(/[A-Za-z0-9][A-Za-z0-9._-]{0,63}){0,3}")

_STRICT = pydantic.ConfigDict(extra="forbid", allow_inf_nan=False)
SNRValue = Annotated[float, pydantic.Field(ge=-SNR_DB_LIMIT, le=SNR_DB_LIMIT)]


class SNRRange(pydantic.BaseModel):
    """Inclusive grid ``start, start+step, ..., stop`` in dB."""
    model_config = _STRICT
    start: SNRValue
    stop: SNRValue
    step: float = pydantic.Field(gt=0)

    @pydantic.model_validator(mode="after")
    def _bounded(self):
        if self.stop < self.start:
            raise ValueError(f"stop {self.stop} is below start {self.start}; the range runs "
                             "upwards from start to stop")
        if (self.stop - self.start) / self.step + 1 > MAX_SNR_POINTS:
            raise ValueError(f"{(self.stop - self.start) / self.step + 1:.3g} points; at most "
                             f"{MAX_SNR_POINTS} (raise step)")
        return self

    def values(self):
        count = int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        return [round(self.start + i * self.step, 6) for i in range(count)]


def _snr_list(values):
    rounded = [round(v, 6) for v in values]
    if len(set(rounded)) != len(rounded):
        twice = next(v for v in rounded if rounded.count(v) > 1)
        raise ValueError(f"{twice:g} dB is listed twice; give each SNR once")
    return values


_SNR_LIST = pydantic.TypeAdapter(
    Annotated[list[SNRValue], pydantic.Field(min_length=1, max_length=MAX_SNR_POINTS),
              pydantic.AfterValidator(_snr_list)],
    config=pydantic.ConfigDict(allow_inf_nan=False))


def _snr_grid(value):
    """``db``: a list or a ``{start, stop, step}`` range, each checked with its own keys."""
    try:
        if isinstance(value, dict):
            return SNRRange.model_validate(value)
        return _SNR_LIST.validate_python(value)
    except pydantic.ValidationError as err:
        model = SNRRange if isinstance(value, dict) else None
        raise registry.nested_error(registry.format_validation_error(err, "", model)) from None


class SNR(pydantic.BaseModel):
    """The SNR axis. ``esno``: Es/N0 per complex symbol; ``ebno``: Eb/N0 per information bit."""
    model_config = _STRICT
    definition: Literal["esno", "ebno"] = "esno"
    db: Annotated[Any, pydantic.AfterValidator(_snr_grid)]

    def values(self):
        if isinstance(self.db, SNRRange):
            return self.db.values()
        return sorted(float(v) for v in self.db)


class Stop(pydantic.BaseModel):
    """When a Monte Carlo point is done: ``block_errors`` reached or ``max_blocks`` spent.

    ``batch_size`` frames are simulated per step; ``early_stop`` ends an error-rate sweep
    at the first SNR point without a single block error.
    """
    model_config = _STRICT
    block_errors: int = pydantic.Field(100, ge=1, le=10 ** 9)
    max_blocks: int = pydantic.Field(100_000, ge=1, le=10 ** 12)
    batch_size: int = pydantic.Field(1000, ge=1, le=1_000_000)
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


def _safe_name(name):
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError("a name is up to 4 parts joined by '/', each letters, digits, '.', "
                         "'_' or '-' (at most 64, not starting with '.', '_' or '-'); results "
                         "go to results/<name>")
    return name


MAX_SEEDS = 100
_SEEDS = pydantic.TypeAdapter(
    Annotated[list[Annotated[int, pydantic.Field(ge=0, lt=2 ** 32)]],
              pydantic.Field(min_length=1, max_length=MAX_SEEDS)])


def _check_seeds(own):
    """``seeds``: distinct training seeds of a system that trains with one."""
    try:
        seeds = _SEEDS.validate_python(own["seeds"])
    except pydantic.ValidationError as err:
        raise registry.nested_error(registry.format_validation_error(err, "seeds")) from None
    if len(set(seeds)) != len(seeds):
        raise ScenarioError("seeds", f"{seeds} repeats a seed; give each seed once")
    name = own.get("name")
    entry = registry.known("system").get(name) if isinstance(name, str) else None
    # Learned systems are the ones with a `training` key.
    if entry is not None and not entry.declares("training"):
        raise ScenarioError("seeds", f"system {name!r} is not trained with a seed; 'seeds' is "
                                     "for learned systems")


#: Keys every ``systems`` entry may carry besides its system's own (``linksim list system``).
ENTRY_KEYS = {
    "receiver": "the system's own receiver spec (default: the scenario's `receiver`)",
    "seeds": "learned systems: a list of training seeds; one system per seed and their mean",
    "metric_names": "`{metric: column}`: results show these metrics (and their `_ci_low`, "
                    "`_ci_high`) under other column names, e.g. a baseline's `psnr` as a "
                    "learned system's `image_reconstruction_psnr`, so that they share a plot",
}


def _check_metric_names(names):
    """``metric_names``: ``{metric: new column name}``, the new names distinct column names.

    Whether each metric exists is checked once the system is built
    (:meth:`~linksim.systems.base.System.rename_metrics`).
    """
    if not isinstance(names, dict):
        raise ScenarioError("metric_names", f"expected a mapping {{metric: new column name}}, "
                                            f"got {registry.short(names)}")
    if len(names) > 64:
        raise ScenarioError("metric_names", f"{len(names)} entries; at most 64")
    taken = {}
    for metric, name in names.items():
        key = f"metric_names.{str(metric)[:40]}"
        if not isinstance(name, str) or not COLUMN_PATTERN.fullmatch(name):
            raise ScenarioError(key, f"{registry.short(name)} is not a column name; allowed: a "
                                     "lower-case letter, then lower-case letters, digits or "
                                     "'_' (at most 64 characters)")
        if name in POINT_KEYS:
            raise ScenarioError(key, f"{name!r} is a column of every row; allowed: any other "
                                     "name")
        if name in taken:
            raise ScenarioError(key, f"{name!r} is also the new name of {taken[name]!r}; give "
                                     "each metric its own column")
        taken[name] = metric


def _check_system(spec):
    """A ``systems`` entry: its own optional :data:`ENTRY_KEYS` and the system's keys."""
    own = dict(spec) if isinstance(spec, dict) else spec
    try:
        if isinstance(own, dict) and "receiver" in own:
            registry.check("receiver", own.pop("receiver"), key="receiver")
        if isinstance(own, dict) and "seeds" in own:
            _check_seeds(own)
            own.pop("seeds")
        if isinstance(own, dict) and "metric_names" in own:
            _check_metric_names(own.pop("metric_names"))
        registry.check("system", own, context=registry.CONTEXT)
    except ScenarioError as err:
        raise registry.nested_error(err) from None
    return spec


def _check_link(spec):
    if spec is not None:
        if not isinstance(spec, dict):
            raise registry.nested_error(ScenarioError("", f"expected a mapping of the link "
                                                          f"system's keys, got "
                                                          f"{registry.short(spec)}"))
        _check_system({"name": "link", **spec})
    return spec


class Scenario(pydantic.BaseModel):
    """A whole experiment: one channel, receiver and SNR grid shared by every system."""
    model_config = _STRICT
    name: Annotated[str, pydantic.AfterValidator(_safe_name)]
    description: str = ""
    seed: int = pydantic.Field(1, ge=0, lt=2 ** 32)
    snr: SNR
    channel: registry.Spec("channel") = {"name": "awgn"}
    receiver: registry.Spec("receiver") = {"name": "perfect"}
    stop: Stop = Stop()
    link: Annotated[Any, pydantic.AfterValidator(_check_link)] = None
    systems: list[Annotated[Any, pydantic.AfterValidator(_check_system)]] | None = None
    source: registry.Spec("dataset") | None = None
    train: TrainingOption | None = None
    plot: Plot = Plot()
    _results_dir: pathlib.Path | None = pydantic.PrivateAttr(None)

    @pydantic.model_validator(mode="after")
    def _codecs_fit_their_data(self):
        """A codec system's codec encodes what its data set holds, from the declarations
        (no data read, no TensorFlow)."""
        for i, spec in enumerate(self.systems or []):
            name = spec.get("name") if isinstance(spec, dict) else None
            entry = registry.known("system").get(name) if isinstance(name, str) else None
            if entry is None or not entry.declares("codec") or "codec" not in spec:
                continue
            dataset = spec.get("dataset")
            if dataset is None and self.source is None:
                continue  # the system's build names the missing data set
            try:
                check_codec_source(
                    codec=spec["codec"], dataset=dataset if dataset is not None else self.source,
                    key=f"systems[{i}]",
                    dataset_key=f"systems[{i}].dataset" if dataset is not None else "source",
                    channel_uses_per_sample=spec.get("channel_uses_per_sample"),
                    bandwidth_ratio=spec.get("bandwidth_ratio"))
            except ScenarioError as err:
                raise registry.nested_error(err) from None
        return self

    def system_specs(self):
        """The ``systems`` list; a top-level ``link`` is shorthand for one link system."""
        specs = list(self.systems or [])
        if self.link is not None:
            specs.insert(0, {"name": "link", **self.link})
        return specs

    @property
    def results_dir(self):
        """Where results and learned systems' checkpoints go: ``--out`` or ``results/<name>``."""
        return self._results_dir or pathlib.Path("results") / self.name

    def content_hash(self):
        """Hash of everything that changes a simulated point (not name, text, the SNR list or
        ``metric_names``: saved points keep each system's own column names)."""
        data = self.model_dump(exclude={"name", "description", "plot"})
        data["snr"].pop("db")
        for spec in [*(data["systems"] or []), data["link"]]:
            if isinstance(spec, dict):
                spec.pop("metric_names", None)
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a bound on nesting, tracking the key path being composed."""

    def __init__(self, text):
        super().__init__(text)
        self.path = []

    def compose_node(self, parent, index):
        part = index.value if isinstance(index, yaml.ScalarNode) else index
        self.path.append(part if isinstance(part, (int, type(None))) else str(part)[:40])
        if len(self.path) > MAX_DEPTH:
            raise ScenarioError(_key(self.path[1:]), f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self.path.pop()


def _key(parts):
    path = ""
    for part in parts:
        if part is None:
            continue
        path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path
                                                                 else str(part))
    return path


_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


def _check_nodes(loader, root):
    """Bounds on the composed YAML graph before anything is built from it.

    Duplicate keys, integers beyond 64 bits, non-finite floats, a mapping or
    list that contains itself (through an alias), nesting and the number of
    values after alias expansion (``MAX_VALUES``; shared aliases are counted
    as often as they are used, as every later consumer would expand them).
    """
    sizes, active = {}, set()

    def visit(node, path):
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise ScenarioError(_key(path), "contains itself (a YAML alias of an enclosing "
                                            "value); aliases may only repeat other values")
        if len(path) > MAX_DEPTH:
            raise ScenarioError(_key(path), f"nested deeper than {MAX_DEPTH} levels "
                                            "(aliases included)")
        size = 1
        active.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, value_node in node.value:
                part = str(key_node.value)[:40] if isinstance(key_node, yaml.ScalarNode) \
                    else "?"
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
                    if (key_node.tag, key_node.value) in seen:
                        raise ScenarioError(_key(path + [part]), "duplicate key; give each key "
                                                                 "once")
                    seen.add((key_node.tag, key_node.value))
                size += visit(key_node, path + [part]) + visit(value_node, path + [part])
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                size += visit(item, path + [i])
        else:
            _check_number(loader, node, path)
        active.discard(id(node))
        if size > MAX_VALUES:
            raise ScenarioError(_key(path), f"more than {MAX_VALUES} values once YAML aliases "
                                            "are expanded; a scenario needs far fewer")
        sizes[id(node)] = size
        return size

    visit(root, [])


def _check_number(loader, node, path):
    if node.tag == _INT:
        digits = node.value.replace("_", "").lstrip("+-")
        if len(digits) > 24 or abs(loader.construct_yaml_int(node)) >= MAX_INT:
            raise ScenarioError(_key(path), f"integer {registry.short(node.value)} is out of "
                                            f"range; allowed: |value| < 2**63")
    elif node.tag == _FLOAT and not math.isfinite(loader.construct_yaml_float(node)):
        raise ScenarioError(_key(path), f"{node.value} is not a finite number")


def _read_yaml(path):
    """The YAML mapping in ``path``, every input bound checked (one-line errors)."""
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a scenario file (.yaml)")
    if not path.is_file():
        raise UserError(f"{path}: scenario file not found")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path}: {size} bytes; a scenario file may have at most "
                        f"{MAX_FILE_BYTES} bytes")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (byte {err.start}); save the scenario as "
                        "UTF-8 YAML") from None
    except OSError as err:
        raise UserError(f"{path}: cannot be read: {err.strerror}") from None
    loader = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is None:
            raise UserError(f"{path}: empty file; a scenario is a YAML mapping of keys")
        _check_nodes(loader, root)
        return loader.construct_document(root)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = (getattr(err, "problem", None) or str(err).splitlines()[0]).replace("\n", " ")
        raise UserError(f"{path}: {where}invalid YAML: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load(path, *, seed=None, snr_db=None, out=None):
    """Read and validate a scenario file, every component's keys included (no TensorFlow).

    ``seed`` and ``snr_db`` (a list of dB values or a ``{start, stop, step}``
    mapping, from ``--snr-db``) override the file's values; ``out`` is the results
    directory (default ``results/<name>``). Raises :class:`UserError` /
    :class:`ScenarioError` with a one-line message naming ``path``.
    """
    path = pathlib.Path(path)
    try:
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise ScenarioError("", f"a scenario must be a YAML mapping of keys, got "
                                    f"{type(data).__name__}")
        # The file name is the default name, made safe for a directory name.
        data.setdefault("name", re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem).strip("._-")
                        or "scenario")
        if seed is not None:
            data["seed"] = seed
        if snr_db is not None:
            snr = data.setdefault("snr", {})
            if not isinstance(snr, dict):
                raise ScenarioError("snr", "expected a mapping with 'definition' and 'db'")
            snr["db"] = snr_db
        scenario = registry.validated(Scenario, data)
        if not scenario.system_specs():
            raise ScenarioError("systems", "nothing to simulate: give 'link' or a 'systems' "
                                           "list")
    except ScenarioError as err:
        if snr_db is not None and err.key.startswith("snr.db"):
            err.key = f"{err.key} (--snr-db)"
        if seed is not None and err.key == "seed":
            err.key = "seed (--seed)"
        err.file = str(path)
        raise
    scenario._results_dir = pathlib.Path(out) if out is not None else None
    return scenario


def build(scenario, *, file=None, checkpoint_root=None):
    """Channel, receiver and systems of a validated scenario.

    Learned systems keep their checkpoints in ``checkpoint_root/<label slug>/``
    (default ``<results dir>/checkpoints``, never the working directory).
    Returns ``(channel, receiver, systems)``. Component errors carry the file name.
    """
    root = pathlib.Path(checkpoint_root) if checkpoint_root is not None \
        else scenario.results_dir / "checkpoints"
    try:
        channel = registry.build("channel", scenario.channel, key="channel")
        receiver = registry.build("receiver", scenario.receiver, key="receiver")
        context = Context(channel=channel, receiver=receiver, stop=scenario.stop,
                          source=scenario.source, train=scenario.train, seed=scenario.seed,
                          checkpoint_dir=root)
        systems, labels = [], set()
        for i, spec in enumerate(scenario.system_specs()):
            key = "link" if (scenario.link is not None and i == 0) else \
                f"systems[{i - (scenario.link is not None)}]"
            spec = dict(spec)
            # A system may bring its own receiver (e.g. LS vs perfect CSI on one plot);
            # the channel is always the scenario's, so every system shares the same link.
            own_receiver = spec.pop("receiver", None)
            metric_names = spec.pop("metric_names", {})
            system_context = dataclasses.replace(context, key=key)
            if own_receiver is not None:
                system_context = dataclasses.replace(system_context, receiver=registry.build(
                    "receiver", own_receiver, key=f"{key}.receiver"))
            for system in _build_seeds(spec, key=key, context=system_context):
                if system.label in labels:
                    raise ScenarioError(f"{key}.label", f"duplicate label {system.label!r}; "
                                                        "give each system its own 'label'")
                labels.add(system.label)
                system.rename_metrics(metric_names, key=f"{key}.metric_names")
                systems.append(_checked(system, scenario, key=key))
    except ScenarioError as err:
        err.file = str(file) if file is not None else err.file
        raise
    return channel, receiver, systems


def _build_seeds(spec, *, key, context):
    """The system of one ``systems`` entry, or with ``seeds: [s1, ...]`` one per training seed,
    labelled ``<label> (seed s)`` (own checkpoint directory) and marked ``seed_of = <label>``."""
    seeds = spec.pop("seeds", None)
    if seeds is None:
        return [registry.build("system", spec, key=key, context=context)]
    label = spec.get("label") or registry.build("system", spec, key=key, context=context).label
    systems = []
    for seed in seeds:
        system = registry.build("system", {**spec, "label": f"{label} (seed {seed})"}, key=key,
                                context=dataclasses.replace(context, seed=seed))
        system.seed_of = label
        systems.append(system)
    return systems


def _checked(system, scenario, *, key):
    """``system`` after the checks that need it built (SNR definition, sizes, plot keys)."""
    if scenario.snr.definition == "ebno" and system.info_bits_per_channel_use is None:
        raise ScenarioError("snr.definition", f"'ebno' needs information bits per "
                            f"channel use, which {system.label!r} does not define; "
                            "use 'esno'")
    system.check(key=key)
    try:
        # The facts run.json records; computing them sizes the frame, which
        # fails where pilots leave no room for data.
        facts = {"label": system.label, **system.describe()}
    except ValueError as err:
        raise ScenarioError(key, str(err).replace("\n", " ")) from None
    _check_plot_keys(scenario.plot, facts, system.later_facts)
    return system


def _check_plot_keys(plot, facts, later_facts):
    """``plot.x`` / ``plot.series`` must name a fact of every system (checked before simulating)."""
    for key, path in (("plot.x", plot.x), ("plot.series", plot.series)):
        if path is None or path.split(".")[0] in later_facts:
            continue
        value = facts
        for part in path.split("."):
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                raise ScenarioError(key, f"system {facts['label']!r} has no fact {path!r}"
                                         f"{registry.suggest(path, facts)}; available: "
                                         f"{', '.join(facts)}")
