"""Spectra: mean real and fake spectra of a dataset and their difference, per generator."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from deepguard_app.cache import dataset_spectra, run_files
from deepguard_app.store import find_dataset_folder, project_root
from deepguard_app.widgets import current_store, page_setup

from deepguard.errors import DataError
from deepguard.spectral import plot_mean_difference, plot_profiles, plot_spectrum

page_setup("Spectra", "📈")
st.title("Spectra of a dataset")
st.markdown(
    "Mean centred log-magnitude spectra of real and fake images, and fake minus real. "
    "Generators' up-sampling leaves periodic peaks in the 2D view and a lifted or dented "
    "high-frequency tail in the 1D profile."
)

SOURCES = ("a dataset folder or manifest", "the training data of a registered model")
source = st.radio("Dataset", SOURCES, key="spectra_source", horizontal=True)

stats = None
if source == SOURCES[0]:
    default = find_dataset_folder(project_root())
    path = st.text_input(
        "Dataset folder (any supported layout) or manifest CSV (path,label[,generator])",
        value=str(default or ""),
        key="dataset_path",
    )
    left, right = st.columns(2)
    size = left.number_input("Common size (px)", 16, 1024, 64, 16, key="spectra_size")
    limit = right.number_input("At most this many images (0: all)", 0, 100000, 2000, 100)
    if not path:
        st.info("Give a dataset folder, e.g. data/synthetic/64px (made by `make train`).")
        st.stop()
    if not Path(path).exists():
        st.error(f"'{path}' does not exist; give a dataset folder or a manifest CSV")
        st.stop()
    try:
        stats, summary = dataset_spectra(
            str(Path(path).resolve()), Path(path).stat().st_mtime, int(size), int(limit) or None
        )
    except DataError as error:
        st.error(str(error))
        st.stop()
    baseline = summary.get("baseline") or {}
    if baseline.get("test"):
        st.caption(
            "Logistic regression on the 1D profiles (the cheap baseline detectors must beat): "
            + ", ".join(f"{k} {v:.3f}" for k, v in baseline["test"].items() if isinstance(v, float))
        )
else:
    state = current_store()
    if state.problem:
        st.warning(state.problem)
        st.code(state.fix, language="bash")
        st.stop()
    by_label = {version.label: version for version in state.versions}
    label = st.selectbox("Registered version", list(by_label), key="spectra_model")
    stats = run_files(state.tracking_uri, by_label[label].run_id).get("training_spectra.npz")
    if stats is None:
        st.warning(
            f"{label} recorded no training spectra (training_spectra.npz); "
            "retrain it with the current `python scripts/train.py`."
        )
        st.stop()

counts = pd.DataFrame(
    [
        {"generator": g, "real": stats.count(0, g), "fake": stats.count(1, g)}
        for g in stats.generators
    ]
)
generators = ["all", *[g for g in stats.generators if stats.count(1, g)]]
generator = st.selectbox("Generator (fakes)", generators, key="spectra_generator")
chosen = None if generator == "all" else generator
st.caption(
    f"{stats.count(0)} real and {stats.count(1)} fake images at "
    f"{stats.shape[0]}x{stats.shape[1]} px"
)

if not stats.count(0) or not stats.count(1, chosen):
    st.warning("The mean difference needs real and fake images; this selection lacks one class.")
else:
    real_col, fake_col = st.columns(2)
    real_generator = chosen if chosen and stats.count(0, chosen) else None
    real_col.pyplot(
        plot_spectrum(stats.mean_spectrum(0, real_generator), title="mean spectrum: real")
    )
    fake_col.pyplot(
        plot_spectrum(stats.mean_spectrum(1, chosen), title=f"mean spectrum: fake ({generator})")
    )
    st.pyplot(plot_mean_difference(stats, chosen))
    st.pyplot(plot_profiles(stats, generator=chosen))
with st.expander("Images per generator"):
    st.dataframe(counts, hide_index=True)
