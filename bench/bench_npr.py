"""NPR trained from scratch on real faces: held-out validation AUC, wall time and images/s.

    python bench/bench_npr.py [--data ../shared/data/faces-hard-dev] [overrides ...]
    python bench/bench_npr.py data.image_size=160 trainer.max_epochs=20

Runs ``train(cfg)`` with ``experiment=npr`` on the folder's ``manifest.csv`` (the DataModule's
content-hash split, seed 42: 70 % train, 15 % validation, 15 % test; logger and registry off,
extra Hydra overrides appended), then times the saved model's training step and prediction on
in-memory batches. Prints, per epoch, the validation ROC AUC, and then the best validation AUC,
the wall time of the whole run (data scan, spectra, training, checkpoint, reload, test) and
the images/s of training and prediction. Settings are chosen on the validation split only;
the run's test metrics are left in its output folder (``metrics.json``), unprinted.

The machine's load average is printed before and after: on shared cores the wall time is an
upper bound, and the process's CPU time divided by the cores is what the run would take on
free cores. Skips with a message when the folder is absent.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "faces-hard-dev"
TIMED_BATCHES = 3  # in-memory batches timed for training and for prediction


def run_training(manifest: Path, overrides: list[str], root: Path):
    """`train(cfg)` with experiment=npr; returns (config, wall s, CPU s, output folder)."""
    from hydra.core.hydra_config import HydraConfig

    from deepguard.config.compose import compose_config
    from deepguard.training import train

    cfg = compose_config(
        REPO_ROOT / "conf",
        "train",
        [
            "experiment=npr",
            "data=manifest",
            f"data.manifest={manifest}",
            "logger=csv",
            "registry.enabled=false",
            *overrides,
        ],
        root,
    )
    start, cpu_start = time.perf_counter(), cpu_seconds()
    # train() ends with the test metrics; settings are picked on validation, so they go to
    # the run's log file only.
    with open(root / "train.log", "w") as log, contextlib.redirect_stdout(log):
        train(cfg)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    HydraConfig.instance().cfg = None
    return cfg, seconds, cpu, Path(cfg.paths.output_dir)


def cpu_seconds() -> float:
    """User + system CPU time of this process: what the run costs whatever else is running."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def images_per_second(model, batch_size: int, train: bool) -> float:
    """Training steps or predictions per second on one repeated in-memory batch, as img/s."""
    import keras

    size = int(model.input_shape[1])
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch_size, size, size, 3)).astype("float32")
    y = (rng.uniform(size=(batch_size, 1)) > 0.5).astype("float32")
    if train:
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy")
        step = lambda: model.train_on_batch(x, y)  # noqa: E731
    else:
        step = lambda: model.predict_on_batch(x)  # noqa: E731
    step()  # traces the graph
    start = time.perf_counter()
    for _ in range(TIMED_BATCHES):
        step()
    return TIMED_BATCHES * batch_size / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with manifest.csv")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args(argv)
    manifest = args.data / "manifest.csv"
    if not manifest.is_file():
        print(f"no {manifest}; pass --data <folder with manifest.csv>")
        return

    import keras
    import pandas as pd

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        cfg, seconds, cpu, out = run_training(manifest.resolve(), args.overrides, Path(tmp))
        history = pd.read_csv(out / "history.csv")
        model = keras.saving.load_model(out / "model.keras", safe_mode=True)
        train_rate = images_per_second(model, int(cfg.data.batch_size), train=True)
        predict_rate = images_per_second(model, int(cfg.data.batch_size), train=False)
    best = history.loc[history["val_auc"].idxmax()]
    last = history["val_auc"].iloc[-1]
    print(f"keras {keras.__version__}, {os.cpu_count()} CPUs, overrides: {args.overrides}")
    print(history[["epoch", "loss", "auc", "val_loss", "val_auc"]].round(4).to_string(index=False))
    print(
        f"npr {cfg.data.image_size} px, batch {cfg.data.batch_size}, "
        f"lr {cfg.optimizer.learning_rate}, {len(history)} epochs: best val ROC AUC "
        f"{best['val_auc']:.4f} (epoch {int(best['epoch'])}), last {last:.4f}"
    )
    cores = len(os.sched_getaffinity(0))
    print(
        f"wall {seconds:.0f} s, CPU {cpu:.0f} s (about {cpu / cores:.0f} s on {cores} free "
        f"cores); train {train_rate:.1f} img/s, predict {predict_rate:.1f} img/s; "
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
