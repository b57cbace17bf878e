"""Source codecs: round trips, budget fitting and robustness to corrupted payloads."""
import inspect

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from linksim import registry
from linksim.sources.codecs.h264 import H264
from linksim.sources.codecs.h265 import H265
from linksim.sources.codecs.hevc_intra import HEVCIntra
from linksim.sources.codecs.jpeg import JPEG
from linksim.sources.codecs.pcm16 import PCM
from linksim.sources.codecs.utf8 import UTF8
from linksim.metrics import psnr

GRAY = resize(data.camera(), (28, 28), anti_aliasing=True).astype(np.float32)[..., None]
RGB = resize(data.astronaut(), (32, 32), anti_aliasing=True).astype(np.float32)
VIDEO = np.stack([np.roll(RGB[:16, :16], t, axis=1) for t in range(4)])
TEXT = "Semantic communication sends meaning, not bits. Ünïcödé → ✓. " * 3
SPEECH = (np.random.default_rng(0).standard_normal(1000) * 4000).astype(np.int16)

IMAGE_CODECS = [JPEG, HEVCIntra, H264, H265]


def _psnr(x, y):
    return psnr(x[None], y[None])[0]


def _corruptions(payload, rng):
    """Random bytes, truncations and bit flips of ``payload``."""
    yield b""
    yield rng.integers(0, 256, 2 * len(payload), dtype=np.uint8).tobytes()
    for cut in (1, len(payload) // 2, len(payload) - 1):
        yield payload[:cut]
    bits = np.unpackbits(np.frombuffer(payload, np.uint8))
    for rate in (1e-3, 1e-2, 1e-1):
        for _ in range(4):
            yield np.packbits(bits ^ (rng.random(bits.size) < rate)).tobytes()


@pytest.mark.parametrize("codec_class", [JPEG, HEVCIntra, H264, H265, UTF8, PCM])
def test_constructor_is_a_yaml_schema(codec_class):
    params = list(inspect.signature(codec_class).parameters.values())
    assert all(p.kind == p.KEYWORD_ONLY and p.annotation is not p.empty for p in params)
    entry = next(e for e in registry.entries("codec") if e.factory is codec_class)
    model = entry.options_model()
    assert set(model.model_fields) == {p.name for p in params}


@pytest.mark.parametrize("codec_class, quality, floor_gray, floor_rgb", [
    (JPEG, 95, 42.0, 31.0),
    (HEVCIntra, 90, 50.0, 31.0),
    (H264, 10, 50.0, 30.0),
    (H265, 10, 50.0, 30.0),
])
def test_image_round_trip(codec_class, quality, floor_gray, floor_rgb):
    codec = codec_class()
    for image, floor in ((GRAY, floor_gray), (RGB, floor_rgb)):
        encoded = codec.encode(image, quality=quality)
        decoded = codec.decode(encoded.payload)
        assert decoded.shape == image.shape and decoded.dtype == np.float32
        assert _psnr(image, decoded) > floor
        assert encoded.header_bytes > 0 and encoded.quality == quality


@pytest.mark.parametrize("codec_class", IMAGE_CODECS)
def test_444_lifts_the_chroma_ceiling(codec_class):
    codec = codec_class(chroma="444")
    quality = codec.qualities[-2]
    decoded = codec.decode(codec.encode(RGB, quality=quality).payload)
    assert _psnr(RGB, decoded) > 35.0


@pytest.mark.parametrize("codec_class", [H264, H265])
def test_video_round_trip(codec_class):
    codec = codec_class()
    decoded = codec.decode(codec.encode(VIDEO, quality=10).payload)
    assert decoded.shape == VIDEO.shape
    assert _psnr(VIDEO, decoded) > 30.0
    odd = VIDEO[:, :15, :13]
    assert codec.decode(codec.encode(odd, quality=20).payload).shape == odd.shape


def test_lossless_h264_and_parameter_sets_follow_the_qp_byte():
    codec = H264()
    pixels = (GRAY * 255).round().astype(np.uint8)
    decoded = codec.decode(codec.encode(pixels, quality=0).payload)
    np.testing.assert_array_equal((decoded * 255).round().astype(np.uint8), pixels)
    coarse = codec.encode(GRAY, quality=40)
    assert coarse.payload[0] == 40
    assert _psnr(GRAY, codec.decode(coarse.payload)) > 20.0


def test_decode_shape_and_quality_checks():
    codec = JPEG()
    with pytest.raises(RuntimeError):
        codec.decode(b"\x32")
    gray = codec.encode(GRAY, quality=50).payload
    codec.encode(RGB, quality=50)
    assert codec.decode(gray, shape=GRAY.shape).shape == GRAY.shape
    with pytest.raises(ValueError):
        codec.encode(GRAY, quality=96)


@pytest.mark.parametrize("codec_class", IMAGE_CODECS)
@pytest.mark.parametrize("image", [GRAY, RGB], ids=["gray", "rgb"])
def test_fit_never_exceeds_the_budget(codec_class, image):
    codec = codec_class()
    sizes = {q: codec.encode(image, quality=q).bits for q in codec.qualities}
    smallest = sizes[codec.qualities[0]]
    assert codec.fit(image, budget_bits=smallest - 1) is None
    for budget in np.linspace(smallest, max(sizes.values()) + 8, 12).astype(int):
        encoded = codec.fit(image, budget_bits=int(budget))
        assert encoded.bits <= budget
        position = list(codec.qualities).index(encoded.quality)
        if position + 1 < len(codec.qualities):
            # The next quality up does not fit, or the search would have taken it.
            assert sizes[codec.qualities[position + 1]] > budget
    top = codec.fit(image, budget_bits=max(sizes.values()))
    assert top.quality == codec.qualities[-1]


CORRUPTION_CASES = {
    "jpeg-gray": (JPEG(), GRAY), "jpeg-rgb": (JPEG(), RGB),
    "hevc_intra-gray": (HEVCIntra(), GRAY), "hevc_intra-rgb": (HEVCIntra(), RGB),
    "h264-video": (H264(), VIDEO), "h265-video": (H265(), VIDEO),
    "h264-gray": (H264(), GRAY), "h265-rgb": (H265(), RGB),
    "utf8": (UTF8(), TEXT), "utf8-zlib": (UTF8(compressor="zlib"), TEXT),
    "utf8-lzma": (UTF8(compressor="lzma"), TEXT), "utf8-bz2": (UTF8(compressor="bz2"), TEXT),
    "pcm16": (PCM(), SPEECH), "pcm8": (PCM(bits=8), SPEECH),
}


@pytest.mark.parametrize("case", CORRUPTION_CASES)
def test_corrupted_payloads_never_raise(case):
    codec, sample = CORRUPTION_CASES[case]
    rng = np.random.default_rng(1)
    payload = codec.encode(sample).payload
    for corrupted in _corruptions(payload, rng):
        decoded = codec.decode(corrupted)
        if decoded is None:
            continue
        if isinstance(sample, str):
            assert isinstance(decoded, str)
        else:
            assert decoded.shape == sample.shape
            assert decoded.dtype == (np.int16 if sample.dtype == np.int16 else np.float32)


@pytest.mark.parametrize("compressor", ["none", "zlib", "lzma", "bz2"])
def test_text_round_trip_is_exact(compressor):
    codec = UTF8(compressor=compressor)
    encoded = codec.encode(TEXT)
    assert codec.decode(encoded.payload) == TEXT
    assert codec.fit(TEXT, budget_bits=encoded.bits).payload == encoded.payload
    assert codec.fit(TEXT, budget_bits=encoded.bits - 1) is None
    if compressor != "none":
        assert len(encoded.payload) < len(TEXT.encode())
        assert encoded.header_bytes > 0
        assert codec.decode(encoded.payload[:-3]) is None


def test_raw_text_replaces_invalid_utf8():
    assert UTF8().decode(b"ok\xff") == "ok\ufffd"


def test_pcm_round_trip_and_length_repair():
    codec = PCM()
    encoded = codec.encode(SPEECH)
    assert encoded.payload == SPEECH.astype("<i2").tobytes() and encoded.header_bytes == 44
    np.testing.assert_array_equal(codec.decode(encoded.payload), SPEECH)
    short = codec.decode(encoded.payload[:101])
    np.testing.assert_array_equal(short[:50], SPEECH[:50])
    assert short.shape == SPEECH.shape and not short[51:].any()
    assert codec.decode(encoded.payload + b"\x01\x02\x03").shape == SPEECH.shape


def test_pcm_8_bit_error_is_half_a_step():
    codec = PCM(bits=8)
    encoded = codec.encode(SPEECH)
    assert len(encoded.payload) == SPEECH.size
    error = codec.decode(encoded.payload).astype(np.int32) - SPEECH
    assert np.abs(error).max() <= 128
    assert np.abs(codec.decode(b"")).max() <= 128
