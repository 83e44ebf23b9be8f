"""Everything the app keeps between reruns: models (`st.cache_resource`), tables and spectra
(`st.cache_data`). Each model is cached under its own pinned URI, so choosing another model
loads only that one."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from deepguard_app.store import StoreState, download_run_file, read_store

# A freshly registered version shows up within this many seconds without a restart.
STORE_TTL_S = 15


@dataclass
class ModelHandle:
    """A loaded model, shared by every session of the server."""

    loaded: Any


@dataclass(frozen=True)
class Explainer:
    """A model's Grad-CAM, or why the model cannot be explained (`problem`)."""

    cam: Any | None
    problem: str | None = None


@st.cache_data(ttl=STORE_TTL_S, show_spinner=False)
def store_state(uri: str) -> StoreState:
    return read_store(uri)


@st.cache_resource(show_spinner="Loading model (sha256 checked, Keras safe mode)...")
def model_handle(uri: str, tracking_uri: str) -> ModelHandle:
    """Load one model through the project's loader; cached per (model URI, store).

    Only the model: its explainer is built by `explainer`, when heatmaps are switched on.
    """
    from deepguard.tracking.loading import load_model

    loaded = load_model(uri, tracking_uri=tracking_uri)
    # Trace the predict graph now (about a second) rather than on the first image a user sends.
    blank = np.zeros((loaded.image_size, loaded.image_size, 3), np.float32)
    loaded.model.predict_on_batch(blank[None])
    return ModelHandle(loaded=loaded)


@st.cache_resource(show_spinner="Preparing Grad-CAM...")
def explainer(uri: str, tracking_uri: str) -> Explainer:
    """The Grad-CAM of one loaded model, built on first use; cached like `model_handle`.

    An architecture Grad-CAM cannot explain gives an `Explainer` with the reason instead,
    so the page says so for that model and still scores it.
    """
    from deepguard.explain import GradCAM, NotExplainableError

    model = model_handle(uri, tracking_uri).loaded.model
    try:
        return Explainer(cam=GradCAM(model))
    except NotExplainableError as error:
        return Explainer(cam=None, problem=str(error))


@st.cache_data(show_spinner=False)
def run_files(tracking_uri: str, run_id: str) -> dict[str, Any]:
    """A run's evaluation files: metrics, curves, tables and the training data's spectra.

    Missing files are left out of the dict (older runs, robustness switched off).
    """
    from deepguard.spectral import MeanSpectra

    readers = {
        "metrics.json": lambda p: json.loads(p.read_text()),
        "confusion_matrix.json": lambda p: json.loads(p.read_text()),
        "roc.csv": pd.read_csv,
        "pr.csv": pd.read_csv,
        "per_generator.csv": pd.read_csv,
        "robustness.csv": pd.read_csv,
        "training_spectra.npz": MeanSpectra.load,
    }
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, reader in readers.items():
            local = download_run_file(tracking_uri, run_id, name, Path(tmp) / name)
            if local is not None:
                found[name] = reader(local)
    return found


@st.cache_data(show_spinner="Computing mean spectra of the dataset...")
def dataset_spectra(source: str, modified: float, image_size: int, limit: int | None):
    """Mean spectra of a dataset folder or manifest CSV; `modified` invalidates the cache.

    Returns:
        ``(MeanSpectra, summary dict)`` from `deepguard.spectral.compute_dataset_spectra`.
    """
    from deepguard.data import assign_splits, discover
    from deepguard.spectral import MeanSpectra, compute_dataset_spectra

    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(source)
        if manifest.is_dir():
            records = discover(manifest)
            manifest = Path(tmp) / "manifest.csv"
            # The layout's splits, or the training split rule (by content hash): the profile
            # baseline is fitted on train and scored on test.
            records = assign_splits(records)
            records[["path", "label", "generator", "split"]].to_csv(manifest, index=False)
        out = Path(tmp) / "spectra"
        summary = compute_dataset_spectra(
            manifest,
            out,
            image_size=image_size,
            limit=limit,
            per_generator_figures=False,
            progress=False,
        )
        stats = MeanSpectra.load(out / "mean_spectra.npz")
    return stats, summary


@st.cache_data(show_spinner=False, max_entries=64)
def fft_view_pngs(
    rgb: np.ndarray, tracking_uri: str, run_id: str, model_label: str, image_size: int
) -> tuple[bytes, bytes]:
    """PNGs of an image's spectrum and of its profile over a model's training means.

    Cached by the pixels themselves, so reruns (a new threshold, another model) reuse them.
    """
    from deepguard_app.figures import figure_png, image_profile_figure, image_spectrum_figure

    training = run_files(tracking_uri, run_id).get("training_spectra.npz")
    spectrum = figure_png(image_spectrum_figure(rgb))
    profile = figure_png(image_profile_figure(rgb, training, model_label, image_size))
    return spectrum, profile
