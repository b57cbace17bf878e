"""Separate source-channel coding on the digital link: codec -> FEC -> QAM, per source sample.

Fairness rule shared with the learned systems: every source sample gets the
same number of channel uses (``channel_uses_per_sample``, or
``bandwidth_ratio`` x source dimensions, the quantity learned systems call
bandwidth ratio), pilots included, and its whole frame is one row of the
:class:`~linksim.phy.link.DigitalLink`, so block fading hits a sample once
and the runner's per-batch seeding gives it the channel realization a learned
system's sample with the same batch position sees.

Bit budget of one sample under an MCS (code with ``k``/``n``, ``m`` bits per
symbol): the largest whole number of codewords ``c`` whose frame
(``ceil(c n / m)`` data symbols plus pilots) fits the channel uses gives
``c k`` information bits; channel uses that cannot carry a whole codeword stay
unused (``channel_uses_used`` in ``describe()``). From these bits the link
layer takes a length field (the payload size in bytes, ``ceil(log2(bytes+1))``
bits, sent through the same FEC and so as corruptible as the payload) and,
with ``failure: mean``, a 24-bit CRC; the codec gets the rest
(``accounting: payload``), or the rest minus the standalone file's headers
(``accounting: with_headers``: those header bytes are sent as known filler and
an error in them makes the sample undecodable).
"""
import dataclasses
import functools
from typing import Annotated, Literal

import numpy as np
import tensorflow as tf
from pydantic import Field
from sionna.phy import config

from .. import registry
from ..errors import ScenarioError
from ..phy.link import DigitalLink
from ..registry import Spec, register
from ..seeding import derive_seed, seeded
from ..sources.declared import check_codec_source
from ..totals import RateTotals, SampleTotals
from .base import Metric, System
from .context import Context
from .options import MCSChoice, MCSSpec
from .tasks import SourceTask

CRC_BITS = 24
# Channel uses one batch may send: beyond this a batch no longer fits in memory.
MAX_BATCH_CHANNEL_USES = 50_000_000


class MCS:
    """A code and a modulation on the shared digital link, sized to whole codewords per frame.

    Parameters
    ----------
    code : linksim.phy.coding.Code
    modulation : linksim.phy.modulation.Modulation
    channel, receiver : the scenario's channel and receiver
    xla : bool
        Compile the link with XLA (falls back to graph mode where a decoder cannot).
    """

    def __init__(self, *, code, modulation, channel, receiver, xla=True):
        self.code = code
        self.modulation = modulation
        self.link = DigitalLink(code=code, modulation=modulation, channel=channel,
                                receiver=receiver)
        self.description = f"{code.description}, {modulation.description}"
        self._xla = xla
        self._step = tf.function(self.link, jit_compile=xla)

    @property
    def info_bits_per_channel_use(self):
        return self.code.rate * self.modulation.bits_per_symbol

    def codewords(self, channel_uses):
        """Most whole codewords whose frame (pilots included) fits ``channel_uses``."""
        count = int(channel_uses * self.modulation.bits_per_symbol // self.code.n)
        while count > 0 and self.link.symbols_per_frame(count)[1] > channel_uses:
            count -= 1
        return count

    def transmit(self, bits, no):
        """bits uint8 [batch, codewords, k] -> decoded bits uint8, same shape; ``no`` linear N0."""
        x = tf.constant(bits, tf.float32)
        no = tf.constant(no, tf.float32)
        try:
            y = self._step(x, no)
        except tf.errors.InvalidArgumentError:
            if not self._xla:
                raise
            # Some Sionna decoders have ops XLA cannot compile; graph mode still runs them.
            self._xla = False
            self._step = tf.function(self.link)
            y = self._step(x, no)
        return y.numpy().astype(np.uint8)


def fit(codec, sample, budget_bits, *, accounting):
    """Best-quality encoding of ``sample`` within ``budget_bits``, or None if none fits.

    ``accounting: with_headers`` charges the standalone file's header bytes too. The
    header size hardly depends on quality: fit with the lowest quality's header, then
    check the chosen file really fits.
    """
    if accounting == "payload":
        return codec.fit(sample, budget_bits=budget_bits)
    lowest = codec.encode(sample, quality=codec.qualities[0])
    encoded = codec.fit(sample, budget_bits=budget_bits - 8 * lowest.header_bytes)
    if encoded is None or encoded.bits + 8 * encoded.header_bytes > budget_bits:
        return None
    return encoded


class CodecSystem(System):
    """What the codec systems (``conventional``, ``capacity_bound``) share: a codec sending the
    samples of a :class:`SourceTask`, each granted ``channel_uses_per_sample`` complex channel
    uses or ``bandwidth_ratio`` x its dimensions."""

    def _use_source(self, *, codec, dataset, channel_uses_per_sample, bandwidth_ratio,
                    accounting, classifier, classifier_train_samples, context):
        """Set the :class:`SourceTask` of the system's ``dataset`` spec, else the scenario's
        ``source``, and the codec, pairing and resources checked. Reads no data: the task
        loads its data set when first used."""
        key = context.key
        if dataset is None and context.source is None:
            raise ScenarioError(f"{key}.dataset", "no data set: give 'dataset' here or a "
                                "scenario-level 'source'")
        self.task = SourceTask(
            dataset_spec=dataset if dataset is not None else context.source, key=key,
            dataset_key=f"{key}.dataset" if dataset is not None else "source",
            classifier=classifier, classifier_train_samples=classifier_train_samples)
        check_codec_source(codec=codec, dataset=self.task.dataset_spec, key=key,
                           dataset_key=self.task.dataset_key,
                           channel_uses_per_sample=channel_uses_per_sample,
                           bandwidth_ratio=bandwidth_ratio)
        self.codec = registry.build("codec", codec, key=f"{key}.codec")
        self.codec_name = registry.as_spec(codec, "codec", f"{key}.codec")["name"]
        self.channel_uses_per_sample = channel_uses_per_sample
        self.bandwidth_ratio = bandwidth_ratio
        self.accounting = accounting
        self.batch_size = context.stop.batch_size

    @property
    def dataset(self):
        """The samples sent, loaded on first use (:attr:`SourceTask.dataset`)."""
        return self.task.dataset

    def channel_uses(self, sample):
        """Channel uses (complex symbols, pilots included) granted to ``sample``."""
        if self.channel_uses_per_sample is not None:
            return self.channel_uses_per_sample
        return max(1, int(round(self.bandwidth_ratio * np.size(sample))))

    def uses_first_sample(self):
        """Channel uses of the first sample. ``bandwidth_ratio`` sizes them from the sample, so
        it loads the data set (at build, so the checks see it); ``channel_uses_per_sample``
        reads nothing."""
        return self.channel_uses_per_sample or self.channel_uses(self.dataset.x[0])

    def source_facts(self):
        """The facts every codec system records in run.json, first."""
        return {"codec": self.codec_name, "dataset": self.task.description,
                "channel_uses_per_sample": self.channel_uses_per_sample,
                "bandwidth_ratio": self.bandwidth_ratio,
                "channel_uses_first_sample": self.uses_first_sample()}

    def prepare(self, *, show_progress=True):
        self.task.prepare(show_progress=show_progress)


@dataclasses.dataclass
class CodecTotals(SampleTotals):
    """Totals of codec samples sent over a link: ``blocks`` samples, ``scores`` by scorer name.

    ``feasible``: samples whose codec's lowest quality fits; of those, frames with a
    residual bit error (``frame_errors``), samples the receiver could not decode
    (``decode_failures``), payload, header and budget bits and summed codec
    quality. ``mcs_samples``: samples sent with each MCS of the table, int64 [table size].
    """

    feasible: int = 0
    frame_errors: int = 0
    decode_failures: int = 0
    payload_bits: int = 0
    header_bits: int = 0
    budget_bits: int = 0
    quality_sum: int = 0
    mcs_samples: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))

    def per_feasible(self, name):
        """Field ``name`` per feasible sample (NaN without any)."""
        return getattr(self, name) / self.feasible if self.feasible else np.nan


# ------------------------------------------------------------------------------- the system


def _bits(value, width):
    """``value`` as ``width`` bits, most significant first."""
    return np.array([(value >> (width - 1 - i)) & 1 for i in range(width)], np.uint8)


def _value(bits):
    """Inverse of :func:`_bits`."""
    return int(sum(int(b) << (len(bits) - 1 - i) for i, b in enumerate(bits)))


@register("system", "conventional")
class ConventionalSystem(CodecSystem):
    """Source codec + 5G LDPC / Turbo + QAM per sample, fixed or SNR-selected MCS, equal channel uses.

    Keys: ``dataset`` (defaults to the scenario's ``source``), ``codec``,
    ``channel_uses_per_sample`` or ``bandwidth_ratio``, ``mcs`` (fixed
    ``{code, modulation}`` or ``{table: [...], select: bler | metric}``),
    ``failure`` and ``accounting`` (see the module docstring).

    ``failure: corrupt``: the codec decodes the received, possibly corrupted
    bitstream; where it cannot parse it, or the length field or headers are
    corrupted, the substitute is used. ``failure: mean``: any residual error
    in the frame (detected by a 24-bit CRC whose bits are counted) gives the
    substitute. Substitute: the data set's mean image, the empty string or
    silence. Samples where even the codec's lowest quality exceeds the budget
    are infeasible: they get the substitute too, and ``feasible_fraction``
    reports their share. Task metrics carry the intervals of
    :mod:`linksim.systems.tasks`; ``feasible_fraction`` (over samples) and
    ``frame_error_rate`` (over feasible samples, one frame each) carry Wilson
    intervals.
    """

    def __init__(self, *, codec: Spec("codec"), mcs: MCSChoice,
                 dataset: Spec("dataset") | None = None,
                 channel_uses_per_sample: Annotated[int, Field(ge=1)] | None = None,
                 bandwidth_ratio: Annotated[float, Field(gt=0, le=1000)] | None = None,
                 failure: Literal["corrupt", "mean"] = "corrupt",
                 accounting: Literal["payload", "with_headers"] = "payload",
                 classifier: bool = True, classifier_train_samples: int = 20000,
                 xla: bool = True, label: str | None = None,
                 context: Context):
        key = context.key
        self._use_source(codec=codec, dataset=dataset,
                         channel_uses_per_sample=channel_uses_per_sample,
                         bandwidth_ratio=bandwidth_ratio, accounting=accounting,
                         classifier=classifier, classifier_train_samples=classifier_train_samples,
                         context=context)
        mcs = MCSChoice.model_validate(mcs)
        specs = mcs.table or [MCSSpec(code=mcs.code, modulation=mcs.modulation)]
        self.mcs_table = [
            MCS(code=registry.build("code", s.code, key=f"{where}.code"),
                modulation=registry.build("modulation", s.modulation, key=f"{where}.modulation"),
                channel=context.channel, receiver=context.receiver, xla=xla)
            for where, s in zip(
                [f"{key}.mcs.table[{i}]" for i in range(len(specs))] if mcs.table
                else [f"{key}.mcs"], specs)]
        self.select = mcs.select if mcs.table else "fixed"
        self.bler_target = mcs.bler_target
        self.calibration_frames = mcs.calibration_frames
        self.failure = failure
        uses = self.uses_first_sample()
        if uses * self.batch_size > MAX_BATCH_CHANNEL_USES:
            resource = "channel_uses_per_sample" if channel_uses_per_sample else "bandwidth_ratio"
            raise ScenarioError(f"{key}.{resource}", f"{uses} channel uses per sample x "
                                f"stop.batch_size {self.batch_size} exceed "
                                f"{MAX_BATCH_CHANNEL_USES} per batch; lower one of them")
        self.seed = context.seed
        self.metrics = self.task.metrics + (
            Metric("feasible_fraction", "feasible fraction (lowest codec quality fits)"),
            Metric("frame_error_rate", "frame error rate (feasible samples)", log=True))
        self._selected = {}
        self.key = key
        mcs_text = (self.mcs_table[0].description if self.select == "fixed"
                    else f"best MCS ({self.select})")
        super().__init__(label=label or f"{self.codec_name} + {mcs_text}")

    # -- resources --------------------------------------------------------------------------

    @functools.cached_property
    def _calibration_task(self):
        """``select: metric``: the first ``calibration_frames`` samples of the train split."""
        return SourceTask(dataset_spec={**self.task.dataset_spec, "split": "train",
                                        "limit": self.calibration_frames},
                          key=self.key, dataset_key=self.task.dataset_key, classifier=False)

    def overhead_bits(self, capacity_bits):
        """Link-layer bits per frame: length field in bytes, plus the CRC under ``failure: mean``."""
        length = max(1, (capacity_bits // 8).bit_length())
        return length, length + (CRC_BITS if self.failure == "mean" else 0)

    def describe(self):
        uses = self.uses_first_sample()
        table = []
        for m in self.mcs_table:
            count = m.codewords(uses)
            table.append({"mcs": m.description, "codewords_per_sample": count,
                          "information_bits_per_sample": count * m.code.k,
                          "channel_uses_used": m.link.symbols_per_frame(count)[1] if count else 0})
        return {**self.source_facts(), "mcs_selection": self.select,
                "bler_target": self.bler_target if self.select == "bler" else None,
                "mcs_table": table, "failure": self.failure, "accounting": self.accounting,
                **self.task.describe()}

    # -- one batch --------------------------------------------------------------------------

    def _encode(self, sample, capacity_bits):
        """(Encoded or None, header bits sent) for one sample and its frame capacity."""
        _, overhead = self.overhead_bits(capacity_bits)
        budget = capacity_bits - overhead
        if budget <= 0:
            return None, 0
        encoded = fit(self.codec, sample, budget, accounting=self.accounting)
        charged = encoded is not None and self.accounting == "with_headers"
        header_bits = 8 * encoded.header_bytes if charged else 0
        return encoded, header_bits

    def _frame(self, encoded, header_bits, mcs, codewords):
        """Bits of one frame: length field | header filler | payload | CRC room | zero pad."""
        capacity = codewords * mcs.code.k
        length_bits, _ = self.overhead_bits(capacity)
        frame = np.zeros(capacity, np.uint8)
        if encoded is None:
            return frame.reshape(codewords, mcs.code.k)
        payload = np.unpackbits(np.frombuffer(encoded.payload, np.uint8))
        frame[:length_bits] = _bits(len(encoded.payload), length_bits)
        start = length_bits + header_bits
        frame[start:start + payload.size] = payload
        return frame.reshape(codewords, mcs.code.k)

    def _receive(self, index, sent, received, encoded, header_bits, capacity):
        """(receiver output, frame error, decode failure) for one feasible sample."""
        length_bits, overhead = self.overhead_bits(capacity)
        sent, received = sent.reshape(-1), received.reshape(-1)
        used = overhead + header_bits + encoded.bits
        frame_error = bool(np.any(sent[:used] != received[:used]))
        if self.failure == "mean" and frame_error:
            return self.task.substitute(index), frame_error, True
        size = _value(received[:length_bits])
        start = length_bits + header_bits
        size = min(size, (capacity - overhead - header_bits) // 8)
        header_ok = not np.any(received[length_bits:start])
        payload = np.packbits(received[start:start + 8 * size]).tobytes()
        decoded = self.codec.decode(payload, shape=np.shape(self.dataset.x[index])) \
            if header_ok else None
        if decoded is None:
            return self.task.substitute(index), frame_error, True
        return decoded, frame_error, False

    def _run(self, task, indices, mcs, no):
        """Send samples ``indices`` of ``task.dataset`` with ``mcs``; additive totals."""
        samples = [task.dataset.x[i] for i in indices]
        totals = CodecTotals(blocks=len(indices),
                             mcs_samples=np.zeros(len(self.mcs_table), np.int64))
        outputs = [None] * len(indices)
        groups = {}
        for j, sample in enumerate(samples):
            groups.setdefault(mcs.codewords(self.channel_uses(sample)), []).append(j)
        for codewords, members in groups.items():
            if codewords == 0:
                for j in members:
                    outputs[j] = task.substitute(indices[j])
                continue
            capacity = codewords * mcs.code.k
            coded = [self._encode(samples[j], capacity) for j in members]
            frames = np.stack([self._frame(e, h, mcs, codewords) for e, h in coded])
            received = mcs.transmit(frames, no)
            for j, (encoded, header_bits), sent, got in zip(members, coded, frames, received):
                totals.budget_bits += capacity - self.overhead_bits(capacity)[1]
                if encoded is None:
                    outputs[j] = task.substitute(indices[j])
                    continue
                outputs[j], frame_error, failed = self._receive(
                    indices[j], sent, got, encoded, header_bits, capacity)
                totals.feasible += 1
                totals.frame_errors += int(frame_error)
                totals.decode_failures += int(failed)
                totals.payload_bits += encoded.bits
                totals.header_bits += 8 * encoded.header_bytes
                totals.quality_sum += encoded.quality
        totals.scores = task.score(indices, outputs)
        return totals

    def _choose(self, no):
        """Index into the MCS table for noise variance ``no``; cached per SNR point."""
        if self.select == "fixed":
            return 0
        if no in self._selected:
            return self._selected[no]
        # Calibration draws its own channel realizations; restoring the generators keeps
        # the evaluated batch on the realizations every other system sees.
        uses = self.uses_first_sample()
        scores = []
        with seeded(derive_seed(self.seed, f"{no:.9g}", "calibration")):
            for mcs in self.mcs_table:
                codewords = mcs.codewords(uses)
                if codewords == 0:
                    scores.append(None)
                    continue
                if self.select == "bler":
                    bits = config.np_rng.integers(0, 2, [self.calibration_frames, codewords,
                                                         mcs.code.k], dtype=np.uint8)
                    errors = np.any(mcs.transmit(bits, no) != bits, axis=(1, 2))
                    scores.append(float(np.mean(errors)))
                else:
                    task = self._calibration_task
                    totals = self._run(task, np.arange(len(task.dataset)), mcs, no)
                    name, sign = task.primary
                    scores.append(sign * task.summarize(totals.scores)[name])
        capacity = [m.codewords(uses) * m.code.k for m in self.mcs_table]
        usable = [i for i, s in enumerate(scores) if s is not None]
        if not usable:
            choice = 0
        elif self.select == "bler":
            good = [i for i in usable if scores[i] <= self.bler_target]
            choice = (max(good, key=lambda i: capacity[i]) if good
                      else min(usable, key=lambda i: capacity[i]))
        else:
            choice = max(usable, key=lambda i: (scores[i], -capacity[i]))
        self._selected[no] = choice
        return choice

    def run_batch(self, no, *, batch_index):
        choice = self._choose(no)
        start = batch_index * self.batch_size
        indices = (start + np.arange(self.batch_size)) % len(self.dataset)
        totals = self._run(self.task, indices, self.mcs_table[choice], no)
        totals.mcs_samples[choice] = len(indices)
        return totals

    def summarize(self, totals):
        # The MCS of the point: one per SNR point, chosen once (``_choose``).
        mcs = self.mcs_table[int(np.argmax(totals.mcs_samples))]
        return {**self.task.summarize(totals.scores),
                **RateTotals(totals.feasible, totals.blocks).columns("feasible_fraction"),
                **RateTotals(totals.frame_errors, totals.feasible).columns("frame_error_rate"),
                "decode_failure_rate": totals.per_feasible("decode_failures"),
                "payload_bits": totals.per_feasible("payload_bits"),
                "header_bits": totals.per_feasible("header_bits"),
                "mean_quality": totals.per_feasible("quality_sum"),
                "budget_bits": totals.budget_bits / totals.blocks,
                "mcs": mcs.description,
                "info_bits_per_channel_use": mcs.info_bits_per_channel_use,
                "blocks": totals.blocks}
