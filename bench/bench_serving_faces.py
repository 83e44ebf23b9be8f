"""Per-face answers of the API: what face detection adds to a `/v1/predict` request.

    python bench/bench_serving_faces.py [--image group.jpg] [--data ../shared/data]
                                        [--model model.keras] [--repeats 10]

The image is ``--image``, else a group photo of three faces-hard-dev faces (160 px each on a
560x200 canvas) made from ``--data``. The model is ``--model``, else a tiny 64 px CNN (so the
figures show the API and the detector, not a backbone). Requests go through the app's own
handler in-process (Flask's test client: no gunicorn, no sockets), one at a time, and print
the median and spread of their latency for:

- faces off (whole image; no detection);
- faces on, the primary face (`faces=crop`, no detection cache: every request detects);
- faces on with ``?faces=all`` (every face scored, in the same single model call);
- the same with the detection cache warm (a repeated upload is not detected again).

Prints the CPU cores this process may use and the load average (detection time follows both).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
GROUP_FACES = ("real/real_95.jpg", "fake/fake_100.jpg", "real/real_100.jpg")


def group_photo(data: Path) -> bytes:
    """Three faces shrunk to 160 px side by side on a grey canvas, as PNG bytes."""
    import numpy as np
    from PIL import Image

    from deepguard.images import read_image

    canvas = np.full((200, 560, 3), 120, np.uint8)
    for index, name in enumerate(GROUP_FACES):
        face = Image.fromarray(read_image(data / "faces-hard-dev" / name)).resize((160, 160))
        canvas[20:180, 20 + 180 * index : 180 + 180 * index] = np.asarray(face)
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, "PNG")
    return buffer.getvalue()


def tiny_model(folder: Path) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    path = folder / "tiny.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def latencies_ms(client, query: str, image: bytes, repeats: int) -> list[float]:
    """Wall milliseconds of each of `repeats` requests (after one warm-up request)."""
    timings = []
    for attempt in range(repeats + 1):
        files = {"file": [(io.BytesIO(image), "image.png")]}
        start = time.perf_counter()
        response = client.post(f"/v1/predict{query}", data=files)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"request failed: {response.status_code} {response.get_json()}")
        if attempt:
            timings.append(elapsed)
    return timings


def answered_faces(client, image: bytes) -> int:
    files = {"file": [(io.BytesIO(image), "image.png")]}
    return len(
        client.post("/v1/predict?faces=all", data=files).get_json()["predictions"][0]["faces"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=Path, help="a photo (default: a group photo from --data)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--model", type=Path, help="a .keras detector (default: a tiny 64 px CNN)")
    parser.add_argument("--repeats", type=int, default=10, help="timed requests per case")
    args = parser.parse_args()

    from deepguard.config.faces import FaceSettings
    from deepguard.serving import ServeSettings, create_app

    image = args.image.read_bytes() if args.image else group_photo(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or tiny_model(Path(tmp))
        cases = [
            ("faces off (whole image)", FaceSettings(), ""),
            ("faces on, primary face, detect each time", FaceSettings(enabled=True), ""),
            ("faces on, ?faces=all, detect each time", FaceSettings(enabled=True), "?faces=all"),
            (
                "faces on, ?faces=all, detection cache hit",
                FaceSettings(enabled=True, cache_dir=str(Path(tmp) / "faces-cache")),
                "?faces=all",
            ),
        ]
        print(f"CPU cores usable: {len(os.sched_getaffinity(0))}, load average: {os.getloadavg()}")
        print(f"image: {len(image)} bytes; model: {model.name}; {args.repeats} requests per case")
        print(f"{'case':<46}{'median ms':>10}{'min ms':>10}{'max ms':>10}")
        for name, faces, query in cases:
            settings = ServeSettings(model_uri=str(model), faces=faces, load_in_background=False)
            client = create_app(settings).test_client()
            timings = latencies_ms(client, query, image, args.repeats)
            print(
                f"{name:<46}{statistics.median(timings):>10.1f}{min(timings):>10.1f}{max(timings):>10.1f}"
            )
        print(f"faces answered with ?faces=all: {answered_faces(client, image)}")


if __name__ == "__main__":
    main()
