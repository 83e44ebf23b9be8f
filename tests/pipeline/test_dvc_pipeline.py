"""The DVC pipeline: params.yaml stays composed from conf/, and `dvc` runs end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def test_committed_params_match_the_composed_pipeline_config(tmp_path):
    from dvc.utils.hydra import compose_and_dump

    composed = tmp_path / "params.yaml"
    compose_and_dump(composed, str(REPO_ROOT / "conf"), None, "pipeline", str(REPO_ROOT), [])
    committed = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    assert yaml.safe_load(composed.read_text()) == committed, (
        "params.yaml is out of date with conf/; run `make params` and commit it"
    )


def test_every_stage_reads_only_what_exists():
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["ingest", "prepare", "spectra", "train", "evaluate", "register"]
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for name in stages["train"]["params"]:
        assert name in params, f"train stage declares param '{name}' missing from params.yaml"
    produced = {
        next(iter(out)) if isinstance(out, dict) else out
        for stage in stages.values()
        for kind in ("outs", "metrics", "plots")
        for out in stage.get(kind, [])
    }
    for stage in stages.values():
        for dep in stage.get("deps", []):
            assert dep in produced or (REPO_ROOT / dep).exists(), (
                f"dependency {dep} is neither a file in the repository nor a stage output"
            )


def dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [str(VENV_BIN / "dvc"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_fresh_clone_runs_the_pipeline_offline_then_pushes_and_pulls(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    # A small experiment: one epoch at 32 px; -S takes the same overrides as scripts/train.py.
    run = dvc("exp", "run", "-S", "trainer.max_epochs=1", "-S", "data.image_size=32", cwd=clone)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    params = yaml.safe_load((clone / "params.yaml").read_text())
    assert params["trainer"]["max_epochs"] == 1  # DVC recomposed params.yaml from conf/

    metrics = json.loads((clone / "pipeline/evaluate/metrics.json").read_text())
    assert 0.0 <= metrics["roc_auc"] <= 1.0
    assert (clone / "pipeline/spectra/figures/mean_difference.png").is_file()
    assert json.loads((clone / "pipeline/register.json").read_text())["version"]

    status = dvc("status", cwd=clone)
    assert "up to date" in status.stdout, status.stdout
    again = dvc("repro", cwd=clone)
    assert again.returncode == 0 and "didn't change" in again.stdout
    assert "Running stage" not in again.stdout
    shown = dvc("exp", "show", "--csv", cwd=clone)
    assert shown.returncode == 0 and "roc_auc" in shown.stdout

    remote = tmp_path / "remote"
    assert dvc("remote", "add", "-d", "local", str(remote), cwd=clone).returncode == 0
    pushed = dvc("push", cwd=clone)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    model = clone / "pipeline/train/model.keras"
    original = model.read_bytes()
    model.unlink()
    shutil.rmtree(clone / ".dvc/cache")
    pulled = dvc("pull", cwd=clone)
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    assert model.read_bytes() == original
