"""Logistic regression on 1D azimuthal profiles: the cheap reference every detector must beat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from deepguard.errors import DataError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def profile_baseline(
    profiles: np.ndarray,
    labels,
    splits,
    *,
    train_split: str = "train",
    test_split: str = "test",
    C: float = 1.0,
    max_iter: int = 2000,
    threshold: float = 0.5,
) -> tuple[Pipeline, dict]:
    """Fit ``StandardScaler -> LogisticRegression`` on the train profiles, score the test ones.

    Args:
        profiles: ``(N, R)`` azimuthal profiles.
        labels: ``(N,)`` 1 = fake, 0 = real.
        splits: ``(N,)`` split name of each profile.
        C: inverse L2 regularisation strength.
        max_iter: solver iterations.
        threshold: decision threshold for accuracy and F1.

    Returns:
        The fitted pipeline and ``{"train": metrics, "test": metrics, "n_features": R}``, the
        metrics being ``deepguard.evaluation.compute_metrics``'s.
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).ravel()
    splits = np.asarray(splits, dtype=str).ravel()
    if not profiles.shape[0] == labels.size == splits.size:
        raise ValueError(
            f"need one label and split per profile; got {profiles.shape[0]} profiles, "
            f"{labels.size} labels, {splits.size} splits"
        )
    train, test = splits == train_split, splits == test_split
    if np.unique(labels[train]).size < 2:
        raise DataError(
            f"the baseline needs real and fake images in split '{train_split}'; it has "
            f"{int((labels[train] == 0).sum())} real and {int((labels[train] == 1).sum())} fake"
        )
    if not test.any():
        raise DataError(
            f"no images in split '{test_split}' to score the baseline on; splits present: "
            f"{sorted(set(splits.tolist()))}"
        )
    # Imported here: scikit-learn takes seconds to import and the evaluation package pulls in
    # TensorFlow; the app and the API must not pay for them when they only draw spectra.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from deepguard.evaluation.metrics import compute_metrics

    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    model.fit(profiles[train], labels[train])
    report: dict[str, Any] = {
        split: compute_metrics(labels[rows], model.predict_proba(profiles[rows])[:, 1], threshold)
        for split, rows in ((train_split, train), (test_split, test))
    }
    report["n_features"] = int(profiles.shape[1])
    return model, report
