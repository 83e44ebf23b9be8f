"""Fuzzing `/v1/predict` with generated bodies: whatever a client sends, the answer is never a
500. Malformed bodies get a 4xx JSON error; bodies that happen to hold an image get scores."""

from __future__ import annotations

import json

import pytest
from bad_inputs import encode, face_like_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=150,
    deadline=None,  # the first model call traces a graph; latency is not what is tested
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same bodies on every run: a failure reproduces
)

CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=utf-16",
        "application/vnd.api+json",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=xyz",
        "multipart/mixed; boundary=xyz",
        "application/x-www-form-urlencoded",
        "image/jpeg",
        "text/plain",
        "application/octet-stream",
        "garbage/;;;=",
        "",
    ]
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["images", "file", "x", ""]) | st.text(max_size=5), children
        )
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def fuzz_client(model_path, cached_loader):
    from deepguard.serving import ServeSettings, create_app

    settings_ = ServeSettings(
        model_uri=str(model_path), load_in_background=False, max_content_length=2_000_000
    )
    app = create_app(settings_, loader=cached_loader)
    return app.test_client()


def assert_not_a_server_error(response):
    """A 2xx with predictions, or a 4xx in the one error shape; never a 5xx."""
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert isinstance(body, dict), response.get_data()[:200]
    if response.status_code >= 400:
        assert body["error"]["status"] == response.status_code
        assert body["error"]["code"] and body["error"]["message"]
    else:
        assert isinstance(body["predictions"], list)


@FUZZ
@given(value=JSON_VALUES)
def test_json_of_any_shape_never_answers_500(fuzz_client, value):
    for body in (value, {"images": value}, {"images": [value]}):
        response = fuzz_client.post(
            "/v1/predict", data=json.dumps(body), content_type="application/json"
        )
        assert_not_a_server_error(response)


@FUZZ
@given(depth=st.integers(min_value=1, max_value=200_000), opener=st.sampled_from(["[", '{"a":']))
def test_json_nested_to_any_depth_never_answers_500(fuzz_client, depth, opener):
    closer = "]" if opener == "[" else "}"
    body = opener * depth + "1" + closer * depth
    response = fuzz_client.post("/v1/predict", data=body, content_type="application/json")
    assert_not_a_server_error(response)
    if depth > 5_000:
        assert response.status_code == 400


@FUZZ
@given(data=st.binary(max_size=4096), content_type=CONTENT_TYPES)
def test_random_bytes_with_any_content_type_never_answer_500(fuzz_client, data, content_type):
    response = fuzz_client.post("/v1/predict", data=data, content_type=content_type)
    assert_not_a_server_error(response)


PART_NAMES = st.sampled_from(["file", "File", "image", "", "file[]", 'fi"le'])
FILENAMES = st.none() | st.text(max_size=30) | st.sampled_from(["../../etc/passwd", "a.jpg", ""])


@st.composite
def multipart_bodies(draw):
    """A multipart body with random parts, names, filenames and headers, sometimes cut short."""
    boundary = draw(st.sampled_from(["xyz", "----b", "a" * 70]))
    good_image = encode(face_like_image(32, 32), "PNG")
    parts = []
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        name, filename = draw(PART_NAMES), draw(FILENAMES)
        content = draw(st.binary(max_size=512) | st.just(good_image))
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        headers = f"Content-Disposition: {disposition}\r\n"
        if draw(st.booleans()):
            headers += f"Content-Type: {draw(CONTENT_TYPES) or 'image/png'}\r\n"
        parts.append(f"--{boundary}\r\n{headers}\r\n".encode(errors="replace") + content + b"\r\n")
    body = b"".join(parts) + (f"--{boundary}--\r\n".encode() if draw(st.booleans()) else b"")
    cut = draw(st.integers(min_value=0, max_value=len(body)))
    header_boundary = draw(st.sampled_from([boundary, "", "other", boundary + '"']))
    return body[: len(body) - cut // 3], f"multipart/form-data; boundary={header_boundary}"


@FUZZ
@given(case=multipart_bodies())
def test_multipart_edge_cases_never_answer_500(fuzz_client, case):
    body, content_type = case
    response = fuzz_client.post("/v1/predict", data=body, content_type=content_type)
    assert_not_a_server_error(response)


def test_a_well_formed_multipart_body_is_still_scored(fuzz_client):
    """The fuzz strategies can produce good requests; this one must succeed."""
    image = encode(face_like_image(32, 32), "PNG")
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + image + b"\r\n--xyz--\r\n"
    )
    response = fuzz_client.post(
        "/v1/predict", data=body, content_type="multipart/form-data; boundary=xyz"
    )
    assert response.status_code == 200
    assert 0.0 <= response.get_json()["predictions"][0]["probability_fake"] <= 1.0
