"""Read the images of a `/v1/predict` request: multipart ``file`` parts or JSON base64,
and the options a JSON body carries beside its images (``faces``).

`decode_upload` turns one upload into RGB pixels with `deepguard.images.decode_image`, the
decoder every other reader shares; `prepare_input` then makes the model input.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from flask import Request

from deepguard.errors import ImageInputError
from deepguard.images import DecodeLimits, decode_image


class RequestError(Exception):
    """The request as a whole is unusable (the answer is one error, not per-item ones)."""

    def __init__(self, message: str, *, status: int, code: str):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Upload:
    """One image of the request: its bytes, or why its bytes could not be read."""

    name: str | None
    data: bytes = b""
    error: ImageInputError | None = None


def decode_upload(upload: Upload, limits: DecodeLimits) -> np.ndarray:
    """The upload's ``uint8 (H, W, 3)`` RGB pixels.

    Raises:
        ImageInputError: the bytes could not be read (bad base64) or are refused by the
            decoder; its ``status`` and ``code`` are the item's error.
    """
    if upload.error is not None:
        raise upload.error
    return decode_image(upload.data, limits)


_HOW_TO_SEND = (
    "send images as multipart field 'file' (curl -F file=@face.jpg ...) or as JSON "
    '{"images": ["<base64>", ...]}'
)


@dataclass
class Payload:
    """What a request sends: its images, in order, and the JSON body's options.

    Attributes:
        uploads: one `Upload` per image.
        options: the JSON body's fields besides ``images`` (such as ``faces``); empty for
            multipart bodies, whose options are query parameters.
    """

    uploads: list[Upload]
    options: dict[str, Any]


def read_payload(request: Request, max_batch: int) -> Payload:
    """The images of a request, in order, and its JSON options.

    Raises:
        RequestError: no image, too many images, malformed JSON or an unknown body type.
    """
    options: dict[str, Any] = {}
    if request.mimetype == "multipart/form-data":
        uploads = [
            Upload(part.filename or None, part.read()) for part in request.files.getlist("file")
        ]
    elif request.is_json:
        uploads, options = _json_uploads(request)
    else:
        raise RequestError(
            f"unsupported request body type '{request.mimetype or 'none'}'; {_HOW_TO_SEND}",
            status=415,
            code="unsupported_media_type",
        )
    if not uploads:
        raise RequestError(
            f"the request holds no image; {_HOW_TO_SEND}", status=400, code="missing_file"
        )
    if len(uploads) > max_batch:
        raise RequestError(
            f"the request holds {len(uploads)} images, more than the limit of {max_batch}; "
            "split it into several requests",
            status=413,
            code="batch_too_large",
        )
    return Payload(uploads, options)


def _json_uploads(request: Request) -> tuple[list[Upload], dict[str, Any]]:
    body = _parse_json(request.get_data(cache=False))
    images = body.get("images") if isinstance(body, dict) else None
    if not isinstance(images, list) or not all(isinstance(item, str) for item in images):
        raise RequestError(
            "the JSON body must be an object with a list of base64 strings under 'images'; "
            + _HOW_TO_SEND,
            status=400,
            code="invalid_json",
        )
    uploads = [_base64_upload(index, text) for index, text in enumerate(images)]
    return uploads, {key: value for key, value in body.items() if key != "images"}


def _parse_json(data: bytes) -> Any:
    """The decoded JSON body; any body that is not JSON is the client's error (400).

    Python's JSON decoder recurses once per nesting level, so a deeply nested body raises
    RecursionError rather than ValueError: both mean the body is unusable.
    """
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else "not valid JSON"
        raise RequestError(
            f"the JSON body is {reason}; {_HOW_TO_SEND}", status=400, code="invalid_json"
        ) from None


def _base64_upload(index: int, text: str) -> Upload:
    name = f"images[{index}]"
    if text.startswith("data:") and "," in text:  # a data URL: data:image/png;base64,....
        text = text.split(",", 1)[1]
    try:
        return Upload(name, base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as error:
        return Upload(
            name,
            error=ImageInputError(
                f"{name} is not valid base64 ({error}); encode the file's bytes with standard "
                "base64 (base64 -w0 face.jpg)",
                status=400,
                code="invalid_base64",
            ),
        )
