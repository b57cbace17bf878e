"""Scorers: registry entries, additive typed totals, the intervals of linksim.metrics."""
import numpy as np
import pytest

from linksim import metrics, registry
from linksim.scorers.base import renamed
from linksim.totals import MeanTotals, RateTotals, RatioTotals, SampleTotals

RNG = np.random.default_rng(0)
IMAGES = RNG.random((6, 12, 12, 1)).astype(np.float32)
NOISY = np.clip(IMAGES + 0.05 * RNG.standard_normal(IMAGES.shape), 0, 1).astype(np.float32)
REFS = ["the cat sat on the mat", "a quick brown fox jumps", "hello there my friend",
        "one two three four five six"]
HYPS = ["the cat sat on a mat", "a quick brown fox jumps", "hello my friend", "one two three"]


def scorer(name, **options):
    return registry.build("scorer", {"name": name, **options}, key="s")


def test_every_scorer_is_listed_with_its_options():
    assert {"accuracy", "psnr", "ssim", "bleu", "exact_match", "wer", "waveform_snr",
            "sample_error_rate", "retrieval", "vqa_accuracy"} <= set(registry.names("scorer"))
    keys = [p.name for p in registry.get("scorer", "psnr", key="").parameters()]
    assert keys == ["max_value"]


def test_unknown_scorer_option_is_one_line():
    with pytest.raises(Exception, match=r"s.max_valu: unknown key \(did you mean 'max_value'"):
        scorer("psnr", max_valu=2.0)


@pytest.mark.parametrize("name,reference,output", [
    ("psnr", IMAGES, NOISY), ("ssim", IMAGES, NOISY), ("bleu", REFS, HYPS),
    ("exact_match", REFS, HYPS), ("wer", REFS, HYPS),
    ("waveform_snr", [np.arange(50.0), np.ones(30)], [np.arange(50.0) + 1, np.zeros(30)]),
    ("sample_error_rate", [np.arange(50), np.ones(30)], [np.arange(50), np.zeros(30)]),
])
def test_totals_of_batches_add_up_to_the_whole(name, reference, output):
    s = scorer(name)
    whole = s.score(reference, output)
    half = len(reference) // 2
    parts = s.score(reference[:half], output[:half]) + s.score(reference[half:], output[half:])
    for key, value in whole.to_json().items():
        assert parts.to_json()[key] == pytest.approx(value)
    columns = s.summarize(parts)
    assert set(columns) == {c for m in s.metrics for c in (m.name, *m.ci)}
    for m in s.metrics:
        assert columns[m.ci[0]] <= columns[m.name] <= columns[m.ci[1]]


def test_image_scores_match_the_metric_functions():
    psnr = metrics.psnr(IMAGES, NOISY)
    row = scorer("psnr").summarize(scorer("psnr").score(IMAGES, list(NOISY)))
    assert row["psnr"] == pytest.approx(psnr.mean())
    assert (row["psnr_ci_low"], row["psnr_ci_high"]) == pytest.approx(
        metrics.mean_interval(psnr.sum(), np.sum(psnr ** 2), len(psnr)))
    assert scorer("ssim").score(IMAGES, NOISY).mean == pytest.approx(
        metrics.ssim(IMAGES, NOISY).mean())


def test_text_scores_match_the_metric_functions():
    row = scorer("bleu").summarize(scorer("bleu").score(REFS, HYPS))
    assert row["bleu"] == pytest.approx(metrics.bleu(REFS, HYPS))
    row = scorer("exact_match").summarize(scorer("exact_match").score(REFS, HYPS))
    assert row["exact_match"] == 0.25
    assert (row["exact_match_ci_low"], row["exact_match_ci_high"]) == \
        metrics.wilson_interval(1, 4)
    wer = scorer("wer")
    assert wer.summarize(wer.score(REFS, HYPS))["wer"] == pytest.approx(metrics.wer(REFS, HYPS))
    assert not wer.higher_is_better


def test_accuracy_of_labels_and_of_class_scores():
    s = scorer("accuracy")
    labels = np.array([0, 1, 2, 1])
    totals = s.score(labels, np.eye(3)[[0, 1, 1, 1]]) + s.score(labels, np.array([0, 1, 2, 0]))
    assert totals == RateTotals(events=6, trials=8)
    row = s.summarize(totals)
    assert row["accuracy"] == 0.75
    assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == metrics.wilson_interval(6, 8)
    assert renamed(row, "accuracy", "accuracy_rx1") == {
        "accuracy_rx1": 0.75, "accuracy_rx1_ci_low": row["accuracy_ci_low"],
        "accuracy_rx1_ci_high": row["accuracy_ci_high"]}


def test_retrieval_rank1_and_map():
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [-1.0, 0.0]])
    reference = {"ids": np.array([7, 8]), "gallery": gallery,
                 "gallery_ids": np.array([7, 8, 8, 7])}
    queries = np.array([[1.0, 0.05], [1.0, 0.0]])
    totals = scorer("retrieval").score(reference, queries)
    # Query 1 (id 7): ranks 7, 8, 8, 7 -> AP = (1/1 + 2/4) / 2; query 2 (id 8): ranks
    # 7, 8, 8, 7 -> AP = (1/2 + 2/3) / 2, rank-1 miss.
    assert totals.rank1 == RateTotals(events=1, trials=2)
    assert totals.average_precision.sum == pytest.approx(0.75 + 7 / 12)
    row = scorer("retrieval").summarize(totals + totals)
    assert row["rank1"] == 0.5 and row["map"] == pytest.approx((0.75 + 7 / 12) / 2)
    assert row["map_ci_low"] < row["map"] < row["map_ci_high"]


def test_vqa_accuracy():
    s = scorer("vqa_accuracy")
    totals = s.score(["Red", ["yes", "yes", "no", "yes"], ["two", "2", "two"]],
                     ["red ", "no", "two"])
    # 1 (single answer, normalized), min(1/3, 1), min(2/3, 1)
    assert totals.sum == pytest.approx(1 + 1 / 3 + 2 / 3) and totals.count == 3
    assert set(s.summarize(totals)) == {"vqa_accuracy", "vqa_accuracy_ci_low",
                                        "vqa_accuracy_ci_high"}


def test_totals_add_field_by_field_and_serialize():
    a = SampleTotals(blocks=2, scores={"psnr": MeanTotals.of([1.0, 3.0]),
                                       "wer": RatioTotals.of([1, 0], [4, 5])})
    b = SampleTotals(blocks=1, scores={"psnr": MeanTotals.of([2.0]),
                                       "extra": RateTotals(events=1, trials=1)})
    total = a + b
    assert total.blocks == 3 and total.scores["psnr"] == MeanTotals(3, 6.0, 14.0)
    assert total.scores["extra"] == RateTotals(1, 1) and total.scores["wer"].denominator == 9
    assert total.to_json()["scores"]["psnr"] == {"count": 3, "sum": 6.0, "squares": 14.0}
    with pytest.raises(TypeError):
        a + MeanTotals()
