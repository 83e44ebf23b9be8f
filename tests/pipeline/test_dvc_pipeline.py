"""The DVC pipeline: params.yaml stays composed from conf/, every stage declares the code it
runs, outputs are the same in any clone, dvc.lock is checked, and `dvc` runs end to end."""

from __future__ import annotations

import ast
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
CHECK_LOCK = REPO_ROOT / ".ci" / "check_dvc_lock"
DATA_STAGES = ("ingest", "prepare", "spectra")
# Error classes only: a reworded message changes no output, so no stage lists the file.
OUTPUT_NEUTRAL = {"deepguard/errors.py"}


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


def module_file(name: str) -> Path | None:
    """The file of a deepguard module or package, None for names that are not modules."""
    base = REPO_ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """deepguard modules a file imports anywhere (inside functions too), relative ones resolved."""
    package = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    else:
        package = package.removesuffix(".__init__")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in names if name.split(".")[0] == "deepguard"}


def code_run_by(stage: dict) -> set[str]:
    """Files of deepguard a stage's script imports, directly or not, and its config targets."""
    script = next(dep for dep in stage["deps"] if dep.startswith("scripts/"))
    roots = {REPO_ROOT / script}
    for params in stage.get("params", []):
        if isinstance(params, dict):  # whole-file params: a data stage's config group
            continue
        # Hydra instantiates the `_target_`s (and backbone applications) of params.yaml.
        roots |= {module_file(target.rpartition(".")[0]) for target in config_targets(params)}
    seen: set[Path] = set()
    pending = [root for root in roots if root is not None]
    while pending:
        for name in imported_modules(pending.pop()):
            found = module_file(name)
            if found is not None and found not in seen:
                seen.add(found)
                pending.append(found)
    return {path.relative_to(REPO_ROOT).as_posix() for path in seen}


def config_targets(group: str) -> set[str]:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    targets, pending = set(), [params.get(group)]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            targets |= {str(node[key]) for key in ("_target_", "application") if key in node}
            pending.extend(node.values())
    return {target for target in targets if target.startswith("deepguard.")}


@pytest.mark.parametrize("name", ["ingest", "prepare", "spectra", "train", "evaluate", "register"])
def test_every_stage_depends_on_the_code_it_runs(name):
    # A module a stage imports but does not list changes its outputs without DVC noticing.
    stage = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"][name]
    declared = [dep.rstrip("/") for dep in stage["deps"]]
    undeclared = sorted(
        path
        for path in code_run_by(stage) - OUTPUT_NEUTRAL
        if not any(path == dep or path.startswith(dep + "/") for dep in declared)
    )
    assert not undeclared, (
        f"stage {name} runs {undeclared} but dvc.yaml does not list them in its deps; "
        "add them (or their folder), then `make lock`"
    )


def dvc(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [str(VENV_BIN / "dvc"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def check_lock(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECK_LOCK), str(root)], capture_output=True, text=True
    )


def test_lock_check_flags_changed_code_parameters_and_commands_only(tmp_path):
    project = tmp_path / "project"
    (project / "code").mkdir(parents=True)
    (project / "code" / "step.py").write_text("print('v1')\n")
    (project / "params.yaml").write_text("size: 8\n")
    stages = {
        "make": {
            "cmd": "python -c \"open('out.txt', 'w').write('made')\"",
            "deps": ["code"],
            "params": ["size"],
            "outs": ["out.txt"],
        },
        "use": {
            "cmd": "python -c \"open('used.txt', 'w').write('used')\"",
            "deps": ["out.txt"],
            "outs": ["used.txt"],
        },
    }
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    assert dvc("init", "--no-scm", "-q", cwd=project).returncode == 0
    (project / ".dvcignore").write_text((REPO_ROOT / ".dvcignore").read_text())  # the project's
    assert dvc("repro", cwd=project).returncode == 0

    fresh = check_lock(project)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    # Bytecode beside the code differs from clone to clone (it holds the source's mtime).
    (project / "code" / "__pycache__").mkdir()
    (project / "code" / "__pycache__" / "step.cpython-311.pyc").write_bytes(b"\x00 any clone")
    with_bytecode = check_lock(project)
    assert with_bytecode.returncode == 0, with_bytecode.stdout
    # What a fresh clone lacks (outputs, the dependency another stage produces) is no fault.
    (project / "out.txt").unlink()
    (project / "used.txt").unlink()
    assert check_lock(project).returncode == 0

    (project / "code" / "step.py").write_text("print('v2')\n")
    (project / "params.yaml").write_text("size: 16\n")
    stages["use"]["cmd"] += " # changed"
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    stale = check_lock(project)
    assert stale.returncode == 1
    assert "make: code modified" in stale.stdout
    assert "make: params.yaml: size modified" in stale.stdout
    assert "use: changed command" in stale.stdout
    assert "out.txt" not in stale.stdout and "make lock" in stale.stdout


def file_hashes(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def data_stage_outputs(clone: Path) -> dict[str, dict[str, str]]:
    """Each data stage's output hashes as dvc.lock records them."""
    stages = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
    return {
        stage: {out["path"]: out["md5"] for out in stages[stage]["outs"]} for stage in DATA_STAGES
    }


def assert_same_data_bytes(first_clone: Path, second_clone: Path) -> None:
    first_outs, second_outs = data_stage_outputs(first_clone), data_stage_outputs(second_clone)
    for stage in DATA_STAGES:
        assert first_outs[stage] == second_outs[stage], f"stage {stage}: hashes differ"
    for folder in ("data/raw", "data/prepared", "pipeline/spectra"):
        first, second = file_hashes(first_clone / folder), file_hashes(second_clone / folder)
        differ = sorted(
            name for name in first.keys() | second.keys() if first.get(name) != second.get(name)
        )
        assert not differ, f"{folder}: {differ} differ between the clones"


@pytest.mark.slow
def test_fresh_clones_run_the_pipeline_offline_alike_then_push_and_pull(tmp_path):
    # One end-to-end run does both checks, as a user's first day does: the whole pipeline in
    # one clone, the data stages in another one that differs as another machine would (folder
    # depth and name, clock, time zone, home), then byte-identical data outputs, no-op
    # reruns, and a push and pull through a DVC remote.
    clone = tmp_path / "clone"
    elsewhere = tmp_path / "elsewhere" / "much" / "deeper" / "b"
    for folder in (clone, elsewhere):
        subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(folder)], check=True)
    # A small experiment: one epoch at 32 px; -S takes the same overrides as scripts/train.py.
    run = dvc("exp", "run", "-S", "trainer.max_epochs=1", "-S", "data.image_size=32", cwd=clone)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data_only = dvc(
        "repro",
        *DATA_STAGES,
        cwd=elsewhere,
        env={"TZ": "Pacific/Kiritimati", "HOME": str(elsewhere)},
    )
    assert data_only.returncode == 0, data_only.stdout[-3000:] + data_only.stderr[-3000:]
    assert_same_data_bytes(clone, elsewhere)

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
