"""One image path: every reader gives a file the same model input and the same probability.

For each awkward kind of file (alpha, palette transparency, 16 bits, CMYK, greyscale, EXIF
rotation, animation, several TIFF pages) the pixels the model receives are recorded on
their way in through the training loader (`DataModule`), `predict_files`, `evaluate_model`,
the API (Flask test client) and the app's loading function, and compared.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepguard.data import DataModule
from deepguard.evaluation import evaluate_model, predict_files
from deepguard.serving import ServeSettings, create_app
from deepguard.tracking.loading import LoadedModel
from tests.evaluation.evaluation_helpers import tiny_detector

APP_DIR = Path(__file__).resolve().parents[2] / "app"
if str(APP_DIR) not in sys.path:  # the app's helpers import as `deepguard_app`, as in Streamlit
    sys.path.insert(0, str(APP_DIR))

SIZE = 32
WIDTH, HEIGHT = 60, 44  # not square and not the input size: every path must resize


def picture(seed: int) -> np.ndarray:
    """Smooth colour ramps plus a bright disc: distinct per seed, asymmetric (rotations show)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(0.5, 4.0, 3)
    disc = (x - WIDTH * 0.3) ** 2 + (y - HEIGHT * 0.4) ** 2 < (HEIGHT * 0.25) ** 2
    channels = [
        127 + 120 * np.sin(a * x / WIDTH + seed),
        127 + 120 * np.cos(b * y / HEIGHT),
        np.where(disc, 240, 30 * c),
    ]
    return np.stack(channels, axis=-1).clip(0, 255).astype(np.uint8)


def rgba_png(path: Path) -> None:
    alpha = np.linspace(0, 255, WIDTH, dtype=np.uint8)[None, :].repeat(HEIGHT, 0)
    Image.fromarray(np.dstack([picture(1), alpha]), "RGBA").save(path)


def palette_transparency_png(path: Path) -> None:
    image = Image.fromarray(picture(2)).quantize(16)
    image.save(path, transparency=int(np.asarray(image)[0, 0]))  # one index is see-through


def sixteen_bit_png(path: Path) -> None:
    values = picture(3)[..., 0].astype(np.uint16) * 257 + np.arange(WIDTH, dtype=np.uint16)
    Image.fromarray(values).save(path)  # mode I;16


def cmyk_jpeg(path: Path) -> None:
    Image.fromarray(picture(4)).convert("CMYK").save(path, quality=95)


def grayscale_png(path: Path) -> None:
    Image.fromarray(picture(5)).convert("L").save(path)


def exif_rotated_jpeg(path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    Image.fromarray(picture(6)).save(path, exif=exif, quality=95)


def animated_gif(path: Path) -> None:
    frames = [Image.fromarray(picture(7 + i)) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def multi_page_tiff(path: Path) -> None:
    pages = [Image.fromarray(picture(10 + i)) for i in range(3)]
    pages[0].save(path, save_all=True, append_images=pages[1:])


AWKWARD_FILES = {
    "rgba.png": rgba_png,
    "palette_transparency.png": palette_transparency_png,
    "sixteen_bit.png": sixteen_bit_png,
    "cmyk.jpg": cmyk_jpeg,
    "grayscale.png": grayscale_png,
    "exif_rotated.jpg": exif_rotated_jpeg,
    "animated.gif": animated_gif,
    "multi_page.tif": multi_page_tiff,
}


class RecordingModel:
    """A Keras model that keeps every batch it is asked to score (the model input)."""

    def __init__(self, model):
        self.model = model
        self.input_shape = model.input_shape
        self.batches: list[np.ndarray] = []

    def predict_on_batch(self, batch):
        self.batches.append(np.array(batch, dtype=np.float32))
        return self.model.predict_on_batch(batch)

    def inputs(self) -> np.ndarray:
        """Every image scored since the last call, in order."""
        seen, self.batches = np.concatenate(self.batches), []
        return seen


@pytest.fixture(scope="module")
def keras_model():
    return tiny_detector(SIZE)


@pytest.fixture
def recorder(keras_model):
    return RecordingModel(keras_model)


@pytest.fixture
def loaded(recorder):
    return LoadedModel(model=recorder, uri="parity.keras", sha256="0" * 64)


@pytest.fixture
def dataset(tmp_path) -> tuple[Path, list[Path]]:
    """The awkward files as the val split of a manifest, beside plain train and test images."""
    rows = []
    for index, (name, write) in enumerate(AWKWARD_FILES.items()):
        write(tmp_path / name)
        rows.append((name, index % 2, "val"))
    for index, split in enumerate(["train", "train", "test", "test"]):
        Image.fromarray(picture(20 + index)).save(tmp_path / f"plain_{index}.png")
        rows.append((f"plain_{index}.png", index % 2, split))
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(manifest, index=False)
    return manifest, [tmp_path / name for name in AWKWARD_FILES]


def through_the_loader(manifest: Path, files: list[Path]) -> np.ndarray:
    data = DataModule(manifest=manifest, image_size=SIZE, batch_size=3).setup()
    order = [Path(p).name for p in data.split_records("val")["path"]]
    images = np.concatenate([batch.numpy() for batch, _ in data.val_dataset()])
    return images[[order.index(f.name) for f in files]]


def through_predict(loaded, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    table = predict_files(loaded, files, batch_size=3)
    assert (table["error"] == "").all(), table["error"].tolist()
    return loaded.model.inputs(), table["probability_fake"].to_numpy()


def through_evaluate(loaded, manifest: Path, files: list[Path], out: Path):
    data = DataModule(manifest=manifest, image_size=SIZE, batch_size=3)
    evaluate_model(loaded.model, data, split="val", out_dir=out)
    scored = pd.read_csv(out / "predictions.csv")
    order = [Path(p).name for p in scored["path"]]
    rows = [order.index(f.name) for f in files]
    return loaded.model.inputs()[rows], scored["prob"].to_numpy()[rows]


def through_the_api(loaded, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    settings = ServeSettings(model_uri=loaded.uri, load_in_background=False)
    client = create_app(settings, loader=lambda uri: loaded).test_client()
    loaded.model.inputs()  # forget the warm-up batch the app scores when it loads
    parts = [(io.BytesIO(f.read_bytes()), f.name) for f in files]
    answer = client.post(
        "/v1/predict", data={"file": parts}, content_type="multipart/form-data"
    ).get_json()
    probabilities = [item["probability_fake"] for item in answer["predictions"]]
    return loaded.model.inputs(), np.asarray(probabilities)


def through_the_app(loaded, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    from deepguard_app.compare import ImageInput, predict, read_image_file

    probabilities = []
    for path in files:
        item = read_image_file(path)
        assert isinstance(item, ImageInput), item
        probabilities.append(predict(loaded, None, item.rgb).p_fake)
    return loaded.model.inputs(), np.asarray(probabilities)


def test_every_reader_gives_the_same_model_input_and_probability(dataset, loaded, tmp_path):
    manifest, files = dataset
    loader_inputs = through_the_loader(manifest, files)
    inputs, probabilities = {}, {}
    inputs["predict"], probabilities["predict"] = through_predict(loaded, files)
    inputs["evaluate"], probabilities["evaluate"] = through_evaluate(
        loaded, manifest, files, tmp_path / "evaluation"
    )
    inputs["api"], probabilities["api"] = through_the_api(loaded, files)
    inputs["app"], probabilities["app"] = through_the_app(loaded, files)

    assert loader_inputs.shape == (len(files), SIZE, SIZE, 3)
    for reader, seen in inputs.items():
        for name, ours, theirs in zip(AWKWARD_FILES, loader_inputs, seen, strict=True):
            difference = np.abs(ours - theirs).max()
            assert difference <= 1.0, f"{name}: {reader} differs from the loader by {difference}"
    for reader, found in probabilities.items():
        np.testing.assert_allclose(found, probabilities["predict"], atol=1e-5, err_msg=reader)
    # The files are told apart: a reader that returned one image for all would fail above
    # only by luck, so check the inputs themselves differ.
    assert len({round(float(p), 6) for p in probabilities["predict"]}) == len(files)


def test_alpha_is_composited_on_white_by_every_reader(dataset, loaded):
    manifest, files = dataset
    rgba = files[list(AWKWARD_FILES).index("rgba.png")]
    seen = through_the_loader(manifest, [rgba])[0]
    # Fully transparent on the left: white there, as the API has always shown it.
    assert seen[:, 0].min() >= 250
    api_inputs, _ = through_the_api(loaded, [rgba])
    np.testing.assert_array_equal(api_inputs[0], seen)
