"""Option models of system keys that are mappings (``mcs``, ``transmission``, ``training``).

Kept apart from the systems, and free of TensorFlow, so that the registry can
check a scenario's nested keys before TensorFlow is imported (see
:mod:`linksim.registry`).
"""
from typing import Annotated, Literal

import pydantic

from ..registry import Checked, Spec

_STRICT = pydantic.ConfigDict(extra="forbid", allow_inf_nan=False)


class MCSSpec(pydantic.BaseModel):
    """One modulation and coding scheme: registry specs of a ``code`` and a ``modulation``."""
    model_config = _STRICT
    code: Spec("code")
    modulation: Spec("modulation")


class MCSChoice(pydantic.BaseModel):
    """A fixed MCS (``code`` + ``modulation``) or a ``table`` with a per-SNR selection rule.

    ``select: bler``: at each SNR, the MCS with the most information bits per
    sample whose frame error rate, measured on ``calibration_frames`` frames of
    random bits, is at most ``bler_target`` (the most robust MCS when none is).
    ``select: metric``: the MCS with the best mean task metric (PSNR, BLEU or
    WER) on ``calibration_frames`` samples of the data set's *training* split.
    """
    model_config = _STRICT
    code: Spec("code") | None = None
    modulation: Spec("modulation") | None = None
    table: list[MCSSpec] | None = pydantic.Field(None, min_length=1, max_length=64)
    select: Literal["bler", "metric"] = "bler"
    bler_target: float = pydantic.Field(0.1, gt=0, lt=1)
    calibration_frames: int = pydantic.Field(100, ge=1, le=100_000)

    @pydantic.model_validator(mode="after")
    def _fixed_or_table(self):
        fixed = self.code is not None or self.modulation is not None
        if (self.table is None) == (self.code is None or self.modulation is None) or \
                (self.table is not None and fixed):
            raise ValueError("give either 'code' and 'modulation' (a fixed MCS) or a 'table' "
                             "of them, not both")
        return self


class Training(pydantic.BaseModel):
    """Training settings (``training:`` in a system, defaults from the scenario's ``train:``).

    ``snr_db``: training Es/N0 in dB, fixed or ``[lo, hi]`` drawn uniformly per
    sample (``snr_draw: sample``) or per batch. ``train_samples``: first N of the
    train split (None = all). ``validation_split``: tail fraction of those held
    out for validation (the monitored loss is ``val_loss``; with 0, ``loss``).

    Convergence (:mod:`linksim.sim.train`): ``epochs`` is the maximum; training
    stops early when the monitored loss has not improved by a relative
    ``min_delta`` for ``patience`` epochs (None: never), and the best epoch's
    weights are kept. ``lr_schedule``: ``plateau`` multiplies the learning rate
    by ``lr_factor`` after ``lr_patience`` epochs without improvement (not below
    ``min_learning_rate``); ``cosine`` decays it from ``learning_rate`` to
    ``min_learning_rate`` over ``epochs``; ``constant`` keeps it.
    """
    model_config = _STRICT
    epochs: int = pydantic.Field(10, ge=1, le=100_000)
    batch_size: int = pydantic.Field(64, ge=1, le=1_000_000)
    learning_rate: float = pydantic.Field(1e-3, gt=0, le=1e3, allow_inf_nan=False)
    snr_db: (pydantic.confloat(ge=-100, le=100, allow_inf_nan=False)
             | tuple[pydantic.confloat(ge=-100, le=100, allow_inf_nan=False),
                     pydantic.confloat(ge=-100, le=100, allow_inf_nan=False)]) = 10.0
    snr_draw: Literal["sample", "batch"] = "sample"
    train_samples: int | None = pydantic.Field(None, ge=1, le=100_000_000)
    validation_split: float = pydantic.Field(0.1, ge=0, lt=1)
    patience: int | None = pydantic.Field(6, ge=1, le=100_000)
    min_delta: float = pydantic.Field(1e-3, ge=0, lt=1)
    lr_schedule: Literal["plateau", "cosine", "constant"] = "plateau"
    lr_factor: float = pydantic.Field(0.5, gt=0, lt=1)
    lr_patience: int = pydantic.Field(2, ge=1, le=100_000)
    min_learning_rate: float = pydantic.Field(1e-5, ge=0, le=1e3, allow_inf_nan=False)

    @pydantic.model_validator(mode="after")
    def _min_below_start(self):
        if self.min_learning_rate > self.learning_rate:
            raise ValueError(f"min_learning_rate {self.min_learning_rate} is above "
                             f"learning_rate {self.learning_rate}")
        return self


class Transmission(pydantic.BaseModel):
    """How features go on the air (``transmission:`` in YAML; a bare mode name also works).

    ``bits``: per-element quantizer bits (``quantized``). ``codebook_size`` (a power
    of two), ``codeword_dim``, ``commitment``: the VQ codebook (``digital``);
    ``code`` (a registry code spec, None = uncoded) and ``modulation`` (a
    registry modulation spec, default 16-QAM) carry the index bits.
    """
    model_config = _STRICT
    mode: Literal["analog", "quantized", "digital"] = "analog"
    bits: int = pydantic.Field(8, ge=1, le=16)
    codebook_size: int = pydantic.Field(256, ge=2, le=2 ** 16)
    codeword_dim: int = pydantic.Field(2, ge=1, le=4096)
    commitment: float = pydantic.Field(0.25, ge=0, le=1e3)
    code: Spec("code") | None = None
    modulation: Spec("modulation") = {"name": "qam", "bits_per_symbol": 4}


def _mode_name(value):
    return {"mode": value} if isinstance(value, str) else value


class DigitalTransmission(Transmission):
    """:class:`Transmission` of a system that only sends codebook indices (U-DeepSC):
    ``mode: digital``, 16-QAM with hard (max-log) demapping by default."""

    mode: Literal["digital"] = "digital"
    modulation: Spec("modulation") = {"name": "qam", "bits_per_symbol": 4, "demapping": "maxlog"}


# The annotations learned systems give their ``transmission`` and ``training`` keys.
TransmissionOption = Checked(Transmission, coerce=_mode_name)
DigitalTransmissionOption = Checked(DigitalTransmission, coerce=_mode_name)
TrainingOption = Checked(Training)


def _four_widths(value):
    if isinstance(value, tuple) and len(value) != 4:
        raise ValueError(f"{list(value)} has {len(value)} widths; allowed: one int F "
                         "(F/2, F, F, F) or 4 ints")
    return value


# Deep JSCC's encoder widths, checked with the scenario (before TensorFlow starts).
FilterWidths = Annotated[pydantic.conint(ge=2, le=1024)
                         | tuple[pydantic.conint(ge=1, le=1024), ...],
                         pydantic.AfterValidator(_four_widths)]


class TaskOptions(pydantic.BaseModel):
    """One task of a multi-task learned system: its data set, test split and image patch size.

    ``patch_size``: side of the square image patches a Transformer encoder cuts
    (it must divide the image's height and width; unused for text).
    """

    model_config = pydantic.ConfigDict(extra="forbid")
    dataset: Spec("dataset")
    test_samples: int = pydantic.Field(500, ge=1, le=1_000_000)
    test_offset: int = pydantic.Field(0, ge=0)
    patch_size: int = pydantic.Field(4, ge=1, le=64)
