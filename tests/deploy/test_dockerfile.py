"""The Dockerfile: hadolint-clean, two stages, the final one non-root and without the
builder's tools, entry command `moviemetric`. No Docker needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.deploy.stack_files import DOCKERFILE, REPO_ROOT, compose


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction, arguments in _instructions():
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, arguments))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return _stages()[-1]


def builder_copies() -> list[str]:
    """The repository paths the builder stage copies in to `pip install .`."""
    sources = []
    for instruction, arguments in _stages()[0]:
        if instruction == "COPY":
            *paths, _destination = arguments.split()
            sources += paths
    return sources


def test_hadolint_finds_nothing():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_two_stages_and_the_final_one_only_copies_the_venv_from_the_builder():
    builder, final = _stages()
    assert builder[0][1].endswith("AS builder")
    assert any(i == "RUN" and "pip install ." in a and "-e" not in a.split() for i, a in builder)
    final_runs = [a for i, a in final if i == "RUN"]
    assert not any("pip" in run or "apt" in run for run in final_runs), final_runs
    copied = [a for i, a in final if i == "COPY" and a.startswith("--from=builder")]
    assert copied == ["--from=builder /opt/moviemetric /opt/moviemetric"]


def test_both_stages_share_one_base_image_so_the_venv_fits():
    builder, final = _stages()
    assert builder[0][1].split()[0] == final[0][1].split()[0]


def test_final_stage_runs_as_a_numeric_non_root_user_with_entrypoint_moviemetric():
    final = _stages()[-1]
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and not users[-1].startswith("0")
    entrypoints = [json.loads(a) for i, a in final if i == "ENTRYPOINT"]
    assert entrypoints == [["moviemetric"]]


def test_final_stage_has_what_the_processes_read_at_run_time():
    final = _stages()[-1]
    copies = {a.split()[-1] for i, a in final if i == "COPY"}
    assert {"/app/profiles.yml", "/app/dbt_project", "/app/deploy"} <= copies
    env = " ".join(a for i, a in final if i == "ENV")
    assert "MOVIEMETRIC_DBT_PROJECT_DIR=/app/dbt_project" in env  # profiles.yml beside it
    assert "MOVIEMETRIC_HOME=/var/lib/moviemetric" in env
    mounts = {
        volume.split(":")[1]
        for service in compose()["services"].values()
        for volume in service.get("volumes", [])
    }
    assert "/var/lib/moviemetric" in mounts


def test_builder_copies_every_package_the_project_installs():
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(builder_copies())
    assert packages <= copied, f"the builder does not copy {sorted(packages - copied)}"
    assert {"pyproject.toml", "README.md"} <= copied


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context():
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "the context is a whitelist"
    reincluded = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert not reincluded & {".env", ".venv", ".moviemetric", ".git"}
    copied = {a.split()[0] for i, a in _instructions() if i == "COPY" and "--from" not in a}
    assert copied <= reincluded | {"dbt_project"}, copied - reincluded
