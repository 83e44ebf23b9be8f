"""DeepGuard's review app: `streamlit run app/Home.py` (or `make app`).

Pages (sidebar): Compare (models side by side on your images), Leaderboard (metrics and
curves of every registered version), Spectra (mean real and fake spectra of a dataset).
"""

from __future__ import annotations

import streamlit as st
from deepguard_app.widgets import current_store, page_setup, show_empty_state

page_setup("Home", "🛡️")
st.title("DeepGuard")
st.markdown(
    "Review detectors of AI-generated face images: compare registered models on your own "
    "images, read their evaluation side by side, and look at what generators leave in the "
    "frequency domain."
)

state = current_store()
if state.problem:
    show_empty_state(state)
    st.stop()

names = sorted({version.name for version in state.versions})
left, middle, right = st.columns(3)
left.metric("Registered models", len(names))
middle.metric("Versions", len(state.versions))
champions = [v.label for v in state.versions if "champion" in v.aliases]
right.metric("Champion", champions[0] if champions else "none")
st.caption(f"Tracking store: `{state.tracking_uri}`")

st.page_link("pages/1_Compare.py", label="Compare models on images", icon="🔍")
st.page_link("pages/2_Leaderboard.py", label="Leaderboard: metrics, ROC and PR curves", icon="🏆")
st.page_link("pages/3_Spectra.py", label="Spectra of a dataset", icon="📈")
