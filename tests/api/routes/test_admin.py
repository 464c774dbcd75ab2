"""/admin: the token on every route, queueing runs (deduplicated), and a run's status
through the API as the scheduler service works it (queued -> running -> succeeded).

The runs live in a fresh warehouse with the ops migrations and nothing published (the
admin API works before the first publish: it is how one asks for it); the service runs
in process with a fake ``execute`` that waits for the test's word.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from api.main import create_app
from moviemetric.config import Settings
from moviemetric.ops import COMPUTE_ARTIFACTS
from moviemetric.steps import StepResult, utc_now
from moviemetric.warehouse import open_warehouse
from scheduler import SchedulerService
from tests.api.conftest import eventually, running

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-admin-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}

ENQUEUE_ROUTES = {
    "/admin/ingest/run": "ingest",
    **{f"/admin/compute/{name}": f"compute:{name}" for name in COMPUTE_ARTIFACTS},
    "/admin/search/build-index": "index",
}
ADMIN_ROUTES = [("POST", path) for path in ENQUEUE_ROUTES] + [
    ("GET", "/admin/jobs"),
    ("GET", "/admin/jobs/1"),
]


def settings_for(url: str, token: str | None = TOKEN) -> Settings:
    return Settings(database_url=url, admin_token=SecretStr(token) if token else None)


@pytest.fixture
async def admin(runs_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings_for(runs_url))) as client:
        yield client


def test_every_admin_route_is_covered_by_the_auth_tests() -> None:
    app = create_app(settings_for("postgresql://unused@127.0.0.1/unused"))
    served = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/admin")
        for method in operations
    }
    templates = {"/admin/jobs/1": "/admin/jobs/{job_id}"}
    templates |= {
        f"/admin/compute/{name}": "/admin/compute/{artifact}" for name in COMPUTE_ARTIFACTS
    }
    assert served == {(method, templates.get(path, path)) for method, path in ADMIN_ROUTES}


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_without_a_configured_token_every_admin_route_is_refused(
    runs_url: str, method: str, path: str
) -> None:
    async with running(create_app(settings_for(runs_url, token=None))) as client:
        for headers in ({}, AUTH):
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 403
            assert "MOVIEMETRIC_ADMIN_TOKEN" in response.json()["detail"]
    assert_no_runs(runs_url)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_no_header_or_a_wrong_token_is_a_401(
    admin: httpx.AsyncClient, runs_url: str, method: str, path: str
) -> None:
    for headers, words in (
        ({}, "missing admin token"),
        ({"authorization": "Bearer wrong"}, "wrong admin token"),
        ({"authorization": f"Bearer {TOKEN}x"}, "wrong admin token"),
        ({"authorization": f"Basic {TOKEN}"}, "missing admin token"),
    ):
        response = await admin.request(method, path, headers=headers)
        assert response.status_code == 401, headers
        assert words in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert_no_runs(runs_url)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_the_right_token_is_let_in(admin: httpx.AsyncClient, method: str, path: str):
    response = await admin.request(method, path, headers=AUTH)
    if method == "POST":
        assert response.status_code == 202
        assert set(response.json()) == {"job_id"}
    elif path == "/admin/jobs":
        assert response.status_code == 200
        assert response.json() == {"items": []}
    else:
        assert response.status_code == 404
        assert response.json() == {"detail": "no job 1: see GET /admin/jobs"}
    assert response.headers["cache-control"] == "no-store"
    assert "x-cache" not in response.headers  # the response cache never sees /admin


def assert_no_runs(url: str) -> None:
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from ops.pipeline_runs").fetchone()[0] == 0


def kinds(url: str) -> dict[int, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("select id, kind from ops.pipeline_runs").fetchall())


async def test_each_post_queues_its_kind_and_a_duplicate_while_queued_gets_the_same_id(
    admin: httpx.AsyncClient, runs_url: str
) -> None:
    ids = {}
    for path, kind in ENQUEUE_ROUTES.items():
        if kind.startswith("compute:") and kind != "compute:all":
            continue  # compute:all is queued first below and covers them
        first = (await admin.post(path, headers=AUTH)).json()["job_id"]
        again = (await admin.post(path, headers=AUTH)).json()["job_id"]
        assert again == first
        ids[kind] = first
    assert kinds(runs_url) == {run_id: kind for kind, run_id in ids.items()}
    # compute:all, queued, covers every compute kind
    for name in COMPUTE_ARTIFACTS:
        response = await admin.post(f"/admin/compute/{name}", headers=AUTH)
        assert response.json() == {"job_id": ids["compute:all"]}
    listed = (await admin.get("/admin/jobs", headers=AUTH)).json()["items"]
    assert [job["job_id"] for job in listed] == sorted(ids.values(), reverse=True)
    assert {job["status"] for job in listed} == {"queued"}
    assert {job["requested_by"] for job in listed} == {"admin"}
    limited = (await admin.get("/admin/jobs?limit=1&status=queued", headers=AUTH)).json()
    assert [job["job_id"] for job in limited["items"]] == [max(ids.values())]
    none = (await admin.get("/admin/jobs?status=running", headers=AUTH)).json()
    assert none == {"items": []}
    for query in ("limit=0", "limit=101", "status=done"):
        response = await admin.get(f"/admin/jobs?{query}", headers=AUTH)
        assert response.status_code == 422, query
    unknown = await admin.post("/admin/compute/everything", headers=AUTH)
    assert unknown.status_code == 422


async def test_a_jobs_status_goes_queued_running_succeeded_through_the_api(
    admin: httpx.AsyncClient, runs_url: str
) -> None:
    release = threading.Event()

    def execute(warehouse, kind, on_step):
        started = utc_now()
        release.wait(30)
        result = StepResult(
            step="transform", started_at=started, ended_at=utc_now(), rows={"movie_catalog": 3}
        )
        on_step(result)
        return [result]

    job_id = (await admin.post("/admin/compute/trending", headers=AUTH)).json()["job_id"]
    queued = (await admin.get(f"/admin/jobs/{job_id}", headers=AUTH)).json()
    assert queued["status"] == "queued"
    assert queued["kind"] == "compute:trending"
    assert queued["started_at"] is None and queued["steps"] == []

    settings = settings_for(runs_url)
    service = SchedulerService(
        open_warehouse(settings), settings, execute=execute, crons={}, poll_seconds=0.5
    )
    service.start()
    try:

        async def status_is(wanted: str):
            body = (await admin.get(f"/admin/jobs/{job_id}", headers=AUTH)).json()
            return body if body["status"] == wanted else None

        running_job = await eventually(lambda: status_is("running"), timeout=15)
        assert running_job["started_at"] is not None and running_job["ended_at"] is None
        again = await admin.post("/admin/compute/trending", headers=AUTH)
        assert again.json()["job_id"] != job_id  # a running run is not the queued work
        release.set()
        done = await eventually(lambda: status_is("succeeded"), timeout=15)
    finally:
        release.set()
        service.stop()
    assert done["error"] is None
    assert done["ended_at"] is not None and done["seconds"] >= 0
    assert [step["step"] for step in done["steps"]] == ["transform"]
    assert done["steps"][0]["status"] == "succeeded"
    assert done["rows"] == {"transform": {"movie_catalog": 3}}


async def test_a_warehouse_without_the_run_queue_is_a_503_saying_what_to_start(
    make_database,
) -> None:
    url = make_database()  # no ops migrations at all
    async with running(create_app(settings_for(url))) as client:
        for method, path in (("POST", "/admin/ingest/run"), ("GET", "/admin/jobs")):
            response = await client.request(method, path, headers=AUTH)
            assert response.status_code == 503, response.text
            assert "moviemetric scheduler" in response.json()["detail"]


async def test_the_token_is_checked_before_any_parameter(admin: httpx.AsyncClient) -> None:
    for method, path in (
        ("POST", "/admin/compute/everything"),
        ("GET", "/admin/jobs?limit=0"),
        ("GET", "/admin/jobs/abc"),
    ):
        assert (await admin.request(method, path)).status_code == 401, path
        assert (await admin.request(method, path, headers=AUTH)).status_code == 422, path
