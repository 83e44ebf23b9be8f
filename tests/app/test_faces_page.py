"""Face crops on the Compare page (a group photo of real faces: boxes drawn, a probability per
face and model) and the Leaderboard's generalization table, driven by Streamlit's AppTest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepguard.config.faces import FaceSettings
from tests.app.helpers import image_captions, page, texts
from tests.helpers.group_photo import faceless_photo, group_photo

COMPARE, LEADERBOARD = "pages/1_Compare.py", "pages/2_Leaderboard.py"
CHAMPION, CHALLENGER = "deepguard_test v1 (champion)", "deepguard_test v2 (challenger)"


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def face_probabilities(app_env, rgb: np.ndarray, version: str) -> list[float]:
    """One version's probability of fake for each face of `rgb`, computed outside the app
    (detection afresh, the default crop, the API's resize)."""
    from deepguard.faces import crop_faces
    from deepguard.images import prepare_input
    from deepguard.tracking.loading import load_model

    loaded = load_model(f"models:/deepguard_test/{version}", tracking_uri=app_env.tracking_uri)
    crops = crop_faces(rgb, FaceSettings(enabled=True))
    batch = np.stack([prepare_input(crop.pixels, loaded.image_size) for crop in crops])
    return [float(p) for p in np.asarray(loaded.model.predict_on_batch(batch))[:, 0]]


def test_compare_draws_the_faces_and_scores_each_face_per_model(app_env, shared_data, tmp_path):
    photo = group_photo(shared_data)
    (tmp_path / "group.png").write_bytes(photo.png)
    (tmp_path / "plain.png").write_bytes(faceless_photo())
    at = page(COMPARE)
    at.run()
    # The test models were trained on whole images: face crops start off.
    assert at.toggle(key="face_crops").value is False
    at.toggle(key="face_crops").set_value(True)
    at.text_input(key="sample_folder").set_value(str(tmp_path)).run()
    at.multiselect(key="samples").select("group.png").select("plain.png").run()
    no_exception(at)
    (table,) = [frame.value for frame in at.dataframe if "face" in frame.value.columns]
    assert table["face"].tolist() == [1, 2, 3]
    for version, label in (("1", CHAMPION), ("2", CHALLENGER)):
        expected = face_probabilities(app_env, photo.rgb, version)
        assert table[f"P(fake) · {label}"].tolist() == pytest.approx(expected, abs=1e-5)
        assert set(table[f"label · {label}"]) <= {"fake", "real"}
    captions = image_captions(at)
    assert "3 face(s) found, numbered from the left" in captions
    assert [c for c in captions if c.startswith("face ")] == ["face 1", "face 2", "face 3"]
    warnings = " | ".join(texts(at.warning))
    assert "No face found in **plain.png**" in warnings and "whole image" in warnings
    # The whole-image answers are still there for both images and both models.
    assert len(at.metric) == 4


def test_boxes_are_drawn_around_each_face_and_nowhere_else(shared_data):
    from deepguard_app.faces import BOX_COLOUR, draw_face_boxes

    from deepguard.faces import Face

    rgb = np.full((200, 300, 3), 60, np.uint8)
    faces = [
        Face((40.0, 60.0, 120.0, 150.0), 0.99, ((0.0, 0.0),) * 5),
        Face((170.0, 50.0, 260.0, 160.0), 0.98, ((0.0, 0.0),) * 5),
    ]
    drawn = draw_face_boxes(rgb, faces)
    assert drawn.shape == rgb.shape and drawn.dtype == np.uint8
    for face in faces:
        x1, y1, x2, y2 = (int(v) for v in face.box)
        assert tuple(drawn[(y1 + y2) // 2, x1]) == BOX_COLOUR  # the left edge
        assert tuple(drawn[y2, (x1 + x2) // 2]) == BOX_COLOUR  # the bottom edge
        assert np.array_equal(
            drawn[y1 + 5 : y2 - 5, x1 + 5 : x2 - 5], rgb[y1 + 5 : y2 - 5, x1 + 5 : x2 - 5]
        )
    assert np.array_equal(drawn[185:, :], rgb[185:, :])  # below every box: untouched


def test_each_model_is_cropped_as_it_was_trained():
    from deepguard_app.faces import model_crop_settings, page_face_settings, trained_on_faces

    trained = {"faces": {"enabled": True, "margin": 0.4, "cache_dir": "elsewhere"}}
    whole, unreadable = {}, {"faces": {"enabled": True, "margn": 0.4}}
    assert trained_on_faces(trained)
    assert not trained_on_faces(whole) and not trained_on_faces(unreadable)
    page_settings = page_face_settings([whole, trained])
    assert page_settings.margin == 0.4 and page_settings.cache_dir is None
    assert page_face_settings([whole, unreadable]) == FaceSettings(enabled=True)
    assert model_crop_settings(whole, page_settings) is page_settings
    assert model_crop_settings(trained, FaceSettings(enabled=True)).margin == 0.4


@pytest.fixture
def generalization_store(tmp_path, monkeypatch):
    """A registry of two versions, only the first with a generalization table on its run
    (logged where `scripts/evaluate.py suite=<name>` logs it)."""
    from deepguard.tracking.store import make_client

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    client = make_client(uri)
    experiment = client.create_experiment("generalization", artifact_location=str(tmp_path / "art"))
    table = pd.DataFrame(
        {
            "dataset": ["faces", "faces", "scenes", "scenes"],
            "generator": ["stylegan2", "overall", "biggan", "overall"],
            "n": [40, 80, 40, 40],
            "n_fake": [20, 40, 20, 20],
            "roc_auc": [0.91, 0.88, 0.52, 0.52],
            "average_precision": [0.9, 0.87, 0.5, 0.5],
            "accuracy": [0.8, 0.78, 0.5, 0.5],
            "eer": [0.15, 0.18, 0.49, 0.49],
        }
    )
    (tmp_path / "generalization.csv").write_text(table.to_csv(index=False))
    client.create_registered_model("deepguard")
    for version in (1, 2):
        run = client.create_run(experiment)
        if version == 1:
            client.log_artifact(
                run.info.run_id, str(tmp_path / "generalization.csv"), "generalization/unseen"
            )
        client.create_model_version("deepguard", f"runs:/{run.info.run_id}/model", run.info.run_id)
        client.set_model_version_tag("deepguard", str(version), "test_roc_auc", "0.9")
    client.set_terminated(run.info.run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return table


def test_leaderboard_shows_the_generalization_table_beside_the_per_generator_one(
    generalization_store,
):
    at = page(LEADERBOARD)
    at.run()
    no_exception(at)
    assert "Generalization (datasets beyond the training data)" in texts(at.subheader)
    frames = [frame.value for frame in at.dataframe]
    (side_by_side,) = [f for f in frames if "deepguard v1" in f.columns]
    assert side_by_side["deepguard v1"].tolist() == generalization_store["roc_auc"].tolist()
    assert "deepguard v2" not in side_by_side.columns  # v2's run has no table
    assert side_by_side[["dataset", "generator"]].values.tolist() == (
        generalization_store[["dataset", "generator"]].values.tolist()
    )
    (whole,) = [f for f in frames if "average_precision" in f.columns]
    pd.testing.assert_frame_equal(whole, generalization_store)
    # The version without a table gets a teaching note and the command that records one.
    note = " | ".join(texts(at.info))
    assert "No generalization table for deepguard v2" in note
    assert any("suite=" in block.value for block in at.code)
