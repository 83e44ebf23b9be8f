"""Per-face answers of the API: a group photo of real faces gets one answer per face, with
its box; the model sees the crops training sees; an image with no face follows the setting.

Detections are shared through one detection cache for the session (MTCNN takes about a
second per image here), keyed by the bytes of the same group photo.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import io

import numpy as np
import pytest

from deepguard.config.faces import FaceSettings
from deepguard.faces import Face, crop_faces, face_region
from deepguard.images import DecodeLimits, decode_image, prepare_input, read_input
from tests.helpers.group_photo import faceless_photo, group_photo

SIZE = 64  # the tiny detector's input side (tests/serving/conftest.py)


def multipart(*files):
    return {"file": [(io.BytesIO(data), name) for name, data in files]}


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"]["status"] == status and body["error"]["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]["message"]


class RecordingModel:
    """A Keras model that keeps every batch it is given: the API's model inputs."""

    def __init__(self, model):
        self._model = model
        self.batches: list[np.ndarray] = []

    @property
    def input_shape(self):
        return self._model.input_shape

    def predict_on_batch(self, batch):
        self.batches.append(np.array(batch))
        return self._model.predict_on_batch(batch)


@functools.cache
def reference_crops(png: bytes):
    """`crop_faces` on the decoded file with the default crop settings, detecting afresh."""
    return crop_faces(decode_image(png), FaceSettings(enabled=True))


@pytest.fixture(scope="session")
def detections_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("faces-cache")


@pytest.fixture
def photo(shared_data):
    return group_photo(shared_data)


@pytest.fixture
def crop(detections_dir) -> FaceSettings:
    """conf/faces/crop.yaml's settings, with the session's detection cache."""
    return FaceSettings(enabled=True, cache_dir=str(detections_dir))


@pytest.fixture
def recording_app(make_app, cached_loader, model_path):
    """An app whose model records its inputs, with the given metadata and settings."""

    def make(metadata=None, **settings):
        loaded = cached_loader(str(model_path))
        recorder = RecordingModel(loaded.model)
        served = dataclasses.replace(loaded, model=recorder, metadata=metadata or {})
        app = make_app(loader=lambda uri: served, **settings)
        recorder.batches.clear()  # the warm-up call made while loading
        return app.test_client(), recorder

    return make


def area(answer) -> float:
    x1, y1, x2, y2 = answer["box"]
    return (x2 - x1) * (y2 - y1)


def test_group_photo_gets_one_answer_per_face_with_its_box(recording_app, crop, photo):
    client, recorder = recording_app(faces=crop)
    response = client.post("/v1/predict?faces=all", data=multipart(("group.png", photo.png)))
    assert response.status_code == 200, response.get_json()
    item = response.get_json()["predictions"][0]
    reference = reference_crops(photo.png)
    assert len(item["faces"]) == len(photo.squares) == len(reference) == 3
    height, width = photo.rgb.shape[:2]
    for answer, square, expected in zip(item["faces"], photo.squares, reference, strict=True):
        x1, y1, x2, y2 = answer["box"]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        # Left to right, each box on its own pasted face.
        assert square[0] <= (x1 + x2) / 2 <= square[2] and square[1] <= (y1 + y2) / 2 <= square[3]
        assert answer["box"] == pytest.approx(list(expected.box), abs=1e-6)
        assert answer["confidence"] == pytest.approx(expected.confidence)
        assert 0.0 <= answer["probability_fake"] <= 1.0
        fake = answer["probability_fake"] >= item["threshold"]
        assert answer["label"] == ("fake" if fake else "real")
    # The top-level answer is the primary (largest) face's, so existing clients still work.
    primary = max(item["faces"], key=area)
    assert item["box"] == primary["box"]
    assert item["probability_fake"] == primary["probability_fake"]
    assert item["label"] == primary["label"]
    # One model call for every face; the primary face is not scored twice.
    assert [batch.shape for batch in recorder.batches] == [(3, SIZE, SIZE, 3)]


def test_model_sees_the_crop_the_loader_gives_for_the_same_file(
    recording_app, crop, photo, tmp_path
):
    client, recorder = recording_app(faces=crop)
    body = {"images": [base64.b64encode(photo.png).decode()], "faces": "all"}
    item = client.post("/v1/predict", json=body).get_json()["predictions"][0]
    (batch,) = recorder.batches
    reference = reference_crops(photo.png)
    for model_input, expected in zip(batch, reference, strict=True):
        assert np.abs(model_input - prepare_input(expected.pixels, SIZE)).max() <= 1.0
    # The loader's path for the same file: read, then the face_region step, then resize.
    path = tmp_path / "group.png"
    path.write_bytes(photo.png)
    faces = [Face(c.box, c.confidence, c.landmarks) for c in reference]
    settings = FaceSettings(enabled=True)
    loaded = read_input(
        path, SIZE, DecodeLimits(), region=lambda rgb: face_region(rgb, settings, faces)
    )
    primary = [answer["box"] for answer in item["faces"]].index(item["box"])
    assert np.abs(batch[primary] - loaded).max() <= 1.0


def test_batch_scores_every_face_of_every_image_in_one_model_call(recording_app, crop, photo):
    client, recorder = recording_app(faces=crop)
    files = multipart(("group.png", photo.png), ("plain.png", faceless_photo()))
    group, plain = client.post("/v1/predict?faces=all", data=files).get_json()["predictions"]
    assert len(group["faces"]) == 3 and group["box"] is not None
    # No face and on_missing: whole -> the whole image, said by a null box.
    assert plain["box"] is None and plain["faces"] == []
    (batch,) = recorder.batches
    assert batch.shape == (4, SIZE, SIZE, 3)
    whole = prepare_input(decode_image(faceless_photo()), SIZE)
    assert np.array_equal(batch[3], whole)


def test_faceless_image_follows_on_missing(recording_app, crop):
    def data():
        return multipart(("plain.png", faceless_photo()))

    skip, _ = recording_app(faces=dataclasses.replace(crop, on_missing="skip"))
    for query in ("", "?faces=all"):
        message = assert_error(skip.post(f"/v1/predict{query}", data=data()), 422, "no_face")
        assert "no face with confidence >= 0.9" in message and "on_missing=whole" in message
    whole, _ = recording_app(faces=crop)
    item = whole.post("/v1/predict", data=data()).get_json()["predictions"][0]
    assert item["box"] is None and 0.0 <= item["probability_fake"] <= 1.0


def test_more_faces_than_max_faces_answers_422_too_many_faces(recording_app, crop, photo):
    client, _ = recording_app(faces=crop, max_faces=2)
    response = client.post("/v1/predict?faces=all", data=multipart(("group.png", photo.png)))
    message = assert_error(response, 422, "too_many_faces")
    assert "3 faces" in message and "limit of 2" in message
    # Without faces=all only the primary face is scored: no limit applies.
    single = client.post("/v1/predict", data=multipart(("group.png", photo.png)))
    assert single.status_code == 200 and "faces" not in single.get_json()["predictions"][0]


def test_faces_off_scores_the_whole_image_and_faces_all_adds_the_faces(
    recording_app, detections_dir, photo
):
    client, recorder = recording_app(faces=FaceSettings(cache_dir=str(detections_dir)))

    def data():
        return multipart(("group.png", photo.png))

    plain = client.post("/v1/predict", data=data()).get_json()["predictions"][0]
    assert "box" not in plain and "faces" not in plain  # the answer of before faces existed
    item = client.post("/v1/predict?faces=all", data=data()).get_json()["predictions"][0]
    assert item["box"] is None and len(item["faces"]) == 3
    assert item["probability_fake"] == pytest.approx(plain["probability_fake"], abs=1e-6)
    whole, faces = recorder.batches
    assert whole.shape[0] == 1 and faces.shape[0] == 4  # 3 faces and the whole image
    assert np.array_equal(faces[3], whole[0])


def test_the_model_recorded_faces_settings_are_the_default(recording_app, photo):
    recorded = {"faces": {"enabled": True, "margin": 0.25, "cache_dir": "training/faces-cache"}}
    client, _ = recording_app(metadata=recorded)
    described = client.get("/v1/model").get_json()["faces"]
    assert described["enabled"] is True and "cache_dir" not in described
    item = client.post("/v1/predict", data=multipart(("g.png", photo.png))).get_json()
    primary = max(reference_crops(photo.png), key=lambda c: area({"box": c.box}))
    assert item["predictions"][0]["box"] == pytest.approx(list(primary.box), abs=1e-6)
    # The serve config's faces setting wins over the recorded one (no detection at all).
    off, _ = recording_app(metadata=recorded, faces=FaceSettings(enabled=False))
    answer = off.post("/v1/predict", data=multipart(("g.png", photo.png))).get_json()
    assert "box" not in answer["predictions"][0]
    assert off.get("/v1/model").get_json()["faces"]["enabled"] is False


def test_unreadable_recorded_settings_keep_the_server_unready_with_the_fix(recording_app):
    client, _ = recording_app(metadata={"faces": {"enabled": True, "margn": 0.2}})
    message = assert_error(client.get("/v1/health/ready"), 503, "model_load_failed")
    assert "margn" in message and "faces=crop or faces=none" in message


def test_unknown_faces_option_is_refused_and_documented(client):
    data = multipart(("a.png", faceless_photo()))
    message = assert_error(client.post("/v1/predict?faces=some", data=data), 400, "invalid_faces")
    assert "faces=all" in message
    body = {"images": [base64.b64encode(faceless_photo()).decode()], "faces": ["all"]}
    assert_error(client.post("/v1/predict", json=body), 400, "invalid_faces")
    document = client.get("/openapi.json").get_json()
    parameters = document["paths"]["/v1/predict"]["post"]["parameters"]
    assert {"name": "faces", "in": "query"}.items() <= next(
        p for p in parameters if p["name"] == "faces"
    ).items()
    prediction = document["components"]["schemas"]["Prediction"]["properties"]
    assert prediction["faces"]["items"] == {"$ref": "#/components/schemas/FaceAnswer"}
