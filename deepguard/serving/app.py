"""The Flask application factory of the DeepGuard API.

One app per worker process: it loads the model once (in the background), bounds the
predictions computed at once, and answers every error as JSON
``{"error": {"status", "code", "message"}, "request_id"}``.

The routes live on one Blueprint, `api`; they read the worker's state (the model, the
metrics, the settings, the prediction slots) from ``current_app.extensions["deepguard"]``,
a `Service`, so nothing is captured in closures and each app built by `create_app` is
independent.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from deepguard.errors import ImageInputError
from deepguard.images import centre_crop, prepare_input
from deepguard.serving.explain import fft_views
from deepguard.serving.faces import FACES_CHOICES, ImageParts, Part, face_finder, image_parts
from deepguard.serving.metrics import ServingMetrics
from deepguard.serving.model_state import ModelState
from deepguard.serving.openapi import openapi_document
from deepguard.serving.payload import (
    Payload,
    RequestError,
    Upload,
    decode_upload,
    read_payload,
)
from deepguard.serving.settings import ServeSettings
from deepguard.tracking.loading import LoadedModel, load_model

log = logging.getLogger("deepguard.serving")
access_log = logging.getLogger("deepguard.serving.access")

# An incoming X-Request-ID is echoed only if it is short and plain (it goes into logs).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
EXTENSION = "deepguard"

api = Blueprint("deepguard_api", __name__)


@dataclass
class Service:
    """What one worker's routes share, kept in ``app.extensions["deepguard"]``.

    Attributes:
        state: the model, loaded once, with its readiness.
        metrics: the worker's Prometheus counters.
        settings: the limits and the threshold the app was built with.
        slots: bounds the predictions computed at once (decode and model call together).
    """

    state: ModelState
    metrics: ServingMetrics
    settings: ServeSettings
    slots: threading.BoundedSemaphore


def create_app(
    settings: ServeSettings | Mapping[str, Any],
    loader: Callable[[str], LoadedModel] = load_model,
) -> Flask:
    """Build the API for one worker.

    Args:
        settings: a `ServeSettings` or a mapping of its fields (``model_uri`` required).
        loader: the function that loads ``model_uri`` (the project's safe loader).

    Example:
        >>> app = create_app({"model_uri": "models:/deepguard@champion"})
        >>> app.test_client().get("/v1/health/live").status_code
        200
    """
    if not isinstance(settings, ServeSettings):
        settings = ServeSettings.from_mapping(settings)
    app = Flask("deepguard.serving", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json = _JSONInOrder(app)
    state = ModelState(settings.model_uri, loader, settings.threshold, settings.faces)
    app.extensions[EXTENSION] = Service(
        state=state,
        metrics=ServingMetrics(lambda: state.ready),
        settings=settings,
        slots=threading.BoundedSemaphore(settings.max_concurrency),
    )
    app.register_blueprint(api)
    if settings.load_in_background:
        state.start()
    else:
        state.load()
    return app


def service() -> Service:
    """The `Service` of the app handling the current request."""
    return current_app.extensions[EXTENSION]


# ------------------------------------------------------------------------- routes


@api.get("/v1/health/live")
def live():
    return jsonify(status="alive", request_id=g.request_id)


@api.get("/v1/health/ready")
def ready():
    state = service().state
    if state.ready:
        return jsonify(status="ready", model=state.describe(), request_id=g.request_id)
    return _not_ready(state, with_status=True)


@api.get("/v1/model")
def model_info():
    state = service().state
    if not state.ready:
        return _not_ready(state)
    size = state.image_size
    return jsonify(
        **state.describe(),
        input_size=[size, size, 3],
        threshold=state.threshold,
        metrics=state.test_metrics(),
        faces=_served_faces(state),
        request_id=g.request_id,
    )


def _served_faces(state: ModelState) -> dict[str, Any]:
    """The faces settings uploads are scored with (the cache folder is the server's own)."""
    described = state.face_settings.to_dict()
    described.pop("cache_dir")
    return described


@api.get("/metrics")
def prometheus_metrics():
    metrics = service().metrics
    return Response(metrics.exposition(), mimetype=None, content_type=metrics.content_type)


@api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(service().settings))


@api.post("/v1/predict")
def predict():
    current = service()
    if not current.state.ready:
        return _not_ready(current.state)
    explain = request.args.get("explain")
    if explain not in (None, "fft"):
        return error_response(
            400, "invalid_explain", f"explain={explain!r} is unknown; use explain=fft"
        )
    try:
        payload = read_payload(request, current.settings.max_batch)
        options = ScoreOptions(explain=explain == "fft", every_face=_every_face(payload))
    except RequestError as error:
        return error_response(error.status, error.code, str(error))
    items = _score_in_a_slot(current, payload.uploads, options)
    if items is None:
        return _overloaded(current.settings)
    _count_outcomes(current.metrics, items)
    if len(items) == 1 and "error" in items[0]:
        failure = items[0]["error"]
        return error_response(failure["status"], failure["code"], failure["message"])
    return jsonify(
        predictions=items,
        model=current.state.describe(),
        threshold=current.state.threshold,
        request_id=g.request_id,
    )


# ---------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ScoreOptions:
    """What a `/v1/predict` request asks for beside the scores.

    Attributes:
        explain: add the spectrum views of each image (``?explain=fft``).
        every_face: answer per face, with its box (``?faces=all``).
    """

    explain: bool = False
    every_face: bool = False


def _every_face(payload: Payload) -> bool:
    """True for ``?faces=all`` or a JSON body's ``"faces": "all"`` (the query wins)."""
    value = request.args.get("faces", payload.options.get("faces"))
    if value is None:
        return False
    if value not in FACES_CHOICES:
        raise RequestError(
            f"faces={value!r} is unknown; use faces=all for one answer per face, or leave it "
            "out for one answer per image",
            status=400,
            code="invalid_faces",
        )
    return True


def _score_in_a_slot(
    current: Service, uploads: list[Upload], options: ScoreOptions
) -> list[dict] | None:
    """Score while holding a prediction slot; None when every slot stayed busy."""
    # Decoding, face detection and the model call all hold a slot: they bound CPU and
    # memory together.
    if not current.slots.acquire(timeout=current.settings.queue_timeout_s):
        current.metrics.shed.inc()
        return None
    current.metrics.in_flight.inc()
    try:
        return _score(uploads, current.state, current.settings, options)
    finally:
        current.metrics.in_flight.dec()
        current.slots.release()


def _score(
    uploads: list[Upload], state: ModelState, settings: ServeSettings, options: ScoreOptions
) -> list[dict]:
    """Decode every upload and cut its parts (faces), score every part of every upload in
    one model call, and answer each upload in order, refused ones with their error."""
    items: list[dict[str, Any]] = []
    planned: list[tuple[dict[str, Any], np.ndarray, ImageParts]] = []
    for index, upload in enumerate(uploads):
        item: dict[str, Any] = {"index": index, "filename": upload.name}
        items.append(item)
        try:
            rgb = decode_upload(upload, settings.limits)
            faces = state.face_settings
            finder = face_finder(faces, upload.data)
            parts = image_parts(rgb, faces, options.every_face, settings.max_faces, finder)
        except ImageInputError as error:
            item["error"] = {"status": error.status, "code": error.code, "message": str(error)}
            continue
        planned.append((item, rgb, parts))
    regions = [part for _, _, parts in planned for part in parts.to_score()]
    if not regions:
        return items
    size = state.image_size
    probabilities = state.predict(np.stack([prepare_input(part.pixels, size) for part in regions]))
    # Keyed by identity: a primary face that is also answered per face is scored once.
    scores = {id(part): float(p) for part, p in zip(regions, probabilities, strict=True)}
    detected = state.face_settings.enabled or options.every_face
    for item, rgb, parts in planned:
        item.update(_answer(parts, scores, state.threshold, detected))
        if options.explain:
            item["explain"] = fft_views(np.array(centre_crop(rgb, settings.explain_max_side)))
    return items


def _answer(
    parts: ImageParts, scores: dict[int, float], threshold: float, detected: bool
) -> dict[str, Any]:
    """One upload's answer: the top-level score, the ``box`` it is for when faces were
    detected (``None`` = the whole image), and the per-face answers when asked."""
    answer = _verdict(scores[id(parts.top)], threshold)
    answer["threshold"] = threshold
    if detected:
        answer["box"] = _box(parts.top)
    if parts.faces is not None:
        answer["faces"] = [
            {
                "box": _box(face),
                "confidence": face.confidence,
                **_verdict(scores[id(face)], threshold),
            }
            for face in parts.faces
        ]
    return answer


def _verdict(probability: float, threshold: float) -> dict[str, Any]:
    return {
        "probability_fake": probability,
        "label": "fake" if probability >= threshold else "real",
    }


def _box(part: Part) -> list[float] | None:
    return None if part.box is None else list(part.box)


def _count_outcomes(metrics: ServingMetrics, items: list[dict]) -> None:
    for item in items:
        if "error" in item:
            metrics.image_errors.labels(item["error"]["code"]).inc()
        else:
            metrics.predictions.labels(item["label"]).inc()


# ----------------------------------------------------------------- error answers


class _JSONInOrder(DefaultJSONProvider):
    """JSON answers keep the order they are written in (predictions before model facts)."""

    sort_keys = False


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
):
    """The one error shape: ``{"error": {status, code, message}, "request_id"}`` (after the
    ``extra`` fields, such as a health ``status``)."""
    error = {"status": status, "code": code, "message": message}
    response = jsonify({**(extra or {}), "error": error, "request_id": g.request_id})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _not_ready(state: ModelState, with_status: bool = False):
    extra = {"status": state.status} if with_status else None
    if state.status == "failed":
        message = f"the model did not load: {state.reason}"
        return error_response(503, "model_load_failed", message, extra=extra)
    message = "the model is still loading; retry shortly"
    return error_response(503, "model_loading", message, {"Retry-After": "2"}, extra)


def _overloaded(settings: ServeSettings):
    return error_response(
        503,
        "overloaded",
        f"all {settings.max_concurrency} prediction slots stayed busy for "
        f"{settings.queue_timeout_s:g} s; retry after {settings.retry_after_s} s",
        headers={"Retry-After": str(settings.retry_after_s)},
    )


@api.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    status = error.code or 500
    if status == 413:
        message = (
            f"the request body is larger than the limit of "
            f"{current_app.config['MAX_CONTENT_LENGTH']:,} bytes; send fewer or smaller images"
        )
        return error_response(413, "payload_too_large", message)
    if status == 404:
        message = f"no endpoint at {request.path}; see /openapi.json for the endpoints"
    elif isinstance(error, MethodNotAllowed):
        allowed = ", ".join(sorted(error.valid_methods or []))
        message = f"{request.method} is not allowed on {request.path}; use {allowed}"
    else:
        message = error.description or error.name
    code = re.sub(r"\W+", "_", error.name.lower()).strip("_")
    headers = dict(error.get_headers()) if status == 405 else {}
    headers.pop("Content-Type", None)
    return error_response(status, code, message, headers)


@api.app_errorhandler(Exception)
def internal_error(error: Exception):
    # The API's one failure funnel: log the traceback, answer JSON without it.
    log.exception("unhandled error, request_id=%s", g.get("request_id", "-"))
    return error_response(
        500,
        "internal_error",
        f"an internal error occurred; quote request id {g.get('request_id', '-')} "
        "when reporting it",
    )


# ------------------------------------------------------------ request lifecycle


@api.before_app_request
def start_request():
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()


@api.after_app_request
def finish_request(response):
    current = service()
    latency_s = time.perf_counter() - g.get("started", time.perf_counter())
    response.headers["X-Request-ID"] = g.get("request_id", "")
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    current.metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
    current.metrics.latency.labels(endpoint).observe(latency_s)
    model = current.state.describe()
    access_log.info(
        "request_id=%s method=%s path=%s status=%d latency_ms=%.1f model_version=%s",
        g.get("request_id", "-"),
        request.method,
        request.path,
        response.status_code,
        latency_s * 1000,
        model["version"] or model["name"] or "-",
    )
    return response
