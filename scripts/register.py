"""Register a run's model (or a sweep's best run) and move the challenger/champion aliases.

python scripts/register.py run_id=<run id>
python scripts/register.py sweep=<sweep id> metric=roc_auc
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
from omegaconf import DictConfig

from deepguard.errors import ConfigError
from deepguard.tracking.registry import best_run_of_sweep, register_model
from deepguard.tracking.store import resolve_tracking_uri


def read_run_file(path: str) -> str:
    """The run id in a training run's `run.json` (written next to its model.keras)."""
    run_file = Path(path)
    if not run_file.is_file():
        raise ConfigError(
            f"run_file '{run_file}' does not exist; train with logger=mlflow first, which "
            "writes run.json into the run's output folder"
        )
    return json.loads(run_file.read_text())["run_id"]


def register(cfg: DictConfig) -> dict:
    """Register what `cfg` names; returns `register_model`'s summary."""
    if sum(bool(choice) for choice in (cfg.run_id, cfg.sweep, cfg.run_file)) != 1:
        raise ConfigError(
            "give exactly one of run_id=<MLflow run id>, sweep=<sweep id> or "
            f"run_file=<run.json of a training run>; got run_id={cfg.run_id} "
            f"sweep={cfg.sweep} run_file={cfg.run_file}"
        )
    if cfg.run_file:
        cfg.run_id = read_run_file(cfg.run_file)
    tracking_uri = resolve_tracking_uri(cfg.tracking_uri, cfg.root_dir)
    run_id = cfg.run_id or best_run_of_sweep(
        str(cfg.sweep), cfg.metric, cfg.higher_is_better, tracking_uri
    )
    return register_model(
        str(run_id),
        name=cfg.name,
        metric=cfg.metric,
        higher_is_better=cfg.higher_is_better,
        eval_digest=cfg.eval_digest,
        force=cfg.force,
        tracking_uri=tracking_uri,
    )


@hydra.main(config_path="../conf", config_name="register", version_base="1.3")
def main(cfg: DictConfig) -> None:
    outcome = json.dumps(register(cfg), indent=2)
    print(outcome)
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(outcome + "\n")


if __name__ == "__main__":
    main()
