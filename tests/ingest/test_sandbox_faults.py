"""Faults on demand: each kind happens, at about the requested rate, and is counted."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import orjson
import pytest

from ingest.sandbox import Faults, Sandbox
from ingest.sandbox.faults import parse_faults
from moviemetric.errors import MovieMetricError


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(movies=300, seed=2, catalog_date=date(2026, 1, 20)) as running:
        yield running


@pytest.fixture
def client(sandbox):
    sandbox.set_faults(Faults())
    sandbox.reset_counts()
    with httpx.Client(base_url=sandbox.base_url, params={"api_key": sandbox.api_key}) as http:
        yield http
    sandbox.set_faults(Faults())


def statuses(client: httpx.Client, requests: int, path: str = "/movie/changes") -> list[int]:
    return [client.get(path).status_code for _ in range(requests)]


def test_no_faults_by_default(sandbox, client):
    assert set(statuses(client, 50)) == {200}
    assert sum(sandbox.fault_counts.values()) == 0


def test_every_nth_request_is_rate_limited(sandbox, client):
    sandbox.set_faults(Faults(rate_limit_burst=5))
    responses = [client.get("/genre/movie/list") for _ in range(40)]
    limited = [r for r in responses if r.status_code == 429]
    assert [i for i, r in enumerate(responses) if r.status_code == 429] == list(range(4, 40, 5))
    for response in limited:
        assert response.headers["retry-after"] == "1"
        body = response.json()
        assert body["status_code"] == 25
        assert "over the allowed limit of (40)" in body["status_message"]
    assert sandbox.fault_counts["rate_limit"] == 8
    assert sandbox.request_counts["/genre/movie/list"] == 40


def test_requests_over_the_per_second_limit_are_rate_limited(sandbox, client):
    sandbox.set_faults(Faults(rate_limit_per_second=3))
    codes = statuses(client, 60)
    assert 429 in codes and 200 in codes
    assert sandbox.fault_counts["rate_limit"] == codes.count(429)


def test_server_errors_at_the_requested_rate(sandbox, client):
    sandbox.set_faults(Faults(seed=1, server_error_rate=0.2))
    responses = [client.get("/discover/movie") for _ in range(400)]
    errors = [r for r in responses if r.status_code >= 500]
    assert 0.13 < len(errors) / len(responses) < 0.27
    assert {r.status_code for r in errors} == {500, 502, 503}
    assert {r.status_code for r in responses if r.status_code < 500} == {200}
    assert sandbox.fault_counts["server_error"] == len(errors)
    assert next(r for r in errors if r.status_code == 503).json()["status_code"] == 9


def test_malformed_bodies_at_the_requested_rate(sandbox, client):
    sandbox.set_faults(Faults(seed=3, malformed_rate=0.25))
    broken = 0
    for _ in range(300):
        response = client.get("/discover/movie")
        assert response.status_code == 200
        try:
            orjson.loads(response.content)
        except orjson.JSONDecodeError:
            broken += 1
    assert 0.17 < broken / 300 < 0.33
    assert sandbox.fault_counts["malformed"] == broken


def test_slow_responses_at_the_requested_rate(sandbox):
    """Slow responses outlast a client timeout that every other response meets."""
    sandbox.set_faults(Faults(seed=4, slow_rate=0.2, slow_seconds=4.0))
    sandbox.reset_counts()

    async def fetch_all() -> list[bool]:
        async with httpx.AsyncClient(
            base_url=sandbox.base_url, params={"api_key": sandbox.api_key}, timeout=2.0
        ) as http:

            async def timed_out() -> bool:
                try:
                    await http.get("/genre/movie/list")
                except httpx.ReadTimeout:
                    return True
                return False

            return await asyncio.gather(*(timed_out() for _ in range(60)))

    try:
        outcomes = asyncio.run(fetch_all())
    finally:
        sandbox.set_faults(Faults())
    assert 4 <= sum(outcomes) <= 22
    assert sandbox.fault_counts["slow"] == sum(outcomes)


def test_faults_are_deterministic_given_a_seed(sandbox, client):
    faults = Faults(seed=8, server_error_rate=0.3, malformed_rate=0.1)
    sandbox.set_faults(faults)
    first = [
        (r.status_code, len(r.content))
        for r in (client.get("/genre/movie/list") for _ in range(60))
    ]
    sandbox.set_faults(faults)
    second = [
        (r.status_code, len(r.content))
        for r in (client.get("/genre/movie/list") for _ in range(60))
    ]
    assert first == second
    assert len({status for status, _ in first}) > 1


def test_faults_can_be_switched_off_at_runtime(sandbox, client):
    sandbox.set_faults(Faults(server_error_rate=1.0))
    assert set(statuses(client, 10)) <= {500, 502, 503}
    sandbox.set_faults(Faults())
    assert set(statuses(client, 10)) == {200}


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"server_error_rate": 1.5}, "server_error_rate"),
        ({"malformed_rate": -0.1}, "malformed_rate"),
        ({"rate_limit_burst": 0}, "rate_limit_burst"),
        ({"slow_seconds": -1}, "slow_seconds"),
        ({"rate_limit_rate": 2}, "rate_limit_rate"),
        ({"routes": ("movie",)}, "routes"),
    ],
)
def test_bad_fault_settings_are_refused_naming_the_field(arguments, named):
    with pytest.raises(MovieMetricError, match=named):
        Faults(**arguments)


def test_bad_gateway_is_an_html_page_like_a_real_proxy(sandbox, client):
    sandbox.set_faults(Faults(seed=5, server_error_rate=1.0))
    responses = [client.get("/genre/movie/list") for _ in range(30)]
    bad_gateway = [r for r in responses if r.status_code == 502]
    assert bad_gateway
    assert all(r.headers["content-type"] == "text/html" for r in bad_gateway)
    assert all(r.text.startswith("<html>") for r in bad_gateway)
    others = [r for r in responses if r.status_code != 502]
    assert all(r.headers["content-type"].startswith("application/json") for r in others)


def test_a_share_of_requests_is_rate_limited(sandbox, client):
    sandbox.set_faults(Faults(seed=2, rate_limit_rate=0.25))
    responses = [client.get("/genre/movie/list") for _ in range(400)]
    limited = [r for r in responses if r.status_code == 429]
    assert 0.17 < len(limited) / len(responses) < 0.33
    assert all(r.headers["retry-after"] == "1" for r in limited)
    assert {r.status_code for r in responses} == {200, 429}
    assert sandbox.fault_counts["rate_limit"] == len(limited)


def test_a_rate_limit_share_leaves_the_other_faults_of_a_seed_as_they_were(sandbox, client):
    sandbox.set_faults(Faults(seed=8, server_error_rate=0.3))
    alone = statuses(client, 80, "/genre/movie/list")
    sandbox.set_faults(Faults(seed=8, server_error_rate=0.3, rate_limit_rate=0.3))
    with_limits = statuses(client, 80, "/genre/movie/list")
    assert 429 in with_limits
    assert [a for a, b in zip(alone, with_limits, strict=True) if b != 429] == [
        b for b in with_limits if b != 429
    ]


def test_faults_can_be_narrowed_to_some_routes(sandbox, client):
    sandbox.set_faults(Faults(server_error_rate=1.0, routes=("/movie/{movie_id}",)))
    movie_id = client.get("/discover/movie").json()["results"][0]["id"]
    assert set(statuses(client, 10, "/genre/movie/list")) == {200}
    assert set(statuses(client, 10, f"/movie/{movie_id}")) <= {500, 502, 503}
    assert sandbox.fault_counts["server_error"] == 10


def test_a_faults_spec_reads_back_what_it_says():
    faults = parse_faults("rate_limit=0.1, server_error=0.2,slow=0.05,malformed=0.02,seed=3")
    assert faults == Faults(
        seed=3, rate_limit_rate=0.1, server_error_rate=0.2, slow_rate=0.05, malformed_rate=0.02
    )
    other = parse_faults("rate_limit_every=7,rate_limit_per_second=40,slow=1,slow_seconds=2.5")
    assert (other.rate_limit_burst, other.rate_limit_per_second) == (7, 40)
    assert other.slow_seconds == 2.5 and other.seed == 0
    for spec in (faults, other):
        assert parse_faults(spec.spec()) == spec
    assert Faults().spec() == ""
