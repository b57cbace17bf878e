"""Physical layer: channels, FEC, mapping, receivers and the digital link, built on Sionna 1.x.

SNR convention used everywhere in linksim: constellations have unit average
energy (Es = 1) and noise is circularly-symmetric complex Gaussian CN(0, N0),
so Es/N0 = 1/N0 per complex channel use. Eb/N0 is converted with Sionna's
``ebnodb2no`` using information bits per data symbol (pilots not counted), in
one place: :func:`linksim.phy.snr.noise_variance`.
"""
