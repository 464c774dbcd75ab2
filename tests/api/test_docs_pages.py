"""/docs and /redoc work offline: their pages name no other host, their assets come from
the API, and a headless Chromium that can resolve no host but 127.0.0.1 renders them.

Chromium is a system package (CI installs it); without it these tests fail under CI and
are skipped elsewhere (``tests/api/chromium.py``).
"""

from __future__ import annotations

import re

import httpx
import pytest

from api.docs import DOCS_ASSETS_PATH
from tests.api.chromium import rendered_dom

pytestmark = pytest.mark.anyio

ASSET_REFERENCE = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_docs_pages_load_their_assets_from_the_api(client, page, assets):
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html, "the page names another host"
    references = ASSET_REFERENCE.findall(html)
    assert {reference.rsplit("/", 1)[-1] for reference in references} == assets
    for reference in references:
        assert reference.startswith(f"{DOCS_ASSETS_PATH}/"), reference
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 0


def test_swagger_ui_renders_every_operation_offline(live_server, tmp_path):
    dom = rendered_dom(f"{live_server}/docs", tmp_path / "chromium")
    paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert {
        "/movies",
        "/movies/{movie_id}",
        "/movies/trending",
        "/movies/{movie_id}/recommendations",
        "/analytics/top-genres",
        "/analytics/ratings-by-decade",
        "/health",
    } <= paths, dom[:2000]
    schema = httpx.get(f"{live_server}/openapi.json", timeout=10).json()
    assert paths == set(schema["paths"])


def test_redoc_renders_every_operation_offline(live_server, tmp_path):
    dom = rendered_dom(f"{live_server}/redoc", tmp_path / "chromium")
    assert "redoc-wrap" in dom, dom[:2000]
    schema = httpx.get(f"{live_server}/openapi.json", timeout=10).json()
    operation_ids = {
        operation["operationId"]
        for path_item in schema["paths"].values()
        for operation in path_item.values()
    }
    rendered = set(re.findall(r'data-section-id="[^"]*operation/([^"]+)"', dom))
    assert operation_ids <= rendered, sorted(operation_ids - rendered)
