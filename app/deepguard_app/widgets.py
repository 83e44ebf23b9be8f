"""Page pieces shared by the pages: the store banner, empty states and the model picker."""

from __future__ import annotations

import streamlit as st

from deepguard_app.cache import store_state
from deepguard_app.store import ModelChoice, StoreState, default_selection, tracking_uri

MAX_MODELS = 4


def page_setup(title: str, icon: str) -> None:
    st.set_page_config(page_title=f"DeepGuard · {title}", page_icon=icon, layout="wide")


def current_store() -> StoreState:
    """The store this app reads, listed (cached for a few seconds)."""
    return store_state(tracking_uri())


def show_empty_state(state: StoreState) -> None:
    """Say why there is nothing to show and the exact command that fixes it."""
    st.warning(state.problem)
    st.markdown("Create one with:")
    st.code(state.fix, language="bash")
    st.caption(f"Tracking store: `{state.tracking_uri}`")


def store_caption(state: StoreState) -> None:
    st.sidebar.caption(
        f"Tracking store: `{state.tracking_uri}` · {len(state.versions)} registered versions"
    )


def pick_models(state: StoreState, key: str, minimum: int = 2) -> list[ModelChoice]:
    """Multiselect of registered versions (default: champion and challenger)."""
    by_label = {version.label: version for version in state.versions}
    default = [v.label for v in default_selection(state.versions)]
    labels = st.multiselect(
        f"Models to compare ({minimum} to {MAX_MODELS})",
        options=list(by_label),
        default=default,
        max_selections=MAX_MODELS,
        key=key,
        help="Registered versions, name vN (aliases). Defaults: champion and challenger.",
    )
    if len(state.versions) < minimum:
        st.info(
            f"Only {len(state.versions)} version is registered; train another to compare: "
            "`make train ARGS='seed=1'`"
        )
    return [by_label[label] for label in labels]
