"""Real source codecs behind one interface (:class:`~linksim.sources.codecs.base.Codec`).

Payloads are what a receiver with a pre-agreed codec configuration needs per
sample: containers, tables and parameter sets are stripped at the transmitter
and re-inserted at the receiver, and ``Encoded.header_bytes`` reports what a
standalone file would add on top.
"""
