"""Leave-one-generator-out: train on every generator but one, score the one left out.

    python bench/bench_cross_generator.py [--data ../shared/data/generators-dev] [--image-size 240]

For each of the folder's generators (the ``generator`` column of its ``manifest.csv``),
`deepguard.evaluation.leave_one_generator_out` trains a fresh detector on the others and
scores the held-out one. Two detectors:

- ``vgg16_hed_probe``: the recipe of ``conf/experiment/vgg16_hed_probe.yaml``, frozen VGG16
  (``hed``) with the multi-scale head, here on blocks 1-2 at the images' native 240 px (the
  best of the variants tried; ``--feature-layers``, ``--image-size``). The backbone is
  frozen, so its features are computed once per image (the trainer's feature cache) and each
  fold trains only the detector's own head layers on them, as the trainer's cached phase does
  (Adam, cosine decay, batch 32, ``--epochs``).
- ``spectral``: the logistic regression on 1D azimuthal profiles (`profile_baseline`).

Prints per-generator ROC AUC and the mean over held-out generators. Skips with a message when
the folder is absent.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "generators-dev"
# Low-level layers at native size generalize best across generators here (docs/models.md).
FEATURE_LAYERS = ["block1_conv2", "block2_conv2"]
SEED = 42


def vgg16_features(datamodule, image_size: int, feature_layers: list[str]):
    """Frozen multi-scale features of every record, and the detector's untrained head."""
    from deepguard.models import build_detector
    from deepguard.training.feature_cache import split_detector

    model = build_detector(
        name="vgg16",
        application="keras.applications.VGG16",
        preprocessing="caffe",
        image_size=image_size,
        weights="hed",
        feature_layers=feature_layers,
        dropout=0.3,
    )
    feature_model, head = split_detector(model)
    images = datamodule.predict_dataset(datamodule.records["path"].tolist())
    features = feature_model.predict(images, verbose=0).astype(np.float32)
    return features, head


def head_fit_and_score(features, paths, head, epochs: int, batch_size: int = 32):
    """A `fit_and_score` that trains a fresh copy of the head on the training folds' features."""
    import keras

    from deepguard.evaluation.metrics import compute_metrics

    initial = head.get_weights()
    row_of = {path: i for i, path in enumerate(paths)}

    def fit_and_score(train, test) -> dict:
        keras.utils.set_random_seed(SEED)
        head.set_weights(initial)
        steps = epochs * int(np.ceil(len(train) / batch_size))
        head.compile(
            optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps)),
            loss="binary_crossentropy",
        )
        x_train = features[[row_of[p] for p in train["path"]]]
        x_test = features[[row_of[p] for p in test["path"]]]
        head.fit(
            x_train,
            train["label"].to_numpy("float32"),
            batch_size=batch_size,
            epochs=epochs,
            shuffle=True,
            verbose=0,
        )
        return compute_metrics(test["label"].to_numpy(int), head.predict(x_test, verbose=0))

    return fit_and_score


def spectral_fit_and_score(profiles, paths):
    from deepguard.spectral import profile_baseline

    row_of = {path: i for i, path in enumerate(paths)}

    def fit_and_score(train, test) -> dict:
        rows = [row_of[p] for p in train["path"]] + [row_of[p] for p in test["path"]]
        labels = np.concatenate([train["label"].to_numpy(), test["label"].to_numpy()])
        splits = ["train"] * len(train) + ["test"] * len(test)
        _, report = profile_baseline(profiles[rows], labels, splits)
        return report["test"]

    return fit_and_score


def azimuthal_profiles(paths) -> np.ndarray:
    from deepguard.images import DATASET_LIMITS, read_image
    from deepguard.spectral import azimuthal_profile

    images = [read_image(path, DATASET_LIMITS) for path in paths]
    return azimuthal_profile(np.stack(images), size=images[0].shape[:2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with manifest.csv")
    parser.add_argument("--image-size", type=int, default=240, help="model input side, pixels")
    parser.add_argument("--epochs", type=int, default=10, help="head epochs per fold")
    parser.add_argument(
        "--feature-layers",
        default=",".join(FEATURE_LAYERS),
        help="comma-separated VGG16 layers to pool (e.g. add block2_conv2 for finer traces)",
    )
    args = parser.parse_args()
    manifest = args.data / "manifest.csv"
    if not manifest.is_file():
        print(f"skipped: no {manifest} (the generator folder is not available)")
        return
    from deepguard.data import DataModule
    from deepguard.evaluation import leave_one_generator_out

    datamodule = DataModule(manifest=manifest, image_size=args.image_size, seed=SEED).setup()
    records = datamodule.records
    paths = records["path"].tolist()
    print(f"{args.data.name}: {len(records)} images, {records['generator'].nunique()} generators")

    start = time.perf_counter()
    features, head = vgg16_features(datamodule, args.image_size, args.feature_layers.split(","))
    feature_seconds = time.perf_counter() - start
    probe_table, probe_mean = leave_one_generator_out(
        records, head_fit_and_score(features, paths, head, args.epochs)
    )
    probe_seconds = time.perf_counter() - start

    start = time.perf_counter()
    profiles = azimuthal_profiles(paths)
    spectral_table, spectral_mean = leave_one_generator_out(
        records, spectral_fit_and_score(profiles, paths)
    )
    spectral_seconds = time.perf_counter() - start

    print(f"\n{'held-out generator':<20} {'vgg16_hed_probe AUC':>20} {'spectral AUC':>13}")
    for probe_row, spectral_row in zip(
        probe_table.itertuples(), spectral_table.itertuples(), strict=True
    ):
        print(f"{probe_row.generator:<20} {probe_row.roc_auc:>20.3f} {spectral_row.roc_auc:>13.3f}")
    print(f"{'mean':<20} {probe_mean:>20.3f} {spectral_mean:>13.3f}")
    print(
        f"\nwall time: vgg16_hed_probe {probe_seconds:.0f} s ({feature_seconds:.0f} s features at "
        f"{args.image_size} px, once; {args.feature_layers}), spectral {spectral_seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
