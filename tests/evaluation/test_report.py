"""The report files: metrics, per-generator table, curves, confusion matrix, predictions."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepguard.evaluation.report import REPORT_FILES, per_generator_table, write_report


def predictions(separating: bool, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    if separating:
        probs = np.where(labels == 1, rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.4, n))
    else:
        probs = rng.uniform(0.0, 1.0, n)
    generators = rng.choice(["biggan", "stylegan", "glide"], n)
    return labels, probs, generators


def test_separating_predictor_reports_perfect_scores(tmp_path):
    labels, probs, generators = predictions(separating=True)
    metrics = write_report(labels, probs, generators, tmp_path)

    for name in REPORT_FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == pytest.approx(metrics)
    assert written["roc_auc"] == 1.0
    assert written["accuracy"] == 1.0
    assert written["eer"] == 0.0
    confusion = json.loads((tmp_path / "confusion_matrix.json").read_text())
    assert confusion["tp"] == labels.sum()
    assert confusion["tn"] == (labels == 0).sum()
    assert confusion["fp"] == confusion["fn"] == 0


def test_random_predictor_scores_near_chance(tmp_path):
    labels, probs, generators = predictions(separating=False, n=4000)
    metrics = write_report(labels, probs, generators, tmp_path)
    assert abs(metrics["roc_auc"] - 0.5) < 0.05
    assert abs(metrics["accuracy"] - 0.5) < 0.05
    assert abs(metrics["eer"] - 0.5) < 0.05


def test_curves_are_csv_for_dvc_plots(tmp_path):
    labels, probs, generators = predictions(separating=False)
    write_report(labels, probs, generators, tmp_path)

    roc = pd.read_csv(tmp_path / "roc.csv")
    assert list(roc.columns) == ["fpr", "tpr", "threshold"]
    assert (roc.iloc[0]["fpr"], roc.iloc[0]["tpr"]) == (0.0, 0.0)
    assert (roc.iloc[-1]["fpr"], roc.iloc[-1]["tpr"]) == (1.0, 1.0)
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    assert roc["threshold"].between(0, 1).all()
    # The area under the written curve is the AUC the metrics report.
    area = np.trapezoid(roc["tpr"], roc["fpr"])
    assert area == pytest.approx(json.loads((tmp_path / "metrics.json").read_text())["roc_auc"])

    pr = pd.read_csv(tmp_path / "pr.csv")
    assert list(pr.columns) == ["recall", "precision", "threshold"]
    assert pr["recall"].between(0, 1).all() and pr["precision"].between(0, 1).all()
    for png in ("roc.png", "pr.png", "confusion_matrix.png"):
        with Image.open(tmp_path / png) as image:
            assert image.format == "PNG" and min(image.size) >= 200


def test_per_generator_rows_and_overall(tmp_path):
    labels, probs, generators = predictions(separating=True)
    # Make one generator wrong everywhere: its accuracy must drop to 0 and only its.
    flipped = generators == "glide"
    probs = np.where(flipped, 1.0 - probs, probs)
    write_report(labels, probs, generators, tmp_path, prefix="test_")

    table = pd.read_csv(tmp_path / "test_per_generator.csv")
    assert list(table["generator"]) == ["biggan", "glide", "stylegan", "overall"]
    assert table.set_index("generator")["n"].to_dict() == {
        "biggan": (generators == "biggan").sum(),
        "glide": flipped.sum(),
        "stylegan": (generators == "stylegan").sum(),
        "overall": len(labels),
    }
    by_name = table.set_index("generator")
    assert by_name.loc["glide", "accuracy"] == 0.0 and by_name.loc["glide", "roc_auc"] == 0.0
    assert by_name.loc["biggan", "roc_auc"] == 1.0
    assert 0 < by_name.loc["overall", "accuracy"] < 1
    rows = json.loads((tmp_path / "test_per_generator.json").read_text())
    assert [row["generator"] for row in rows] == list(table["generator"])


def test_one_class_generator_has_undefined_ranking_metrics(tmp_path):
    labels = np.array([0, 1, 0, 1, 1, 1])
    probs = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3])
    generators = ["a", "a", "a", "a", "only_fakes", "only_fakes"]
    table = per_generator_table(labels, probs, generators)
    only_fakes = table.set_index("generator").loc["only_fakes"]
    assert np.isnan(only_fakes["roc_auc"]) and only_fakes["accuracy"] == 0.5

    write_report(labels, probs, generators, tmp_path)
    written = json.loads((tmp_path / "per_generator.json").read_text())
    rows = {row["generator"]: row for row in written}
    assert rows["only_fakes"]["roc_auc"] is None  # JSON has no NaN


def test_predictions_csv_lists_every_image(tmp_path):
    labels, probs, generators = predictions(separating=True, n=20)
    paths = [f"/images/{i}.png" for i in range(20)]
    write_report(labels, probs, generators, tmp_path, threshold=0.7, paths=paths)
    table = pd.read_csv(tmp_path / "predictions.csv")
    assert list(table.columns) == ["path", "label", "generator", "prob", "predicted"]
    assert list(table["path"]) == paths
    assert (table["predicted"] == (table["prob"] >= 0.7)).all()


def test_mismatched_lengths_are_refused(tmp_path):
    with pytest.raises(ValueError, match="one label, probability and generator per image"):
        write_report([0, 1], [0.5, 0.5], ["a"], tmp_path)
