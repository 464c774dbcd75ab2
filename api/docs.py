"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with their assets served by the API itself.

FastAPI's default pages load Swagger UI, ReDoc, a favicon and Google Fonts from CDNs, so
they are blank on a machine without internet access. Here the bundles come from the
installed ``fastapi-offline`` package (a pinned copy of swagger-ui-dist and ReDoc's
standalone build), served under ``DOCS_ASSETS_PATH``; the pages name no other host.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_ASSETS_PATH = "/static/docs"
DOCS_ASSETS_PACKAGE = ("fastapi_offline", "static")
SWAGGER_UI_PARAMETERS = {
    # Swagger UI would send the schema to validator.swagger.io for its badge.
    "validatorUrl": None,
}


def install_docs(app: FastAPI) -> None:
    """Serve the assets and the two pages; ``app`` is made with ``docs_url=None`` and
    ``redoc_url=None`` so FastAPI's CDN pages are not registered."""
    app.mount(DOCS_ASSETS_PATH, StaticFiles(packages=[DOCS_ASSETS_PACKAGE]), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
