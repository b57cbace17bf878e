"""Name -> factory, for everything a scenario file can name.

A factory is a class or function whose arguments are all keyword-only and
annotated. Its signature *is* the YAML schema: ``build`` turns the annotations
and defaults into a pydantic model that rejects unknown keys, so a component is
documented, validated and listed (``linksim list``) from one place.
Arguments the framework supplies (the channel object a system runs over, the
data source, ...) are passed as ``context`` and are not YAML keys.
"""
import dataclasses
import difflib
import importlib
import inspect
import typing

import pydantic

from .errors import ScenarioError

KINDS = ("channel", "code", "modulation", "receiver", "system", "dataset", "codec")

# Modules that register components. A new component is one new file plus a line here.
MODULES = (
    "linksim.phy.channel",
    "linksim.phy.coding",
    "linksim.phy.modulation",
    "linksim.phy.receiver",
    "linksim.systems.link",
    "linksim.sources.datasets",
    "linksim.sources.codecs.jpeg",
    "linksim.sources.codecs.hevc_intra",
    "linksim.sources.codecs.h264",
    "linksim.sources.codecs.h265",
    "linksim.sources.codecs.utf8",
    "linksim.sources.codecs.pcm16",
    "linksim.systems.conventional",
    "linksim.systems.capacity",
    "linksim.systems.learned.deepjscc",
    "linksim.systems.learned.mtoc",
    "linksim.systems.learned.mijscc",
)

# Arguments the framework passes to factories that declare them; never YAML keys.
CONTEXT = ("channel", "receiver", "stop", "source", "train", "seed", "checkpoint_dir", "key")

_ENTRIES = {kind: {} for kind in KINDS}


@dataclasses.dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    factory: typing.Callable

    @property
    def help(self):
        doc = inspect.getdoc(self.factory) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def parameters(self, context=()):
        """The YAML keys: keyword-only arguments not supplied by the framework."""
        sig = inspect.signature(self.factory)
        return [p for p in sig.parameters.values()
                if p.kind == p.KEYWORD_ONLY and p.name not in context]

    def options_model(self, context=()):
        hints = typing.get_type_hints(self.factory.__init__ if inspect.isclass(self.factory)
                                      else self.factory)
        fields = {}
        for p in self.parameters(context):
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (hints.get(p.name, typing.Any), default)
        return pydantic.create_model(
            f"{self.kind}_{self.name}",
            __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
            **fields)


def register(kind, name):
    """Class/function decorator that makes a factory findable by ``name`` from YAML."""
    if kind not in _ENTRIES:
        raise KeyError(f"unknown registry kind {kind!r}")

    def wrap(factory):
        _ENTRIES[kind][name] = Entry(kind, name, factory)
        return factory
    return wrap


def load_all():
    for module in MODULES:
        importlib.import_module(module)


def names(kind):
    load_all()
    return sorted(_ENTRIES[kind])


def entries(kind):
    load_all()
    return [_ENTRIES[kind][n] for n in sorted(_ENTRIES[kind])]


def suggest(word, choices):
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get(kind, name, *, key):
    load_all()
    if name not in _ENTRIES[kind]:
        allowed = ", ".join(sorted(_ENTRIES[kind]))
        raise ScenarioError(key, f"unknown {kind} {name!r}{suggest(name, _ENTRIES[kind])}; "
                                 f"allowed: {allowed}")
    return _ENTRIES[kind][name]


def format_validation_error(err, key, model=None):
    """First pydantic error as one line: ``key.path: problem; allowed ...``."""
    first = err.errors()[0]
    path = key
    for part in first["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    allowed = list(model.model_fields) if model is not None else []
    if first["type"] == "extra_forbidden":
        bad = first["loc"][-1]
        return ScenarioError(path, f"unknown key{suggest(bad, allowed)}; allowed keys: "
                                   f"{', '.join(allowed) or 'none'}")
    if first["type"] == "missing":
        return ScenarioError(path, "required key is missing")
    return ScenarioError(path, f"{first['input']!r} is not valid: {first['msg']}")


def build(kind, spec, *, key, context=None):
    """Build a component from ``{name: ..., **options}``.

    ``context`` holds framework-supplied arguments; only those the factory
    declares are passed. Errors raised by the factory for impossible values
    (``ValueError``) become one-line :class:`ScenarioError` at ``key``.
    """
    context = context or {}
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise ScenarioError(key, f"expected a mapping with a 'name' key, got {spec!r}")
    if "name" not in spec:
        raise ScenarioError(f"{key}.name", f"required key is missing; allowed: "
                                           f"{', '.join(names(kind))}")
    entry = get(kind, spec["name"], key=f"{key}.name")
    options = {k: v for k, v in spec.items() if k != "name"}
    model = entry.options_model(context)
    try:
        values = model.model_validate(options).model_dump()
    except pydantic.ValidationError as err:
        raise format_validation_error(err, key, model) from None
    declared = {p.name for p in inspect.signature(entry.factory).parameters.values()}
    values.update({k: v for k, v in context.items() if k in declared})
    try:
        return entry.factory(**values)
    except ScenarioError as err:
        if err.key and not err.key.startswith(key):
            err.key = f"{key}.{err.key}"
        raise
    except (ValueError, AssertionError) as err:
        raise ScenarioError(key, str(err).replace("\n", " ")) from None
