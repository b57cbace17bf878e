"""Learned building blocks shared by the paper systems (one concept per module).

``complex_symbols``  real <-> complex packing, per-sample power normalization
``quantizers``       uniform quantizer and VQ codebook, straight-through gradients
``air``              the learned air interface: analog, quantized or digital over the link
``masks``            noise encoder, decreasing scores and prefix masks (A-MIJSCC)
``prefix_channel``   a channel for a per-sample prefix of the symbols
``mutual_information`` Deep-InfoMax critics and the Jensen-Shannon MI estimate

Every layer registers with Keras under :data:`PACKAGE`, so saved models load
whatever module the class lives in.
"""

PACKAGE = "linksim"
