import base64
import io
import logging
import threading

import numpy as np
import pytest
from bad_inputs import bad_inputs, encode, face_like_image, noise_image
from PIL import Image

from deepguard.images import decode_image, to_model_input
from deepguard.spectral import azimuthal_profile
from deepguard.tracking.loading import LoadedModel, file_sha256, load_model

BAD_INPUTS = bad_inputs()


def multipart(*files):
    return {"file": [(io.BytesIO(data), name) for name, data in files]}


def assert_error_shape(response, status, code=None):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) >= {"error", "request_id"}
    assert set(body["error"]) == {"status", "code", "message"}
    assert body["error"]["status"] == status
    assert code is None or body["error"]["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] == body["request_id"]
    return body


def expected_probability(model_path, data, cached_loader):
    model = cached_loader(str(model_path)).model
    batch = to_model_input(decode_image(data), 64)[None]
    return float(model.predict(batch, verbose=0)[0, 0])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_good_image_is_scored_like_in_process(client, model_path, cached_loader, fmt):
    data = encode(face_like_image(), fmt)
    response = client.post("/v1/predict", data=multipart((f"face.{fmt.lower()}", data)))
    assert response.status_code == 200
    body = response.get_json()
    (item,) = body["predictions"]
    assert item["filename"] == f"face.{fmt.lower()}"
    assert item["probability_fake"] == pytest.approx(
        expected_probability(model_path, data, cached_loader), abs=1e-5
    )
    assert item["label"] == ("fake" if item["probability_fake"] >= 0.5 else "real")
    assert item["threshold"] == body["threshold"] == 0.5
    assert body["model"] == {
        "name": "tiny.keras",
        "version": None,
        "alias": None,
        "sha256": file_sha256(model_path),
    }
    assert response.headers["X-Request-ID"] == body["request_id"]


def test_base64_json_and_data_url(client, model_path, cached_loader):
    png = encode(face_like_image(), "PNG")
    jpeg = encode(noise_image(120, 100), "JPEG")
    images = [
        base64.b64encode(png).decode(),
        "data:image/jpeg;base64," + base64.b64encode(jpeg).decode(),
    ]
    response = client.post("/v1/predict", json={"images": images})
    assert response.status_code == 200
    scores = [item["probability_fake"] for item in response.get_json()["predictions"]]
    expected = [expected_probability(model_path, d, cached_loader) for d in (png, jpeg)]
    assert scores == pytest.approx(expected, abs=1e-5)


def test_batch_answers_each_item_with_its_own_error(client):
    good = encode(face_like_image(), "JPEG")
    files = [
        ("a.jpg", good),
        ("notes.jpg", b"just text" * 20),
        ("b.png", encode(noise_image(), "PNG")),
    ]
    response = client.post("/v1/predict", data=multipart(*files))
    assert response.status_code == 200
    items = response.get_json()["predictions"]
    assert [item["index"] for item in items] == [0, 1, 2]
    assert "probability_fake" in items[0] and "probability_fake" in items[2]
    assert items[1]["error"]["status"] == 415 and "probability_fake" not in items[1]
    invalid = client.post("/v1/predict", json={"images": ["@@not base64@@", images_b64(good)]})
    first, second = invalid.get_json()["predictions"]
    assert first["error"]["code"] == "invalid_base64" and "label" in second


def images_b64(data):
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.name for case in BAD_INPUTS])
def test_every_bad_upload_answers_its_status_as_json(client, case):
    response = client.post("/v1/predict", data=multipart((case.filename, case.data)))
    assert_error_shape(response, case.status, case.code)
    via_json = client.post("/v1/predict", json={"images": [images_b64(case.data)]})
    assert_error_shape(via_json, case.status, case.code)


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": {"image": (io.BytesIO(b"x"), "a.jpg")}}, 400, "missing_file"),
        ({"json": {"images": []}}, 400, "missing_file"),
        ({"json": {"pictures": ["abc"]}}, 400, "invalid_json"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": b"\xff\xd8\xff raw bytes", "content_type": "image/jpeg"}, 415, None),
        ({"json": {"images": ["%%%"]}}, 400, "invalid_base64"),
    ],
)
def test_malformed_requests(client, kwargs, status, code):
    assert_error_shape(client.post("/v1/predict", **kwargs), status, code)


def test_batch_and_body_limits_answer_413_as_json(make_app):
    client = make_app(max_batch=2, max_content_length=200_000).test_client()
    small = encode(face_like_image(32, 32), "PNG")
    files = [(f"{i}.png", small) for i in range(3)]
    assert_error_shape(client.post("/v1/predict", data=multipart(*files)), 413, "batch_too_large")
    big = encode(noise_image(400, 400), "PNG")
    assert len(big) > 200_000
    assert_error_shape(
        client.post("/v1/predict", data=multipart(("big.png", big))), 413, "payload_too_large"
    )


def test_unknown_path_and_method_answer_json(client):
    assert_error_shape(client.get("/v2/predict"), 404, "not_found")
    response = client.get("/v1/predict")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_unexpected_failure_answers_500_without_traceback(make_app, caplog):
    app = make_app()
    state = app.extensions["deepguard"].state

    def broken(batch):
        raise RuntimeError("simulated kernel failure")

    state.predict = broken
    with caplog.at_level(logging.ERROR, logger="deepguard.serving"):
        response = app.test_client().post(
            "/v1/predict", data=multipart(("a.png", encode(face_like_image(), "PNG")))
        )
    body = assert_error_shape(response, 500, "internal_error")
    assert (
        "simulated" not in body["error"]["message"]
        and body["request_id"] in body["error"]["message"]
    )
    assert "simulated kernel failure" in caplog.text


def test_explain_fft_adds_spectrum_pngs(client):
    data = encode(face_like_image(300, 200), "JPEG")
    response = client.post("/v1/predict?explain=fft", data=multipart(("face.jpg", data)))
    assert response.status_code == 200
    explain = response.get_json()["predictions"][0]["explain"]
    assert explain["crop_side"] == 200
    spectrum = Image.open(io.BytesIO(base64.b64decode(explain["spectrum_png"])))
    assert spectrum.format == "PNG" and spectrum.size == (200, 200)
    profile = Image.open(io.BytesIO(base64.b64decode(explain["profile_png"])))
    assert profile.format == "PNG" and profile.size[0] > 100
    expected = azimuthal_profile(decode_image(data)[:, 50:250][None].astype(np.float32))[0]
    assert explain["profile"] == pytest.approx(expected.tolist(), abs=1e-4)
    assert_error_shape(
        client.post("/v1/predict?explain=gradcam", data=multipart(("f.jpg", data))), 400
    )


def test_health_before_and_after_loading(make_app, model_path):
    release = threading.Event()

    def slow_loader(uri):
        release.wait(30)
        return load_model(uri)

    app = make_app(loader=slow_loader, load_in_background=True)
    client = app.test_client()
    assert client.get("/v1/health/live").status_code == 200
    not_ready = client.get("/v1/health/ready")
    assert_error_shape(not_ready, 503, "model_loading")
    assert not_ready.get_json()["status"] == "loading"
    assert_error_shape(client.post("/v1/predict", json={"images": ["x"]}), 503, "model_loading")
    release.set()
    assert app.extensions["deepguard"].state.wait(60)
    ready = client.get("/v1/health/ready")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    assert ready.get_json()["model"]["sha256"] == file_sha256(model_path)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupted_model_file_keeps_server_unready_with_reason(
    make_app, model_path, tmp_path, caplog, damage
):
    broken = tmp_path / "broken.keras"
    original = model_path.read_bytes()
    broken.write_bytes(
        b"this is not a zip" * 100 if damage == "garbage" else original[: len(original) // 2]
    )
    with caplog.at_level(logging.ERROR, logger="deepguard.serving"):
        app = make_app(model_uri=broken, loader=load_model, load_in_background=True)
        assert app.extensions["deepguard"].state.wait(60)
    client = app.test_client()
    assert client.get("/v1/health/live").status_code == 200
    response = client.get("/v1/health/ready")
    body = assert_error_shape(response, 503, "model_load_failed")
    assert body["status"] == "failed"
    assert "did not load" in body["error"]["message"] and len(body["error"]["message"]) > 40
    assert "broken.keras" in caplog.text and "Traceback" in caplog.text
    assert_error_shape(client.post("/v1/predict", json={"images": ["x"]}), 503, "model_load_failed")


def test_model_endpoint_reports_metadata_and_threshold(make_app, model_path):
    def loader_with_metadata(uri):
        loaded = load_model(uri)
        return LoadedModel(
            model=loaded.model,
            uri=loaded.uri,
            sha256=loaded.sha256,
            name="deepguard",
            version="3",
            alias="champion",
            metadata={"threshold": 0.7, "metrics": {"test_roc_auc": 0.91, "test_accuracy": 0.84}},
        )

    client = make_app(loader=loader_with_metadata).test_client()
    body = client.get("/v1/model").get_json()
    assert body["name"] == "deepguard" and body["version"] == "3" and body["alias"] == "champion"
    assert body["sha256"] == file_sha256(model_path)
    assert body["input_size"] == [64, 64, 3] and body["threshold"] == 0.7
    assert body["metrics"] == {"test_roc_auc": 0.91, "test_accuracy": 0.84}
    prediction = client.post(
        "/v1/predict", data=multipart(("a.png", encode(face_like_image(), "PNG")))
    )
    item = prediction.get_json()["predictions"][0]
    assert item["threshold"] == 0.7 and item["label"] == (
        "fake" if item["probability_fake"] >= 0.7 else "real"
    )
    assert prediction.get_json()["model"]["version"] == "3"


@pytest.mark.parametrize(("threshold", "label"), [(0.0, "fake"), (1.0, "real")])
def test_threshold_setting_overrides_and_decides_label(make_app, threshold, label):
    client = make_app(threshold=threshold).test_client()
    item = client.post(
        "/v1/predict", data=multipart(("a.png", encode(face_like_image(), "PNG")))
    ).get_json()
    assert item["predictions"][0]["label"] == label and item["threshold"] == threshold


def test_openapi_document_is_valid_and_lists_every_endpoint(client, make_app):
    validator = pytest.importorskip("openapi_spec_validator")
    document = client.get("/openapi.json").get_json()
    validator.validate(document)
    rules = {rule.rule for rule in make_app().url_map.iter_rules()}
    assert rules == set(document["paths"])


def test_request_id_is_honoured_or_generated(client):
    response = client.get("/v1/health/live", headers={"X-Request-ID": "trace-42.a"})
    assert response.headers["X-Request-ID"] == "trace-42.a" == response.get_json()["request_id"]
    unsafe = client.get("/v1/health/live", headers={"X-Request-ID": "id forged=log status=200"})
    assert unsafe.headers["X-Request-ID"] != "id forged=log status=200"
    first, second = client.get("/v1/health/live"), client.get("/v1/health/live")
    assert len(first.headers["X-Request-ID"]) >= 16
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_overload_sheds_with_503_and_retry_after(make_app):
    app = make_app(max_concurrency=1, queue_timeout_s=0.05, retry_after_s=3)
    state = app.extensions["deepguard"].state
    entered, release = threading.Event(), threading.Event()
    real_predict = state.predict

    def held_predict(batch):
        entered.set()
        release.wait(30)
        return real_predict(batch)

    state.predict = held_predict
    data = encode(face_like_image(), "PNG")
    first = {}
    worker = threading.Thread(
        target=lambda: first.update(
            r=app.test_client().post("/v1/predict", data=multipart(("a.png", data)))
        )
    )
    worker.start()
    assert entered.wait(30)
    shed = app.test_client().post("/v1/predict", data=multipart(("b.png", data)))
    assert_error_shape(shed, 503, "overloaded")
    assert shed.headers["Retry-After"] == "3"
    assert app.test_client().get("/v1/health/live").status_code == 200  # health never waits
    release.set()
    worker.join(30)
    assert first["r"].status_code == 200


def test_metrics_and_one_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="deepguard.serving.access"):
        client.post("/v1/predict", data=multipart(("a.png", encode(face_like_image(), "PNG"))))
        client.post("/v1/predict", data=multipart(("b.jpg", b"text" * 10)))
    lines = [r.getMessage() for r in caplog.records if r.name == "deepguard.serving.access"]
    assert len(lines) == 2
    assert "status=200" in lines[0] and "status=415" in lines[1]
    assert all("latency_ms=" in line and "model_version=tiny.keras" in line for line in lines)
    exposition = client.get("/metrics").get_data(as_text=True)
    assert (
        'deepguard_requests_total{endpoint="/v1/predict",method="POST",status="415"} 1.0'
        in exposition
    )
    assert 'deepguard_image_errors_total{code="not_an_image"} 1.0' in exposition
    assert "deepguard_model_ready 1.0" in exposition
