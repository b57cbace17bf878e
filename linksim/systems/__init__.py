"""Systems: what the Monte Carlo runner simulates at every SNR point.

A system composes a transmitter (learned encoder, or codec + FEC + mapper),
the shared channel and receiver, and a task metric.
"""
