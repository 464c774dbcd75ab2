"""The image's entry command runs from a clean venv built the way the Dockerfile builds
it: the builder stage's files copied into an empty folder, `pip install .` (not
editable, dependencies resolved from the package index) into a fresh venv, then
`moviemetric` run from elsewhere, so nothing of the repository is on the path.

One install per session (about a minute on a loaded machine); marked slow.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.stack_files import REPO_ROOT
from tests.deploy.test_dockerfile import builder_copies, final_stage

pytestmark = pytest.mark.slow

# What the compose stack runs: serve (api), scheduler, run and docs (bootstrap).
STACK_COMMANDS = {"serve", "scheduler", "run", "docs"}
IMAGE_HOME = "/var/lib/moviemetric"


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image")
    context = root / "src"
    context.mkdir()
    for source in builder_copies():
        path = REPO_ROOT / source
        if path.is_dir():
            shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, context / source)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # As the Dockerfile's builder does, less the bytecode compilation (which the image
    # wants for start-up time and a test does not): the install is most of the time.
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-compile", "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def _run(venv: Path, *command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_moviemetric_help_lists_the_commands_the_stack_runs(image_venv, tmp_path):
    moviemetric = str(image_venv / "bin" / "moviemetric")
    result = _run(image_venv, moviemetric, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {
        line.strip("│ ").split()[0]
        for line in result.stdout.splitlines()
        if line.startswith("│ ") and line.strip("│ ")
    }
    assert listed >= STACK_COMMANDS, result.stdout
    for command in ("serve", "scheduler"):
        sub = _run(image_venv, moviemetric, command, "--help", cwd=tmp_path)
        assert sub.returncode == 0, sub.stderr


IMPORT_PARTS = "import moviemetric, api, scheduler, transform, search, ingest"
LOAD_SCRIPT = (
    "import importlib.util, sys; "
    "spec = importlib.util.spec_from_file_location('script', sys.argv[1]); "
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
)


def test_the_package_is_installed_not_linked_to_the_repository(image_venv, tmp_path):
    python = str(image_venv / "bin" / "python")
    code = f"{IMPORT_PARTS}; print(moviemetric.__file__)"
    result = _run(image_venv, python, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(image_venv) in result.stdout and str(REPO_ROOT) not in result.stdout


def test_the_deploy_scripts_import_with_the_installed_core(image_venv, tmp_path):
    python = str(image_venv / "bin" / "python")
    for script in ("bootstrap.py", "scheduler_health.py"):
        path = str(REPO_ROOT / "deploy" / script)
        result = _run(image_venv, python, "-c", LOAD_SCRIPT, path, cwd=tmp_path)
        assert result.returncode == 0, f"{script}: {result.stderr}"


def _image_env(home: Path, app: Path) -> dict[str, str]:
    """The final stage's ENV, its /var/lib/moviemetric and /app moved to ``home``, ``app``."""
    env = {}
    for instruction, arguments in final_stage():
        if instruction == "ENV":
            for assignment in arguments.split():
                name, _, value = assignment.partition("=")
                if name != "PATH":
                    env[name] = value.replace(IMAGE_HOME, str(home)).replace("/app", str(app))
    return env


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(path.relative_to(folder)): path.stat().st_mtime for path in folder.rglob("*")}


def test_dbt_writes_nothing_into_the_images_dbt_project(image_venv, tmp_path, make_database):
    """In the image /app is read-only to the app's user: `moviemetric dbt` by hand must
    write its target and logs under MOVIEMETRIC_HOME (DBT_TARGET_PATH, DBT_LOG_PATH)."""
    app, home = tmp_path / "app", tmp_path / "home"
    home.mkdir()
    shutil.copytree(
        REPO_ROOT / "dbt_project",
        app / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    shutil.copy2(REPO_ROOT / "profiles.yml", app / "profiles.yml")
    before = _snapshot(app)
    env = {
        "PATH": f"{image_venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "DATABASE_URL": make_database(),
        **_image_env(home, app),
    }
    result = subprocess.run(
        [str(image_venv / "bin" / "moviemetric"), "dbt", "parse"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (Path(env["DBT_TARGET_PATH"]) / "manifest.json").is_file()
    assert _snapshot(app) == before
