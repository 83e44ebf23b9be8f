"""Detection quality and time to it on real faces: spectral baseline, linear probe, trainer.

    python bench/bench_detection.py [--data ../shared/data/faces-hard-dev] [--image-size 96]

One fixed split of the folder's ``manifest.csv`` (the DataModule's content-hash split, seed
42: 70 % train, 15 % val, 15 % test); every method is scored on the same test images:

- ``spectral``: logistic regression on the 1D azimuthal profile of each image at its native
  size (`deepguard.spectral.profile_baseline`), fitted on train.
- ``probe``: frozen VGG16 (``hed`` weights) features, average- and max-pooled after blocks
  3-5, standardized, with a scikit-learn logistic regression fitted on train.
- ``trainer``: the project's own run, ``train(cfg)`` with ``experiment=vgg16_hed_probe`` (the
  multi-scale head trained on cached frozen features), logger and registry off.

Prints test ROC AUC, accuracy and wall time (decoding included) per method. Skips with a
message when the folder is absent.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "faces-hard-dev"
FEATURE_LAYERS = ["block3_conv3", "block4_conv3", "block5_conv3"]
SEED = 42


def compose(overrides: list[str], root: Path):
    """`conf/train.yaml` composed as `@hydra.main` would, with every path under `root`."""
    from deepguard.config.compose import compose_config

    return compose_config(REPO_ROOT / "conf", "train", overrides, root)


def load_split(manifest: Path, image_size: int):
    from deepguard.data import DataModule

    return DataModule(manifest=manifest, image_size=image_size, batch_size=32, seed=SEED).setup()


def spectral_baseline(datamodule) -> dict:
    from deepguard.images import DATASET_LIMITS, read_image
    from deepguard.spectral import azimuthal_profile, profile_baseline

    start = time.perf_counter()
    records = datamodule.records
    images = [read_image(path, DATASET_LIMITS) for path in records["path"]]
    size = images[0].shape[:2]  # faces-hard-dev is 300 x 300 throughout
    profiles = azimuthal_profile(np.stack(images), size=size)
    _, report = profile_baseline(profiles, records["label"], records["split"])
    test = report["test"]
    return {"roc_auc": test["roc_auc"], "accuracy": test["accuracy"]} | {
        "seconds": time.perf_counter() - start
    }


def linear_probe(datamodule, image_size: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from deepguard.evaluation.metrics import compute_metrics
    from deepguard.models import build_detector
    from deepguard.training.feature_cache import compute_features, split_detector

    start = time.perf_counter()
    model = build_detector(
        name="vgg16",
        application="keras.applications.VGG16",
        preprocessing="caffe",
        image_size=image_size,
        weights="hed",
        feature_layers=FEATURE_LAYERS,
    )
    features, _ = split_detector(model)
    x_train, y_train = compute_features(features, datamodule.train_dataset())
    x_test, y_test = compute_features(features, datamodule.test_dataset())
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
    probe.fit(x_train, y_train)
    metrics = compute_metrics(y_test.astype(int), probe.predict_proba(x_test)[:, 1])
    return {"roc_auc": metrics["roc_auc"], "accuracy": metrics["accuracy"]} | {
        "seconds": time.perf_counter() - start
    }


def project_trainer(manifest: Path, image_size: int, extra: list[str]) -> dict:
    from deepguard.training import train

    with tempfile.TemporaryDirectory() as root:
        cfg = compose(
            [
                "experiment=vgg16_hed_probe",
                "data=manifest",
                f"data.manifest={manifest}",
                f"data.image_size={image_size}",
                f"seed={SEED}",
                "logger=none",
                "registry.enabled=false",
                "trainer.verbose=0",
                *extra,
            ],
            Path(root),
        )
        start = time.perf_counter()
        metrics = train(cfg)
        seconds = time.perf_counter() - start
    return {"roc_auc": metrics["test_roc_auc"], "accuracy": metrics["test_accuracy"]} | {
        "seconds": seconds
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with manifest.csv")
    parser.add_argument("--image-size", type=int, default=96, help="model input side, pixels")
    parser.add_argument(
        "--methods", default="spectral,probe,trainer", help="comma-separated subset to run"
    )
    parser.add_argument(
        "--override", action="append", default=[], help="extra Hydra override for the trainer"
    )
    args = parser.parse_args()
    manifest = args.data / "manifest.csv"
    if not manifest.is_file():
        print(f"skipped: no {manifest} (the real-face folder is not available)")
        return
    methods = args.methods.split(",")
    datamodule = load_split(manifest, args.image_size)
    counts = datamodule.records["split"].value_counts().to_dict()
    print(f"{args.data.name}: {counts} images (seed {SEED}); {os.cpu_count()} CPU cores")
    results = {}
    if "spectral" in methods:
        results["spectral profile + logistic regression"] = spectral_baseline(datamodule)
    if "probe" in methods:
        results[f"VGG16 hed probe, blocks 3-5, {args.image_size} px"] = linear_probe(
            datamodule, args.image_size
        )
    if "trainer" in methods:
        results[f"train(cfg) vgg16_hed_probe, {args.image_size} px"] = project_trainer(
            manifest, args.image_size, args.override
        )
    print(f"\n{'method':<48} {'test AUC':>9} {'accuracy':>9} {'wall s':>8}")
    for name, row in results.items():
        print(f"{name:<48} {row['roc_auc']:>9.4f} {row['accuracy']:>9.4f} {row['seconds']:>8.1f}")


if __name__ == "__main__":
    main()
