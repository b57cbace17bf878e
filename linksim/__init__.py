"""linksim: link-level simulation of learned semantic and conventional systems on Sionna 1.x."""
__version__ = "0.1.0"
