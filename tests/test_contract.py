"""The learned-system contract: context object, batches as mappings, tasks, easy_vqa, tokenizer."""
import dataclasses

import numpy as np
import pytest

from linksim import registry, scenario as scenario_lib
from linksim.errors import ScenarioError
from linksim.scenario import Stop
from linksim.sources import tokenizer
from linksim.sources.datasets import Dataset
from linksim.systems.context import Context


def test_context_is_frozen_and_never_a_yaml_key():
    context = Context(channel=None, receiver=None, stop=Stop(), key="systems[0]")
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.seed = 2
    assert dataclasses.replace(context, key="link").key == "link" and context.key == "systems[0]"
    for entry in registry.entries("system"):
        assert entry.declares("context"), entry.name
        assert "context" not in [p.name for p in entry.parameters(registry.CONTEXT)]
    with pytest.raises(ScenarioError, match="context: unknown key"):
        registry.check("system", {"name": "two_task", "dataset": "fashion_mnist", "context": 1},
                       key="s", context=registry.CONTEXT)


def test_tokenizer_gives_minilm_wordpiece_ids_and_mask():
    tokens, mask = tokenizer.tokenize(["What color is the shape?", "yes"], sequence_length=9)
    # [CLS] what color is the shape ? [SEP], then [PAD]: ids of MiniLM's lower-case vocab.txt.
    np.testing.assert_array_equal(tokens, [[101, 2054, 3609, 2003, 1996, 4338, 1029, 102, 0],
                                           [101, 2748, 102, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(mask.sum(axis=1), [8, 3])
    assert tokens.dtype == np.int32 and mask.dtype == bool
    assert tokenizer.detokenize(tokens) == ["what color is the shape ?", "yes"]
    assert tokenizer.vocabulary_size() == 30522
    long, _ = tokenizer.tokenize(["a " * 50], sequence_length=6)
    assert long[0, 0] == 101 and long[0, -1] == 102  # truncated, still ends in [SEP]


def test_inputs_name_every_modality_and_tokenize_text():
    images = Dataset(name="i", modality="image", x=np.zeros((3, 4, 4, 1), np.float32),
                     y=np.arange(3), provenance="")
    assert sorted(images.inputs()) == ["image", "label"]
    text = Dataset(name="t", modality="text", x=["hello world", "a b c"], y=np.array([0, 1]),
                   provenance="", fields={"topic": np.array([3, 4])})
    inputs = text.inputs(sequence_length=6)
    assert sorted(inputs) == ["label", "text", "token_mask", "tokens", "topic"]
    assert inputs["tokens"].shape == inputs["token_mask"].shape == (2, 6)
    assert list(inputs["text"]) == ["hello world", "a b c"]
    speech = Dataset(name="s", modality="speech", x=[np.zeros(5, np.int16)], provenance="",
                     transcripts=["hi"])
    assert sorted(speech.inputs()) == ["audio", "transcript"]


def test_easy_vqa_pairs_images_questions_and_13_answers():
    data = registry.build("dataset", {"name": "easy_vqa", "split": "train", "limit": 30},
                          key="d")
    assert data.x.shape == (30, 64, 64, 3) and data.x.dtype == np.float32
    assert 0.0 <= data.x.min() and data.x.max() <= 1.0
    answers = data.field_classes["answer"]
    assert len(answers) == 13 and {"yes", "no", "circle", "red"} <= set(answers)
    assert data.fields["question"][1] == "what color is the shape?"
    assert answers[data.fields["answer"][1]] == "blue"
    inputs = data.inputs(sequence_length=12)
    assert sorted(inputs) == ["answer", "image", "question", "question_mask", "question_tokens"]
    assert inputs["question_tokens"].shape == (30, 12) and inputs["answer"].dtype == np.int64
    # Questions are grouped by image: the first ones all ask about image 0.
    np.testing.assert_array_equal(data.x[0], data.x[1])
    test = registry.build("dataset", {"name": "easy_vqa", "split": "test"}, key="d")
    assert len(test) == 9673 and "1000 images" in test.provenance


def test_each_task_has_its_own_test_split_and_totals(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("""
seed: 2
snr: {db: [10]}
stop: {max_blocks: 100, batch_size: 8}
train: {epochs: 1, batch_size: 32, train_samples: 64, validation_split: 0.0}
systems:
  - {name: two_task, dataset: {name: fashion_mnist}, channel_uses: 8, classification_samples: 20,
     reconstruction_samples: 10}
""")
    system = scenario_lib.build(scenario_lib.load(path), file=path,
                                checkpoint_root=tmp_path / "ckpt")[2][0]
    data = system.test_data()
    assert {name: len(split) for name, split in data.items()} == {"classification": 20,
                                                                 "reconstruction": 10}
    assert sorted(data["reconstruction"].inputs) == ["image", "label"]
    system.prepare(show_progress=False)
    batches = [system.run_batch(0.1, batch_index=b) for b in range(4)]
    assert [b.blocks for b in batches] == [8, 8, 4, 0]
    # Each task's scorer totals count its own samples: reconstruction ends after 10.
    assert [b.scores["reconstruction.psnr"].count if "reconstruction.psnr" in b.scores else 0
            for b in batches] == [8, 2, 0, 0]
    totals = batches[0]
    for batch in batches[1:]:
        totals = totals + batch
    assert system.finished(totals, system.context.stop)
    row = system.summarize(totals)
    assert row["blocks"] == 20 and 0 <= row["accuracy"] <= 1 and row["psnr"] > 0
    assert row["accuracy_ci_low"] <= row["accuracy"] <= row["accuracy_ci_high"]
    assert row["psnr_ci_low"] < row["psnr"] < row["psnr_ci_high"]
    assert system.describe()["channel_uses_per_sample"] == 8


def test_a_set_without_the_inputs_a_system_reads_is_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("""
snr: {db: [10]}
systems: [{name: two_task, dataset: {name: easy_vqa}, classification_samples: 5}]
""")
    with pytest.raises(ScenarioError, match=r"systems\[0\]\.dataset\.name: 'easy_vqa' has no "
                                            r"label"):
        scenario_lib.build(scenario_lib.load(path), file=path, checkpoint_root=tmp_path)
