"""H.265 / HEVC (libx265 through PyAV, constant QP) for frame sequences and single images.

x265's parameter sets do not depend on the QP (the slice header carries
it), so the payload is the coded slices alone with VPS/SPS/PPS pre-agreed;
the encoder checks this for every sample. For single images
:mod:`~linksim.sources.codecs.hevc_intra` is the BPG-like variant through
libheif. x265 needs frames of at least 16x16: smaller inputs are padded.
``header_bytes`` is dominated by x265's SEI option string (2266 bytes).

Measured (PyAV 18.1, x265 preset medium, 4:2:0; same content as in
:mod:`~linksim.sources.codecs.h264`):

==================  ==  =======  ============  =========
sample              QP  payload  header bytes  PSNR (dB)
==================  ==  =======  ============  =========
28x28 gray          45  44       2352          26.2
28x28 gray          30  153      2352          37.7
28x28 gray          10  474      2352          53.5
32x32 RGB           45  101      2353          21.5
32x32 RGB           30  358      2353          28.2
32x32 RGB           10  1032     2353          31.2
8 x 32x32 RGB       45  238      2360          19.9
8 x 32x32 RGB       30  616      2360          27.2
8 x 32x32 RGB       10  1933     2360          30.8
==================  ==  =======  ============  =========
"""
from typing import Literal

from ...registry import register
from .video import Preset, VideoCodec


@register("codec", "h265")
class H265(VideoCodec):
    """H.265 (libx265, constant QP 51..0); payload = slices, VPS/SPS/PPS pre-agreed.

    Samples: video [T, H, W, C] or image [H, W, C], C in {1, 3}, float in
    [0, 1] or uint8; decoded as float32 in [0, 1].

    Parameters
    ----------
    chroma : "420" | "444"
        Chroma subsampling of RGB input; grayscale is coded as 4:0:0.
    preset : str
        x265 speed/efficiency preset.
    """

    encoder, decoder = "libx265", "hevc"
    parameter_set_types = range(32, 35)
    slice_types = range(0, 32)
    min_size = 16

    def __init__(self, *, chroma: Literal["420", "444"] = "420", preset: Preset = "medium"):
        super().__init__(chroma=chroma, preset=preset)

    @staticmethod
    def nal_type(nal):
        return (nal[0] >> 1) & 0x3F

    def options(self, quality):
        return {"qp": str(quality), "preset": self.preset, "x265-params": "log-level=none"}
