"""Learned building blocks shared by the paper systems (one concept per module).

``complex_symbols``  real <-> complex packing, per-sample power normalization
``quantizers``       uniform quantizer and VQ codebook (Eq. 23 loss, index <-> bits),
                     straight-through gradients
``air``              the learned air interface: analog, quantized or digital over the link
``masks``            monotone noise net (A-MIJSCC N_enc, U-DeepSC delta), decreasing
                     scores and prefix masks
``selection``        Gumbel-softmax keep/drop masks, hierarchical; U-DeepSC's FSM
``importance``       top-B masks of the highest-scoring features (SMSC-FIR)
``embeddings``       image-patch and text-token embeddings with learned positions
``transformer``      attention with a chosen scale and key mask, encoder/decoder layers,
                     task tokens and task queries (U-DeepSC, MFMSC)
``text_encoder``     pretrained MiniLM-L6 text encoder and its tokenizer (KerasHub BERT)
``prefix_channel``   a channel for a per-sample prefix of the symbols
``mutual_information`` Deep-InfoMax critics and the Jensen-Shannon MI estimate

Every layer registers with Keras under :data:`PACKAGE`, so saved models load
whatever module the class lives in.
"""

PACKAGE = "linksim"
