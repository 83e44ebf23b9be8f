"""predict_files / scripts/predict.py: one row per file, bad files as error rows."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import extra_config_dir, noise_image, smooth_image, write_image

from deepguard.errors import DataError
from deepguard.evaluation import predict_files
from deepguard.evaluation.predict import PREDICTION_COLUMNS
from deepguard.images import decode_image, prepare_input
from deepguard.tracking.loading import load_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "inputs"
    write_image(root / "good.png", noise_image(rng))
    write_image(root / "nested" / "deeper" / "photo.JPG", smooth_image(rng))
    (root / "nested" / "not_an_image.jpg").write_text("this is text, not a JPEG\n")
    (root / "notes.txt").write_text("skipped: no image suffix\n")
    return root


def test_folder_is_scanned_recursively_and_bad_files_become_error_rows(model_file, folder):
    table = predict_files(model_file, folder, out=folder.parent / "out" / "scores.csv")

    assert list(table.columns) == list(PREDICTION_COLUMNS)
    assert sorted(Path(p).name for p in table["path"]) == [
        "good.png",
        "not_an_image.jpg",
        "photo.JPG",
    ]
    rows = table.set_index(table["path"].map(lambda p: Path(p).name))
    bad = rows.loc["not_an_image.jpg"]
    assert "is not an image" in bad["error"] and "not_an_image.jpg" in bad["error"]
    assert np.isnan(bad["probability_fake"]) and bad["label"] == ""
    good = rows.drop(index="not_an_image.jpg")
    assert (good["error"] == "").all()
    assert good["probability_fake"].between(0, 1).all()
    assert (good["label"] == np.where(good["probability_fake"] >= 0.5, "fake", "real")).all()
    assert (table["model_name"] == "model").all() and (table["threshold"] == 0.5).all()

    written = pd.read_csv(folder.parent / "out" / "scores.csv", keep_default_na=False)
    assert len(written) == 3 and list(written.columns) == list(PREDICTION_COLUMNS)


def test_scores_match_the_model_on_the_api_pixels(model_file, folder):
    loaded = load_model(model_file)
    table = predict_files(loaded, folder / "good.png")
    rgb = decode_image((folder / "good.png").read_bytes())
    expected = float(loaded.model.predict_on_batch(prepare_input(rgb, 32)[None])[0, 0])
    assert table["probability_fake"].iloc[0] == pytest.approx(expected, abs=1e-6)


def test_recorded_threshold_is_used_unless_overridden(model_file, folder):
    loaded = load_model(model_file)
    loaded.metadata["threshold"] = 0.0  # everything scores at or above 0: all fake
    table = predict_files(loaded, folder / "good.png")
    assert table["threshold"].iloc[0] == 0.0 and table["label"].iloc[0] == "fake"
    table = predict_files(loaded, folder / "good.png", threshold=1.0 - 1e-9)
    assert table["label"].iloc[0] == "real"


def test_missing_input_and_empty_folder_are_explained(model_file, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"input '.*nowhere' does not exist"):
        predict_files(model_file, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("no images here")
    with pytest.raises(DataError, match="no image files found"):
        predict_files(model_file, tmp_path / "empty")


def test_predict_script_writes_the_csv(model_file, folder, tmp_path):
    out = tmp_path / "scores.csv"
    environment = os.environ | {"PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "predict.py"),
            f"model={model_file}",
            f"inputs={folder}",
            f"out={out}",
            "batch_size=2",
            f"hydra.run.dir={tmp_path / 'run'}",
            f"--config-dir={extra_config_dir(tmp_path)}",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == 3
    assert (table["error"] != "").sum() == 1
    assert "skipped 1 file(s) without an image suffix" in done.stdout + done.stderr


def test_exif_rotation_is_applied_like_the_data_pipeline(model_file, tmp_path):
    from PIL import Image

    pixels = noise_image(np.random.default_rng(3), size=40)[:, :30]  # 40 x 30, not square
    upright = write_image(tmp_path / "upright.png", np.rot90(pixels, k=-1).copy())
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(tmp_path / "tagged.png", exif=exif)

    raw = write_image(tmp_path / "untagged.png", pixels)

    table = predict_files(model_file, [upright, tmp_path / "tagged.png", raw])
    scores = dict(
        zip(table["path"].map(lambda p: Path(p).stem), table["probability_fake"], strict=True)
    )
    assert scores["tagged"] == pytest.approx(scores["upright"], abs=1e-6)
    assert scores["untagged"] != pytest.approx(scores["upright"], abs=1e-6)  # the test can fail


@pytest.mark.parametrize(
    ("name", "save", "message"),
    [
        (
            "layers.png",
            lambda path: path.write_bytes(b"8BPS" + bytes(60)),
            "PSD is not an accepted format",
        ),
        ("empty.jpg", lambda path: path.write_bytes(b""), "the image is empty"),
        ("cut.jpg", lambda path: _truncated_jpeg(path), "truncated or damaged"),
        ("tiny.png", lambda path: write_image(path, np.zeros((8, 8, 3), np.uint8)), "at least 16"),
    ],
)
def test_unusable_files_are_error_rows(model_file, tmp_path, name, save, message):
    save(tmp_path / name)
    table = predict_files(model_file, tmp_path / name)
    assert message in table["error"].iloc[0]
    assert np.isnan(table["probability_fake"].iloc[0])


def test_gif_and_tiff_are_scored_like_the_api_scores_them(model_file, tmp_path):
    from PIL import Image

    pixels = smooth_image(np.random.default_rng(0))
    Image.fromarray(pixels).save(tmp_path / "still.gif")
    Image.fromarray(pixels).save(tmp_path / "scan.tif")
    table = predict_files(model_file, tmp_path)
    assert (table["error"] == "").all() and table["probability_fake"].notna().all()


def _truncated_jpeg(path):
    write_image(path, noise_image(np.random.default_rng(0)))
    path.write_bytes(path.read_bytes()[:300])
