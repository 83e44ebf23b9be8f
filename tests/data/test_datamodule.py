import json

import numpy as np
import pytest

from deepguard.data import Augmenter, DataModule
from deepguard.errors import DataError


@pytest.fixture(scope="module")
def synthetic_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("dm") / "synthetic"
    return DataModule(
        root=root,
        image_size=32,
        batch_size=8,
        synthetic={"n_per_class": 40},  # generated at image_size=32
        augmentation={"flip_prob": 0.5},
    ).setup()


def test_setup_splits_every_image_once_and_datasets_cover_each_split(synthetic_data):
    records = synthetic_data.records
    assert len(records) == 80 and records["path"].is_unique
    assert '"image_size": 32' in (synthetic_data.root / "synthetic.json").read_text()
    assert set(records["split"]) == {"train", "val", "test"}
    for split, dataset in [
        ("train", synthetic_data.train_dataset()),
        ("val", synthetic_data.val_dataset()),
        ("test", synthetic_data.test_dataset()),
    ]:
        batches = list(dataset)
        labels = np.concatenate([y.numpy() for _, y in batches])
        assert len(labels) == len(synthetic_data.split_records(split))
        assert batches[0][0].shape[1:] == (32, 32, 3)
    val_labels = np.concatenate([y.numpy() for _, y in synthetic_data.val_dataset()])
    np.testing.assert_array_equal(val_labels, synthetic_data.split_records("val")["label"])
    counts = synthetic_data.class_counts()
    assert counts[0] + counts[1] == len(synthetic_data.split_records("train"))


def test_digest_is_stable_and_changes_with_the_seed(synthetic_data):
    same = DataModule(root=synthetic_data.root, image_size=32, seed=0).setup()
    assert same.digest == synthetic_data.digest
    other = DataModule(root=synthetic_data.root, image_size=32, seed=1).setup()
    assert other.digest != synthetic_data.digest


def test_reports_count_classes_generators_and_splits(synthetic_data, tmp_path):
    paths = synthetic_data.write_reports(tmp_path)
    summary = json.loads(paths["summary"].read_text())
    assert summary["images"] == 80
    assert sum(summary["per_split"]["train"].values()) == len(synthetic_data.split_records("train"))
    generators = {g for split in summary["per_generator"].values() for g in split}
    assert {"real", "transposed_conv", "lowpass"} <= generators
    assert paths["quarantine"].read_text().startswith("path,reason")


def test_predict_dataset_keeps_the_order_and_has_no_labels(synthetic_data):
    paths = synthetic_data.split_records("test")["path"].tolist()[:5]
    batches = list(synthetic_data.predict_dataset(paths))
    assert sum(b.shape[0] for b in batches) == 5 and batches[0].ndim == 4


def test_augmenter_object_or_kwargs_are_accepted(synthetic_data):
    assert isinstance(synthetic_data._augmenter(), Augmenter)


def test_a_class_missing_from_train_says_how_to_fix(tmp_path, make_images):
    make_images(tmp_path / "real", 10, 0)
    with pytest.raises(DataError, match="train split has no fake images"):
        DataModule(root=tmp_path).setup()


def test_an_empty_split_says_how_to_fix(tmp_path, make_images):
    make_images(tmp_path / "real", 10, 0)
    make_images(tmp_path / "fake", 10, 50)
    with pytest.raises(DataError, match="the test split is empty"):
        DataModule(root=tmp_path, test_fraction=0.0).setup()


def test_limit_caps_every_split(synthetic_data):
    limited = DataModule(root=synthetic_data.root, image_size=32, limit=5).setup()
    assert limited.records.groupby("split").size().max() <= 5


def test_records_before_setup_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"call DataModule.setup\(\)"):
        DataModule(root=tmp_path).records  # noqa: B018


def test_faces_hard_dev_through_its_manifest(shared_data):
    folder = shared_data / "faces-hard-dev"
    if not (folder / "manifest.csv").is_file():
        pytest.skip("faces-hard-dev is not available")
    data = DataModule(manifest=folder / "manifest.csv", image_size=64, batch_size=16).setup()
    assert data.quarantine.empty
    assert set(data.records["label"]) == {0, 1}
    assert {"train", "val", "test"} == set(data.records["split"])
    images, _ = next(iter(data.val_dataset()))
    assert images.shape == (16, 64, 64, 3) and float(images.numpy().max()) <= 255.0
