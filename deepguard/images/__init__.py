"""Bytes to model inputs: the one image path the loader, evaluate, predict, API and app share.

Every input takes the same steps: `decode_image` (bytes -> RGB ``uint8 (H, W, 3)`` or an
`ImageInputError` with the HTTP status of the bad-input table), a `Region` (which part the
model sees: `whole_image`, or per file a `FileRegions` such as each file's face crop), then
`to_model_input` (resize to ``float32 (S, S, 3)``). `prepare_input` and `read_input` run the
last steps in one call; `check_image` is the one check a file passes before a stage uses it;
`SUPPORTED_FORMATS` and `IMAGE_SUFFIXES` are the one format allow-list and the one suffix list.
"""

from deepguard.images.check import REASONS, ImageCheck, check_image
from deepguard.images.decode import DATASET_LIMITS, DecodeLimits, decode_image, read_image
from deepguard.images.formats import IMAGE_SUFFIXES, SUPPORTED_FORMATS, has_image_suffix
from deepguard.images.inputs import prepare_input, read_input, read_region
from deepguard.images.region import FileRegions, Region, apply_region, region_of_file, whole_image
from deepguard.images.resize import centre_crop, to_model_input

__all__ = [
    "DATASET_LIMITS",
    "IMAGE_SUFFIXES",
    "REASONS",
    "SUPPORTED_FORMATS",
    "DecodeLimits",
    "FileRegions",
    "ImageCheck",
    "Region",
    "apply_region",
    "centre_crop",
    "check_image",
    "decode_image",
    "has_image_suffix",
    "prepare_input",
    "read_image",
    "read_input",
    "read_region",
    "region_of_file",
    "to_model_input",
    "whole_image",
]
