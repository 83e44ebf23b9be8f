"""The Leaderboard's cross-dataset generalization tables: how a model scores on datasets it
was not trained on, as recorded on its own MLflow run.

``python scripts/evaluate.py model=<uri> suite=<name>`` scores a model on every dataset of a
named suite (``conf/suite/<name>.yaml``) and logs ``generalization/<name>/generalization.csv``
on the model's run: one row per dataset and generator plus an ``overall`` row per dataset,
with ``n``, ``n_fake``, ``roc_auc``, ``average_precision``, ``accuracy`` (at the model's
threshold) and ``eer``. A table logged as ``evaluation/generalization.csv`` is read too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import streamlit as st

from deepguard.tracking.store import make_client

TABLE_NAME = "generalization.csv"
SUITES_FOLDER = "generalization"  # generalization/<suite>/generalization.csv
EVALUATION_FOLDER = "evaluation"  # evaluation/generalization.csv, shown as the suite "evaluation"
# Seconds before a table logged after the page opened shows up without a restart.
TABLES_TTL_S = 15
SUITE_COMMAND = "python scripts/evaluate.py model=models:/{name}/{version} suite=<suite>"
NUMBER_COLUMNS = ("roc_auc", "average_precision", "accuracy", "eer")


def table_paths(tracking_uri: str, run_id: str) -> dict[str, str]:
    """Suite name -> the artifact path of its generalization table on the run."""
    client = make_client(tracking_uri)
    found = {}
    for entry in client.list_artifacts(run_id, SUITES_FOLDER):
        if entry.is_dir:
            inside = {a.path for a in client.list_artifacts(run_id, entry.path)}
            if f"{entry.path}/{TABLE_NAME}" in inside:
                found[Path(entry.path).name] = f"{entry.path}/{TABLE_NAME}"
        elif Path(entry.path).name == TABLE_NAME:
            found[SUITES_FOLDER] = entry.path
    evaluation = {a.path for a in client.list_artifacts(run_id, EVALUATION_FOLDER)}
    if f"{EVALUATION_FOLDER}/{TABLE_NAME}" in evaluation:
        found.setdefault(EVALUATION_FOLDER, f"{EVALUATION_FOLDER}/{TABLE_NAME}")
    return dict(sorted(found.items()))


@st.cache_data(ttl=TABLES_TTL_S, show_spinner=False)
def generalization_tables(tracking_uri: str, run_id: str) -> dict[str, pd.DataFrame]:
    """Suite name -> the generalization table recorded on a run (empty when none is)."""
    import mlflow.artifacts

    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suite, path in table_paths(tracking_uri, run_id).items():
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=path,
                dst_path=str(Path(tmp) / suite),
                tracking_uri=tracking_uri,
            )
            tables[suite] = pd.read_csv(local)
    return tables


def auc_by_model(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One suite's ROC AUC per dataset and generator (rows) for each model (columns)."""
    columns = [
        table.set_index(["dataset", "generator"])["roc_auc"].rename(label)
        for label, table in tables.items()
    ]
    return pd.concat(columns, axis=1).reset_index()


def show_generalization(selected: list[str], versions: Mapping, tracking_uri: str) -> None:
    """The Leaderboard's generalization section for the picked versions: per suite, ROC AUC
    side by side, then each model's whole table; a teaching note for versions without one.

    Args:
        selected: the picked version labels, in page order.
        versions: label -> its `ModelChoice`.
        tracking_uri: the store the page reads.
    """
    st.subheader("Generalization (datasets beyond the training data)")
    recorded = {
        label: generalization_tables(tracking_uri, versions[label].run_id) for label in selected
    }
    suites = sorted({suite for tables in recorded.values() for suite in tables})
    for suite in suites:
        having = {label: t[suite] for label, t in recorded.items() if suite in t}
        st.markdown(f"**Suite `{suite}`**: ROC AUC per dataset and generator")
        st.dataframe(
            auc_by_model(having),
            hide_index=True,
            width="stretch",
            column_config={label: st.column_config.NumberColumn(format="%.4f") for label in having},
        )
        for label, table in having.items():
            with st.expander(f"{label}: the whole table (n, AP, accuracy, EER)"):
                st.dataframe(
                    table,
                    hide_index=True,
                    width="stretch",
                    column_config={
                        name: st.column_config.NumberColumn(format="%.4f")
                        for name in NUMBER_COLUMNS
                    },
                )
    absent = [label for label in selected if not recorded[label]]
    if absent:
        example = versions[absent[0]]
        st.info(
            f"No generalization table for {', '.join(absent)}. A detector that scores well on "
            "its own test split can still fail on images from generators it never saw: score it "
            "on several datasets at once, and the table (ROC AUC, AP, accuracy, EER and n per "
            "dataset and generator) is recorded on its run and shown here."
        )
        st.code(SUITE_COMMAND.format(name=example.name, version=example.version), language="bash")
