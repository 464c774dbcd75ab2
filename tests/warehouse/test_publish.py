"""Write-audit-publish: a failing test publishes nothing; a passing build publishes all at once."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from moviemetric.cli import app
from moviemetric.ops import API_ROLE, PUBLISH_CHANNEL
from moviemetric.steps import StepOptions
from moviemetric.warehouse import libpq_env, open_warehouse
from tests.warehouse.conftest import ARTIFACTS
from transform import BuildFailedError, TransformError, run_transform

REPO_ROOT = Path(__file__).resolve().parents[2]


def _published_state(url: str) -> tuple[int, int, dict[str, bytes]]:
    """(data version, oid of the artifacts schema, every artifact's rows as COPY bytes)."""
    with psycopg.connect(url) as conn:
        version = conn.execute("select version from ops.data_version").fetchone()[0]
        schema_oid = conn.execute(
            "select oid from pg_namespace where nspname = 'artifacts'"
        ).fetchone()[0]
        dumps = {}
        for table in ARTIFACTS:
            relation = sql.Identifier("artifacts", table)
            query = sql.SQL("copy (select * from {} as t order by t::text) to stdout").format(
                relation
            )
            with conn.cursor().copy(query) as copy_out:
                dumps[table] = b"".join(bytes(chunk) for chunk in copy_out)
    return version, schema_oid, dumps


def test_publish_sets_version_and_api_role_reads_only_artifacts(published_warehouse):
    version, published_at, build_id = published_warehouse.query(
        "select version, published_at, build_id from ops.data_version"
    )[0]
    assert version == published_warehouse.summary.version == 1
    assert published_at is not None
    assert build_id == published_warehouse.summary.details["build_id"]
    assert set(published_warehouse.summary.rows) == set(ARTIFACTS)
    assert published_warehouse.schemas_after_publish == ()

    with psycopg.connect(published_warehouse.url, autocommit=True) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))
        for table in ARTIFACTS:
            count = conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier("artifacts", table))
            ).fetchone()[0]
            assert count == published_warehouse.summary.rows[table]
        assert conn.execute("select version from ops.data_version").fetchone()[0] == 1
        for forbidden in (
            "raw_tmdb.movies",
            "staging.stg_tmdb__movies",
            "marts.dim_movies",
            "intermediate.int_movie_features",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {forbidden} limit 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update ops.data_version set version = 99")


def test_failing_test_publishes_nothing(published_warehouse):
    before = _published_state(published_warehouse.url)
    good = published_warehouse.catalog
    bad = copy.deepcopy(good)
    bad.movies[3]["vote_average"] = 42.0
    bad_id = bad.movies[3]["id"]
    published_warehouse.load(bad)
    try:
        with pytest.raises(BuildFailedError) as failure:
            run_transform(open_warehouse(published_warehouse.settings))
        message = str(failure.value)
        assert "accepted_range_stg_tmdb__movies_vote_average" in message
        assert f"published artifacts unchanged (version {before[0]})" in message
        assert failure.value.version == before[0]
        assert _published_state(published_warehouse.url) == before

        # the CLI says the same on one line and exits 1
        result = CliRunner().invoke(
            app,
            ["transform"],
            env={
                "DATABASE_URL": published_warehouse.url,
                "MOVIEMETRIC_HOME": str(published_warehouse.settings.home_dir),
            },
        )
        assert result.exit_code == 1
        last_line = result.output.strip().splitlines()[-1]
        assert last_line.startswith("moviemetric: error: dbt build failed:")
        assert "accepted_range_stg_tmdb__movies_vote_average" in last_line
        assert _published_state(published_warehouse.url) == before
        assert published_warehouse.query(
            "select vote_average from raw_tmdb.movies where id = %s", (bad_id,)
        ) == [(42.0,)]
    finally:
        published_warehouse.load(good)


def test_partial_build_publishes_new_version_keeping_other_artifacts(published_warehouse):
    version, _, before = _published_state(published_warehouse.url)
    with psycopg.connect(published_warehouse.url, autocommit=True) as listener:
        listener.execute(sql.SQL("listen {}").format(sql.Identifier(PUBLISH_CHANNEL)))

        summary = run_transform(
            open_warehouse(published_warehouse.settings), StepOptions(select="+ratings_by_decade")
        )

        notices = list(listener.notifies(timeout=5, stop_after=1))
    new_version, _, after = _published_state(published_warehouse.url)
    assert summary.version == new_version == version + 1
    assert [notice.payload for notice in notices] == [str(new_version)]
    assert after == before  # same raw data: rebuilt or carried over, every artifact is intact
    assert summary.models < 10  # only the selection was built


def test_cli_partial_transform_keeps_the_search_index_and_publishes(published_warehouse):
    version, _, before = _published_state(published_warehouse.url)

    result = CliRunner().invoke(
        app,
        ["transform", "--select", "+ratings_by_decade"],
        env={
            "DATABASE_URL": published_warehouse.url,
            "MOVIEMETRIC_HOME": str(published_warehouse.settings.home_dir),
        },
    )

    assert result.exit_code == 0, result.output
    assert "search index unchanged: the dbt selection '+ratings_by_decade'" in result.output
    new_version, _, after = _published_state(published_warehouse.url)
    assert new_version == version + 1
    assert after == before  # the search artifacts were carried over with the rest


def test_unparsable_project_fails_before_building_and_publishes_nothing(
    published_warehouse, tmp_path
):
    before = _published_state(published_warehouse.url)
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs")
    )
    shutil.copy(REPO_ROOT / "profiles.yml", tmp_path / "profiles.yml")
    (project / "models" / "marts" / "_marts__models.yml").write_text("models: [unclosed\n")
    settings = published_warehouse.settings.model_copy(update={"dbt_project_dir": project})

    with pytest.raises(
        TransformError, match=r"dbt build failed \(exit 2\): .*nothing was published"
    ):
        run_transform(open_warehouse(settings))

    assert _published_state(published_warehouse.url) == before


def test_selection_matching_nothing_is_refused(published_warehouse):
    before = _published_state(published_warehouse.url)

    with pytest.raises(TransformError, match=r"selection 'no_such_model' matches no model"):
        run_transform(
            open_warehouse(published_warehouse.settings), StepOptions(select="no_such_model")
        )

    assert _published_state(published_warehouse.url) == before


def test_publish_swaps_while_api_reads_hold_the_old_tables(published_warehouse):
    """The swap commits under an open read of the old tables; only the drop waits for it."""
    url = published_warehouse.url
    with psycopg.connect(url, autocommit=True) as conn:
        # what a crash between a swap and its drop leaves behind
        conn.execute("create schema artifacts__previous")
        conn.execute("create table artifacts__previous.search_documents (movie_id bigint)")
    version_before = _published_state(url)[0]
    old_rows = published_warehouse.summary.rows["search_documents"]
    outcome: dict[str, object] = {}

    def transform() -> None:
        try:
            outcome["summary"] = run_transform(
                open_warehouse(published_warehouse.settings),
                StepOptions(select="+ratings_by_decade"),
            )
        except Exception as exc:  # re-raised by the test below
            outcome["error"] = exc

    with psycopg.connect(url) as api_read:
        api_read.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))
        # an API read in flight: holds a lock on the published table until it ends
        assert api_read.execute("select count(*) from artifacts.search_documents").fetchone() == (
            old_rows,
        )
        worker = threading.Thread(target=transform)
        worker.start()
        deadline = time.monotonic() + 180
        with psycopg.connect(url, autocommit=True) as watcher:
            while _version(watcher) == version_before and worker.is_alive():
                assert time.monotonic() < deadline, "the publish did not commit"
                time.sleep(0.2)
            assert "error" not in outcome, outcome.get("error")
            # published while the old read is still open ...
            assert _version(watcher) == version_before + 1
            # ... and new reads go to the new tables at once, not queued behind a drop
            watcher.execute("set lock_timeout = '2s'")
            watcher.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))
            assert watcher.execute(
                "select count(*) from artifacts.search_documents"
            ).fetchone() == (old_rows,)
            assert worker.is_alive()  # the drop of the old tables waits for the old read
    worker.join(timeout=60)
    assert not worker.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    assert outcome["summary"].version == version_before + 1
    assert not published_warehouse.query(
        "select 1 from pg_namespace where nspname = 'artifacts__previous'"
    )


def _version(conn: psycopg.Connection) -> int:
    return conn.execute("select version from ops.data_version").fetchone()[0]


def test_failing_artifact_test_after_the_build_publishes_nothing(published_warehouse, tmp_path):
    """Audit at the artifact level: the table is built, its test fails, nothing is published."""
    before = _published_state(published_warehouse.url)
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs")
    )
    shutil.copy(REPO_ROOT / "profiles.yml", tmp_path / "profiles.yml")
    # a mis-set weight: the sum of the weights turns negative and so do the scores,
    # out of the documented [0, 1] range, which only the artifact's own test on
    # movie_recommendations.score can see (the unit tests set their own weights)
    project_file = project / "dbt_project.yml"
    original = "recommendation_weight_collection: 0.5"
    assert original in project_file.read_text()
    project_file.write_text(
        project_file.read_text().replace(original, "recommendation_weight_collection: -5.0")
    )
    settings = published_warehouse.settings.model_copy(update={"dbt_project_dir": project})

    with pytest.raises(BuildFailedError) as failure:
        run_transform(open_warehouse(settings))

    message = str(failure.value)
    assert "test accepted_range_movie_recommendations_score" in message
    assert f"published artifacts unchanged (version {before[0]})" in message
    assert failure.value.failed_nodes
    assert all(
        node.startswith("test.moviemetric.") and "movie_recommendations" in node
        for node in failure.value.failed_nodes
    )
    # the artifact was written to the build schema and audited there ...
    (min_score,) = published_warehouse.query(
        "select min(score) from artifacts__build.movie_recommendations"
    )[0]
    assert min_score < 0
    # ... while what the API reads is exactly as before
    assert _published_state(published_warehouse.url) == before
    (published_min, published_max) = published_warehouse.query(
        "select min(score), max(score) from artifacts.movie_recommendations"
    )[0]
    assert 0 <= published_min <= published_max <= 1


def test_a_hand_run_prod_build_cannot_write_the_published_schema(published_warehouse):
    before = _published_state(published_warehouse.url)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        **libpq_env(published_warehouse.url),
    }
    dbt = str(REPO_ROOT / ".venv" / "bin" / "dbt")
    target = published_warehouse.settings.home_dir / "dbt" / "target-refused"
    completed = subprocess.run(
        [
            dbt,
            "build",
            "--project-dir",
            "dbt_project",
            "--profiles-dir",
            ".",
            "--target-path",
            str(target),
            "--select",
            "ratings_by_decade",
            "--target",
            "prod",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "--target prod would write the published schema `artifacts`" in completed.stdout
    assert _published_state(published_warehouse.url) == before


def test_a_null_in_an_artifacts_not_null_column_publishes_nothing(published_warehouse, tmp_path):
    """The contracts' not-null constraints audit as the table is written: a null fails
    the model (no test node needed) and nothing is published."""
    before = _published_state(published_warehouse.url)
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs")
    )
    shutil.copy(REPO_ROOT / "profiles.yml", tmp_path / "profiles.yml")
    model = project / "models" / "artifacts" / "ratings_by_decade.sql"
    original = "total_votes::bigint as total_votes"
    assert original in model.read_text()
    model.write_text(
        model.read_text().replace(
            original,
            "(case when decade >= 2000 then null else total_votes end)::bigint as total_votes",
        )
    )
    settings = published_warehouse.settings.model_copy(update={"dbt_project_dir": project})

    with pytest.raises(BuildFailedError) as failure:
        run_transform(open_warehouse(settings))

    assert failure.value.failed_nodes == ["model.moviemetric.ratings_by_decade"]
    message = str(failure.value)
    assert "total_votes" in message and "not-null constraint" in message
    assert f"published artifacts unchanged (version {before[0]})" in message
    assert _published_state(published_warehouse.url) == before
