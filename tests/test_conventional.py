"""Conventional baselines: codec round trips through the link, budgets, failures, infeasibility."""
import numpy as np
import pytest

from linksim import metrics, registry
from linksim.scenario import Stop
from linksim.sources.datasets import Dataset, holds
from linksim.systems.context import Context
from linksim.systems.capacity import CapacityBound
from linksim.systems.conventional import ConventionalSystem

QPSK_HALF = {"code": {"name": "ldpc5g", "k": 392, "n": 784},
             "modulation": {"name": "qam", "bits_per_symbol": 2}}
HIGH_SNR_NO = 10 ** (-30 / 10)


@holds("speech", "transcripts")
def _clips(*, split: str = "test", limit: int | None = None):
    """Three 40 ms int16 tones (test only)."""
    t = np.arange(640) / 16000
    x = [(8000 * np.sin(2 * np.pi * f * t)).astype(np.int16) for f in (220, 440, 880)]
    return Dataset(name="test_clips", modality="speech", x=x[:limit], sample_rate=16000,
                   transcripts=["a", "b", "c"][:limit], provenance="synthetic tones")


@pytest.fixture(autouse=True)
def _test_clips(monkeypatch):
    # Registered for this module's tests only, so `linksim list` elsewhere never shows it.
    monkeypatch.setitem(registry.known("dataset"), "test_clips",
                        registry.entry_of("dataset", "test_clips", _clips))


def _system(cls=ConventionalSystem, *, dataset, codec, **keys):
    context = Context(channel=registry.build("channel", "awgn", key="channel"),
                      receiver=registry.build("receiver", "perfect", key="receiver"),
                      stop=Stop(max_blocks=4, batch_size=4), key="s")
    spec = {"name": "conventional" if cls is ConventionalSystem else "capacity_bound",
            "dataset": dataset, "codec": codec, **keys}
    return registry.build("system", spec, key="s", context=context)


IMAGES = {"name": "fashion_mnist", "split": "test", "limit": 4}
TEXT = {"name": "sentences", "split": "test", "limit": 4}
SPEECH = {"name": "test_clips"}
CASES = [(IMAGES, "jpeg", 1.0), (IMAGES, "hevc_intra", 1.0),
         (TEXT, "utf8", None), (SPEECH, "pcm16", 32.0)]


def _resources(dataset, ratio):
    return {"bandwidth_ratio": ratio} if ratio else {"channel_uses_per_sample": 2000}


@pytest.mark.parametrize("dataset,codec,ratio", CASES, ids=[c[1] for c in CASES])
def test_round_trip_at_high_snr_equals_codec_alone(dataset, codec, ratio):
    system = _system(dataset=dataset, codec=codec, mcs=QPSK_HALF, classifier=False,
                     **_resources(dataset, ratio))
    task, mcs = system.task, system.mcs_table[0]
    indices = np.arange(len(task.dataset))
    through_link = task.summarize(system._run(task, indices, mcs, HIGH_SNR_NO).scores)
    alone = []
    for i in indices:
        sample = task.dataset.x[i]
        capacity = mcs.codewords(system.channel_uses(sample)) * mcs.code.k
        encoded, _ = system._encode(sample, capacity)
        alone.append(system.codec.decode(encoded.payload, shape=np.shape(sample)))
    direct = task.summarize(task.score(indices, alone))
    assert through_link == pytest.approx(direct, nan_ok=True)
    if task.dataset.modality == "image":
        assert through_link["psnr"] == pytest.approx(
            float(np.mean(metrics.psnr(task.dataset.x, np.stack(alone)))))


@pytest.mark.parametrize("cls", [ConventionalSystem, CapacityBound])
@pytest.mark.parametrize("dataset,codec,ratio", CASES, ids=[c[1] for c in CASES])
def test_every_metric_has_an_interval_around_it(dataset, codec, ratio, cls):
    keys = {"mcs": QPSK_HALF} if cls is ConventionalSystem else {}
    system = _system(cls, dataset=dataset, codec=codec, classifier=False,
                     **_resources(dataset, ratio), **keys)
    for es_no_db in (2.0, 30.0):
        row = system.summarize(system.run_batch(10 ** (-es_no_db / 10), batch_index=0))
        for metric in system.metrics:
            low, high = (row[c] for c in metric.ci)
            # Undefined (NaN) only where documented, e.g. waveform SNR of a lossless point.
            assert np.isnan(low) == np.isnan(high)
            if not np.isnan(low):
                assert low - 1e-9 <= row[metric.name] <= high + 1e-9, (metric.name, row)


@pytest.mark.parametrize("accounting", ["payload", "with_headers"])
def test_budget_is_never_exceeded(accounting):
    system = _system(dataset={**IMAGES, "limit": 16}, codec="jpeg", mcs=QPSK_HALF,
                     classifier=False, channel_uses_per_sample=4000, accounting=accounting)
    mcs = system.mcs_table[0]
    capacity = mcs.codewords(4000) * mcs.code.k
    _, overhead = system.overhead_bits(capacity)
    for sample in system.dataset.x:
        encoded, header_bits = system._encode(sample, capacity)
        assert encoded is not None
        assert overhead + header_bits + encoded.bits <= capacity
        assert header_bits == (8 * encoded.header_bytes if accounting == "with_headers" else 0)


def test_decoding_failure_yields_the_mean_image(monkeypatch):
    system = _system(dataset=IMAGES, codec="jpeg", mcs=QPSK_HALF, classifier=False,
                     bandwidth_ratio=1.0)
    monkeypatch.setattr(system.codec, "decode", lambda payload, shape=None: None)
    totals = system.run_batch(HIGH_SNR_NO, batch_index=0)
    mean = np.broadcast_to(np.mean(system.dataset.x, axis=0), system.dataset.x.shape)
    assert np.array_equal(system.task.substitute(0), mean[0])
    assert totals.decode_failures == totals.feasible == 4
    assert totals.scores["psnr"].sum == pytest.approx(np.sum(metrics.psnr(system.dataset.x, mean)))


def test_failure_mean_substitutes_on_residual_errors():
    system = _system(dataset=TEXT, codec="utf8", mcs=QPSK_HALF, failure="mean",
                     channel_uses_per_sample=400)
    totals = system.run_batch(10 ** (5 / 10), batch_index=0)  # Es/N0 = -5 dB: every frame fails
    assert totals.frame_errors == totals.decode_failures == totals.feasible
    assert totals.scores["exact_match"].events == 0
    assert totals.scores["bleu"].statistics["bleu_sys_len"] == 0


@pytest.mark.parametrize("cls", [ConventionalSystem, CapacityBound])
def test_infeasible_points_are_marked(cls):
    keys = {"mcs": QPSK_HALF} if cls is ConventionalSystem else {}
    system = _system(cls, dataset=IMAGES, codec="jpeg", classifier=False,
                     channel_uses_per_sample=10, **keys)
    row = system.summarize(system.run_batch(HIGH_SNR_NO, batch_index=0))
    mean = np.broadcast_to(system.task.substitute(0), system.dataset.x.shape)
    assert row["feasible_fraction"] == 0.0
    assert row["psnr"] == pytest.approx(np.mean(metrics.psnr(system.dataset.x, mean)))


def test_capacity_bits_on_awgn():
    system = _system(CapacityBound, dataset=IMAGES, codec="jpeg", classifier=False,
                     channel_uses_per_sample=392)
    no = 10 ** (-10 / 10)
    bits = system.capacity_bits([392, 392], no)
    assert list(bits) == [int(np.floor(392 * np.log2(1 + 1 / no)))] * 2
