"""Cross-dataset evaluation: the generalization table's rows and numbers (checked against
scikit-learn on the same scores), and a suite run end to end: real files, the model's MLflow
run, and the registry promoting on the suite's mean ROC AUC."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import high_frequency_detector, noise_image, smooth_image, write_image
from omegaconf import OmegaConf
from sklearn import metrics as skm

from deepguard.evaluation import run_evaluation
from deepguard.evaluation.generalization import generalization_table, suite_summary
from deepguard.evaluation.metrics import equal_error_rate
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.registry import register_model
from deepguard.tracking.store import make_client

REPO = Path(__file__).resolve().parents[2]


def scores(generators, labels, probs):
    return pd.DataFrame({"generator": generators, "label": labels, "prob": probs})


# "paired": each generator has its own reals (CNNDetection-like); "named": the reals have one
# source and each generator only fakes (faces-t2i-like).
PAIRED = scores(
    ["a"] * 6 + ["b"] * 6,
    [0, 0, 0, 1, 1, 1] * 2,
    [0.1, 0.4, 0.7, 0.6, 0.8, 0.3, 0.2, 0.1, 0.5, 0.9, 0.95, 0.45],
)
NAMED = scores(
    ["photo"] * 5 + ["sdxl"] * 3 + ["flux"] * 3,
    [0] * 5 + [1] * 6,
    [0.2, 0.3, 0.6, 0.1, 0.55, 0.9, 0.4, 0.7, 0.35, 0.25, 0.65],
)


def expected_row(labels, probs, threshold=0.5):
    labels, probs = np.asarray(labels), np.asarray(probs)
    both = len(set(labels)) == 2
    return {
        "n": len(labels),
        "n_fake": int(labels.sum()),
        "roc_auc": skm.roc_auc_score(labels, probs) if both else math.nan,
        "average_precision": skm.average_precision_score(labels, probs) if both else math.nan,
        "accuracy": skm.accuracy_score(labels, probs >= threshold),
        "eer": equal_error_rate(labels, probs) if both else math.nan,
    }


def test_rows_and_numbers_match_scikit_learn_on_the_same_scores():
    table = generalization_table({"paired": PAIRED, "named": NAMED}, threshold=0.5)
    assert list(zip(table["dataset"], table["generator"], strict=True)) == [
        ("paired", "a"),
        ("paired", "b"),
        ("paired", "overall"),
        ("named", "flux"),
        ("named", "photo"),
        ("named", "sdxl"),
        ("named", "overall"),
    ]
    reals = NAMED[NAMED.label == 0]
    groups = {
        ("paired", "a"): PAIRED[PAIRED.generator == "a"],
        ("paired", "b"): PAIRED[PAIRED.generator == "b"],
        ("paired", "overall"): PAIRED,
        ("named", "flux"): pd.concat([NAMED[NAMED.generator == "flux"], reals]),  # vs all reals
        ("named", "photo"): reals,  # reals only: accuracy, no ranking metric
        ("named", "sdxl"): pd.concat([NAMED[NAMED.generator == "sdxl"], reals]),
        ("named", "overall"): NAMED,
    }
    for row in table.itertuples():
        group = groups[(row.dataset, row.generator)]
        expected = expected_row(group.label, group.prob)
        for column, value in expected.items():
            got = getattr(row, column)
            assert (math.isnan(got) and math.isnan(value)) or got == pytest.approx(value), (
                row.dataset,
                row.generator,
                column,
            )
    summary = suite_summary(table, "demo")
    overall = table[table.generator == "overall"]
    assert summary["suite_demo_mean_roc_auc"] == pytest.approx(overall["roc_auc"].mean())
    assert summary["suite_demo_mean_roc_auc"] == pytest.approx(
        (skm.roc_auc_score(PAIRED.label, PAIRED.prob) + skm.roc_auc_score(NAMED.label, NAMED.prob))
        / 2
    )


def folder(root: Path, per_class: int, seed: int) -> Path:
    """Smooth real PNGs (source "photo") and noisy fakes (generator "gan"), with a manifest."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(per_class):
        write_image(root / "real" / f"{index}.png", smooth_image(rng, 40))
        write_image(root / "fake" / f"{index}.png", noise_image(rng, 40))
        rows += [(f"real/{index}.png", "real", "photo"), (f"fake/{index}.png", "fake", "gan")]
    pd.DataFrame(rows, columns=["path", "label", "generator"]).to_csv(
        root / "manifest.csv", index=False
    )
    return root


def logged_model(tracking_uri, tmp_path, name, model):
    path = tmp_path / f"{name}.keras"
    model.save(path)
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start(name, {}, tags={})
    logger.log_metrics({"test_roc_auc": 0.5})
    logger.log_model(path)
    logger.finish()
    return logger.run_id


def suite_config(tmp_path, model_uri, tracking_uri, roots, name):
    cfg = OmegaConf.load(REPO / "conf" / "evaluate.yaml")
    for key in ("defaults", "hydra"):
        cfg.pop(key)
    suite = {
        "name": "tiny",
        "split": "all",
        "datasets": {name: {"root": str(root)} for name, root in roots.items()},
    }
    values = {
        "model": model_uri,
        "tracking_uri": tracking_uri,
        "out_dir": str(tmp_path / f"report-{name}"),
        "suite": suite,
        "batch_size": 8,
        "faces_cache": None,  # no paths group here: the detection cache is off
    }
    return OmegaConf.merge(cfg, values)


def test_a_suite_run_writes_the_table_records_it_on_the_model_run_and_can_promote(
    tmp_path, tracking_uri
):
    roots = {
        "first": folder(tmp_path / "first", 10, 0),
        "second": folder(tmp_path / "second", 8, 1),
    }
    good = logged_model(tracking_uri, tmp_path, "good", high_frequency_detector(32, bias=20))
    inverted = logged_model(
        tracking_uri, tmp_path, "inverted", high_frequency_detector(32, bias=20, scale=-1)
    )
    results = {}
    for name, run_id in (("inverted", inverted), ("good", good)):
        cfg = suite_config(tmp_path, f"runs:/{run_id}/model", tracking_uri, roots, name)
        results[run_id] = run_evaluation(cfg)

    table = pd.read_csv(Path(results[good]["out_dir"]) / "generalization.csv")
    assert list(table["dataset"]) == ["first", "first", "first", "second", "second", "second"]
    assert list(table["generator"]) == ["gan", "photo", "overall"] * 2
    assert table.loc[table.generator == "overall", "n"].tolist() == [20, 16]
    assert (Path(results[good]["out_dir"]) / "generalization.png").is_file()
    client = make_client(tracking_uri)
    run = client.get_run(good)
    assert run.data.metrics["suite_tiny_mean_roc_auc"] == pytest.approx(1.0)
    assert run.data.tags["deepguard.suite_digest.tiny"] == results[good]["digest"]
    logged = {a.path for a in client.list_artifacts(good, "generalization/tiny")}
    assert "generalization/tiny/generalization.csv" in logged
    summary = json.loads((Path(results[good]["out_dir"]) / "generalization.json").read_text())
    assert summary["summary"]["suite_tiny_mean_roc_auc"] == pytest.approx(1.0)

    # champion means "generalizes best on the suite": the inverted model is champion first,
    # the good one beats it on the suite mean measured on the same suite data (same digest)
    first = register_model(inverted, metric="suite_tiny_mean_roc_auc", tracking_uri=tracking_uri)
    second = register_model(good, metric="suite_tiny_mean_roc_auc", tracking_uri=tracking_uri)
    assert first["aliases_moved"] == ["challenger", "champion"]
    assert second["aliases_moved"] == ["challenger", "champion"], second["reason"]
