"""A saved detector loads in a process that never imported the model-building code."""

from __future__ import annotations

import subprocess
import sys

from deepguard.models import build_detector


def test_saved_detector_loads_in_a_fresh_process(tmp_path):
    model = build_detector(
        name="small_cnn",
        application="deepguard.models.small_cnn.SmallCNN",
        preprocessing="tf",
        image_size=32,
    )
    path = tmp_path / "model.keras"
    model.save(path)
    script = (
        "import sys; from deepguard.tracking.loading import load_model; "
        "loaded = load_model(sys.argv[1]); print(loaded.image_size)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("32")
