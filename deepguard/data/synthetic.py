"""The offline default dataset: dead-leaves "photographs" and simulated generator outputs.

Real images follow natural-image statistics: a dead-leaves model (opaque discs with a
power-law size distribution, each with its own colour and texture) rendered at twice the
output size, averaged down to it (so the spectrum falls off like 1/f up to the Nyquist
frequency) and given sensor noise.

Fakes are the same kind of scene passed through a simulated generator's last layers, each
family leaving the artifact the frequency-analysis literature documents:

- ``transposed_conv``: a half-resolution image up-sampled by zero insertion and a fixed
  random 4x4 kernel, like a stride-2 transposed convolution; its uneven kernel overlap
  leaves a checkerboard, i.e. peaks at the Nyquist frequency N/2 (Odena et al. 2016).
- ``upsample_nearest``: nearest-neighbour 2x up-sampling then a fixed random 3x3
  convolution: spectral replicas of the low band (Durall et al. CVPR 2020).
- ``upsample_bilinear``: bilinear 2x up-sampling then a fixed random 3x3 convolution:
  a high-frequency deficit with weak replicas.
- ``lowpass``: a full-resolution image with its high frequencies blurred away
  (Dzanic et al. NeurIPS 2020).

Both classes draw their content, colours and noise from the same distributions and every
step keeps the mean colour, so colour statistics cannot tell them apart: a detector has to
find the artifacts.

A `SyntheticDifficulty` sets how much of a generator's trace survives: a fake keeps
``artifact_strength`` of the difference between the generator's output and a clean rendering
of the same scene, and every image, real or fake, may then be down-scaled and scaled back and
re-compressed as JPEG, as photographs shared online are. Both wash out exactly the
high-frequency evidence the families leave, so the default leaves room between weak and strong
detectors (docs/data.md has the measured figures).

Output: ``root/{real,fake}/*.png``, ``root/manifest.csv`` (``path,label,generator``; splits
are left to content hashing) and ``root/synthetic.json`` with the parameters. Same
parameters, same bytes.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from deepguard.errors import DataError
from deepguard.files import swap_into_place

FAMILIES = ("transposed_conv", "upsample_nearest", "upsample_bilinear", "lowpass")
# The families that end in a 2x up-sampling layer (`lowpass` only blurs).
UPSAMPLING_FAMILIES = ("transposed_conv", "upsample_nearest", "upsample_bilinear")
REAL_GENERATOR = "real"
PARAMS_FILE = "synthetic.json"
# Bump when the images a given set of parameters produces change, so old sets regenerate.
FORMAT_VERSION = 2
# The random stream of the post-processing draws, apart from the scene's: the same scene
# whatever the post-processing.
POST_PROCESSING_STREAM = 1


def _is_range(values: tuple, low: float, high: float) -> bool:
    # The low end is open for the resize scale (0 would be no image), closed for JPEG quality.
    return len(values) == 2 and low <= values[0] <= values[1] <= high and values[0] > 0


@dataclass(frozen=True)
class SyntheticDifficulty:
    """How hard the synthetic fakes are to tell from the reals.

    Attributes:
        artifact_strength: share of a generator's trace a fake keeps, in [0, 1]: the fake is
            ``clean + artifact_strength * (generated - clean)``, where ``clean`` is the same
            scene rendered as a real image. 1: the full trace, 0: fakes are real images.
        resize_prob: probability that an image (real or fake) is down-scaled and scaled
            back to its size (bilinear down, bicubic up), in [0, 1].
        resize_scale: range of the down-scaling factor, drawn uniformly, in (0, 1].
        jpeg_prob: probability that an image (real or fake) is re-compressed as JPEG.
        jpeg_quality: range of the JPEG quality, both inclusive, in [1, 100].

    Example:
        >>> generate_synthetic("data/hard", difficulty={"artifact_strength": 0.3})
        ... # doctest: +SKIP
    """

    artifact_strength: float = 0.6
    resize_prob: float = 0.5
    resize_scale: tuple[float, float] = (0.5, 0.9)
    jpeg_prob: float = 0.5
    jpeg_quality: tuple[int, int] = (60, 95)

    def __post_init__(self) -> None:
        # YAML gives lists; the dataclass is frozen, hence object.__setattr__.
        object.__setattr__(self, "resize_scale", tuple(float(v) for v in self.resize_scale))
        object.__setattr__(self, "jpeg_quality", tuple(int(v) for v in self.jpeg_quality))
        checks = [
            ("artifact_strength", 0.0 <= self.artifact_strength <= 1.0, "a number in [0, 1]"),
            ("resize_prob", 0.0 <= self.resize_prob <= 1.0, "a probability in [0, 1]"),
            ("jpeg_prob", 0.0 <= self.jpeg_prob <= 1.0, "a probability in [0, 1]"),
            ("resize_scale", _is_range(self.resize_scale, 0.0, 1.0), "[low, high] in (0, 1]"),
            ("jpeg_quality", _is_range(self.jpeg_quality, 1, 100), "[low, high] in [1, 100]"),
        ]
        for name, valid, expected in checks:
            if not valid:
                raise DataError(
                    f"synthetic difficulty.{name} must be {expected}; got {getattr(self, name)}; "
                    f"fix data.synthetic.difficulty.{name}"
                )

    @classmethod
    def of(cls, value: SyntheticDifficulty | Mapping | None) -> SyntheticDifficulty:
        """A difficulty from itself, a mapping of some of its fields (null: default) or None.

        Raises:
            DataError: a key that is not a field, or a value out of range.
        """
        if isinstance(value, SyntheticDifficulty):
            return value
        given = {key: v for key, v in dict(value or {}).items() if v is not None}
        names = [field.name for field in fields(cls)]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise DataError(
                f"unknown synthetic difficulty setting(s) {unknown}; available: {names}"
            )
        return cls(**given)


# The full generator trace and no post-processing: every artifact as the family makes it
# (the set as it was before difficulty settings existed).
EASIEST = SyntheticDifficulty(artifact_strength=1.0, resize_prob=0.0, jpeg_prob=0.0)


def _dead_leaves(rng: np.random.Generator, size: int) -> np.ndarray:
    """A float (size, size, 3) scene in [0, 1]: textured discs, sizes ~ r^-3."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    image = np.empty((size, size, 3), np.float32)
    image[:] = rng.uniform(0.2, 0.8, 3)
    r_min, r_max, alpha = 1.0, size / 3, 3.0
    n_discs = int(rng.integers(150, 400))
    u = rng.uniform(size=n_discs)
    # Inverse CDF of p(r) ~ r^-alpha on [r_min, r_max]: mostly small leaves, a few large.
    radii = (r_min ** (1 - alpha) - u * (r_min ** (1 - alpha) - r_max ** (1 - alpha))) ** (
        1 / (1 - alpha)
    )
    # Draw the large discs first so small ones land on top and stay visible.
    for radius in np.sort(radii)[::-1]:
        cy, cx = rng.uniform(-radius, size + radius, 2)
        y0, y1 = max(int(cy - radius), 0), min(int(cy + radius) + 1, size)
        x0, x1 = max(int(cx - radius), 0), min(int(cx + radius) + 1, size)
        if y0 >= y1 or x0 >= x1:
            continue
        ys, xs = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        inside = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2
        base = rng.uniform(0.05, 0.95) * (1 - rng.uniform(0, 0.7) * rng.uniform(size=3))
        angle, freq = rng.uniform(0, np.pi), rng.uniform(0.02, 0.3)  # freq in cycles/pixel
        grating = np.sin(2 * np.pi * freq * (xs * np.cos(angle) + ys * np.sin(angle)))
        texture = 1 + rng.uniform(0, 0.3) * grating
        image[y0:y1, x0:x1][inside] = (base[None, None, :] * texture[..., None])[inside]
    # A smooth illumination gradient, as across a real photograph.
    gy, gx = rng.uniform(-0.25, 0.25, 2)
    light = 1 + gy * (yy / size - 0.5) + gx * (xx / size - 0.5)
    return np.clip(image * light[..., None], 0, 1)


def _downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Average `factor` x `factor` blocks (a box filter: what a sensor's pixels do)."""
    h, w, c = image.shape
    return image.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.stack(
        [ndimage.correlate(image[..., c], kernel, mode="reflect") for c in range(3)], axis=-1
    )


def family_kernels(seed: int | Sequence[int]) -> dict[str, np.ndarray]:
    """One fixed random kernel per up-sampling family: a generator's weights do not change.

    Args:
        seed: an integer or a sequence of them; the same seed gives the same kernels.

    Returns:
        ``{family: kernel}`` for every family of `UPSAMPLING_FAMILIES`.
    """
    rng = np.random.default_rng([*np.ravel(seed).tolist(), 7919])
    tent = np.array([0.25, 0.75, 0.75, 0.25])
    transposed = np.outer(tent, tent) * (1 + 0.5 * rng.standard_normal((4, 4)))
    # Zero insertion keeps one sample in four, so a gain of 4 keeps the mean brightness.
    transposed = 4 * transposed / transposed.sum()
    smooth = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    kernels = {"transposed_conv": transposed}
    for name in ("upsample_nearest", "upsample_bilinear"):
        kernel = smooth * (1 + 0.6 * rng.standard_normal((3, 3)))
        kernels[name] = kernel / kernel.sum()
    return kernels


def _fake(family: str, scene: np.ndarray, rng: np.random.Generator, kernels) -> np.ndarray:
    """Pass a scene rendered at 2x the output size through one generator family."""
    if family == "lowpass":
        image = _downsample(scene, 2)
        sigma = rng.uniform(0.8, 1.4)  # pixels
        return np.stack(
            [ndimage.gaussian_filter(image[..., c], sigma, mode="reflect") for c in range(3)],
            axis=-1,
        )
    if family not in UPSAMPLING_FAMILIES:
        raise DataError(f"unknown synthetic generator family {family!r}; available: {FAMILIES}")
    low = _downsample(scene, 4)  # the generator's half-resolution feature map
    return upsample_like_generator(family, low, kernels)


def upsample_like_generator(
    family: str, low: np.ndarray, kernels: dict[str, np.ndarray]
) -> np.ndarray:
    """Up-sample a float ``(h, w, 3)`` image 2x through one generator family's last layers.

    Shared by the dead-leaves fakes here and the fakes made from real photos
    (`deepguard.fakes`), so both carry the same artifacts.

    Args:
        family: one of `UPSAMPLING_FAMILIES`.
        low: the half-resolution image, float, any range.
        kernels: the family kernels, from `family_kernels`.

    Returns:
        float ``(2h, 2w, 3)``; values may leave the input range (kernels have negative taps).
    """
    if family == "transposed_conv":
        up = np.zeros((low.shape[0] * 2, low.shape[1] * 2, 3), np.float64)
        up[::2, ::2] = low
        return _convolve(up, kernels[family])
    if family == "upsample_nearest":
        up = low.repeat(2, axis=0).repeat(2, axis=1)
    elif family == "upsample_bilinear":
        up = np.stack([ndimage.zoom(low[..., c], 2, order=1, mode="nearest") for c in range(3)], -1)
    else:
        raise DataError(
            f"unknown up-sampling family {family!r}; available: {list(UPSAMPLING_FAMILIES)}"
        )
    return _convolve(up, kernels[family])


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise (sigma 0.5-3 grey levels, the same for both classes) and 8-bit rounding."""
    noisy = image * 255.0 + rng.normal(0, rng.uniform(0.5, 3.0), image.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def _post_process(
    image: np.ndarray, rng: np.random.Generator, difficulty: SyntheticDifficulty
) -> np.ndarray:
    """Down-scale and scale back, then JPEG, each with its probability: what sharing does."""
    picture = Image.fromarray(image)
    size = picture.size
    if rng.uniform() < difficulty.resize_prob:
        side = max(8, round(size[0] * rng.uniform(*difficulty.resize_scale)))
        small = picture.resize((side, side), Image.Resampling.BILINEAR)
        picture = small.resize(size, Image.Resampling.BICUBIC)
    if rng.uniform() < difficulty.jpeg_prob:
        low, high = difficulty.jpeg_quality
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=int(rng.integers(low, high + 1)))
        picture = Image.open(buffer).convert("RGB")
    return np.asarray(picture, dtype=np.uint8)


def synthetic_image(
    label: int,
    index: int,
    image_size: int,
    seed: int,
    family: str | None = None,
    difficulty: SyntheticDifficulty | Mapping | None = None,
) -> np.ndarray:
    """One image of the synthetic set as uint8 ``(image_size, image_size, 3)``.

    Args:
        label: 0 real, 1 fake.
        index: the image's number within its class.
        image_size: output side in pixels (a multiple of 4).
        seed: the dataset seed.
        family: the generator family of a fake.
        difficulty: a `SyntheticDifficulty` or a mapping of its fields; None: the default.
    """
    difficulty = SyntheticDifficulty.of(difficulty)
    rng = np.random.default_rng([seed, label, index])
    scene = _dead_leaves(rng, image_size * 2)
    image = _downsample(scene, 2)  # the clean rendering: what a real image of this scene is
    if label == 1:
        generated = _fake(family or FAMILIES[0], scene, rng, family_kernels(seed))
        image = image + difficulty.artifact_strength * (generated - image)
    post_rng = np.random.default_rng([seed, label, index, POST_PROCESSING_STREAM])
    return _post_process(_finish(image, rng), post_rng, difficulty)


def _params(
    n_per_class: int,
    image_size: int,
    seed: int,
    families: Sequence[str],
    difficulty: SyntheticDifficulty,
) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "n_per_class": int(n_per_class),
        "image_size": int(image_size),
        "seed": int(seed),
        "families": list(families),
        "difficulty": {key: _plain(value) for key, value in asdict(difficulty).items()},
    }


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _existing_params(root: Path) -> dict | None:
    try:
        return json.loads((root / PARAMS_FILE).read_text())
    except (OSError, ValueError):
        return None


def generate_synthetic(
    root: str | os.PathLike,
    n_per_class: int = 400,
    image_size: int = 64,
    seed: int = 0,
    families: Sequence[str] = FAMILIES,
    difficulty: SyntheticDifficulty | Mapping | None = None,
) -> Path:
    """Write the synthetic dataset to `root`, unless it already holds this exact one.

    Args:
        root: output folder; replaced only when it holds an older synthetic set.
        n_per_class: real images, and fake images (shared out across the families).
        image_size: side of the square PNGs in pixels, a multiple of 4.
        seed: fixes every pixel; the same parameters give the same bytes.
        families: generator families to simulate, a subset of `FAMILIES`.
        difficulty: a `SyntheticDifficulty`, or a mapping of some of its fields (the others, and
            null values, keep their defaults); None: the default difficulty.

    Returns:
        The path of ``root/manifest.csv``.
    """
    root = Path(root).expanduser().resolve()
    families = list(families)
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown or not families:
        raise DataError(
            f"synthetic families {families} are not a non-empty subset of {list(FAMILIES)}; "
            "fix data.synthetic.families"
        )
    if image_size % 4 or image_size < 16:
        raise DataError(
            f"synthetic image_size must be a multiple of 4 and at least 16; got {image_size}"
        )
    if n_per_class < 1:
        raise DataError(f"synthetic n_per_class must be at least 1; got {n_per_class}")
    params = _params(n_per_class, image_size, seed, families, SyntheticDifficulty.of(difficulty))
    if _existing_params(root) == params and (root / "manifest.csv").is_file():
        return root / "manifest.csv"
    if root.exists() and any(root.iterdir()) and _existing_params(root) is None:
        raise DataError(
            f"{root} already holds files that are not a DeepGuard synthetic set; "
            "point data.root at an empty or new folder"
        )

    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.parent / f".{root.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        _write(staging, params)
        _swap_in(staging, root, params)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root / "manifest.csv"


def _write(folder: Path, params: dict) -> None:
    (folder / "real").mkdir(parents=True)
    (folder / "fake").mkdir()
    size, seed, families = params["image_size"], params["seed"], params["families"]
    difficulty = SyntheticDifficulty.of(params["difficulty"])
    rows = []
    for index in range(params["n_per_class"]):
        name = f"real/real_{index:05d}.png"
        image = synthetic_image(0, index, size, seed, difficulty=difficulty)
        Image.fromarray(image).save(folder / name, format="PNG", compress_level=6)
        rows.append((name, 0, REAL_GENERATOR))
    for index in range(params["n_per_class"]):
        family = families[index % len(families)]
        name = f"fake/{family}_{index:05d}.png"
        image = synthetic_image(1, index, size, seed, family, difficulty)
        Image.fromarray(image).save(folder / name, format="PNG", compress_level=6)
        rows.append((name, 1, family))
    manifest = pd.DataFrame(rows, columns=["path", "label", "generator"])
    manifest.to_csv(folder / "manifest.csv", index=False)
    (folder / PARAMS_FILE).write_text(json.dumps(params, indent=2) + "\n")


def _swap_in(staging: Path, root: Path, params: dict) -> None:
    """Rename the finished set into place; a half-written set is never visible at `root`."""
    try:
        swap_into_place(staging, root)
    except OSError:
        # Another process (a parallel sweep job) finished first with the same set: keep it.
        if _existing_params(root) != params:
            raise
