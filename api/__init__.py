"""The read-only serving API over the published warehouse (docs/design.md section 6).

Public entry points: ``create_app(settings)`` (the ASGI app), ``serve(app, ...)``
(uvicorn, announcing where it listens) and ``listening_message(url)``.
"""

from api.main import create_app
from api.server import listening_message, serve

__all__ = ["create_app", "listening_message", "serve"]
