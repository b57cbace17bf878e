"""The codec interface: encode to a link payload, decode without ever raising, fit a bit budget.

A *payload* is what a receiver that already knows the codec configuration
(sample shape, tables, parameter sets: agreed once, not per sample) needs to
rebuild one sample. Codecs whose pre-agreed configuration depends on the
quality (JPEG quantisation tables, x264's picture parameter set) prefix the
payload with one byte carrying the quality, so :meth:`Codec.fit` may pick a
different quality per sample; those 8 bits count against the budget.
"""
import dataclasses
from typing import Any, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Encoded:
    """One coded sample.

    Attributes
    ----------
    payload : bytes
        What goes over the link for this sample.
    header_bytes : int
        Bytes a standalone file (container, tables, parameter sets) would add
        on top of ``payload``: ``len(file) - len(payload)``.
    quality : int
        The codec parameter used (JPEG quality, libheif quality, QP, ...).
    """
    payload: bytes
    header_bytes: int
    quality: int

    @property
    def bits(self) -> int:
        """Payload size in bits."""
        return 8 * len(self.payload)


class Codec:
    """Base of all source codecs.

    Subclasses set :attr:`qualities` and implement ``_encode`` and ``_decode``.
    The sample shape is part of the pre-agreed configuration: :meth:`encode`
    records it and :meth:`decode` uses the last one recorded unless ``shape``
    is given.
    """

    #: The data set modality it encodes: ``"image"``, ``"text"`` or ``"speech"``.
    modality = "image"
    #: Allowed quality values, ordered from lowest to highest rate.
    qualities: Sequence[int] = (0,)
    #: Whether the payload starts with one byte carrying the quality.
    signals_quality = False
    #: Whether decoding needs the pre-agreed sample shape (not for text).
    needs_shape = True
    _shape = None

    def encode(self, sample, *, quality: int | None = None) -> Encoded:
        """Encode one sample.

        Parameters
        ----------
        sample
            One sample in the codec's format (see the subclass).
        quality : int | None
            A value of :attr:`qualities`; ``None`` picks the highest.

        Returns
        -------
        Encoded
        """
        quality = self.qualities[-1] if quality is None else quality
        if quality not in self.qualities:
            raise ValueError(f"quality {quality!r} is not one of {self.qualities[0]}.."
                             f"{self.qualities[-1]}")
        body, file_bytes = self._encode(sample, quality)
        payload = bytes([quality]) + body if self.signals_quality else body
        self._shape = np.shape(sample)
        return Encoded(payload=payload, header_bytes=file_bytes - len(payload), quality=quality)

    def decode(self, payload: bytes, *, shape: Sequence[int] | None = None) -> Any:
        """Decode a payload that may have been corrupted by the link.

        Parameters
        ----------
        payload : bytes
            Received payload, possibly truncated or with bit errors.
        shape : sequence of int | None
            Pre-agreed sample shape; ``None`` uses the shape of the last
            encoded sample. Not needed by text codecs.

        Returns
        -------
        sample or None
            ``None`` when the payload cannot be parsed; the caller applies its
            substitution rule. Never raises on corrupted input.
        """
        shape = self._shape if shape is None else tuple(shape)
        if shape is None and self.needs_shape:
            raise RuntimeError("decode needs the pre-agreed sample shape: encode a sample "
                               "first or pass shape=")
        payload = bytes(payload)
        quality = None
        if self.signals_quality:
            if not payload or payload[0] not in self.qualities:
                return None
            quality, payload = payload[0], payload[1:]
        try:
            return self._decode(payload, quality=quality, shape=shape)
        # Corrupted input can trip any parse error inside third-party decoders
        # (OSError, SyntaxError, ValueError, av errors, ...): all mean "undecodable".
        except Exception:
            return None

    def fit(self, sample, *, budget_bits: int) -> Encoded | None:
        """Highest quality whose payload fits ``budget_bits``, by binary search.

        The search keeps the invariant "the lower end fits, the upper end does
        not", so the result always fits even where payload size is not
        monotone in quality (it is then a quality that fits while the next one
        up does not).

        Returns
        -------
        Encoded | None
            ``None`` when even the lowest quality exceeds the budget.
        """
        qualities = list(self.qualities)
        cache = {}

        def encoded(i):
            if i not in cache:
                cache[i] = self.encode(sample, quality=qualities[i])
            return cache[i]

        def fits(i):
            return encoded(i).bits <= budget_bits

        lo, hi = 0, len(qualities) - 1
        if not fits(lo):
            return None
        if fits(hi):
            return encoded(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        return encoded(lo)

    def _encode(self, sample, quality):
        """Return ``(body, file_bytes)``: the payload without the quality byte and
        the size of the equivalent standalone file."""
        raise NotImplementedError

    def _decode(self, body, *, quality, shape):
        """Rebuild a sample from ``body``; may raise on corrupted input."""
        raise NotImplementedError


def to_uint8(image) -> np.ndarray:
    """Float image in [0, 1] (or uint8) -> uint8 in [0, 255], rounded and clipped."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(image.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)


def to_unit_float(image) -> np.ndarray:
    """uint8 image -> float32 in [0, 1]."""
    return np.asarray(image, np.float32) / np.float32(255.0)
