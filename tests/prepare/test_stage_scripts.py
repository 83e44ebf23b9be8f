"""The stage configs compose and the stage functions chain: ingest -> prepare -> spectra."""

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from PIL import Image

from deepguard.ingest import ingest
from deepguard.prepare import prepare_dataset
from deepguard.spectral import compute_dataset_spectra

REPO = Path(__file__).resolve().parents[2]


def stage_config(name: str, root: Path, *overrides: str) -> dict:
    """Compose ``conf/<name>.yaml`` with ``paths.root_dir`` in ``root``; return its node."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose(name, overrides=[f"paths.root_dir={root}", *overrides])
    finally:
        GlobalHydra.instance().clear()
    return OmegaConf.to_container(cfg[name], resolve=True)


def png(seed: int, upsampled: bool) -> bytes:
    rng = np.random.default_rng(seed)
    if upsampled:  # nearest-neighbour 2x: a crude up-sampling fake
        pixels = rng.integers(0, 256, (16, 16, 3)).repeat(2, 0).repeat(2, 1)
    else:
        pixels = rng.integers(0, 256, (32, 32, 3))
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


STAGES = ["ingest", "prepare", "spectra"]


@pytest.mark.parametrize("name", STAGES)
def test_every_key_is_documented_and_composes(tmp_path, name):
    node = stage_config(name, tmp_path)
    lines = (REPO / "conf" / name / "default.yaml").read_text().splitlines()
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line, f"undocumented key in conf/{name}/default.yaml: {line}"
    assert str(tmp_path) in json.dumps(node)


def test_a_root_config_can_hold_all_three_stages(tmp_path):
    """What DVC's Hydra integration composes into params.yaml: one tree with every stage."""
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf)
    stages = "".join(f"  - {name}: default\n" for name in STAGES)
    (conf / "root.yaml").write_text(f"defaults:\n  - paths: default\n{stages}  - _self_\n")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            cfg = compose("root", overrides=["prepare.min_side=64", f"paths.root_dir={tmp_path}"])
    finally:
        GlobalHydra.instance().clear()
    assert set(STAGES) <= set(cfg) and cfg.prepare.min_side == 64
    assert cfg.spectra.manifest == cfg.prepare.out_dir + "/manifest.csv"


def test_folder_ingest_prepare_spectra_chain(tmp_path):
    source = tmp_path / "photos"
    rows = ["path,label,generator,split"]
    for i in range(12):
        for label, name in ((0, "real"), (1, "fake")):
            (source / name).mkdir(parents=True, exist_ok=True)
            (source / name / f"{i}.png").write_bytes(png(100 * label + i, upsampled=bool(label)))
            rows.append(
                f"{name}/{i}.png,{label},{'nn2x' if label else 'camera'},"
                f"{'test' if i % 3 == 0 else 'train'}"
            )
    (source / "list.csv").write_text("\n".join(rows) + "\n")

    ingest(**stage_config("ingest", tmp_path, f"ingest.source={source}", "ingest.progress=false"))
    raw = tmp_path / "data" / "raw"
    assert (raw / "real" / "0.png").is_file()
    report = prepare_dataset(
        **stage_config(
            "prepare", tmp_path, f"prepare.manifest={raw / 'list.csv'}", "prepare.progress=false"
        )
    )
    assert report["n_images"] == 24
    summary = compute_dataset_spectra(**stage_config("spectra", tmp_path, "spectra.progress=false"))
    assert summary["baseline"]["test"]["accuracy"] == 1.0  # nearest-neighbour fakes are easy
    assert (tmp_path / "spectra" / "figures" / "mean_difference.png").is_file()


def test_script_exits_nonzero_with_the_reason(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "ingest.py"),
            "ingest.source=hf:org/faces",
            f"paths.root_dir={tmp_path}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 1
    assert "needs network access" in result.stderr
