"""Test helpers: tiny detectors and small image folders (imported by the evaluation tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

IMAGE_SIZE = 32


def tiny_detector(image_size: int = IMAGE_SIZE, seed: int = 0):
    """A randomly initialised detector with the project's input convention."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    return keras.Model(inputs, outputs)


def high_frequency_detector(image_size: int, bias: float = 0.0, scale: float = 1.0):
    """Scores the mean |Laplacian| E (grey levels) of an image: sigmoid((E - bias) / scale).

    Noisy (high-frequency) images score high; JPEG, blur and down-scaling lower E.
    With the defaults the output's logit is E itself (see `laplacian_energy`).
    """
    import keras

    inputs = keras.Input((image_size, image_size, 3))
    laplacian = keras.layers.Conv2D(2, 3, use_bias=False, activation="relu", name="laplacian")
    pooled = keras.layers.GlobalAveragePooling2D()(laplacian(inputs))
    score = keras.layers.Dense(1, activation="sigmoid", name="p_fake")
    model = keras.Model(inputs, score(pooled))
    kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32) / 3.0
    weights = np.zeros((3, 3, 3, 2), dtype=np.float32)
    weights[:, :, :, 0] = kernel[:, :, None]  # positive and negative responses: |Laplacian|
    weights[:, :, :, 1] = -kernel[:, :, None]
    laplacian.set_weights([weights])
    score.set_weights([np.full((2, 1), 1.0 / scale, np.float32), np.array([-bias / scale])])
    return model


def laplacian_energy(image_size: int, batches) -> np.ndarray:
    """The mean |Laplacian| the high-frequency detector computes, per image."""
    import keras

    model = high_frequency_detector(image_size)
    energy = keras.Model(model.input, model.get_layer("p_fake").input)
    chunks = [np.asarray(energy.predict_on_batch(b)).sum(axis=1) for b in batches]
    return np.concatenate(chunks)


def noise_image(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """Uniform RGB noise: all high frequency."""
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def smooth_image(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A smooth colour gradient: almost no high frequency."""
    ramp = np.linspace(0.0, 1.0, size)
    start, stop = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = start + (stop - start) * ramp[:, None, None] * ramp[None, :, None]
    return image.astype(np.uint8)


def write_image(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"quality": 95} if path.suffix == ".jpg" else {}
    Image.fromarray(pixels).save(path, **options)
    return path


def write_records(root: Path, generators=("gan_a", "gan_b"), per_class: int = 4, seed: int = 0):
    """Fake = noise PNGs, real = smooth JPEGs, `per_class` of each per generator; a record table."""
    rng = np.random.default_rng(seed)
    rows = []
    for generator in generators:
        for index in range(per_class):
            fake = write_image(root / generator / f"fake_{index}.png", noise_image(rng))
            real = write_image(root / generator / f"real_{index}.jpg", smooth_image(rng))
            rows.append({"path": str(fake), "label": 1, "generator": generator})
            rows.append({"path": str(real), "label": 0, "generator": generator})
    records = pd.DataFrame(rows)
    records["split"] = "test"
    records["sha256"] = ""
    return records


class ManifestData:
    """The DataModule contract's `setup` / `split_records` for a folder with a manifest.csv
    (columns path relative to the folder, label real/fake or 0/1, generator); every record
    is in the `test` split."""

    def __init__(
        self, root: str, image_size: int = IMAGE_SIZE, batch_size: int = 8, faces=None, fakes=None
    ):
        if faces is not None and faces.get("enabled", True):
            raise ValueError("ManifestData scores whole images: evaluate it with faces=none")
        if fakes is not None and fakes.makers:
            raise ValueError("ManifestData scores its own files only: evaluate it with fakes=none")
        self.root = Path(root)
        self.image_size = image_size
        self.batch_size = batch_size
        self.records = None

    def setup(self) -> None:
        manifest = pd.read_csv(self.root / "manifest.csv")
        labels = manifest["label"].map({"real": 0, "fake": 1, 0: 0, 1: 1}).astype(int)
        self.records = pd.DataFrame(
            {
                "path": [str(self.root / p) for p in manifest["path"]],
                "label": labels,
                "generator": manifest["generator"].astype(str),
                "split": "test",
                "sha256": manifest.get("sha256", ""),
            }
        )

    def split_records(self, split: str) -> pd.DataFrame:
        return self.records[self.records["split"] == split].reset_index(drop=True)


def extra_config_dir(tmp_path: Path, data_node: dict | None = None) -> Path:
    """Config groups the script needs that other parts of the project provide."""
    from omegaconf import OmegaConf

    conf = tmp_path / "extra_conf"
    (conf / "paths").mkdir(parents=True)
    # Found only where the project has no conf/paths/default.yaml (the project's wins).
    (conf / "paths" / "default.yaml").write_text(f"root_dir: {tmp_path}\nlog_dir: {tmp_path}\n")
    if data_node is not None:
        (conf / "data").mkdir()
        (conf / "data" / "under_test.yaml").write_text(OmegaConf.to_yaml(data_node))
    return conf
