"""``/lineage``: the dbt docs site from ``settings.lineage_dir``, or a JSON 404 until it is built.

The directory is checked per request, so docs built after the API started are served
without a restart.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import JSONResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send


class LineageSite:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: StaticFiles | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.directory.is_dir():
            self._files = None
            response = JSONResponse(
                {
                    "detail": f"lineage docs are not built: no directory {self.directory}; "
                    "run `moviemetric docs` to build them"
                },
                status_code=404,
            )
            await response(scope, receive, send)
            return
        if self._files is None:
            self._files = StaticFiles(directory=self.directory, html=True)
        await self._files(scope, receive, send)
