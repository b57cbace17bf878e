"""Learned (Keras) systems trained and evaluated on linksim's simulated link.

``layers``: power normalization, quantizers and the channel as Keras layers.
``base``: :class:`LearnedSystem`, training, checkpoints and evaluation.
One module per registered system (``deepjscc``, ``mtoc``, ...).
"""
