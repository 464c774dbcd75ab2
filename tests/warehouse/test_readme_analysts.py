"""The README's analyst commands work exactly as written, on both kinds of warehouse.

The commands are read from the README itself, so the README cannot drift from what
works. The one change is the server URL, which names this test's own database.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from moviemetric.warehouse import libpq_env
from tests.warehouse.conftest import ARTIFACTS
from tests.warehouse.test_publish import _published_state

REPO_ROOT = Path(__file__).resolve().parents[2]


def _analyst_blocks() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Analysts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 2, "the README's analyst section has an embedded and a server block"
    return blocks


def _run_block(block: str, env: dict[str, str]) -> str:
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    return output


def _dbt_summaries(output: str) -> list[str]:
    return re.findall(r"Done\. PASS=\d+ WARN=\d+ ERROR=(\d+) SKIP=\d+", output)


def test_server_block_builds_dev_and_tests_prod_leaving_published_alone(published_warehouse):
    block = _analyst_blocks()[1]
    exports = re.findall(r"^export (PG.*)$", block, flags=re.M)
    assert exports, "the server block exports libpq's variables"
    ours = " ".join(f"{name}={value}" for name, value in libpq_env(published_warehouse.url).items())
    block = re.sub(r"^export PG.*$", f"export {ours}", block, count=1, flags=re.M)
    before = _published_state(published_warehouse.url)

    output = _run_block(block, {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")})

    assert _dbt_summaries(output) == ["0", "0"]  # build (dev), then test --target prod
    assert _published_state(published_warehouse.url) == before
    built = published_warehouse.query(
        "select table_name from information_schema.tables"
        " where table_schema = 'dev_artifacts' order by table_name"
    )
    assert [row[0] for row in built] == sorted(ARTIFACTS)


@pytest.mark.slow
def test_embedded_block_after_moviemetric_run():
    env = {**os.environ, "MOVIEMETRIC_SANDBOX_MOVIES": "300"}
    completed = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "moviemetric"), "run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    output = _run_block(_analyst_blocks()[0], env)

    # build (models, data and unit tests) and test --target prod report no error; docs
    # generate writes the catalog
    assert _dbt_summaries(output) == ["0", "0"]
    assert (REPO_ROOT / "dbt_project" / "target" / "catalog.json").is_file()
    home = Path(env["MOVIEMETRIC_HOME"])
    assert not (home / "pgdata" / "postmaster.pid").exists()  # the embedded server stopped
