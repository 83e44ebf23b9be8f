"""Every page of the app, driven by Streamlit's AppTest against a real registry."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.app.helpers import image_captions, images, load_bad_inputs, page, texts

COMPARE, LEADERBOARD, SPECTRA = "pages/1_Compare.py", "pages/2_Leaderboard.py", "pages/3_Spectra.py"


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def compare_with_samples(folder, names: list[str], threshold: float | None = None):
    """The Compare page with the given files of `folder` picked as samples."""
    at = page(COMPARE)
    at.run()
    at.text_input(key="sample_folder").set_value(str(folder)).run()
    samples = at.multiselect(key="samples")
    for name in names:
        samples.select(name)
    at.run()
    if threshold is not None:
        at.toggle(key="custom_threshold").set_value(True).run()
        at.slider(key="threshold").set_value(threshold).run()
    no_exception(at)
    return at


def sample_names(folder, count: int = 1, label: str = "real") -> list[str]:
    paths = sorted((folder / label).glob("*.png"))[:count]
    return [str(path.relative_to(folder)) for path in paths]


def test_home_summarises_the_store(app_env):
    at = page()
    at.run()
    no_exception(at)
    values = {metric.label: metric.value for metric in at.metric}
    assert values["Versions"] == "2"
    assert values["Champion"] == "deepguard_test v1 (champion)"


def test_compare_defaults_to_champion_and_challenger(app_env):
    at = page(COMPARE)
    at.run()
    no_exception(at)
    assert at.multiselect(key="compare_models").value == [
        "deepguard_test v1 (champion)",
        "deepguard_test v2 (challenger)",
    ]


def test_compare_shows_both_predictions_heatmaps_and_fft_views(app_env):
    at = compare_with_samples(app_env.samples, sample_names(app_env.samples))
    labels = [metric.label for metric in at.metric]
    assert labels == [
        "P(fake) · deepguard_test v1 (champion)",
        "P(fake) · deepguard_test v2 (challenger)",
    ]
    for metric in at.metric:
        assert 0.0 <= float(metric.value) <= 1.0
    captions = " | ".join(texts(at.caption))
    assert "version 1" in captions and "version 2" in captions and " ms" in captions
    shown = image_captions(at)
    assert sum("Grad-CAM" in caption for caption in shown) == 2
    assert "2D spectrum" in shown and "1D azimuthal profile" in shown


def probabilities(app_env, image: np.ndarray) -> list[float]:
    """Each version's probability of fake for one image, computed outside the app."""
    import deepguard.models  # noqa: F401  (registers the detector's layers)
    from deepguard.images import to_model_input
    from deepguard.tracking.loading import load_model

    found = []
    for version in (1, 2):
        loaded = load_model(f"models:/deepguard_test/{version}", app_env.tracking_uri)
        found.append(float(loaded.model(to_model_input(image, loaded.image_size)[None])[0, 0]))
    return found


def test_disagreement_is_highlighted(app_env):
    from deepguard.images import read_image

    names = sample_names(app_env.samples, count=8)
    gaps = {name: probabilities(app_env, read_image(app_env.samples / name)) for name in names[:8]}
    name, (p1, p2) = max(gaps.items(), key=lambda item: abs(item[1][0] - item[1][1]))
    assert abs(p1 - p2) > 0.002, "the two fixture models score every sample alike"
    threshold = round((p1 + p2) / 2, 3)  # one model above, the other below

    at = compare_with_samples(app_env.samples, [name], threshold=threshold)
    alerts = texts(at.error)
    assert len(alerts) == 1 and "disagree" in alerts[0]
    assert "says fake" in alerts[0] and "says real" in alerts[0]

    at.slider(key="threshold").set_value(0.0).run()  # everything is fake: they agree
    assert not at.error
    assert texts(at.success) == ["All 2 models agree: fake"]


def test_each_bad_file_gets_its_own_message_and_the_others_are_scored(app_env, tmp_path):
    bad = load_bad_inputs()
    good = io.BytesIO()
    bad.face_like_image(64, 64).save(good, "PNG")
    files = {
        "good.png": good.getvalue(),
        "empty.jpg": b"",
        "notes.jpg": b"this is not an image\n" * 5,
        "truncated.png": good.getvalue()[:200],
        "bomb.png": bad.png_bomb(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    at = compare_with_samples(tmp_path, sorted(files))
    errors = texts(at.error)
    assert len(errors) == 4
    for name in ("empty.jpg", "notes.jpg", "truncated.png", "bomb.png"):
        assert sum(name in error for error in errors) == 1, (name, errors)
    assert any("413" in caption and "too_many_pixels" in caption for caption in texts(at.caption))
    assert len(at.metric) == 2  # good.png, once per model


def test_switching_models_loads_only_the_new_one(app_env, monkeypatch):
    from deepguard_app.cache import model_handle

    import deepguard.tracking.loading as loading

    model_handle.clear()
    loads = []
    real_load = loading.load_model

    def counting_load(uri, *args, **kwargs):
        loads.append(uri)
        return real_load(uri, *args, **kwargs)

    monkeypatch.setattr(loading, "load_model", counting_load)
    at = page(COMPARE)
    at.run()
    assert sorted(loads) == ["models:/deepguard_test/1", "models:/deepguard_test/2"]
    at.multiselect(key="compare_models").unselect("deepguard_test v2 (challenger)").run()
    at.multiselect(key="compare_models").select("deepguard_test v2 (challenger)").run()
    no_exception(at)
    assert len(loads) == 2  # neither version was loaded again


def test_leaderboard_lists_versions_curves_and_tables(app_env):
    at = page(LEADERBOARD)
    at.run()
    no_exception(at)
    board = at.dataframe[0].value
    assert sorted(board["model"]) == [
        "deepguard_test v1 (champion)",
        "deepguard_test v2 (challenger)",
    ]
    for column in ("accuracy", "ROC AUC", "AP", "EER", "ECE (calibration)", "backbone"):
        assert board[column].notna().all(), column
    assert len(images(at)) == 3  # ROC, PR, robustness (version 2 recorded one)
    assert len(at.dataframe) == 1 + 2 + 1  # board, two per-generator tables, one robustness
    assert "overall" in set(at.dataframe[1].value["generator"])
    assert any("evaluation.robustness=true" in info for info in texts(at.info))


def test_spectra_of_a_dataset_folder(app_env):
    at = page(SPECTRA)
    at.run()
    at.text_input(key="dataset_path").set_value(str(app_env.samples))
    at.number_input(key="spectra_size").set_value(32)
    at.run()
    no_exception(at)
    assert len(images(at)) == 4  # mean real, mean fake, difference, profiles
    assert any(" real and " in caption and "32x32 px" in caption for caption in texts(at.caption))
    generators = at.selectbox(key="spectra_generator").options
    assert generators[0] == "all" and len(generators) > 2
    at.selectbox(key="spectra_generator").set_value(generators[1]).run()
    no_exception(at)
    assert len(images(at)) == 4


def test_spectra_of_a_models_training_data(app_env):
    at = page(SPECTRA)
    at.run()
    at.radio(key="spectra_source").set_value("the training data of a registered model").run()
    no_exception(at)
    assert len(images(at)) == 4


@pytest.mark.parametrize("store", ["missing", "empty"])
@pytest.mark.parametrize("path", [None, COMPARE, LEADERBOARD])
def test_empty_states_show_the_command_that_fixes_them(store, path, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    if store == "empty":
        from deepguard.tracking.store import make_client

        make_client(uri)  # creates the tables, registers nothing
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    at = page(path)
    at.run()
    no_exception(at)
    warning = texts(at.warning)[0]
    assert ("No MLflow tracking store" if store == "missing" else "no registered model") in warning
    assert "make train" in at.code[0].value
    assert not at.metric
