"""Training fakes synthesized from real images, so a detector can learn without a generator.

- `SelfBlender` (kind ``sbi``): self-blended images (Shiohara and Yamasaki, CVPR 2022).
- `UpsamplingSimulator` (kind ``upsampling``): a real photo through a fixed, untrained
  up-sampling layer (Zhang, Karaman and Chang, WIFS 2019), generators
  ``upsampling-nearest``, ``upsampling-bilinear``, ``upsampling-transposed_conv``.
- `FakeSynthesizer`: the ``fakes`` config group's object. It adds virtual fake records to a
  records table (`extend_records`) and makes their pixels from the decoded real image
  (`make_fake`; in `tf.data`, `apply` / `deepguard.fakes.stream.synthesize_fakes`).

Only `deepguard.fakes.stream` imports TensorFlow; the rest is NumPy, SciPy and Pillow.
"""

from deepguard.fakes.masks import face_ellipse_mask, landmark_hull_mask, soften_mask
from deepguard.fakes.sbi import SelfBlender
from deepguard.fakes.synthesizer import (
    SEED_COLUMN,
    SYNTHETIC_COLUMN,
    FakeMaker,
    FakeSynthesizer,
)
from deepguard.fakes.upsampling import UpsamplingSimulator

__all__ = [
    "SEED_COLUMN",
    "SYNTHETIC_COLUMN",
    "FakeMaker",
    "FakeSynthesizer",
    "SelfBlender",
    "UpsamplingSimulator",
    "face_ellipse_mask",
    "landmark_hull_mask",
    "soften_mask",
]
