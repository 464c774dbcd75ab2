"""Schemathesis over /openapi.json against a live server: no 5xx, responses match the schema.

Every operation gets a bounded number of valid and of invalid generated requests (hypothesis drives
schemathesis' strategies directly; its pytest plugin does not support pytest 9).
"""

from __future__ import annotations

import itertools

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 25
# uvicorn (httptools) answers 400 itself, before the app, to a request line longer than
# about 64 KiB: a generated 8,000-character cursor of 4-byte characters is 96 KiB encoded
SERVER_REQUEST_LINE_LIMIT = 60 * 1024
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_generated_requests_get_no_server_error_and_documented_responses(live_server):
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.path for operation in operations} >= {
        "/movies",
        "/movies/{movie_id}",
        "/movies/trending",
        "/movies/{movie_id}/recommendations",
        "/analytics/top-genres",
        "/analytics/genre-stats",
        "/analytics/ratings-by-decade",
        "/health",
    }
    statuses: set[int] = set()
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case) -> None:
            response = case.call()
            if len(response.request.url) > SERVER_REQUEST_LINE_LIMIT:
                assert response.status_code == 400, response.request.url[:200]
                return
            case.validate_response(response, checks=CHECKS)
            statuses.add(response.status_code)

        try:
            exercise()
        except Unsatisfiable:
            # An operation without parameters has no invalid requests to generate.
            assert mode is GenerationMode.NEGATIVE, operation.label
    assert 200 in statuses and 422 in statuses
