"""Reading the deployment files: the compose file, the env file, the Dockerfile, the settings."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import yaml

from moviemetric.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"

# `${NAME}`, `${NAME:-default}`, `${NAME:?error}`, `${NAME-x}`, `${NAME+x}` ...
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:]?[-?+][^}]*)?\}")


def settings_variables() -> set[str]:
    """Every environment variable Settings reads (the fields' validation aliases)."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        names.update(str(choice) for choice in field.validation_alias.choices)
    return names


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolated_variables() -> set[str]:
    """Every variable compose interpolates into the file (from the env file or shell)."""
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    return set(INTERPOLATION.findall(text))


def env_example() -> tuple[dict[str, str], set[str]]:
    """(assignments, names documented in comments only) of .env.example."""
    assigned: dict[str, str] = {}
    documented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            assigned[match[1]] = match[2]
        elif match := re.match(r"#\s+([A-Z][A-Z0-9]*_[A-Z0-9_]+)\s", line):
            documented.add(match[1])
    return assigned, documented


def load_deploy_script(name: str) -> ModuleType:
    """A script of deploy/ (not a package: the image runs them by path) as a module."""
    path = REPO_ROOT / "deploy" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
