"""Baseline JPEG (Pillow / libjpeg) with an abbreviated-JPEG payload.

The payload is one quality byte followed by the entropy-coded scan data; SOI,
APP0 (JFIF), DQT, SOF, DHT, SOS and EOI are pre-agreed. The receiver rebuilds
them from an encoding of a blank reference image with the same shape,
quality and chroma subsampling, and the encoder checks that its own header is
byte-identical, so the rebuilt file is exactly the transmitted one.

Huffman tables: ``optimize=False`` (the standard tables of JPEG Annex K), so
the tables depend on nothing but the configuration. ``optimize=True`` builds
per-image tables that would have to travel with every sample, and on small
images they cost more than they save. Measured (Pillow 13, libjpeg-turbo) on
``skimage.data.camera()`` resized to 28x28 grayscale, scan + DHT bytes:
standard tables 35 / 148 / 480 bytes at quality 5 / 50 / 95, optimized
tables 29+54 / 144+69 / 449+76. On ``astronaut()`` resized to 32x32 RGB
(4:2:0): standard 69 / 267 / 909, optimized 57+106 / 261+123 / 826+140.

Measured sizes (payload includes the quality byte; header = file - payload):

=================  =======  ==========  =======  ============  =========
image              quality  file bytes  payload  header bytes  PSNR (dB)
=================  =======  ==========  =======  ============  =========
28x28 gray         5        365         36       329           22.9
28x28 gray         25       429         100      329           28.7
28x28 gray         50       478         149      329           31.1
28x28 gray         75       549         220      329           33.9
28x28 gray         95       810         481      329           43.2
32x32 RGB 4:2:0    5        694         70       624           18.1
32x32 RGB 4:2:0    25       815         191      624           23.0
32x32 RGB 4:2:0    50       892         268      624           24.3
32x32 RGB 4:2:0    75       1037        413      624           26.8
32x32 RGB 4:2:0    95       1534        910      624           31.8
=================  =======  ==========  =======  ============  =========
"""
import io
from typing import Literal

import numpy as np
from PIL import Image

from ...registry import register
from .base import Codec, to_uint8, to_unit_float

_SOS = 0xDA
_EOI = b"\xff\xd9"


def _split(jfif):
    """Split a baseline JPEG file into (SOI .. end of the SOS segment, scan data without EOI)."""
    i = 2
    while True:
        marker = jfif[i + 1]
        i += 2 + int.from_bytes(jfif[i + 2:i + 4], "big")
        if marker == _SOS:
            return jfif[:i], jfif[i:-len(_EOI)]


@register("codec", "jpeg")
class JPEG(Codec):
    """Baseline JPEG (libjpeg, standard Huffman tables); payload = quality byte + scan data.

    Samples are images of shape [H, W], [H, W, 1] or [H, W, 3], float in
    [0, 1] or uint8; decoded samples are float32 in [0, 1] with the
    pre-agreed shape. Qualities are Pillow's 1..95.

    Parameters
    ----------
    chroma : "420" | "444"
        Chroma subsampling of RGB images; grayscale images have none.
    """

    qualities = range(1, 96)
    signals_quality = True

    def __init__(self, *, chroma: Literal["420", "444"] = "420"):
        self.chroma = chroma
        self._headers = {}

    def _file(self, pixels, quality):
        if pixels.ndim == 3 and pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        if pixels.ndim != 2 and not (pixels.ndim == 3 and pixels.shape[-1] == 3):
            raise ValueError(f"jpeg encodes [H, W], [H, W, 1] or [H, W, 3] images, got shape "
                             f"{pixels.shape}")
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=quality, optimize=False,
                                     subsampling="4:2:0" if self.chroma == "420" else "4:4:4")
        return buffer.getvalue()

    def _header(self, shape, quality):
        key = (tuple(shape), quality)
        if key not in self._headers:
            self._headers[key] = _split(self._file(np.zeros(shape, np.uint8), quality))[0]
        return self._headers[key]

    def _encode(self, sample, quality):
        pixels = to_uint8(sample)
        jfif = self._file(pixels, quality)
        header, scan = _split(jfif)
        if header != self._header(pixels.shape, quality):
            raise RuntimeError("libjpeg wrote a content-dependent header; an abbreviated "
                               "payload would not decode")
        return scan, len(jfif)

    def _decode(self, body, *, quality, shape):
        jfif = self._header(shape, quality) + body + _EOI
        with Image.open(io.BytesIO(jfif), formats=["JPEG"]) as image:
            pixels = np.asarray(image)
        return to_unit_float(pixels.reshape(shape))
