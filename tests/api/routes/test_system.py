"""GET /health, /metrics, /lineage, /docs, /redoc, /openapi.json."""

from __future__ import annotations

import pytest

from api.main import create_app
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
