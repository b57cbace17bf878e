"""Name -> factory, for everything a scenario file can name.

A factory is a class or function whose arguments are all keyword-only and
annotated. Its signature *is* the YAML schema: the annotations and defaults
become a pydantic model that rejects unknown keys, so a component is
documented, validated and listed (``linksim list``) from one place.
Arguments the framework supplies (the channel object a system runs over, the
data source, ...) are passed as ``context`` and are not YAML keys.

Components are found without importing them: every module of the package is
parsed with :mod:`ast` for ``@register(kind, name)`` decorators, and the
options model is made from the factory's signature as written (annotations
evaluated in a namespace of typing names and the module's light imports,
defaults from their source). A scenario is therefore checked in well under a
second, before TensorFlow is imported; a component's module is imported only
when the component is built. A new component is one new file, nothing else.
Names an annotation uses must come from light modules (typing, pydantic,
:mod:`linksim.systems.options`, this module), never from modules that import
TensorFlow: ``tests/test_fuzz_inputs.py`` checks that.
"""
import ast
import builtins
import dataclasses
import difflib
import functools
import importlib
import inspect
import pathlib
import reprlib
import textwrap
import typing
from typing import Annotated, Any

import pydantic
import pydantic_core

from .errors import ScenarioError

KINDS = ("channel", "code", "modulation", "receiver", "system", "dataset", "codec", "scorer")

# The argument the framework passes to factories that declare it (a
# :class:`~linksim.systems.context.Context`); never a YAML key.
CONTEXT = ("context",)

_PACKAGE = pathlib.Path(__file__).resolve().parent
_EMPTY = object()
_LOADED = {}  # (kind, name) -> the factory, filled by @register when its module is imported
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = 4
_SHORT.maxlevel = 2


def register(kind, name):
    """Class/function decorator that makes a factory findable by ``name`` from YAML.

    Discovery reads the decorator from the source (see the module docstring);
    at import time it hands the factory object to its :class:`Entry`.
    """
    if kind not in KINDS:
        raise KeyError(f"unknown registry kind {kind!r}")

    def wrap(factory):
        _LOADED[kind, name] = factory
        return factory
    return wrap


# ------------------------------------------------------------------ static discovery


class _Module:
    """The top-level names of one module of the package, read from its source."""

    def __init__(self, name):
        self.name = name
        parts = name.split(".")[1:]
        path = _PACKAGE.joinpath(*parts)
        self.is_package = path.is_dir()
        self.path = path / "__init__.py" if self.is_package else path.with_suffix(".py")
        self.tree = ast.parse(self.path.read_text(encoding="utf-8"), str(self.path))
        self.values = {}   # name -> expression node (aliases such as Fading = Literal[...])
        self.imports = {}  # name -> (module, attribute)
        self.defined = set()
        for node in self.tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.values[target.id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                    and node.value is not None:
                self.values[node.target.id] = node.value
            elif isinstance(node, ast.ImportFrom):
                source = self._absolute(node)
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name.split(".")[0]] = \
                        (alias.name if alias.asname else alias.name.split(".")[0], None)
            elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                self.defined.add(node.name)

    def _absolute(self, node):
        if not node.level:
            return node.module
        package = self.name.split(".")
        if not self.is_package:
            package = package[:-1]
        base = package[:len(package) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))


@functools.cache
def _module(name):
    return _Module(name)


class _Namespace(dict):
    """Names of a module as ``eval`` sees them, resolved on first use without importing it.

    An alias assigned in the module (or imported from another module of the
    package) is evaluated from its source; a class or function is taken from
    its (light) module by importing that module.
    """

    _BUILTINS = {n: getattr(builtins, n) for n in ("int", "float", "str", "bool", "dict", "list",
                                                     "tuple", "set", "frozenset", "bytes")}

    def __init__(self, module):
        super().__init__(__builtins__={})
        self.module = module

    def __missing__(self, name):
        value = _resolve(self.module, name)
        self[name] = value
        return value


@functools.cache
def _resolve(module_name, name):
    if not module_name.startswith("linksim.") and module_name != "linksim":
        module = importlib.import_module(module_name)  # typing, pydantic, a test module
        if hasattr(module, name):
            return getattr(module, name)
        return _builtin(module_name, name)
    module = _module(module_name)
    if name in module.values:
        return _evaluate(module_name, module.values[name])
    if name in module.imports:
        source, attribute = module.imports[name]
        if attribute is None:
            return importlib.import_module(source)
        if f"{source}.{attribute}".startswith("linksim.") and _is_module(f"{source}.{attribute}"):
            return importlib.import_module(f"{source}.{attribute}")
        return _resolve(source, attribute)
    if name in module.defined:
        return getattr(importlib.import_module(module_name), name)
    return _builtin(module_name, name)


def _builtin(module_name, name):
    if name in _Namespace._BUILTINS:
        return _Namespace._BUILTINS[name]
    raise NameError(f"{module_name}: name {name!r} of a factory signature is not defined")


def _is_module(dotted):
    path = _PACKAGE.joinpath(*dotted.split(".")[1:])
    return path.is_dir() or path.with_suffix(".py").is_file()


def _evaluate(module_name, node):
    code = compile(ast.Expression(node), f"<{module_name}>", "eval")
    return eval(code, _Namespace(module_name))  # noqa: S307 - the package's own source


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One YAML key of a component: its name, type and default (``Parameter.empty``: required)."""
    empty: typing.ClassVar = _EMPTY
    name: str
    annotation: Any
    default: Any


@dataclasses.dataclass(frozen=True, eq=False)
class Entry:
    """A registered component, known from its source; ``factory`` imports its module."""
    kind: str
    name: str
    module: str
    qualname: str
    help: str
    node: ast.AST = dataclasses.field(repr=False)

    @functools.cached_property
    def _parameters(self):
        node = self.node
        if isinstance(node, ast.ClassDef):
            node = next((n for n in node.body
                         if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            if node is None:
                raise TypeError(f"{self.module}.{self.qualname}: a registered class needs its "
                                "own keyword-only __init__")
        args = node.args
        positional = args.posonlyargs + args.args
        if len(positional) > (self.node is not node) or args.vararg or args.kwarg:
            raise TypeError(f"{self.module}.{self.qualname}: factory arguments must be "
                            "keyword-only")
        params = []
        for arg, default in zip(args.kwonlyargs, args.kw_defaults):
            annotation = Any if arg.annotation is None else _evaluate(self.module, arg.annotation)
            value = _EMPTY if default is None else _evaluate(self.module, default)
            params.append(Parameter(arg.arg, annotation, value))
        return tuple(params)

    def parameters(self, context=()):
        """The YAML keys: keyword-only arguments not supplied by the framework."""
        return [p for p in self._parameters if p.name not in context]

    def declares(self, name):
        return any(p.name == name for p in self._parameters)

    @functools.cache
    def options_model(self, context=()):
        fields = {p.name: (p.annotation, ... if p.default is _EMPTY else p.default)
                  for p in self.parameters(context)}
        return pydantic.create_model(
            f"{self.kind}_{self.name}",
            __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True,
                                           validate_default=True, allow_inf_nan=False),
            **fields)

    @property
    def factory(self):
        importlib.import_module(self.module)
        return _LOADED[self.kind, self.name]

    def decorator_arguments(self, decorator):
        """The constant positional arguments of the factory's ``@decorator(...)``, read from
        the source (``@holds("image", "y")`` -> ``("image", "y")``), else None."""
        for node in self.node.decorator_list:
            func = getattr(node, "func", None)
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called == decorator:
                return tuple(ast.literal_eval(a) for a in node.args)
        return None

    def class_constant(self, attribute):
        """A class factory's ``attribute = <literal>``, from its body or, failing that, its
        base classes' in the package (read from the source, like everything here), else None."""
        return _class_constant(self.module, self.node, attribute)


def _class_constant(module_name, node, attribute):
    if not isinstance(node, ast.ClassDef):
        return None
    for statement in node.body:
        if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == attribute for t in statement.targets):
            return ast.literal_eval(statement.value)
    module = _module(module_name)
    for base in node.bases:
        if not isinstance(base, ast.Name):
            continue
        where, name = (module.imports.get(base.id) or (module_name, base.id))
        if where is None or not where.startswith("linksim"):
            continue
        found = next((n for n in _module(where).tree.body
                      if isinstance(n, ast.ClassDef) and n.name == name), None)
        value = _class_constant(where, found, attribute)
        if value is not None:
            return value
    return None


def entry_of(kind, name, factory):
    """An :class:`Entry` for a factory defined outside the package (tests, notebooks).

    Its source is read like the package's; tests add it for their own duration with
    ``monkeypatch.setitem(registry.known(kind), name, entry)``.
    """
    node = ast.parse(textwrap.dedent(inspect.getsource(factory))).body[0]
    _LOADED[kind, name] = factory
    doc = (ast.get_docstring(node) or "").strip()
    return Entry(kind, name, factory.__module__, factory.__qualname__,
                 doc.splitlines()[0] if doc else "", node)


def _decorator(node):
    """(kind, name) of a ``@register("kind", "name")`` decorator, else None."""
    if not (isinstance(node, ast.Call) and len(node.args) == 2 and not node.keywords):
        return None
    func = node.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if called != "register" or not all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                                       for a in node.args):
        return None
    return node.args[0].value, node.args[1].value


@functools.cache
def _discover():
    found = {kind: {} for kind in KINDS}
    for path in sorted(_PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "register(" not in text or path == pathlib.Path(__file__).resolve():
            continue
        parts = path.relative_to(_PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.parse(text, str(path)).body:
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                continue
            for decorator in node.decorator_list:
                if (target := _decorator(decorator)) is None:
                    continue
                kind, name = target
                if kind not in KINDS:
                    raise KeyError(f"{path}: unknown registry kind {kind!r}")
                doc = (ast.get_docstring(node) or "").strip()
                found[kind][name] = Entry(kind, name, module, node.name,
                                          doc.splitlines()[0] if doc else "", node)
    return found


def known(kind):
    """The mutable name -> :class:`Entry` mapping of ``kind``."""
    return _discover()[kind]


def names(kind):
    return sorted(_discover()[kind])


def entries(kind):
    return [_discover()[kind][n] for n in names(kind)]


def suggest(word, choices):
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get(kind, name, *, key):
    known = _discover()[kind]
    if not isinstance(name, str) or name not in known:
        allowed = ", ".join(sorted(known))
        raise ScenarioError(key, f"unknown {kind} {short(name)}{suggest(name, known)}; "
                                 f"allowed: {allowed}")
    return known[name]


# ------------------------------------------------------------------ validation


def short(value):
    """A bounded, one-line repr of a user value for error messages."""
    return _SHORT.repr(value)


def _model_at(model, loc):
    """The pydantic model that owns the key at ``loc`` (for the list of allowed keys)."""
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _unwrap(field.annotation)
    return model if isinstance(model, type) and issubclass(model, pydantic.BaseModel) else None


def _unwrap(annotation):
    """The model inside Optional / list / Annotated, else the annotation itself."""
    for arg in typing.get_args(annotation) or ():
        inner = _unwrap(arg)
        if isinstance(inner, type) and issubclass(inner, pydantic.BaseModel):
            return inner
    return annotation


def _join(path, part):
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else str(part)


def format_validation_error(err, key, model=None):
    """One pydantic error as one line: ``key.path: problem; allowed ...``.

    An unknown key is reported before anything else: a misspelt key also makes the
    key it was meant to be "missing", and the misspelling is what the user must fix.
    """
    errors = err.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [part for part in first["loc"] if not _union_tag(part)]
    if first["type"] == "extra_forbidden" and first["loc"]:
        # The unknown key itself is the user's text (YAML reads "{a: x (b, c)}" as a key
        # "c)"), never a union tag, however it looks.
        loc = [part for part in first["loc"][:-1] if not _union_tag(part)] + [first["loc"][-1]]
    path = key
    for part in loc:
        path = _join(path, part)
    if first["type"] == "linksim_nested":
        # A nested spec (a code inside a link system, ...) was checked on its own.
        inner = first["ctx"]["key"]
        if inner:
            path = f"{path}{inner}" if inner.startswith("[") else _join(path, inner)
        return ScenarioError(path, first["ctx"]["message"])
    if first["type"] == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = list(owner.model_fields) if owner is not None else []
        bad = loc[-1]
        return ScenarioError(path, f"unknown key{suggest(bad, allowed)}; allowed keys: "
                                   f"{', '.join(allowed) or 'none'}")
    if first["type"] == "missing":
        return ScenarioError(path, "required key is missing")
    message = first["msg"].replace("\n", " ").removeprefix("Value error, ")
    return ScenarioError(path, f"{short(first['input'])} is not valid: {message}")


# pydantic names the member of a union that failed ('constrained-float', 'str',
# 'tuple[float, float]'); keys never look like that.
_TYPE_NAMES = {"str", "int", "float", "bool", "dict", "list", "tuple", "none"}


def _union_tag(part):
    return isinstance(part, str) and (not part.isidentifier() or part in _TYPE_NAMES)


def nested_error(error):
    """A :class:`ScenarioError` of a nested value as a pydantic error of the enclosing field."""
    return pydantic_core.PydanticCustomError("linksim_nested", "{message}",
                                             {"key": error.key or "", "message": error.message})


def validated(model, data, key=""):
    """``model.model_validate(data)``, its first error as a one-line :class:`ScenarioError`."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        raise format_validation_error(err, key, model) from None


def as_spec(spec, kind, key):
    """``spec`` (a name or ``{name: ..., **options}``) as a mapping with a ``name`` key."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise ScenarioError(key, f"expected a {kind} name or a mapping with a 'name' key, got "
                                 f"{short(spec)}")
    if "name" not in spec:
        misspelt = difflib.get_close_matches("name", [str(k) for k in spec], n=1)
        if misspelt:
            raise ScenarioError(_join(key, misspelt[0]), f"unknown key (did you mean 'name'?); "
                                                         f"'name' is one of "
                                                         f"{', '.join(names(kind))}")
        raise ScenarioError(_join(key, "name"), f"required key is missing; allowed: "
                                                f"{', '.join(names(kind))}")
    return spec


def check(kind, spec, *, key="", context=()):
    """Validate ``spec`` (``name`` or ``{name: ..., **options}``) without building it.

    Only the component's source is read (no import); returns ``(entry, options)``.
    """
    spec = as_spec(spec, kind, key)
    entry = get(kind, spec["name"], key=_join(key, "name"))
    options = {k: v for k, v in spec.items() if k != "name"}
    model = entry.options_model(tuple(context))
    return entry, validated(model, options, key).model_dump()


def _check_nested(kind, context, value):
    try:
        check(kind, value, context=context)
    except ScenarioError as err:
        raise nested_error(err) from None
    return value


def Spec(kind, *, context=()):  # noqa: N802 - used like a type in signatures
    """Annotation of an option that is itself a registry spec of ``kind``.

    The value (``name`` or ``{name: ..., **options}``) is checked against that
    component's schema in the fast pass and handed to the factory unchanged.
    """
    return Annotated[Any, pydantic.AfterValidator(functools.partial(_check_nested, kind,
                                                                    tuple(context)))]


def _check_model(model, coerce, value):
    if coerce is not None:
        value = coerce(value)
    try:
        validated(model, value)
    except ScenarioError as err:
        raise nested_error(err) from None
    return value


def Checked(model, *, coerce=None):  # noqa: N802 - used like a type in signatures
    """Annotation of an option checked against the pydantic ``model`` but passed on as given.

    For mappings a factory validates itself (merged with defaults, ...);
    ``coerce`` maps a shorthand (e.g. a bare mode name) to the mapping first.
    """
    return Annotated[Any, pydantic.AfterValidator(functools.partial(_check_model, model,
                                                                    coerce))]


def build(kind, spec, *, key, context=None):
    """Build a component from ``{name: ..., **options}``.

    ``context`` (a :class:`~linksim.systems.context.Context`) is passed as the
    keyword ``context`` to a factory that declares it. Errors raised by the
    factory for impossible values (``ValueError``) become one-line
    :class:`ScenarioError` at ``key``.
    """
    entry, values = check(kind, spec, key=key, context=CONTEXT)
    if context is not None and entry.declares("context"):
        values["context"] = context
    try:
        return entry.factory(**values)
    except ScenarioError as err:
        if err.key and not err.key.startswith(key):
            err.key = f"{key}.{err.key}"
        raise
    except (ValueError, AssertionError) as err:
        raise ScenarioError(key, str(err).replace("\n", " ")) from None
