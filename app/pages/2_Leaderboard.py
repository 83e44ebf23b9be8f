"""Leaderboard: every registered version with its test metrics; curves and tables side by side,
and the cross-dataset generalization tables recorded on their runs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st
from deepguard_app.cache import run_files
from deepguard_app.figures import curves_figure, robustness_figure
from deepguard_app.generalization import show_generalization
from deepguard_app.store import default_selection
from deepguard_app.widgets import current_store, page_setup, show_empty_state, store_caption

# Column title -> recorded test metric; "calibration" is the expected calibration error.
METRICS = {
    "accuracy": "accuracy",
    "ROC AUC": "roc_auc",
    "AP": "average_precision",
    "EER": "eer",
    "ECE (calibration)": "ece",
}

page_setup("Leaderboard", "🏆")
st.title("Leaderboard")

state = current_store()
if state.problem:
    show_empty_state(state)
    st.stop()
store_caption(state)

rows = []
for version in state.versions:
    row = {"model": version.label, "name": version.name, "version": int(version.version)}
    row["aliases"] = ", ".join(version.aliases)
    row |= {title: version.metric(key) for title, key in METRICS.items()}
    row["threshold"] = version.metric("threshold") or version.tags.get("threshold")
    row["backbone"] = version.tags.get("backbone", "?")
    row["input px"] = version.tags.get("image_size", "?")
    row["test images"] = version.metric("n_samples")
    row["data digest"] = version.tags.get("data_digest", "")[:12]
    registered = dt.datetime.fromtimestamp(version.created_ms / 1000, tz=dt.timezone.utc)
    row["registered (UTC)"] = registered.strftime("%Y-%m-%d %H:%M")
    rows.append(row)
board = pd.DataFrame(rows).sort_values("ROC AUC", ascending=False, na_position="last")
st.markdown(
    "Test-split metrics recorded at registration, best ROC AUC first. EER: equal error rate "
    "(lower is better); ECE: expected calibration error (lower is better). Versions with "
    "different data digests were tested on different data: compare them with care."
)
st.dataframe(
    board.drop(columns=["name"]),
    hide_index=True,
    width="stretch",
    column_config={
        title: st.column_config.NumberColumn(format="%.4f") for title in [*METRICS, "threshold"]
    },
)

by_label = {version.label: version for version in state.versions}
selected = st.multiselect(
    "Versions to overlay",
    options=list(by_label),
    default=[v.label for v in default_selection(state.versions, count=4)],
    key="leaderboard_models",
)
if not selected:
    st.info("Pick versions above to overlay their ROC and PR curves and tables.")
    st.stop()

files = {label: run_files(state.tracking_uri, by_label[label].run_id) for label in selected}
roc = {label: f["roc.csv"] for label, f in files.items() if "roc.csv" in f}
pr = {label: f["pr.csv"] for label, f in files.items() if "pr.csv" in f}
st.subheader("ROC and precision-recall curves")
left, right = st.columns(2)
if roc:
    left.pyplot(curves_figure(roc, "roc"))
if pr:
    right.pyplot(curves_figure(pr, "pr"))
missing = [label for label in selected if label not in roc]
if missing:
    st.caption(f"No roc.csv recorded for: {', '.join(missing)}")

st.subheader("Per generator (test split)")
columns = st.columns(len(selected))
for column, label in zip(columns, selected, strict=True):
    column.markdown(f"**{label}**")
    table = files[label].get("per_generator.csv")
    if table is None:
        column.caption("no per_generator.csv recorded")
    else:
        column.dataframe(table, hide_index=True, width="stretch")

show_generalization(selected, by_label, state.tracking_uri)

st.subheader("Robustness (test split after JPEG, blur, down-scaling)")
robustness = {label: f["robustness.csv"] for label, f in files.items() if "robustness.csv" in f}
if robustness:
    st.pyplot(robustness_figure(robustness))
    columns = st.columns(len(robustness))
    for column, (label, table) in zip(columns, robustness.items(), strict=True):
        column.markdown(f"**{label}**")
        column.dataframe(table, hide_index=True, width="stretch")
absent = [label for label in selected if label not in robustness]
if absent:
    st.info(
        f"No robustness table for {', '.join(absent)}. Record one with "
        "`python scripts/train.py evaluation.robustness=true`."
    )
