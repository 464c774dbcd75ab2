"""Running dbt: the prod target for the pipeline, the analyst's own for ``moviemetric dbt``.

dbt runs as a subprocess of this Python (the ``dbt`` next to it) with the warehouse
given as PG* variables, so concurrent runs in one process never share globals, and
its state (target, logs) lives under ``MOVIEMETRIC_HOME/dbt``. The child cannot
outlive its parent: the kernel kills it when the parent dies (``PR_SET_PDEATHSIG``,
which survives ``kill -9`` where a process group does not). dbt's output goes to the
log (``moviemetric.dbt``), one record a line, never to the terminal; progress is
reported per node through the step's sink.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections import deque
from pathlib import Path

from moviemetric.steps import ProgressSink
from moviemetric.warehouse import Warehouse, libpq_env
from transform.errors import DbtError

log = logging.getLogger(__name__)
dbt_log = logging.getLogger("moviemetric.dbt")

# dbt target of the pipeline (profiles.yml); analysts build in `dev`
PROD_TARGET = "prod"
FAILED_STATUSES = {"error", "fail", "runtime error"}
# "12 of 170 OK created sql view model ..." in dbt's text log
_DBT_NODE_LINE = re.compile(r"\b(\d+) of (\d+) (START|OK|PASS|FAIL|ERROR|WARN|SKIP)\b\s*(.*)")
_PR_SET_PDEATHSIG = 1


def run_dbt(
    args: list[str],
    warehouse: Warehouse,
    *,
    sink: ProgressSink,
    task: str,
    target_path: Path | None = None,
    check: bool = False,
    application_name: str | None = None,
    reuse_parse_from: Path | None = None,
) -> dict:
    """Run ``dbt ARGS`` in the prod target; returns its run_results.json ({} if none).

    ``target_path`` defaults to ``MOVIEMETRIC_HOME/dbt/target``; dbt starts from the
    parse saved in the target ``reuse_parse_from`` when that one is newer. Raises ``DbtError``
    when dbt fails without failed nodes to name (bad project, lost connection,
    interrupt), or on any failure with ``check``.
    """
    settings = warehouse.settings
    project_dir = settings.dbt_project_dir
    home = dbt_home(warehouse)
    target_path = target_path or home / "target"
    target_path.mkdir(parents=True, exist_ok=True)
    if reuse_parse_from is not None:
        adopt_newer_parse(reuse_parse_from, target_path)
    results_file = target_path / "run_results.json"
    results_file.unlink(missing_ok=True)
    command = [
        *dbt_executable(),
        *args,
        "--target",
        PROD_TARGET,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir.parent),
        "--target-path",
        str(target_path),
        "--log-path",
        str(home / "logs"),
    ]
    env = dbt_environment(warehouse.url, application_name)
    env["DBT_USE_COLORS"] = "false"  # no escape codes in the log
    log.info("running %s", shlex.join(command))
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(
        command,
        cwd=project_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        preexec_fn=die_with_parent,
    ) as process:
        assert process.stdout is not None
        for raw_line in process.stdout:
            line = raw_line.rstrip()
            tail.append(line)
            dbt_log.info("%s", line)
            _report_node(line, sink, task)
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    # a failing exit without failed nodes to name is reported from dbt's own output;
    # never treated as a pass
    if process.returncode != 0 and (check or not failed_nodes(results)):
        raise DbtError(
            f"dbt {args[0]} failed (exit {process.returncode}): {_dbt_errors(tail)}; "
            "nothing was published"
        )
    return results


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def adopt_newer_parse(source_target: Path, target_path: Path) -> None:
    """Let the dbt run in ``target_path`` start from the parse saved in ``source_target``
    when that one is newer (same project, vars and profile: dbt checks and parses
    again if they differ). The copy replaces the file atomically, so a dbt reading it
    never sees half of one."""
    source = source_target / PARTIAL_PARSE_FILE
    destination = target_path / PARTIAL_PARSE_FILE
    if not source.is_file():
        return
    if destination.is_file() and destination.stat().st_mtime >= source.stat().st_mtime:
        return
    staged = destination.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
    shutil.copy2(source, staged)
    os.replace(staged, destination)


def run_dbt_command(warehouse: Warehouse, args: list[str]) -> int:
    """Run ``dbt ARGS`` for an analyst against the warehouse; its exit status.

    dbt's output goes straight to the terminal, in the project's profile and its
    default target (dev) unless ``args`` name another; the embedded server, when it
    is the warehouse, stays up for the duration and stops when this process exits.
    """
    project_dir = warehouse.settings.dbt_project_dir
    command = [*dbt_executable(), *args]
    if args and not args[0].startswith("-"):
        command += _project_options(project_dir, args)
    log.info("running %s", shlex.join(command))
    completed = subprocess.run(
        command,
        cwd=project_dir,
        env=dbt_environment(warehouse.url),
        check=False,
        preexec_fn=die_with_parent,
    )
    return completed.returncode


def dbt_environment(url: str, application_name: str | None = None) -> dict[str, str]:
    """The environment dbt runs in: this one, plus the warehouse as PG* variables.

    ``application_name`` names dbt's sessions (PGAPPNAME; the profile leaves it to
    libpq, so a new name per build keeps dbt's saved parse valid); default "dbt".
    """
    env = {
        **os.environ,
        **libpq_env(url),
        "DATABASE_URL": url,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env["PGAPPNAME"] = application_name or env.get("PGAPPNAME") or "dbt"
    return env


def _project_options(project_dir: Path, args: list[str]) -> list[str]:
    """--project-dir and --profiles-dir unless the analyst gave them."""
    options = []
    if "--project-dir" not in args:
        options += ["--project-dir", str(project_dir)]
    if "--profiles-dir" not in args:
        options += ["--profiles-dir", str(project_dir.parent)]
    return options


def connection_exports(warehouse: Warehouse) -> str:
    """Shell lines an analyst pastes to run dbt against this warehouse by hand."""
    env = libpq_env(warehouse.url)
    lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    project = warehouse.settings.dbt_project_dir
    lines.append(
        f"dbt build --project-dir {shlex.quote(str(project))}"
        f" --profiles-dir {shlex.quote(str(project.parent))}"
    )
    return "\n".join(lines)


def dbt_home(warehouse: Warehouse) -> Path:
    return warehouse.settings.home_dir / "dbt"


def dbt_executable() -> list[str]:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("dbt")
    if found:
        return [found]
    raise DbtError("dbt is not installed: pip install -e '.[dev]' (needs dbt-postgres)")


def _report_node(line: str, sink: ProgressSink, task: str) -> None:
    match = _DBT_NODE_LINE.search(line)
    if match is None or match.group(3) == "START":
        return
    done, total, status, rest = match.groups()
    name = rest.split(" [", 1)[0].strip(" .")
    sink.progress(task, int(done), int(total), f"{status} {name}")


def die_with_parent() -> None:
    """In the dbt child, before exec: the kernel kills it when the transform dies.

    A process group alone does not survive ``kill -9`` of the parent; the parent-death
    signal does. Exits at once when the parent is already gone.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _dbt_errors(lines: deque[str]) -> str:
    """The informative part of dbt's output tail, for a one-line message."""
    interesting = [
        line.split("  ", 1)[-1].strip()
        for line in lines
        if "error" in line.lower() or "fail" in line.lower()
    ]
    return " | ".join(interesting[-6:] or [line.strip() for line in lines][-6:])


def failed_nodes(results: dict) -> list[dict]:
    return [node for node in results.get("results", []) if node["status"] in FAILED_STATUSES]
