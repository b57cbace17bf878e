"""What data sets and codecs declare, read from their source without importing them.

A data set factory's ``@holds(modality, ...)`` and a codec's ``modality`` are
read through :mod:`linksim.registry`, so a scenario's codec/data pairing is
checked in the schema pass (``linksim validate``: no TensorFlow, no data read)
and again, by the same function, when a codec system is built from Python.
"""
from .. import registry
from ..errors import ScenarioError
from .datasets import Holds


def dataset_holds(name):
    """The :class:`~linksim.sources.datasets.Holds` the data set factory ``name`` declares."""
    modality, *attributes = registry.known("dataset")[name].decorator_arguments("holds")
    return Holds(modality, tuple(attributes))


def codec_modality(name):
    """The modality (``image``, ``text``, ``speech``) the codec ``name`` encodes."""
    return registry.known("codec")[name].class_constant("modality")


def check_codec_source(*, codec, dataset, channel_uses_per_sample, bandwidth_ratio, key,
                       dataset_key):
    """Raise :class:`ScenarioError` unless the codec encodes what the data set holds and the
    channel uses are given one way that the data supports.

    ``codec``, ``dataset``: registry specs (a name or a mapping with ``name``);
    ``key``: the system's key path; ``dataset_key``: where the data set was given
    (``<key>.dataset`` or the scenario's ``source``). Unknown names are left to the
    registry's own error.
    """
    codec_name = registry.as_spec(codec, "codec", f"{key}.codec")["name"]
    dataset_name = registry.as_spec(dataset, "dataset", dataset_key)["name"]
    if codec_name not in registry.known("codec") or dataset_name not in registry.known("dataset"):
        return
    if (channel_uses_per_sample is None) == (bandwidth_ratio is None):
        raise ScenarioError(f"{key}.channel_uses_per_sample", "give exactly one of "
                            "'channel_uses_per_sample' and 'bandwidth_ratio'")
    modality, encodes = dataset_holds(dataset_name).modality, codec_modality(codec_name)
    if encodes != modality:
        allowed = ", ".join(n for n in registry.names("codec") if codec_modality(n) == modality)
        raise ScenarioError(f"{key}.codec", f"{codec_name!r} encodes {encodes}, but the data set "
                            f"{dataset_name!r} holds {modality}; allowed codecs: {allowed}")
    if bandwidth_ratio is not None and modality == "text":
        raise ScenarioError(f"{key}.bandwidth_ratio", "text has no fixed source dimension; "
                            "give 'channel_uses_per_sample'")
