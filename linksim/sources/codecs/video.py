"""Raw H.264 / H.265 (Annex B) streams through PyAV, shared by ``h264``, ``h265`` and ``hevc_intra``.

A payload is the coded slices (VCL NAL units) of a stream, separated by
3-byte start codes. Parameter sets (VPS/SPS/PPS) are pre-agreed: the
receiver takes them from an encoding of a blank reference with the same
configuration. SEI (x264/x265 write their full option string, 600..2300
bytes), access unit delimiters and other non-VCL units carry nothing the
decoder needs and are dropped.
"""
from fractions import Fraction
from typing import Literal

import av
import numpy as np

from .base import Codec, to_uint8, to_unit_float

START_CODE = b"\x00\x00\x01"

Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                 "slower", "veryslow"]


def split_nals(stream):
    """Annex B byte stream -> list of NAL units (bytes, without start codes)."""
    # A 4-byte start code leaves a zero on the previous unit; NAL units never
    # end in a zero byte (rbsp_trailing_bits), so stripping is lossless.
    return [nal.rstrip(b"\x00") for nal in stream.split(START_CODE)[1:]]


def join_nals(nals):
    """List of NAL units -> Annex B byte stream."""
    return b"".join(START_CODE + nal for nal in nals)


def decode_frames(decoder, stream):
    """Decode an Annex B stream with libavcodec's ``decoder`` ("h264" or "hevc").

    Returns the frames that decoded (av.VideoFrame, display order). A packet
    the decoder rejects is skipped, as a player conceals a damaged frame.
    """
    context = av.CodecContext.create(decoder, "r")
    frames = []
    for packet in context.parse(stream) + context.parse(None) + [None]:
        try:
            frames.extend(context.decode(packet))
        except av.error.FFmpegError:
            continue
    return frames


def frame_pixels(frame, shape):
    """Decoded frame -> uint8 array [H, W, C] cropped to ``shape`` = (H, W, C), C in {1, 3}."""
    height, width, channels = shape
    if frame.height < height or frame.width < width:
        raise ValueError("decoded frame is smaller than the agreed shape")
    if channels == 1:
        # The luma plane as coded: a gray -> YUV conversion would treat it as
        # limited range, while the encoders were given full-range gray as luma.
        plane = frame.planes[0]
        pixels = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    else:
        pixels = frame.to_ndarray(format="rgb24")
    return pixels[:height, :width].reshape(height, width, channels)


class VideoCodec(Codec):
    """Constant-QP H.264/H.265 through PyAV; base of ``h264`` and ``h265``.

    Samples are videos [T, H, W, C] or single images [H, W, C] with C = 1
    (coded as 4:0:0) or 3 (RGB, coded as YCbCr with ``chroma`` subsampling),
    float in [0, 1] or uint8. Decoded samples are float32 in [0, 1] with the
    pre-agreed shape; missing frames repeat the last decoded one. Qualities
    are QP 51..0 (low to high rate).
    """

    qualities = range(51, -1, -1)
    #: libavcodec encoder and decoder names.
    encoder: str
    decoder: str
    #: NAL unit types of parameter sets and of coded slices.
    parameter_set_types: range
    slice_types: range
    #: Smallest frame height/width the encoder accepts.
    min_size = 2

    def __init__(self, *, chroma, preset):
        self.chroma = chroma
        self.preset = preset
        self._parameter_sets = {}

    @staticmethod
    def nal_type(nal):
        """NAL unit type from the first header byte(s)."""
        raise NotImplementedError

    def options(self, quality):
        """Encoder options (av ``CodecContext.options``) for QP ``quality``."""
        raise NotImplementedError

    def _frames(self, sample):
        video = to_uint8(sample)
        video = video[None] if video.ndim == 3 else video
        if video.ndim != 4 or video.shape[-1] not in (1, 3):
            raise ValueError(f"{self.encoder} encodes [T, H, W, C] or [H, W, C] with C in "
                             f"(1, 3), got shape {np.shape(sample)}")
        # 4:2:0 needs even sizes and encoders have a minimum size; replicated
        # edges are cheap to code and the receiver crops them.
        pad = [(0, 0), (0, self._coded(video.shape[1]) - video.shape[1]),
               (0, self._coded(video.shape[2]) - video.shape[2]), (0, 0)]
        return np.pad(video, pad, mode="edge")

    def _coded(self, size):
        """Coded frame height/width for an input of ``size`` pixels."""
        return max(self.min_size, size + size % 2)

    def _stream(self, video, quality):
        _, height, width, channels = video.shape
        context = av.CodecContext.create(self.encoder, "w")
        context.width, context.height = width, height
        context.pix_fmt = "gray" if channels == 1 else f"yuv{self.chroma}p"
        context.time_base, context.framerate = Fraction(1, 25), Fraction(25)
        context.options = self.options(quality)
        stream = b""
        for t, pixels in enumerate(video):
            frame = av.VideoFrame.from_ndarray(pixels[..., 0] if channels == 1 else pixels,
                                               format="gray" if channels == 1 else "rgb24")
            frame.pts = t
            stream += b"".join(bytes(p) for p in context.encode(frame))
        return stream + b"".join(bytes(p) for p in context.encode(None))

    def _reference(self, frame_shape, quality):
        key = (frame_shape, quality if self.signals_quality else None)
        if key not in self._parameter_sets:
            blank = np.zeros((1,) + frame_shape, np.uint8)
            nals = split_nals(self._stream(blank, quality))
            self._parameter_sets[key] = [n for n in nals
                                         if self.nal_type(n) in self.parameter_set_types]
        return self._parameter_sets[key]

    def _encode(self, sample, quality):
        video = self._frames(sample)
        stream = self._stream(video, quality)
        nals = split_nals(stream)
        sets = [n for n in nals if self.nal_type(n) in self.parameter_set_types]
        if sets != self._reference(video.shape[1:], quality):
            raise RuntimeError(f"{self.encoder} wrote parameter sets that differ from the "
                               "pre-agreed ones; the payload would not decode")
        slices = [n for n in nals if self.nal_type(n) in self.slice_types]
        return START_CODE.join(slices), len(stream)

    def _decode(self, body, *, quality, shape):
        video_shape = (1,) + tuple(shape) if len(shape) == 3 else tuple(shape)
        frames_shape = (self._coded(video_shape[1]), self._coded(video_shape[2]), video_shape[3])
        quality = self.qualities[0] if quality is None else quality
        stream = join_nals(self._reference(frames_shape, quality)) + START_CODE + body
        frames = [frame_pixels(f, video_shape[1:]) for f in decode_frames(self.decoder, stream)]
        if not frames:
            return None
        frames = frames[:video_shape[0]]
        frames += [frames[-1]] * (video_shape[0] - len(frames))
        return to_unit_float(np.stack(frames)).reshape(shape)
