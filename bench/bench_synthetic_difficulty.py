"""How far apart the synthetic difficulty settings put weak and strong detectors.

For each difficulty level the synthetic set is generated at its defaults otherwise (400 real +
400 fake, 64 px, seed 0), then scored by detectors of increasing strength:

- ``profile``: the spectra stage's baseline, a logistic regression on 1D azimuthal spectrum
  profiles (train split fitted, test split scored);
- ``small_cnn:<epochs>``: `train(cfg)` of conf/train.yaml with the small CNN, as
  `make train` runs it (5 epochs is the quickstart), more epochs for a stronger detector;
- ``<backbone>:<epochs>``: any other conf/backbone, from scratch, at its own documented
  settings (`min_image_size` raises the image size where needed).

Prints one row per level and detector: validation and test ROC AUC and the wall time. Takes
about 15 minutes on 2 cores with the defaults.

    python bench/bench_synthetic_difficulty.py
    python bench/bench_synthetic_difficulty.py --levels default --detectors small_cnn:5 \\
        mobilenet_v3_small:5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from deepguard.config.compose import compose_config
from deepguard.data.synthetic import EASIEST, SyntheticDifficulty

REPO_ROOT = Path(__file__).resolve().parents[1]
LEVELS = {
    "easiest": EASIEST,  # the full generator trace, no post-processing
    "default": SyntheticDifficulty(),  # conf/data/synthetic.yaml
    "hard": SyntheticDifficulty(artifact_strength=0.4),  # weaker traces, same post-processing
}
DEFAULT_DETECTORS = ("profile", "small_cnn:5", "small_cnn:15")


def difficulty_overrides(difficulty: SyntheticDifficulty) -> list[str]:
    return [
        f"data.synthetic.difficulty.{name}={list(value) if isinstance(value, tuple) else value}"
        for name, value in vars(difficulty).items()
    ]


def train_detector(backbone: str, epochs: int, difficulty, root: Path) -> dict[str, float]:
    """Train from scratch as `scripts/train.py` would (no tracking); best val and test AUC."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from deepguard.training import train

    minimum = OmegaConf.load(REPO_ROOT / "conf" / "backbone" / f"{backbone}.yaml").min_image_size
    image_size = max(64, -(-int(minimum) // 4) * 4)  # synthetic sides are multiples of 4
    overrides = [
        f"backbone={backbone}",
        f"trainer.max_epochs={epochs}",
        f"data.image_size={image_size}",
        f"paths.data_dir={root / 'data'}",
        "logger=none",
        "callbacks=minimal",
        "registry.enabled=false",
        *difficulty_overrides(difficulty),
    ]
    cfg = compose_config(REPO_ROOT / "conf", "train", overrides, root / f"{backbone}-{epochs}")
    try:
        metrics = train(cfg)
    finally:
        HydraConfig.instance().cfg = None
    return {"val_roc_auc": metrics["val_auc"], "test_roc_auc": metrics["test_roc_auc"]}


def profile_detector(difficulty, root: Path) -> dict[str, float]:
    """The spectral-profile baseline on the same images and splits the trainer uses."""
    from deepguard.data import DataModule
    from deepguard.images import decode_image
    from deepguard.spectral import azimuthal_profile, profile_baseline

    data = DataModule(
        root=str(root / "data" / "synthetic" / "64px"),
        image_size=64,
        seed=42,  # conf/train.yaml's seed, so the splits are the trainer's
        synthetic={"difficulty": vars(difficulty)},
    ).setup()
    records = pd.concat([data.split_records(split) for split in ("train", "val", "test")])
    profiles = np.stack(
        [azimuthal_profile(decode_image(Path(p).read_bytes())) for p in records["path"]]
    )
    _, val = profile_baseline(profiles, records["label"], records["split"], test_split="val")
    _, test = profile_baseline(profiles, records["label"], records["split"])
    return {"val_roc_auc": val["val"]["roc_auc"], "test_roc_auc": test["test"]["roc_auc"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", nargs="+", default=list(LEVELS), choices=list(LEVELS))
    parser.add_argument(
        "--detectors",
        nargs="+",
        default=list(DEFAULT_DETECTORS),
        help="'profile' or <backbone>:<epochs> entries",
    )
    args = parser.parse_args(argv)
    rows = []
    for level in args.levels:
        with tempfile.TemporaryDirectory(prefix=f"difficulty-{level}-") as scratch:
            for detector in args.detectors:
                start = time.perf_counter()
                if detector == "profile":
                    scores = profile_detector(LEVELS[level], Path(scratch))
                else:
                    backbone, _, epochs = detector.partition(":")
                    scores = train_detector(
                        backbone, int(epochs or 5), LEVELS[level], Path(scratch)
                    )
                rows.append(
                    {
                        "level": level,
                        "detector": detector,
                        **scores,
                        "wall_s": time.perf_counter() - start,
                    }
                )
                print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1))
    print("\n" + pd.DataFrame(rows).to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
