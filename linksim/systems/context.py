"""``Context``: what the framework hands every system besides its own YAML keys.

One frozen object per system, made by :func:`linksim.scenario.build`, passed
as the one keyword ``context``; a system's signature lists its YAML keys and
``context``, nothing else. Light (no TensorFlow), because the registry reads
signatures before TensorFlow is imported.
"""
import dataclasses
import pathlib
from typing import Any


@dataclasses.dataclass(frozen=True, kw_only=True)
class Context:
    """The scenario-level settings a system runs under (immutable: assignment raises).

    Attributes
    ----------
    channel : linksim.phy.channel.FlatFadingChannel
        The scenario's channel, shared by every system.
    receiver : linksim.phy.receiver.Receiver
        The system's own ``receiver:`` when it gives one, else the scenario's.
    stop : linksim.scenario.Stop
        When a Monte Carlo point ends; ``stop.batch_size`` samples per batch.
    source : dict | None
        The scenario-level ``source`` data set spec (default of codec systems' ``dataset``).
    train : dict | None
        The scenario-level ``train`` mapping (defaults of learned systems' ``training``).
    seed : int
        The scenario seed.
    checkpoint_dir : pathlib.Path
        Where learned systems keep checkpoints (``<results dir>/checkpoints``).
    key : str
        The system's key path in the scenario (``link``, ``systems[2]``), for error lines.
    """

    channel: Any
    receiver: Any
    stop: Any
    source: Any = None
    train: Any = None
    seed: int = 1
    checkpoint_dir: pathlib.Path = pathlib.Path("checkpoints")
    key: str = "system"
