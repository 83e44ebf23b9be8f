"""float32 against mixed_bfloat16 training: images/s during fit and test metrics.

    python bench/bench_precision.py [--epochs 3] [--runs small_cnn:64,vgg16:64] [--limit 64]

Each run composes ``conf/train.yaml`` (synthetic data, no augmentation, constant learning
rate, logger and callbacks off) with ``backbone=<name> data.image_size=<px>``, once with
``trainer.precision=float32`` and once with ``mixed_bfloat16``, builds the datamodule, model
and trainer as ``train(cfg)`` does, fits, and tests. Training speed is the number of training
images over each epoch's wall time, measured by a callback, median over the epochs after the
first (which traces the graph). Both precisions use the same seed, split and initial recipe.

``--limit`` caps the images per split (``data.limit``): on a CPU without native bfloat16
(no AVX-512 BF16 / AMX) ``mixed_bfloat16`` is emulated and several times slower, and a full
synthetic epoch of VGG16 would take most of an hour.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

REPO_ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = ("float32", "mixed_bfloat16")


class EpochTimer(keras.callbacks.Callback):
    """Wall time of every training epoch (validation excluded), in seconds."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._recorded = time.perf_counter(), False

    def on_test_begin(self, logs=None):
        self._record()  # validation starts when the training part of the epoch has ended

    def on_epoch_end(self, epoch, logs=None):
        self._record()

    def _record(self) -> None:
        if not self._recorded:
            self.seconds.append(time.perf_counter() - self._start)
            self._recorded = True


def compose(overrides: list[str], root: Path):
    """`conf/train.yaml` composed as `@hydra.main` would, with every path under `root`."""
    from deepguard.config.compose import compose_config

    return compose_config(REPO_ROOT / "conf", "train", overrides, root)


def run(
    backbone: str, image_size: int, precision: str, epochs: int, limit: int | None, root: Path
) -> dict:
    from hydra.utils import instantiate

    from deepguard.tracking.logger import NullLogger
    from deepguard.training.runtime import seed_everything
    from deepguard.training.train import build_datamodule, build_model, build_trainer

    cfg = compose(
        [
            f"backbone={backbone}",
            f"data.image_size={image_size}",
            f"data.root={root}/synthetic/{image_size}px",  # shared by both precisions
            f"trainer.precision={precision}",
            f"trainer.max_epochs={epochs}",
            f"data.limit={'null' if limit is None else limit}",
            "trainer.verbose=0",
            "augmentation=none",
            "scheduler=constant",
            "callbacks=none",
            "logger=none",
        ],
        root / precision,
    )
    seed_everything(cfg.seed, cfg.trainer.deterministic)
    datamodule = build_datamodule(cfg).setup()
    trainer = build_trainer(cfg, NullLogger())
    timer = EpochTimer()
    trainer.callbacks.append(timer)
    model = build_model(cfg, trainer)
    trainer.fit(model, datamodule, instantiate(cfg.optimizer), instantiate(cfg.scheduler))
    metrics = trainer.test(model, datamodule, out_dir=Path(cfg.paths.output_dir))
    n_train = len(datamodule.split_records("train"))
    steady = timer.seconds[1:] or timer.seconds
    return {
        "images_per_s": n_train / statistics.median(steady),
        "roc_auc": metrics["roc_auc"],
        "accuracy": metrics["accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per run")
    parser.add_argument(
        "--runs", default="small_cnn:64,vgg16:64", help="comma-separated backbone:pixels pairs"
    )
    parser.add_argument("--limit", type=int, default=64, help="images per split; 0: all")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPU cores, Keras {keras.__version__}, batch 32, synthetic data, "
        f"limit {args.limit or 'none'} images per split"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.runs.split(","):
            backbone, pixels = spec.split(":")
            results = {
                precision: run(
                    backbone, int(pixels), precision, args.epochs, args.limit or None, Path(tmp)
                )
                for precision in PRECISIONS
            }
            rows.append((f"{backbone} {pixels} px", results))
    print(f"\n{'model':<16} {'precision':<16} {'train img/s':>11} {'test AUC':>9} {'accuracy':>9}")
    for name, results in rows:
        for precision, row in results.items():
            print(
                f"{name:<16} {precision:<16} {row['images_per_s']:>11.1f} "
                f"{row['roc_auc']:>9.4f} {row['accuracy']:>9.4f}"
            )
        fast, slow = results["mixed_bfloat16"], results["float32"]
        print(
            f"{name:<16} speed-up x{fast['images_per_s'] / slow['images_per_s']:.2f}, "
            f"test AUC change {fast['roc_auc'] - slow['roc_auc']:+.4f}, "
            f"accuracy change {fast['accuracy'] - slow['accuracy']:+.4f}"
        )


if __name__ == "__main__":
    main()
