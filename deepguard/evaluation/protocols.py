"""Cross-generator protocols: how well a detector generalises to generators it never saw."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from deepguard.errors import DataError

# fit_and_score(train_records, test_records) -> {"roc_auc": ..., "accuracy": ..., ...}
FitAndScore = Callable[[pd.DataFrame, pd.DataFrame], dict[str, float]]


def leave_one_generator_out(
    records: pd.DataFrame, fit_and_score: FitAndScore, metric: str = "roc_auc"
) -> tuple[pd.DataFrame, float]:
    """Train on every generator but one, test on the one left out; once per generator.

    The records of all splits take part: the held-out generator's records are the test set,
    the others' records are the training set (`fit_and_score` may use their `split` column
    to hold out a validation part).

    Args:
        records: record table with `path`, `label`, `generator` (and usually `split`).
        fit_and_score: trains a fresh detector on its first argument and returns metrics on
            its second, e.g. `compute_metrics(test.label, probabilities)`.
        metric: the metric averaged over folds.

    Returns:
        The table (one row per held-out generator: generator, n_train, n_test, and every
        metric `fit_and_score` returned) and the mean of `metric` over folds (NaN folds,
        such as a generator with one class only, are left out of the mean).

    Example:
        >>> table, mean_auc = leave_one_generator_out(datamodule.records, fit_and_score)
    """
    missing = {"path", "label", "generator"} - set(records.columns)
    if missing:
        raise DataError(
            f"leave-one-generator-out needs record columns path, label, generator; "
            f"missing {sorted(missing)}"
        )
    generators = sorted(records["generator"].astype(str).unique())
    if len(generators) < 2:
        raise DataError(
            f"leave-one-generator-out needs records from at least 2 generators; got "
            f"{generators}: use a layout or manifest that names generators (GenImage, "
            "a manifest with a `generator` column)"
        )
    rows = []
    for held_out in generators:
        is_test = records["generator"].astype(str) == held_out
        train, test = records[~is_test], records[is_test]
        if train["label"].nunique() < 2:
            raise DataError(
                f"without generator '{held_out}' the training records hold only label "
                f"{train['label'].iloc[0]}; every fold needs real and fake training images"
            )
        scores = dict(fit_and_score(train.reset_index(drop=True), test.reset_index(drop=True)))
        rows.append({"generator": held_out, "n_train": len(train), "n_test": len(test)} | scores)
    table = pd.DataFrame(rows)
    if metric not in table.columns:
        raise ValueError(
            f"fit_and_score returned {sorted(set(table.columns) - {'generator'})}; "
            f"expected a '{metric}' entry to average"
        )
    values = table[metric].astype(float)
    mean = float(np.nanmean(values)) if values.notna().any() else float("nan")
    return table, mean
