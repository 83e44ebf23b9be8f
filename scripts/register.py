"""Register a run's model (or a sweep's best run) and move the challenger/champion aliases.

python scripts/register.py run_id=<run id>
python scripts/register.py sweep=<sweep id> metric=roc_auc
"""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from deepguard.errors import ConfigError
from deepguard.tracking.registry import best_run_of_sweep, register_model
from deepguard.tracking.store import resolve_tracking_uri


def register(cfg: DictConfig) -> dict:
    """Register what `cfg` names; returns `register_model`'s summary."""
    if bool(cfg.run_id) == bool(cfg.sweep):
        raise ConfigError(
            "give exactly one of run_id=<MLflow run id> or sweep=<sweep id>; got "
            f"run_id={cfg.run_id} sweep={cfg.sweep}"
        )
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
    print(json.dumps(register(cfg), indent=2))


if __name__ == "__main__":
    main()
