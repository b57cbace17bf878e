"""H.264 / AVC (libx264 through PyAV, constant QP) for frame sequences and single images.

The payload is one QP byte followed by the coded slices; x264's picture
parameter set carries the QP (``pic_init_qp``), so the receiver needs it to
pick the pre-agreed SPS/PPS. QP 0 is lossless (High 4:4:4 Predictive).
``header_bytes`` is dominated by x264's SEI option string (625 bytes).

Measured (PyAV 18.1, preset medium, 4:2:0; ``camera()`` resized to 28x28
gray, ``astronaut()`` resized to 32x32 RGB, and 8 frames of it shifted by
one pixel per frame); payload includes the QP byte:

==================  ==  =======  ============  =========
sample              QP  payload  header bytes  PSNR (dB)
==================  ==  =======  ============  =========
28x28 gray          45  52       668           25.2
28x28 gray          30  182      668           37.5
28x28 gray          10  506      668           53.6
32x32 RGB           45  101      666           20.6
32x32 RGB           30  398      666           28.5
32x32 RGB           10  1130     666           31.2
8 x 32x32 RGB       45  234      673           20.0
8 x 32x32 RGB       30  618      673           27.5
8 x 32x32 RGB       10  2114     673           30.8
==================  ==  =======  ============  =========
"""
from typing import Literal

from ...registry import register
from .video import Preset, VideoCodec


@register("codec", "h264")
class H264(VideoCodec):
    """H.264 (libx264, constant QP 51..0); payload = QP byte + slices, SPS/PPS pre-agreed.

    Samples: video [T, H, W, C] or image [H, W, C], C in {1, 3}, float in
    [0, 1] or uint8; decoded as float32 in [0, 1].

    Parameters
    ----------
    chroma : "420" | "444"
        Chroma subsampling of RGB input; grayscale is coded as 4:0:0.
    preset : str
        x264 speed/efficiency preset.
    """

    encoder, decoder = "libx264", "h264"
    parameter_set_types = range(7, 9)
    slice_types = range(1, 6)
    signals_quality = True

    def __init__(self, *, chroma: Literal["420", "444"] = "420", preset: Preset = "medium"):
        super().__init__(chroma=chroma, preset=preset)

    @staticmethod
    def nal_type(nal):
        return nal[0] & 0x1F

    def options(self, quality):
        return {"qp": str(quality), "preset": self.preset}
