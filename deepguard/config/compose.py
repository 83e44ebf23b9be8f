"""Compose a config of `conf/` as `@hydra.main` would, for notebooks, benchmarks and tests."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, open_dict


def compose_config(
    config_dir: str | Path,
    config_name: str,
    overrides: list[str],
    root: str | Path,
    output_dir: str | Path | None = None,
) -> DictConfig:
    """The composed config with every path under `root`, ready for `train(cfg)`.

    Hydra's runtime values that only exist inside `@hydra.main` (the output folder, the
    working directory, the override dirname) are filled in, and Hydra's runtime config is
    set so that `${hydra:...}` interpolations resolve. Call
    ``HydraConfig.instance().cfg = None`` afterwards to leave no Hydra context behind.

    Example:
        >>> cfg = compose_config("conf", "train", ["backbone=vgg16"], root="/tmp/try")
        >>> metrics = train(cfg)  # doctest: +SKIP
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    root = Path(root)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        cfg = compose(
            config_name=config_name,
            overrides=[f"paths.root_dir={root}", *overrides],
            return_hydra_config=True,
        )
    GlobalHydra.instance().clear()
    output_dir = Path(output_dir) if output_dir else root / "outputs" / "run"
    output_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.runtime.cwd = str(root)
        cfg.hydra.job.override_dirname = ",".join(overrides)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as in @hydra.main: the task sees its config without the hydra node
    return cfg
