"""``/dashboard``: one page of charts over the API's own endpoints, working offline.

The page (``api/static/dashboard``: one HTML, one script, one stylesheet) fetches
``/movies/trending``, ``/analytics/genre-stats``, ``/analytics/ratings-by-decade``,
``/search`` and ``/movies/{id}/recommendations`` and draws its charts as SVG itself: no
chart library, no CDN, nothing to build. Its URLs are relative to the page, so it works
under a ``root_path`` too.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DASHBOARD_DIR = Path(__file__).resolve().parent / "static" / "dashboard"
DASHBOARD_ASSETS_PATH = "/static/dashboard"


def install_dashboard(app: FastAPI) -> None:
    """Serve the page at ``/dashboard`` and its script and stylesheet below
    ``DASHBOARD_ASSETS_PATH``; none of it is in the OpenAPI schema."""
    page = (DASHBOARD_DIR / "index.html").read_text(encoding="utf-8")
    app.mount(DASHBOARD_ASSETS_PATH, StaticFiles(directory=DASHBOARD_DIR), name="dashboard-assets")

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(page)
