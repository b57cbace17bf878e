"""UTF-8 text, raw or through a general-purpose compressor.

Compressed payloads use each compressor's raw stream (no container): raw
DEFLATE instead of the zlib wrapper (2-byte header, 4-byte Adler-32), raw
LZMA2 instead of the .xz container, and bzip2 without its 4-byte ``BZh9``
magic. ``header_bytes`` is what the standard container would add.
"""
import bz2
import lzma
import zlib
from typing import Literal

from ...registry import register
from .base import Codec

_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9}]
_BZ2_MAGIC = b"BZh9"
# Upper bound on decompressed size, so a corrupted stream cannot claim gigabytes.
_MAX_BYTES = 1 << 20


@register("codec", "utf8")
class UTF8(Codec):
    """UTF-8 text, optionally compressed (zlib / lzma / bz2 raw streams); a single quality.

    Samples are ``str``. Decoding replaces invalid UTF-8 sequences with
    U+FFFD; a compressed payload that does not decompress to a complete
    stream decodes to ``None``.

    Parameters
    ----------
    compressor : "none" | "zlib" | "lzma" | "bz2"
        General-purpose compressor applied to the UTF-8 bytes.
    """

    modality = "text"
    needs_shape = False

    def __init__(self, *, compressor: Literal["none", "zlib", "lzma", "bz2"] = "none"):
        self.compressor = compressor

    def _encode(self, sample, quality):
        raw = sample.encode("utf-8")
        if self.compressor == "zlib":
            deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
            body = deflate.compress(raw) + deflate.flush()
            return body, len(zlib.compress(raw, 9))
        if self.compressor == "lzma":
            body = lzma.compress(raw, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
            return body, len(lzma.compress(raw, format=lzma.FORMAT_XZ, filters=_LZMA_FILTERS))
        if self.compressor == "bz2":
            full = bz2.compress(raw, 9)
            return full[len(_BZ2_MAGIC):], len(full)
        return raw, len(raw)

    def _decode(self, body, *, quality, shape):
        if self.compressor == "none":
            return body.decode("utf-8", errors="replace")
        if self.compressor == "zlib":
            decompressor = zlib.decompressobj(-15)
        elif self.compressor == "lzma":
            decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
        else:
            decompressor = bz2.BZ2Decompressor()
            body = _BZ2_MAGIC + body
        raw = decompressor.decompress(body, _MAX_BYTES)
        if not decompressor.eof:
            return None
        return raw.decode("utf-8", errors="replace")
