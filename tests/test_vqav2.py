"""The VQAv2 loader on a tiny directory in the official layout, offline and through its download path."""
import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from linksim import registry
from linksim.errors import ScenarioError, UserError
from linksim.scorers.vqa import VQAAccuracy
from linksim.sources import datasets

# (question id, image id, question, consensus answer, the 10 annotators' answers)
TRAIN = [(1, 7, "What color is the car?", "red", ["red"] * 8 + ["blue"] * 2),
         (2, 7, "Is it raining?", "no", ["no"] * 10),
         (3, 9, "How many dogs?", "2", ["2"] * 6 + ["3"] * 4),
         (4, 9, "What color is the dog?", "red", ["red"] * 10),
         (5, 9, "Is the dog awake?", "no", ["no"] * 9 + ["yes"]),
         (6, 9, "What color is the ball?", "red", ["red"] * 10)]
VAL = [(11, 4, "What color is the bus?", "red", ["red"] * 2 + ["yellow"] * 8),
       (12, 4, "What is on the roof?", "antenna", ["antenna"] * 10),
       (13, 5, "Is it sunny?", "no", ["no"] * 7 + ["yes"] * 3)]


def write_split(folder, coco, rows, sizes):
    questions = [{"question_id": q, "image_id": i, "question": text} for q, i, text, _, _ in rows]
    annotations = [{"question_id": q, "image_id": i, "multiple_choice_answer": answer,
                    "answers": [{"answer": a, "answer_id": k + 1} for k, a in enumerate(all10)]}
                   for q, i, _, answer, all10 in rows]
    (folder / f"v2_OpenEnded_mscoco_{coco}_questions.json").write_text(json.dumps({"questions": questions}))
    (folder / f"v2_mscoco_{coco}_annotations.json").write_text(json.dumps({"annotations": annotations}))
    (folder / coco).mkdir()
    for image_id, (width, height) in sizes.items():
        pixels = np.full((height, width, 3), 40 * image_id % 256, np.uint8)
        pixels[:, : width // 2, 0] = 255  # left half red: the centre crop must keep some of it
        Image.fromarray(pixels).save(folder / coco / f"COCO_{coco}_{image_id:012d}.jpg")


@pytest.fixture
def vqav2_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LINKSIM_DATA", str(tmp_path / "cache"))
    folder = tmp_path / "vqav2"
    folder.mkdir()
    write_split(folder, "train2014", TRAIN, {7: (40, 30), 9: (30, 50)})
    write_split(folder, "val2014", VAL, {4: (64, 48), 5: (20, 20)})
    return folder


def test_offline_layout(vqav2_dir):
    ds = datasets.vqav2(split="test", root=str(vqav2_dir), image_size=16, num_answers=3)
    assert ds.x.shape == (3, 16, 16, 3) and ds.x.dtype == np.float32
    assert np.array_equal(ds.x[0], ds.x[1]) and not np.array_equal(ds.x[0], ds.x[2])
    assert ds.fields["question"] == [text for _, _, text, _, _ in VAL]
    # Vocabulary: the train split's 3 most frequent consensus answers (red 3, no 2, 2 1).
    assert ds.field_classes["answer"] == ("red", "no", "2", "<other>")
    names = [ds.field_classes["answer"][i] for i in ds.fields["answer"]]
    assert names == ["red", "<other>", "no"]  # 'antenna' was never a train answer
    assert ds.fields["annotator_answers"].shape == (3, 10)
    accuracy = VQAAccuracy().score(ds.fields["annotator_answers"].tolist(), ["yellow", "antenna", "yes"])
    assert accuracy.columns("vqa_accuracy")["vqa_accuracy"] == pytest.approx((1 + 1 + 1) / 3)
    assert ds.stands_in_for is None and "val2014" in ds.provenance


def test_train_drops_answers_outside_the_vocabulary(vqav2_dir):
    ds = datasets.vqav2(split="train", root=str(vqav2_dir), image_size=8, num_answers=2, limit=10)
    assert [ds.field_classes["answer"][i] for i in ds.fields["answer"]] == ["red", "no", "red", "no", "red"]
    assert datasets.vqav2(split="train", root=str(vqav2_dir), image_size=8, limit=2).x.shape[0] == 2


def test_online_fetches_the_zips_and_only_the_images_it_returns(vqav2_dir, tmp_path, monkeypatch):
    server = tmp_path / "server"
    server.mkdir()
    for kind, name, coco in [("Questions", "Train", "train2014"), ("Questions", "Val", "val2014"),
                             ("Annotations", "Train", "train2014"), ("Annotations", "Val", "val2014")]:
        inner = (f"v2_OpenEnded_mscoco_{coco}_questions.json" if kind == "Questions"
                 else f"v2_mscoco_{coco}_annotations.json")
        with zipfile.ZipFile(server / f"v2_{kind}_{name}_mscoco.zip", "w") as z:
            z.write(vqav2_dir / inner, inner)
    for image in (vqav2_dir / "val2014").iterdir():
        shutil.copy(image, server / image.name)
    fetched = []

    def urlretrieve(url, path):
        fetched.append(url)
        shutil.copy(server / url.rsplit("/", 1)[1], path)

    monkeypatch.setattr("urllib.request.urlretrieve", urlretrieve)
    empty = tmp_path / "empty"
    ds = datasets.vqav2(split="test", root=str(empty), source="auto", image_size=8, limit=2)
    assert ds.x.shape == (2, 8, 8, 3)
    assert sum(u.endswith(".zip") for u in fetched) == 4
    assert [u for u in fetched if u.endswith(".jpg")] == [
        "http://images.cocodataset.org/val2014/COCO_val2014_000000000004.jpg"]
    assert sorted(p.name for p in empty.iterdir()) == sorted(
        ["val2014", "v2_OpenEnded_mscoco_train2014_questions.json", "v2_mscoco_train2014_annotations.json",
         "v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json"])


def test_missing_files_are_one_line(vqav2_dir, tmp_path):
    with pytest.raises(UserError) as err:
        datasets.vqav2(root=str(tmp_path / "nowhere"), source="offline")
    assert "\n" not in str(err.value) and "v2_OpenEnded_mscoco_train2014_questions.json" in str(err.value)
    (vqav2_dir / "val2014" / "COCO_val2014_000000000005.jpg").unlink()
    with pytest.raises(UserError) as err:
        datasets.vqav2(root=str(vqav2_dir), source="offline", image_size=8)
    assert "\n" not in str(err.value) and "COCO_val2014_000000000005.jpg" in str(err.value)


def test_keys_are_checked():
    with pytest.raises(ScenarioError, match="data.image_size"):
        registry.build("dataset", {"name": "vqav2", "image_size": 4}, key="data")
    with pytest.raises(ScenarioError, match="data.num_answers"):
        registry.build("dataset", {"name": "vqav2", "num_answers": 1}, key="data")
