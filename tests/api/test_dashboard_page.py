"""/dashboard on the published test warehouse, in a headless Chromium that can reach
127.0.0.1 only: every chart is drawn with data, search shows results as you type, and a
movie's recommendations open on a click or from the keyboard.

The page records what each panel drew in data attributes (``data-state``,
``data-points``); the tests read those and the drawn elements themselves.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from api.dashboard import DASHBOARD_ASSETS_PATH
from api.main import create_app
from moviemetric.config import Settings
from tests.api.chromium import DevToolsPage, rendered_dom
from tests.api.conftest import served

pytestmark = pytest.mark.anyio

ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name, never fetched
CHART_PANELS = ("trending", "genre-stats", "decades")


class _Elements(HTMLParser):
    """Attributes of every element with an id, and the tags seen inside each section."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.by_id[attributes["id"]] = attributes


def _elements(dom: str) -> _Elements:
    parser = _Elements()
    parser.feed(dom)
    return parser


async def test_dashboard_and_its_assets_are_served_from_the_api(client):
    response = await client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html, "the page names another host"
    assert ATTRIBUTION in html
    references = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", html)
    assert sorted(references) == [
        f"{DASHBOARD_ASSETS_PATH.lstrip('/')}/dashboard.css",
        f"{DASHBOARD_ASSETS_PATH.lstrip('/')}/dashboard.js",
    ], "relative, so the page works under a root_path"
    content_types = {}
    for reference in references:
        asset = await client.get(f"/{reference}")
        assert asset.status_code == 200, reference
        content_types[reference.rsplit(".", 1)[-1]] = asset.headers["content-type"]
        text = asset.text.replace(SVG_NAMESPACE, "")
        assert "http://" not in text and "https://" not in text, reference
    assert content_types["js"].startswith(("text/javascript", "application/javascript"))
    assert content_types["css"].startswith("text/css")
    schema = (await client.get("/openapi.json")).json()
    assert not [path for path in schema["paths"] if "dashboard" in path]


def test_every_chart_is_drawn_with_data_offline(live_server, warehouse, tmp_path):
    """One load of ``/dashboard?q=silent`` (the query pre-fills the search box)."""
    dom = rendered_dom(f"{live_server}/dashboard?q=silent", tmp_path / "chromium")
    page = _elements(dom)
    panels = {name: page.by_id[name] for name in CHART_PANELS}
    assert {name: panel.get("data-state") for name, panel in panels.items()} == {
        "trending": "ready",
        "genre-stats": "ready",
        "decades": "ready",
    }, dom[:3000]

    trending_rows = warehouse.execute(
        "select count(*) as n from artifacts.movie_trending_daily "
        "where trend_date = (select max(trend_date) from artifacts.movie_trending_daily)"
    ).fetchone()["n"]
    assert int(panels["trending"]["data-points"]) == min(trending_rows, 20) > 0
    assert dom.count('class="rising"') + dom.count('class="falling"') > 0, "momentum shown"

    days = warehouse.execute(
        "select count(distinct stat_date) as n from artifacts.genre_stats_daily"
    ).fetchone()["n"]
    genre = panels["genre-stats"]
    assert int(genre["data-days"]) == days > 1
    assert int(genre["data-series"]) == 6
    assert int(genre["data-points"]) > int(genre["data-series"]), "lines, not single points"
    assert dom.count("<polyline") == 6

    decades = warehouse.execute(
        "select count(*) as n from artifacts.ratings_by_decade where avg_rating is not null"
    ).fetchone()["n"]
    assert int(panels["decades"]["data-points"]) == decades > 0
    assert dom.count('class="bar"') == decades

    options = [attrs for tag, attrs in page.tags if attrs.get("role") == "option"]
    assert int(page.by_id["search-section"]["data-results"]) == len(options) > 0
    assert ATTRIBUTION in dom


def test_typing_shows_results_and_a_movie_opens_its_recommendations(live_server, tmp_path):
    with DevToolsPage(f"{live_server}/dashboard", tmp_path / "chromium") as page:
        page.wait_for("document.getElementById('trending')?.dataset.state === 'ready'")
        page.evaluate("document.getElementById('search-input').focus()")
        page.type_text("silnet")  # a typo still matches
        results = page.wait_for(
            "Number(document.getElementById('search-section').dataset.results || 0)"
        )
        assert results > 0
        assert page.evaluate("document.getElementById('search-input').value") == "silnet"
        assert page.evaluate("document.getElementById('search-results').hidden") is False

        page.press("ArrowDown", 40)
        chosen = page.evaluate(
            "document.querySelector('#search-results [aria-selected=true]').dataset.movieId"
        )
        assert (
            page.evaluate(
                "document.getElementById('search-input').getAttribute('aria-activedescendant')"
            )
            == "search-result-0"
        )
        page.press("Enter", 13)
        page.wait_for("document.getElementById('recommendations').dataset.state !== 'loading'")
        panel = page.evaluate(
            "(() => { const p = document.getElementById('recommendations');"
            " return {id: p.dataset.movieId, state: p.dataset.state,"
            " items: p.querySelectorAll('li').length}; })()"
        )
        assert panel["id"] == chosen
        assert panel["state"] in {"ready", "empty"}

        # A click on a trending movie's title opens its recommendations.
        trending_id = page.evaluate(
            "(() => { document.querySelector('#trending tbody button').click();"
            " return document.getElementById('recommendations').dataset.movieId; })()"
        )
        page.wait_for("document.getElementById('recommendations').dataset.state === 'ready'")
        count = page.evaluate("document.querySelectorAll('#recommendations-list li').length")
        assert count > 0
        expected = httpx.get(
            f"{live_server}/movies/{trending_id}/recommendations", params={"limit": 10}, timeout=10
        ).json()
        assert count == len(expected["items"])


def test_dashboard_works_under_a_root_path(published_url, tmp_path):
    """Behind a proxy that serves the API below a prefix (here a parent app mounting it at
    ``/mm``, which sets ``root_path``), the page's assets and API calls stay below it."""
    api = create_app(Settings(database_url=published_url, redis_url=None))

    @contextlib.asynccontextmanager
    async def lifespan(parent: Starlette) -> AsyncIterator[None]:
        async with api.router.lifespan_context(api):
            yield

    proxy = Starlette(routes=[Mount("/mm", app=api)], lifespan=lifespan)
    with served(proxy) as url:
        assert httpx.get(f"{url}/dashboard", timeout=10).status_code == 404
        dom = rendered_dom(f"{url}/mm/dashboard?q=silent", tmp_path / "chromium")
    page = _elements(dom)
    states = {name: page.by_id[name].get("data-state") for name in CHART_PANELS}
    assert set(states.values()) == {"ready"}, states
    assert int(page.by_id["search-section"]["data-results"]) > 0
