"""Session datasets built once per test run, however many pytest-xdist workers use them.

A published dataset costs a load and a dbt build. Under xdist, the first worker that
asks for one builds it into a template database (``mm_tpl_<run>_<name>``), under a
file lock in the run's shared temporary folder; every worker, the builder included,
then gets its own copy (``CREATE DATABASE ... TEMPLATE``, a file copy) and its own copy
of the dataset's folder, so tests that change their dataset never see another
worker's changes. The controller drops the templates when the run ends
(``drop_run_templates``). Without xdist the dataset is built straight into its database.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from psycopg import sql

from tests.conftest import ADMIN_URL, create_database, database_url_for, drop_database

T = TypeVar("T")

RUN_KEY = "mm_test_run"  # in each worker's workerinput: the run's id, set by the controller
TEMPLATE_PREFIX = "mm_tpl_"
_RUN_ID = pytest.StashKey[str]()


def start_run(config: pytest.Config) -> None:
    """In the controller (or a run without xdist): this run's id."""
    if not hasattr(config, "workerinput"):
        config.stash[_RUN_ID] = uuid.uuid4().hex[:8]


def hand_run_to_worker(node) -> None:
    node.workerinput[RUN_KEY] = node.config.stash[_RUN_ID]


def drop_run_templates(config: pytest.Config) -> None:
    """In the controller, at the end: drop this run's template databases."""
    if hasattr(config, "workerinput") or _RUN_ID not in config.stash:
        return
    pattern = f"{TEMPLATE_PREFIX}{config.stash[_RUN_ID]}_%"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "select datname from pg_database where datname like %s", (pattern,)
            )
        ]
    for name in names:
        drop_database(name)


@contextlib.contextmanager
def dataset(
    request: pytest.FixtureRequest, name: str, build: Callable[[str, Path], T]
) -> Iterator[tuple[str, Path, T]]:
    """(url, folder, what ``build(url, folder)`` returned) of this session's ``name``
    dataset; the database is dropped after the session. ``build``'s result must not
    name its database or folder (a worker gets copies of both): it is pickled."""
    factory = request.getfixturevalue("tmp_path_factory")
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is None:
        database, url = create_database(f"mm_{name}")
        try:
            folder = factory.mktemp(name)
            yield url, folder, build(url, folder)
        finally:
            drop_database(database)
        return

    shared = factory.getbasetemp().parent  # the controller's, common to every worker
    template = f"{TEMPLATE_PREFIX}{workerinput[RUN_KEY]}_{name}"
    template_folder = shared / f"{name}-template"
    built = shared / f"{name}.pickle"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            _build_template(template, template_folder, build, built)
        result = pickle.loads(built.read_bytes())
        database = _copy_database(template)
    try:
        folder = factory.mktemp(name)
        shutil.copytree(template_folder, folder, dirs_exist_ok=True)
        yield database_url_for(database), folder, result
    finally:
        drop_database(database)


def _build_template(name: str, folder: Path, build: Callable[[str, Path], T], built: Path) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        result = build(database_url_for(name), folder)
    except BaseException:
        drop_database(name)  # the next worker that asks builds it again
        raise
    built.write_bytes(pickle.dumps(result))


def _copy_database(template: str) -> str:
    """A new database copied from ``template``, with its database-level privileges."""
    name = f"mm_{os.environ.get('PYTEST_XDIST_WORKER', 'test')}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        # a copy needs the template to itself: end any session left on it
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
            (template,),
        )
        conn.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        # database privileges (ops' TEMPORARY restriction) live in pg_database, which
        # a copy does not carry: give the copy the template's
        (acl,) = conn.execute(
            "select datacl::text[] from pg_database where datname = %s", (template,)
        ).fetchone()
        if acl is not None:
            conn.execute(
                "update pg_database set datacl = %s::aclitem[] where datname = %s", (acl, name)
            )
    return name
