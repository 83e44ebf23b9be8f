"""The OpenAPI 3 document of the API, written as data (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from deepguard.serving.settings import ServeSettings


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json(_ref("ErrorResponse"), "An error, as JSON")

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["status", "code", "message"],
        "properties": {
            "status": {"type": "integer", "example": 415},
            "code": {"type": "string", "example": "not_an_image"},
            "message": {"type": "string", "description": "what was wrong and how to fix it"},
        },
    },
    "ErrorResponse": {
        "type": "object",
        "required": ["error", "request_id"],
        "properties": {"error": _ref("Error"), "request_id": {"type": "string"}},
    },
    "ModelRef": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "nullable": True},
            "version": {"type": "string", "nullable": True},
            "alias": {"type": "string", "nullable": True},
            "sha256": {"type": "string", "nullable": True},
        },
    },
    "Explanation": {
        "type": "object",
        "properties": {
            "crop_side": {"type": "integer", "description": "side of the centred crop, px"},
            "spectrum_png": {
                "type": "string",
                "format": "byte",
                "description": "centred log-magnitude spectrum",
            },
            "profile_png": {
                "type": "string",
                "format": "byte",
                "description": "azimuthal profile plot",
            },
            "profile": {"type": "array", "items": {"type": "number"}},
        },
    },
    "Box": {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 4,
        "maxItems": 4,
        "description": "x1, y1, x2, y2 of a face in the uploaded image's pixels (after EXIF turn)",
    },
    "FaceAnswer": {
        "type": "object",
        "required": ["box", "confidence", "probability_fake", "label"],
        "properties": {
            "box": _ref("Box"),
            "confidence": {"type": "number", "description": "face detector's confidence"},
            "probability_fake": {"type": "number", "minimum": 0, "maximum": 1},
            "label": {"type": "string", "enum": ["fake", "real"]},
        },
    },
    "Prediction": {
        "type": "object",
        "required": ["index"],
        "properties": {
            "index": {"type": "integer"},
            "filename": {"type": "string", "nullable": True},
            "probability_fake": {"type": "number", "minimum": 0, "maximum": 1},
            "label": {"type": "string", "enum": ["fake", "real"]},
            "threshold": {"type": "number"},
            "box": {
                "allOf": [_ref("Box")],
                "nullable": True,
                "description": (
                    "present when faces were detected: the face the top-level answer is for "
                    "(the primary face), or null when it is for the whole image"
                ),
            },
            "faces": {
                "type": "array",
                "items": _ref("FaceAnswer"),
                "description": "with faces=all: one answer per face, left to right",
            },
            "explain": _ref("Explanation"),
            "error": _ref("Error"),
        },
    },
    "PredictResponse": {
        "type": "object",
        "required": ["predictions", "model", "threshold", "request_id"],
        "properties": {
            "predictions": {"type": "array", "items": _ref("Prediction")},
            "model": _ref("ModelRef"),
            "threshold": {"type": "number"},
            "request_id": {"type": "string"},
        },
    },
    "ModelInfo": {
        "allOf": [
            _ref("ModelRef"),
            {
                "type": "object",
                "properties": {
                    "input_size": {"type": "array", "items": {"type": "integer"}},
                    "threshold": {"type": "number"},
                    "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
                    "faces": {
                        "type": "object",
                        "description": "the faces settings uploads are scored with",
                    },
                },
            },
        ]
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["alive", "ready", "loading", "failed"]},
            "model": _ref("ModelRef"),
            "error": _ref("Error"),
            "request_id": {"type": "string"},
        },
    },
}


def openapi_document(settings: ServeSettings) -> dict[str, Any]:
    """The OpenAPI 3.0 description of every endpoint `create_app` serves."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DeepGuard API",
            "version": "1",
            "description": "Probability that a face image is AI-generated.",
        },
        "paths": {"/v1/predict": {"post": _predict_operation(settings)}, **_READ_ONLY_PATHS},
        "components": {"schemas": _SCHEMAS},
    }


def _predict_operation(settings: ServeSettings) -> dict[str, Any]:
    """``POST /v1/predict``: its limits come from the worker's settings."""
    limits = settings.limits
    return {
        "summary": "Score one or several images",
        "description": (
            f"Up to {settings.max_batch} images, {limits.max_bytes} bytes and "
            f"{limits.max_pixels} pixels each, formats {', '.join(limits.allowed_formats)}. "
            "A request with one image answers that image's error status; a batch "
            "answers 200 with an `error` in each refused item. With face crops (the "
            "model's recorded faces settings or the server's), the top-level answer is for "
            f"the primary face; `faces=all` answers each face too (at most "
            f"{settings.max_faces} per image, more answer 422 `too_many_faces`). An image "
            "with no face is scored whole, or answers 422 `no_face` under "
            "`faces.on_missing: skip`. Every part of every image is scored in one model call."
        ),
        "parameters": _PREDICT_PARAMETERS,
        "requestBody": _PREDICT_BODY,
        "responses": {
            "200": _json(_ref("PredictResponse"), "Scores (and per-item errors)"),
            **{str(code): _ERROR for code in (400, 413, 415, 422, 500)},
            "503": _json(_ref("ErrorResponse"), "Model not ready, or overloaded (see Retry-After)"),
        },
    }


_PREDICT_PARAMETERS = [
    {
        "name": "explain",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["fft"]},
        "description": "add the spectrum views of each image as PNG",
    },
    {
        "name": "faces",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["all"]},
        "description": "answer each face of each image too, with its box (JSON bodies may "
        "send it as the field `faces` instead)",
    },
    {"name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"}},
]

_PREDICT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["images"],
                "properties": {
                    "images": {"type": "array", "items": {"type": "string", "format": "byte"}},
                    "faces": {"type": "string", "enum": ["all"], "description": "as ?faces="},
                },
            }
        },
    },
}


def _get(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": responses}}


# The endpoints that only read: health, model facts, metrics and this document.
_READ_ONLY_PATHS: dict[str, Any] = {
    "/v1/health/live": _get(
        "Liveness: the process answers", {"200": _json(_ref("Health"), "Alive")}
    ),
    "/v1/health/ready": _get(
        "Readiness: the model is loaded",
        {
            "200": _json(_ref("Health"), "Ready"),
            "503": _json(_ref("Health"), "Loading, or failed with the reason"),
        },
    ),
    "/v1/model": _get(
        "The loaded model and its recorded test metrics",
        {"200": _json(_ref("ModelInfo"), "Model"), "503": _ERROR},
    ),
    "/metrics": _get(
        "Prometheus metrics of this worker",
        {
            "200": {
                "description": "Prometheus text exposition",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    ),
    "/openapi.json": _get(
        "This document", {"200": _json({"type": "object"}, "OpenAPI 3 document")}
    ),
}
