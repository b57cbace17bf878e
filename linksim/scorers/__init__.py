"""Scorers: what a receiver's output is worth against its reference, one registry entry each.

Every scorer is ``@register("scorer", name)`` in its own module; its keyword
arguments are its options (``linksim list scorer``). Conventional and learned
systems score through the same scorers: ``score(reference, output)`` gives
additive :class:`~linksim.totals.Totals`, ``summarize(totals)`` the metric
columns, each with its 95% interval. See :class:`~.base.Scorer`.
"""
