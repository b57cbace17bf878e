"""Linear PCM speech, as in a WAV file's data chunk (16-bit signed or 8-bit offset binary).

``header_bytes`` is the 44-byte canonical WAV header. The receiver knows the
number of samples (pre-agreed shape): a payload with a wrong byte count is
truncated or zero-padded to it.
"""
from typing import Literal

import numpy as np

from ...registry import register
from .base import Codec

_WAV_HEADER_BYTES = 44


@register("codec", "pcm16")
class PCM(Codec):
    """Linear PCM: int16 samples as 16-bit little-endian or truncated to 8 bits; a single quality.

    Samples are int16 arrays of any shape (e.g. [L] mono, [L, C]
    interleaved). Decoded samples are int16 with the pre-agreed shape.

    Parameters
    ----------
    bits : 8 | 16
        16: lossless little-endian int16. 8: the top byte as unsigned
        offset binary (WAV 8-bit), reconstructed at the middle of its step.
    """

    modality = "speech"

    def __init__(self, *, bits: Literal[8, 16] = 16):
        self.bits = bits

    def _encode(self, sample, quality):
        sample = np.asarray(sample)
        if sample.dtype != np.int16:
            raise ValueError(f"pcm16 encodes int16 samples, got {sample.dtype}")
        if self.bits == 16:
            body = sample.astype("<i2").tobytes()
        else:
            body = ((sample.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()
        return body, _WAV_HEADER_BYTES + len(body)

    def _decode(self, body, *, quality, shape):
        count = int(np.prod(shape))
        width = self.bits // 8
        # Missing samples are filled with silence (0x80 is zero in offset binary).
        silence = b"\x00" if self.bits == 16 else b"\x80"
        body = body[:count * width].ljust(count * width, silence)
        if self.bits == 16:
            samples = np.frombuffer(body, "<i2").astype(np.int16)
        else:
            codes = np.frombuffer(body, np.uint8).astype(np.int32)
            samples = ((codes - 128) * 256 + 128).astype(np.int16)
        return samples.reshape(shape)
