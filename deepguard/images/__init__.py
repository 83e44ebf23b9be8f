"""Decode untrusted image bytes into RGB arrays: the one function the loader, API and app share.

`decode_image` turns bytes into a ``uint8 (H, W, 3)`` RGB array or raises
`deepguard.errors.ImageInputError` with the HTTP status of the bad-input table;
`to_model_input` resizes that array to a detector's input the way the data pipeline does.
"""

from deepguard.images.decode import DecodeLimits, decode_image, read_image
from deepguard.images.resize import centre_crop, to_model_input

__all__ = ["DecodeLimits", "centre_crop", "decode_image", "read_image", "to_model_input"]
