"""Leave-one-generator-out: one fold per generator, trained without it, tested on it."""

import numpy as np
import pytest
from evaluation_helpers import write_records
from PIL import Image
from sklearn.linear_model import LogisticRegression

from deepguard.errors import DataError
from deepguard.evaluation import compute_metrics, leave_one_generator_out


def pixel_statistics(paths) -> np.ndarray:
    """Mean grey level and mean neighbour difference (grey levels): a cheap detector's features."""
    features = []
    for path in paths:
        with Image.open(path) as image:
            grey = np.asarray(image.convert("L"), dtype=np.float64)
        features.append([grey.mean() / 255, np.abs(np.diff(grey, axis=1)).mean() / 255])
    return np.array(features)


def test_one_fold_per_generator_trained_without_it(tmp_path):
    records = write_records(tmp_path, generators=("biggan", "glide", "stylegan"), per_class=3)
    folds = []

    def fit_and_score(train, test):
        folds.append((set(train["generator"]), set(test["generator"])))
        classifier = LogisticRegression().fit(pixel_statistics(train["path"]), train["label"])
        probabilities = classifier.predict_proba(pixel_statistics(test["path"]))[:, 1]
        return compute_metrics(test["label"], probabilities)

    table, mean_auc = leave_one_generator_out(records, fit_and_score)

    assert folds == [
        ({"glide", "stylegan"}, {"biggan"}),
        ({"biggan", "stylegan"}, {"glide"}),
        ({"biggan", "glide"}, {"stylegan"}),
    ]
    assert list(table["generator"]) == ["biggan", "glide", "stylegan"]
    assert (table["n_test"] == 6).all() and (table["n_train"] == 12).all()
    # Noise against smooth gradients: neighbour differences separate every held-out generator.
    assert (table["roc_auc"] == 1.0).all()
    assert mean_auc == pytest.approx(table["roc_auc"].mean())


def test_mean_skips_folds_without_a_defined_metric(tmp_path):
    records = write_records(tmp_path, generators=("a", "b", "c"), per_class=1)
    scores = {"a": 0.9, "b": float("nan"), "c": 0.7}

    table, mean_auc = leave_one_generator_out(
        records, lambda train, test: {"roc_auc": scores[test["generator"].iloc[0]]}
    )
    assert len(table) == 3
    assert mean_auc == pytest.approx(0.8)


def test_one_generator_is_refused_with_a_hint(tmp_path):
    records = write_records(tmp_path, generators=("unknown",), per_class=1)
    with pytest.raises(DataError, match="at least 2 generators; got \\['unknown'\\]"):
        leave_one_generator_out(records, lambda train, test: {"roc_auc": 1.0})


def test_missing_metric_is_named(tmp_path):
    records = write_records(tmp_path, generators=("a", "b"), per_class=1)
    with pytest.raises(ValueError, match="expected a 'roc_auc' entry"):
        leave_one_generator_out(records, lambda train, test: {"accuracy": 1.0})
