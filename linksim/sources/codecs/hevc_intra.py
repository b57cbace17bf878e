"""HEVC intra pictures from libheif's x265 encoder (pillow-heif): the codec inside BPG and HEIF.

The transmitter encodes a HEIF file with pillow-heif, takes the parameter
sets from the ``hvcC`` box and the coded picture from ``mdat``, and sends
only the slice NAL units (3-byte start codes between them, none before the
first). The receiver prepends VPS/SPS/PPS taken from an encoding of a blank
image with the same shape and chroma (they do not depend on the quality; the
encoder checks this for every sample) and decodes the Annex B stream with
libavcodec's HEVC decoder through PyAV.

Grayscale images ([H, W] or [H, W, 1]) are coded as monochrome 4:0:0; RGB
as full-range BT.601 YCbCr, 4:2:0 by default as in BPG, which caps the PSNR
of chroma-rich small images (about 31.5 dB on 32x32 ``astronaut()`` even at
quality 100; 47 dB with 4:4:4). libheif pads pictures smaller than 64x64 to
64x64 (edge-replicated, cropped by a ``clap`` box); the padding costs a few
bytes and is cropped again at the receiver.

Measured (pillow-heif 1.8.1, libheif 1.23.6, x265 4.3; ``camera()`` resized
to 28x28 gray, ``astronaut()`` resized to 32x32 RGB; header = file - payload,
which includes the VPS+SPS+PPS of 67 bytes gray / 72 bytes RGB 4:2:0):

=================  =======  ==========  =======  ============  =========
image              quality  file bytes  payload  header bytes  PSNR (dB)
=================  =======  ==========  =======  ============  =========
28x28 gray         0        457         43       414           20.1
28x28 gray         10       466         52       414           22.0
28x28 gray         30       513         99       414           28.3
28x28 gray         50       630         216      414           37.0
28x28 gray         70       770         356      414           46.0
28x28 gray         90       1000        586      414           53.6
32x32 RGB 4:2:0    0        479         58       421           16.1
32x32 RGB 4:2:0    10       493         72       421           18.0
32x32 RGB 4:2:0    30       624         203      421           24.1
32x32 RGB 4:2:0    50       867         446      421           28.9
32x32 RGB 4:2:0    70       1205        784      421           31.1
32x32 RGB 4:2:0    90       1572        1151     421           31.5
=================  =======  ==========  =======  ============  =========
"""
import io
from typing import Literal

import numpy as np
import pillow_heif
from PIL import Image

from ...registry import register
from .base import Codec, to_uint8, to_unit_float
from .video import START_CODE, decode_frames, frame_pixels, join_nals


def _boxes(data, start, end):
    """ISOBMFF boxes in ``data[start:end]`` -> {type: (content start, content end)}, first of each."""
    boxes = {}
    while start + 8 <= end:
        size = int.from_bytes(data[start:start + 4], "big")
        kind = data[start + 4:start + 8].decode("latin-1")
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[start + 8:start + 16], "big"), 16
        elif size == 0:
            size = end - start
        boxes.setdefault(kind, (start + header, start + size))
        start += size
    return boxes


def _hevc_from_heif(heif):
    """HEIF file with one HEVC image -> (parameter-set NAL units, picture NAL units)."""
    top = _boxes(heif, 0, len(heif))
    meta_start, meta_end = top["meta"]
    meta = _boxes(heif, meta_start + 4, meta_end)  # meta is a full box: skip version/flags
    ipco = _boxes(heif, *_boxes(heif, *meta["iprp"])["ipco"])
    start, end = ipco["hvcC"]
    config = heif[start:end]
    length_size = (config[21] & 3) + 1
    parameter_sets, i = [], 23
    for _ in range(config[22]):
        count = int.from_bytes(config[i + 1:i + 3], "big")
        i += 3
        for _ in range(count):
            size = int.from_bytes(config[i:i + 2], "big")
            parameter_sets.append(config[i + 2:i + 2 + size])
            i += 2 + size
    start, end = top["mdat"]
    picture = []
    while start < end:
        size = int.from_bytes(heif[start:start + length_size], "big")
        picture.append(heif[start + length_size:start + length_size + size])
        start += length_size + size
    if start != end:
        raise RuntimeError("mdat holds more than one length-prefixed HEVC picture")
    return parameter_sets, picture


@register("codec", "hevc_intra")
class HEVCIntra(Codec):
    """HEVC intra (x265 via libheif, as in BPG/HEIF); payload = slice NAL units, parameter sets pre-agreed.

    Samples are images [H, W], [H, W, 1] or [H, W, 3], float in [0, 1] or
    uint8; decoded samples are float32 in [0, 1] with the pre-agreed shape.
    Qualities are libheif's 0..100.

    Parameters
    ----------
    chroma : "420" | "444"
        Chroma format of RGB images; grayscale images are coded as 4:0:0.
    """

    qualities = range(0, 101)

    def __init__(self, *, chroma: Literal["420", "444"] = "420"):
        self.chroma = chroma
        self._parameter_sets = {}

    def _heif(self, pixels, quality):
        if pixels.ndim == 3 and pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        if pixels.ndim != 2 and not (pixels.ndim == 3 and pixels.shape[-1] == 3):
            raise ValueError(f"hevc_intra encodes [H, W], [H, W, 1] or [H, W, 3] images, got "
                             f"shape {pixels.shape}")
        buffer = io.BytesIO()
        pillow_heif.from_pillow(Image.fromarray(pixels)).save(buffer, quality=quality,
                                                              chroma=self.chroma)
        return buffer.getvalue()

    def _reference(self, shape):
        shape = tuple(shape)
        if shape not in self._parameter_sets:
            blank = np.zeros(shape, np.uint8)
            self._parameter_sets[shape] = _hevc_from_heif(self._heif(blank, self.qualities[0]))[0]
        return self._parameter_sets[shape]

    def _encode(self, sample, quality):
        pixels = to_uint8(sample)
        heif = self._heif(pixels, quality)
        parameter_sets, picture = _hevc_from_heif(heif)
        if parameter_sets != self._reference(pixels.shape):
            raise RuntimeError("x265 wrote parameter sets that differ from the pre-agreed "
                               "ones; the payload would not decode")
        # Keep coded slices only (NAL types 0..31): SEI and other non-VCL units are not needed.
        slices = [nal for nal in picture if (nal[0] >> 1) & 0x3F < 32]
        return START_CODE.join(slices), len(heif)

    def _decode(self, body, *, quality, shape):
        stream = join_nals(self._reference(shape)) + START_CODE + body
        frames = decode_frames("hevc", stream)
        if not frames:
            return None
        channels = shape[-1] if len(shape) == 3 else 1
        pixels = frame_pixels(frames[0], (shape[0], shape[1], channels))
        return to_unit_float(pixels).reshape(shape)
