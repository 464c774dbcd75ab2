"""Exception handlers: every error is ``{"detail": ...}`` with its status, never a traceback."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

log = logging.getLogger(__name__)

# Errors that mean "the warehouse cannot answer now", not "this request is wrong".
WAREHOUSE_DOWN = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)
# What an API role sees before the first publish or with broken grants.
NOT_PUBLISHED = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.InvalidSchemaName,
    psycopg.errors.InsufficientPrivilege,
)


class NothingPublished(Exception):
    """The warehouse answers but has nothing to serve yet; the message says what to run."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (psycopg's go on with DETAIL, HINT and
    context lines), or the error's type when it has no message."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def warehouse_unavailable_detail(exc: BaseException, last_connect_error: str | None = None) -> str:
    message = first_line(exc)
    if isinstance(exc, PoolTimeout) and last_connect_error:
        return f"warehouse unavailable: {last_connect_error} ({message})"
    if isinstance(exc, NOT_PUBLISHED):
        return (
            f"warehouse unavailable: published data is missing ({message}); "
            "run `moviemetric run` to load, build and publish"
        )
    return f"warehouse unavailable: {message}"


async def _nothing_published(request: Request, exc: Exception) -> JSONResponse:
    """Not logged: the data-version tracker logs the state once, not once per request."""
    assert isinstance(exc, NothingPublished)
    return JSONResponse({"detail": exc.detail}, status_code=503, headers={"retry-after": "5"})


def warehouse_unavailable_response(
    method: str, path: str, exc: Exception, last_connect_error: str | None
) -> JSONResponse:
    """The 503 of a request the warehouse could not answer (logged)."""
    log.warning("%s %s: %s", method, path, exc)
    return JSONResponse(
        {"detail": warehouse_unavailable_detail(exc, last_connect_error)},
        status_code=503,
        headers={"retry-after": "5"},
    )


def internal_error_response(method: str, path: str) -> JSONResponse:
    """The 500 of a request that failed unexpectedly; call it in the ``except`` block, as
    it logs the error being handled with its traceback."""
    log.exception("unhandled error on %s %s", method, path)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


async def _warehouse_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return warehouse_unavailable_response(
        request.method, request.url.path, exc, request.app.state.pool.last_connect_error
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return internal_error_response(request.method, request.url.path)


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NothingPublished, _nothing_published)
    for error in (*WAREHOUSE_DOWN, *NOT_PUBLISHED):
        app.add_exception_handler(error, _warehouse_unavailable)
    app.add_exception_handler(Exception, _unexpected)
