"""GET /health, /metrics, /lineage, /docs, /redoc, /openapi.json."""

from __future__ import annotations

import json

import httpx
import pytest

from api.main import create_app
from moviemetric.config import Settings
from tests.api.conftest import running

pytestmark = pytest.mark.anyio


async def test_health_reports_every_component_ok(client, warehouse, api_settings):
    version = warehouse.execute("select version from ops.data_version").fetchone()["version"]
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    components = body["components"]
    assert components["warehouse"] == {"status": "ok", "detail": None}
    backend = "redis" if api_settings.redis_url else "memory"
    assert components["cache"] == {"status": "ok", "detail": None, "backend": backend}
    assert components["data_version"]["status"] == "ok"
    assert components["data_version"]["version"] == version
    assert components["data_version"]["serving_version"] == version
    assert response.headers["cache-control"] == "no-store"


async def test_metrics_count_requests_by_route_template_and_cache_layer(client, api_settings):
    await client.get("/movies/trending")
    await client.get("/movies/trending")
    await client.get("/nope/123")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    trending = 'route="/movies/trending",status="200"'
    assert f'moviemetric_api_requests_total{{method="GET",{trending}}} 2.0' in text
    assert f'moviemetric_api_request_duration_seconds_count{{method="GET",{trending}}} 2.0' in text
    assert 'moviemetric_api_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in (
        text
    )
    # the process's own layer: "memory" alone, or "l1" in front of Redis
    layer = "l1" if api_settings.redis_url else "memory"
    assert f'moviemetric_api_cache_hits_total{{layer="{layer}"}} 1.0' in text
    assert f'moviemetric_api_cache_misses_total{{layer="{layer}"}} 1.0' in text
    assert "moviemetric_api_pool_size " in text
    assert "moviemetric_api_pool_available " in text
    assert "moviemetric_api_pool_waiting 0.0" in text
    assert "moviemetric_api_data_version -1.0" not in text


async def test_lineage_is_a_clear_404_until_the_docs_are_built(api_settings):
    async with running(create_app(api_settings)) as client:
        missing = await client.get("/lineage/")
        assert missing.status_code == 404
        assert "moviemetric docs" in missing.json()["detail"]
        api_settings.lineage_dir.mkdir(parents=True)
        (api_settings.lineage_dir / "index.html").write_text("<html>dbt docs</html>")
        (api_settings.lineage_dir / "manifest.json").write_text('{"nodes": {}}')
        index = await client.get("/lineage/")
        assert index.status_code == 200
        assert index.text == "<html>dbt docs</html>"
        assert (await client.get("/lineage/manifest.json")).json() == {"nodes": {}}
        assert (await client.get("/lineage/missing.json")).status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_documentation_pages_are_served(client, path):
    response = await client.get(path)
    assert response.status_code == 200


async def test_openapi_names_the_response_models(client):
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for name in ("MoviesPublic", "MoviePublic", "TrendingMoviesPublic", "HealthPublic"):
        assert name in schemas


async def _movie_id(warehouse) -> int:
    return warehouse.execute(
        "select movie_id from artifacts.movie_recommendations order by movie_id limit 1"
    ).fetchone()["movie_id"]


async def test_index_links_every_part_of_the_api(client, warehouse):
    response = await client.get("/")
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["version"]) == ("MovieMetric API", "1")
    links = body["links"]
    assert {"docs", "redoc", "openapi", "health", "metrics", "lineage", "movies"} <= set(links)
    assert {"trending", "top_genres", "ratings_by_decade"} <= set(links)
    openapi_paths = set((await client.get("/openapi.json")).json()["paths"])
    assert openapi_paths - {"/"} <= set(links.values()), "an operation is missing from /"
    movie_id = await _movie_id(warehouse)
    for name, path in links.items():
        linked = await client.get(path.format(movie_id=movie_id, artifact="all", job_id=1))
        if name == "lineage":  # served once `moviemetric docs` built it
            assert linked.status_code == 404 and "moviemetric docs" in linked.json()["detail"]
        elif name.startswith("admin_"):  # off: no MOVIEMETRIC_ADMIN_TOKEN (test_admin.py)
            assert linked.status_code in (403, 405), (name, path)
        else:
            assert linked.status_code == 200, (name, path)
    assert response.headers["cache-control"] == "public, max-age=60"
    etag = response.headers["etag"]
    again = await client.get("/", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""


HEAD_PATHS = [
    "/",
    "/health",
    "/metrics",
    "/movies?limit=2",
    "/movies/trending",
    "/movies/{movie_id}",
    "/movies/{movie_id}/recommendations",
    "/analytics/top-genres",
    "/analytics/ratings-by-decade",
    "/movies/999999999",
    "/movies/0",
    "/nope",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/static/docs/swagger-ui.css",
    "/lineage/",
]
# Bodies that change from one request to the next: their length may too.
CHANGING_BODIES = ("/health", "/metrics")


@pytest.mark.parametrize("path", HEAD_PATHS)
async def test_head_answers_like_get_without_a_body(client, warehouse, path):
    path = path.format(movie_id=await _movie_id(warehouse))
    get = await client.get(path)
    head = await client.head(path)
    assert head.status_code == get.status_code != 405
    assert head.content == b""
    compared = ["content-type", "etag", "cache-control"]
    if path not in CHANGING_BODIES:
        compared.append("content-length")
    assert {name: head.headers.get(name) for name in compared} == {
        name: get.headers.get(name) for name in compared
    }


def test_head_over_a_real_server_sends_headers_only(live_server):
    """uvicorn reads its own scope's method to send no body: HEAD must reach it as HEAD."""
    with httpx.Client(base_url=live_server, timeout=10) as http:
        for path in ("/health", "/movies?limit=3", "/docs", "/static/docs/swagger-ui.css"):
            get = http.get(path)
            head = http.head(path)
            assert head.status_code == get.status_code == 200, path
            assert head.content == b""
            if path != "/health":  # its age changes between the two
                assert head.headers["content-length"] == get.headers["content-length"], path
            assert http.get(path).status_code == 200  # the connection is still in step


async def test_metrics_label_docs_routes_and_mounted_apps_by_their_path(client):
    for path in ("/docs", "/redoc", "/openapi.json", "/static/docs/redoc.standalone.js"):
        assert (await client.get(path)).status_code == 200
    assert (await client.get("/lineage/")).status_code == 404  # not built: still /lineage
    assert (await client.get("/lineage/catalog.json")).status_code == 404
    assert (await client.head("/health")).status_code == 200
    assert (await client.get("/nope")).status_code == 404
    text = (await client.get("/metrics")).text
    for method, route, status, count in [
        ("GET", "/docs", 200, 1),
        ("GET", "/redoc", 200, 1),
        ("GET", "/openapi.json", 200, 1),
        ("GET", "/static/docs", 200, 1),
        ("GET", "/lineage", 404, 2),
        ("HEAD", "/health", 200, 1),
        ("GET", "<unmatched>", 404, 1),
    ]:
        labels = f'method="{method}",route="{route}",status="{status}"'
        assert f"moviemetric_api_requests_total{{{labels}}} {count}.0" in text, labels


def insert_run(warehouse, kind: str, status: str, *, ended_ago: str | None, steps=()) -> int:
    """A run row as the scheduler leaves it; tests delete what they insert."""
    return warehouse.execute(
        "insert into ops.pipeline_runs"
        " (kind, status, requested_by, requested_at, started_at, ended_at, steps)"
        " values (%s, %s, 'admin', now() - %s::interval - interval '1 minute',"
        " now() - %s::interval - interval '1 minute', now() - %s::interval, %s::jsonb)"
        " returning id",
        (
            kind,
            status,
            ended_ago or "0 s",
            ended_ago or "0 s",
            ended_ago,
            json.dumps(list(steps)),
        ),
    ).fetchone()["id"]


def step(name: str, status: str = "succeeded", seconds: float = 1.0, **extra) -> dict:
    return {"step": name, "status": status, "seconds": seconds, "rows": {}, **extra}


@pytest.fixture
def runs_restored(warehouse):
    """The session's dataset has no runs; whatever a test inserts is deleted after it."""
    yield warehouse
    warehouse.execute("delete from ops.pipeline_runs")


async def test_health_shows_the_last_run_and_degrades_when_ingest_is_older_than_two_periods(
    runs_restored, published_url
):
    warehouse = runs_restored
    freshness = {"status": "pass", "max_loaded_at": "2026-01-17T00:00:00+00:00"}
    loaded = step("load", freshness=freshness)
    stale = insert_run(warehouse, "ingest", "succeeded", ended_ago="3 days", steps=[loaded])
    daily = Settings(database_url=published_url)  # ingest at 02:00 every day
    async with running(create_app(daily)) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    runs = body["components"]["runs"]
    assert body["status"] == "degraded"
    assert runs["status"] == "degraded"
    assert "stale data: the last successful ingest run ended" in runs["detail"]
    assert runs["ingest_period_seconds"] == 86400
    assert runs["last_run"]["id"] == stale
    assert (runs["last_run"]["kind"], runs["last_run"]["status"]) == ("ingest", "succeeded")
    assert runs["last_run"]["ended_at"] is not None
    assert runs["last_ingest_succeeded_at"] is not None
    assert runs["source_freshness"] == freshness
    assert body["components"]["data_version"]["age_seconds"] >= 0

    weekly = Settings(database_url=published_url, schedule_ingest_cron="0 2 * * mon")
    async with running(create_app(weekly)) as client:
        body = (await client.get("/health")).json()
    assert body["components"]["runs"]["status"] == "ok"
    assert body["components"]["runs"]["ingest_period_seconds"] == 7 * 86400

    # a failed run since does not refresh the data; a successful one does
    failed = insert_run(warehouse, "ingest", "failed", ended_ago="1 hour")
    async with running(create_app(daily)) as client:
        runs = (await client.get("/health")).json()["components"]["runs"]
    assert runs["status"] == "degraded"
    assert (runs["last_run"]["id"], runs["last_run"]["status"]) == (failed, "failed")
    insert_run(warehouse, "full-refresh", "succeeded", ended_ago="1 hour")
    async with running(create_app(daily)) as client:
        body = (await client.get("/health")).json()
    assert body["components"]["runs"]["status"] == "ok"
    assert body["status"] == "ok"


async def test_health_without_runs_judges_the_published_datas_age(runs_restored, published_url):
    async with running(create_app(Settings(database_url=published_url))) as client:
        runs = (await client.get("/health")).json()["components"]["runs"]
    assert runs["status"] == "ok"  # published minutes ago, no run recorded
    assert runs["last_run"] is None and runs["last_ingest_succeeded_at"] is None
    every_minute = Settings(database_url=published_url, schedule_ingest_cron="* * * * *")
    runs_restored.execute(
        "update ops.data_version set published_at = published_at - interval '3 minutes'"
    )
    try:
        async with running(create_app(every_minute)) as client:
            runs = (await client.get("/health")).json()["components"]["runs"]
    finally:
        runs_restored.execute(
            "update ops.data_version set published_at = published_at + interval '3 minutes'"
        )
    assert runs["status"] == "degraded"
    assert "no ingest run succeeded yet, and the data was published" in runs["detail"]


async def test_metrics_export_the_runs_from_the_ops_tables(runs_restored, published_url):
    warehouse = runs_restored
    insert_run(
        warehouse,
        "ingest",
        "succeeded",
        ended_ago="2 hours",
        steps=[step("load", seconds=4.0), step("transform", seconds=30.0)],
    )
    latest = insert_run(
        warehouse,
        "ingest",
        "succeeded",
        ended_ago="1 hour",
        steps=[step("load", seconds=2.5), step("transform", seconds=20.0)],
    )
    insert_run(
        warehouse,
        "compute:trending",
        "failed",
        ended_ago="30 minutes",
        steps=[step("transform", "failed", error="dbt test x failed")],
    )
    insert_run(warehouse, "compute:all", "failed", ended_ago="20 minutes")  # interrupted
    warehouse.execute(
        "insert into ops.pipeline_runs (kind, requested_by) values ('index', 'admin'),"
        " ('compute:all', 'admin')"
    )
    ended_at = warehouse.execute(
        "select extract(epoch from ended_at) as at from ops.pipeline_runs where id = %s", (latest,)
    ).fetchone()["at"]
    async with running(create_app(Settings(database_url=published_url))) as client:
        text = (await client.get("/metrics")).text
    last_success = 'moviemetric_run_last_success_timestamp_seconds{kind="ingest"} '
    (line,) = [line for line in text.splitlines() if line.startswith(last_success)]
    assert float(line.removeprefix(last_success)) == pytest.approx(float(ended_at), abs=0.01)
    assert 'moviemetric_run_last_success_timestamp_seconds{kind="compute:trending"}' not in text
    assert 'moviemetric_run_step_duration_seconds{kind="ingest",step="load"} 2.5' in text
    assert 'moviemetric_run_step_duration_seconds{kind="ingest",step="transform"} 20.0' in text
    assert 'moviemetric_run_step_failures{step="transform"} 1.0' in text
    assert 'moviemetric_run_step_failures{step="stopped"} 1.0' in text
    assert "moviemetric_run_queue_depth 2.0" in text
    assert "moviemetric_runs_running 0.0" in text
