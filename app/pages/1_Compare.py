"""Compare: two to four registered models side by side on uploaded or sample images."""

from __future__ import annotations

import streamlit as st
from deepguard_app.cache import explainer, fft_view_pngs, model_handle
from deepguard_app.compare import (
    ImageProblem,
    disagree,
    list_samples,
    predict,
    read_image_bytes,
    read_image_file,
)
from deepguard_app.faces import page_face_settings, show_faces, trained_on_faces
from deepguard_app.store import project_root
from deepguard_app.widgets import (
    current_store,
    page_setup,
    pick_models,
    show_empty_state,
    store_caption,
)

from deepguard.errors import ModelIntegrityError
from deepguard.explain import overlay_heatmap

HEATMAP_WIDTH = 280  # px on the page, whatever the image's size

page_setup("Compare", "🔍")
st.title("Compare models")

state = current_store()
if state.problem:
    show_empty_state(state)
    st.stop()
store_caption(state)

chosen = pick_models(state, key="compare_models")
if not chosen:
    st.info("Pick two to four models above.")
    st.stop()

custom_threshold = st.sidebar.toggle(
    "One threshold for all models",
    key="custom_threshold",
    help="Off: each model uses the threshold recorded with it (evaluation.threshold).",
)
threshold = (
    st.sidebar.slider(
        "Threshold (probability of fake)", 0.0, 1.0, 0.5, 0.001, format="%.3f", key="threshold"
    )
    if custom_threshold
    else None
)
show_heatmaps = st.sidebar.toggle("Grad-CAM heatmaps", value=True, key="heatmaps")

handles = {}
for choice in chosen:
    try:
        handles[choice.uri] = model_handle(choice.uri, state.tracking_uri)
    except ModelIntegrityError as error:
        st.error(f"{choice.label} cannot be loaded: {error}")
if not handles:
    st.stop()
models = [choice for choice in chosen if choice.uri in handles]
if len(models) < 2:
    st.info("Pick a second model above to compare side by side.")
recorded = [handles[choice.uri].loaded.metadata for choice in models]
face_crops = st.sidebar.toggle(
    "Face crops",
    value=any(trained_on_faces(metadata) for metadata in recorded),
    key="face_crops",
    help="Find the faces (MTCNN), draw their boxes and score each face, cropped as each "
    "model was trained. Default: on when a picked model was trained on face crops.",
)
face_settings = page_face_settings(recorded)

# ---- images: uploads and/or samples from a folder ----------------------------------------
uploads = st.file_uploader(
    "Upload images (JPEG, PNG, WebP, BMP, GIF, TIFF)",
    accept_multiple_files=True,
    key="uploads",
    help="Decided by the bytes, not the file name; each file is checked as the API does.",
)
default_folder = project_root() / "data"
with st.expander("... or pick samples from a folder", expanded=not uploads):
    folder = st.text_input(
        "Sample folder",
        value=str(default_folder) if default_folder.is_dir() else "",
        key="sample_folder",
        placeholder="path/to/images",
    )
    picked: list[str] = []
    if folder:
        try:
            samples = list_samples(folder)
        except ValueError as error:
            st.error(str(error))
            samples = []
        picked = st.multiselect(
            f"Samples ({len(samples)} images found)",
            options=[str(path) for path in samples],
            format_func=lambda p: p.removeprefix(folder).lstrip("/"),
            key="samples",
        )

items = [read_image_bytes(upload.name, upload.getvalue()) for upload in uploads or []]
items += [read_image_file(path) for path in picked]
if not items:
    st.info("Upload one or more images, or pick samples from a folder, to see each model's answer.")
    st.stop()

# Grad-CAM is built (and traced on its first image) only while heatmaps are on, once per model.
explainers = {c.uri: explainer(c.uri, state.tracking_uri) for c in models if show_heatmaps}

# The profile is drawn over the training data of the first model picked.
reference = models[0]

for item in items:
    st.divider()
    st.subheader(item.name)
    if isinstance(item, ImageProblem):
        st.error(f"**{item.name}** was not scored: {item.message}")
        st.caption(f"HTTP {item.status} · `{item.code}` (the API refuses it the same way)")
        continue
    for note in item.notes:
        st.caption(f"ℹ️ {note}")
    if face_crops:
        show_faces(item, models, handles, face_settings, threshold)
    predictions = [
        predict(
            handles[choice.uri].loaded,
            explainers[choice.uri].cam if show_heatmaps else None,
            item.rgb,
            threshold=threshold,
            model_label=choice.label,
            aliases=choice.aliases,
        )
        for choice in models
    ]
    if len(predictions) > 1 and disagree(predictions):
        verdicts = "; ".join(
            f"{p.model_label} says {p.label} ({p.p_fake:.3f})" for p in predictions
        )
        st.error(f"⚠️ The models disagree: {verdicts}")
    elif len(predictions) > 1:
        st.success(f"All {len(predictions)} models agree: {predictions[0].label}")
    columns = st.columns(len(predictions))
    for column, choice, prediction in zip(columns, models, predictions, strict=True):
        with column:
            badge = ":red-badge[FAKE]" if prediction.label == "fake" else ":green-badge[REAL]"
            st.markdown(f"**{prediction.model_label}** {badge}")
            st.metric(f"P(fake) · {prediction.model_label}", f"{prediction.p_fake:.3f}")
            st.caption(
                f"threshold {prediction.threshold:.2f} · version {prediction.version} · "
                f"aliases: {', '.join(prediction.aliases) or 'none'} · "
                f"inference {prediction.inference_ms:.1f} ms"
            )
            if prediction.heatmap is not None:
                st.image(
                    overlay_heatmap(item.rgb, prediction.heatmap),
                    caption=f"Grad-CAM: where the model sees evidence for '{prediction.label}'",
                    width=HEATMAP_WIDTH,
                )
            elif show_heatmaps:
                st.caption(f"No Grad-CAM for this model: {explainers[choice.uri].problem}")
    st.markdown("**Frequency views**")
    image_col, spectrum_col, profile_col = st.columns([1, 1.2, 1.5])
    image_col.image(
        item.rgb,
        caption=f"{item.rgb.shape[1]}x{item.rgb.shape[0]} px, RGB",
        width="stretch",
    )
    spectrum_png, profile_png = fft_view_pngs(
        item.rgb,
        state.tracking_uri,
        reference.run_id,
        reference.label,
        handles[reference.uri].loaded.image_size,
    )
    spectrum_col.image(spectrum_png, caption="2D spectrum", width="stretch")
    profile_col.image(profile_png, caption="1D azimuthal profile", width="stretch")
