"""A recording HTTP server that answers like Meilisearch's documented API, for contract tests.

It keeps what Meilisearch's answers depend on (which indexes exist, their documents
and settings, the task queue) and records every request. It ranks nothing: a search
answers the response a test gives it. Tasks succeed when first polled, unless a test
makes one kind fail (a documented failed task object) or never finish (``processing``
forever, for timeouts).

Responses follow https://www.meilisearch.com/docs/reference/api: a summarized task
(202) for every asynchronous route, the task object at ``GET /tasks/{uid}``, the index
object, ``index_not_found`` errors, and the search response.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ENQUEUED_AT = "2026-01-15T10:00:00.000000Z"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


@dataclass
class FakeMeili:
    server: HTTPServer
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> state
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    # task type -> the error object its tasks fail with, or "stuck" (processing forever)
    faults: dict[str, Any] = field(default_factory=dict)
    search_response: dict[str, Any] = field(default_factory=dict)
    # called with the swapped pair when a swap task is applied
    on_swap: Callable[[list[str]], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def install(self) -> FakeMeili:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)
        return self

    # -- what tests read -----------------------------------------------------------------

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and (path is None or re.fullmatch(path, r.path))
            and not (r.method == "GET" and r.path.startswith("/tasks/"))
        ]

    def documents(self, uid: str) -> dict[int, dict[str, Any]]:
        return self.indexes[uid]["documents"]

    # -- the server ----------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"null")
        with self._lock:
            self.requests.append(
                Recorded(
                    request.method,
                    request.path,
                    parse_qs(request.query_string.decode()),
                    body,
                    dict(request.headers),
                )
            )
            return self._route(request.method, request.path, request, body)

    def _route(self, method: str, path: str, request: Request, body: Any) -> Response:
        if method == "GET" and (match := re.fullmatch(r"/tasks/(\d+)", path)):
            return self._poll(int(match[1]))
        if method == "GET" and path == "/indexes":
            results = [self._index_object(uid) for uid in sorted(self.indexes)]
            return _json({"results": results, "offset": 0, "limit": 1000, "total": len(results)})
        if method == "POST" and path == "/indexes":
            return self._enqueue("indexCreation", body["uid"], body)
        if method == "POST" and path == "/swap-indexes":
            return self._enqueue("indexSwap", None, body)
        if method == "POST" and path == "/tasks/cancel":
            return self._enqueue("taskCancelation", None, parse_qs(request.query_string.decode()))
        match = re.fullmatch(r"/indexes/([^/]+)(/.*)?", path)
        if match is None:
            return _json({"message": f"no route {path}", "code": "not_found"}, 404)
        uid, rest = match[1], match[2] or ""
        if method == "GET" and rest == "":
            if uid not in self.indexes:
                return _index_not_found(uid)
            return _json(self._index_object(uid))
        if method == "DELETE" and rest == "":
            return self._enqueue("indexDeletion", uid, None)
        if method == "PATCH" and rest == "/settings":
            return self._enqueue("settingsUpdate", uid, body)
        if method == "POST" and rest == "/documents":
            return self._enqueue("documentAdditionOrUpdate", uid, body)
        if method == "POST" and rest == "/search":
            if uid not in self.indexes:
                return _index_not_found(uid)
            return _json(self.search_response)
        return _json({"message": f"no route {method} {path}", "code": "not_found"}, 404)

    def _enqueue(self, kind: str, uid: str | None, payload: Any) -> Response:
        task_uid = len(self.tasks)
        self.tasks[task_uid] = {
            "uid": task_uid,
            "indexUid": uid,
            "status": "enqueued",
            "type": kind,
            "payload": payload,
        }
        summary = {
            "taskUid": task_uid,
            "indexUid": uid,
            "status": "enqueued",
            "type": kind,
            "enqueuedAt": ENQUEUED_AT,
        }
        return _json(summary, 202)

    def _poll(self, task_uid: int) -> Response:
        task = self.tasks.get(task_uid)
        if task is None:
            return _json(
                {
                    "message": f"Task `{task_uid}` not found.",
                    "code": "task_not_found",
                    "type": "invalid_request",
                    "link": "https://docs.meilisearch.com/errors#task_not_found",
                },
                404,
            )
        if task["status"] == "enqueued":
            fault = self.faults.get(task["type"])
            if fault == "stuck":
                task["status"] = "processing"
            elif fault is not None:
                task["status"] = "failed"
                task["error"] = fault
            else:
                task["error"] = self._apply(task)
                task["status"] = "failed" if task["error"] else "succeeded"
        view = {
            "uid": task["uid"],
            "indexUid": task["indexUid"],
            "status": task["status"],
            "type": task["type"],
            "canceledBy": None,
            "details": {},
            "error": task.get("error"),
            "duration": "PT0.001S" if task["status"] in ("succeeded", "failed") else None,
            "enqueuedAt": ENQUEUED_AT,
            "startedAt": ENQUEUED_AT if task["status"] != "enqueued" else None,
            "finishedAt": ENQUEUED_AT if task["status"] in ("succeeded", "failed") else None,
        }
        return _json(view)

    def _apply(self, task: dict[str, Any]) -> dict[str, Any] | None:
        """Apply a task as Meilisearch would; the error object when it fails."""
        kind, uid, payload = task["type"], task["indexUid"], task["payload"]
        if kind == "indexCreation":
            if uid in self.indexes:
                return _task_error(f"Index `{uid}` already exists.", "index_already_exists")
            self.indexes[uid] = {"primaryKey": payload.get("primaryKey"), "documents": {}}
            self.indexes[uid]["settings"] = {}
        elif kind == "indexSwap":
            for pair in payload:
                missing = [name for name in pair["indexes"] if name not in self.indexes]
                if missing:
                    return _task_error(f"Index `{missing[0]}` not found.", "index_not_found")
            if self.on_swap is not None:
                for pair in payload:
                    self.on_swap(pair["indexes"])
            for pair in payload:
                first, second = pair["indexes"]
                self.indexes[first], self.indexes[second] = (
                    self.indexes[second],
                    self.indexes[first],
                )
        elif kind == "indexDeletion":
            if uid not in self.indexes:
                return _task_error(f"Index `{uid}` not found.", "index_not_found")
            del self.indexes[uid]
        elif kind == "settingsUpdate":
            self.indexes[uid]["settings"].update(payload)
        elif kind == "documentAdditionOrUpdate":
            key = self.indexes[uid]["primaryKey"]
            for document in payload:
                self.indexes[uid]["documents"][document[key]] = document
        return None

    def _index_object(self, uid: str) -> dict[str, Any]:
        return {
            "uid": uid,
            "createdAt": ENQUEUED_AT,
            "updatedAt": ENQUEUED_AT,
            "primaryKey": self.indexes[uid]["primaryKey"],
        }


def task_error(message: str, code: str) -> dict[str, str]:
    """A failed task's ``error`` object, as Meilisearch documents it."""
    return _task_error(message, code)


def _task_error(message: str, code: str) -> dict[str, str]:
    return {
        "message": message,
        "code": code,
        "type": "invalid_request",
        "link": f"https://docs.meilisearch.com/errors#{code}",
    }


def _index_not_found(uid: str) -> Response:
    return _json(
        {
            "message": f"Index `{uid}` not found.",
            "code": "index_not_found",
            "type": "invalid_request",
            "link": "https://docs.meilisearch.com/errors#index_not_found",
        },
        404,
    )


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
