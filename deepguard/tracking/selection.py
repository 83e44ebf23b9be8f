"""Model selection reads validation metrics only; test metrics are reported, never chosen on.

A sweep that keeps the job with the best test ROC AUC has tuned on the test split: the test
images helped pick the model, so the test number it reports is optimistic. Sweeps, Optuna
searches and `register ... sweep=` therefore select on a ``val_*`` metric and show the
``test_*`` metrics beside it.
"""

from __future__ import annotations

from deepguard.errors import ConfigError

VALIDATION_PREFIX = "val_"
TEST_PREFIX = "test_"
DIRECTIONS = ("maximize", "minimize")


def require_validation_metric(metric: str, setting: str = "optimized_metric") -> str:
    """Return `metric` if it names a validation metric, else raise `ConfigError` saying why.

    Args:
        metric: the run metric a selection would sort by, e.g. ``val_auc``.
        setting: the config key it came from, named in the message.

    Example:
        >>> require_validation_metric("val_auc")
        'val_auc'
    """
    metric = str(metric)
    if metric.startswith(VALIDATION_PREFIX):
        return metric
    why = (
        f"'{metric}' is measured on the test split: choosing a model by it lets the test images "
        "take part in the choice, so every test number reported afterwards is optimistic"
        if metric.startswith(TEST_PREFIX)
        else f"'{metric}' is not measured on the validation split"
    )
    raise ConfigError(
        f"{setting}={metric} cannot select models: {why}. Select on a validation metric "
        f"({setting}=val_auc, or val_loss with direction minimize); the test metrics are "
        "reported beside it in the comparison"
    )


def require_direction(direction: str, setting: str = "direction") -> str:
    """Return `direction` if it is ``maximize`` or ``minimize``, else raise `ConfigError`."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"{setting} must be maximize or minimize; got '{direction}'")
    return direction
