"""Bad parameters get a 422 whose detail names the parameter; unknown paths a 404;
an unexpected failure a JSON 500 that reveals nothing of the code."""

from __future__ import annotations

import pytest

from api.main import create_app
from tests.api.conftest import running

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/movies", {"limit": 101}, "limit"),
        ("/movies", {"limit": 0}, "limit"),
        ("/movies", {"offset": -1}, "offset"),
        ("/movies", {"year": "nineteen"}, "year"),
        ("/movies", {"min_rating": 11}, "min_rating"),
        ("/movies", {"min_rating": "nan"}, "min_rating"),
        ("/movies", {"sort": "budget"}, "sort"),
        ("/movies", {"genre": "dra\x00ma"}, "genre"),
        ("/movies/trending", {"date": "2026-13-01"}, "date"),
        ("/movies/trending", {"limit": 500}, "limit"),
        ("/analytics/top-genres", {"sort": "-movie_count"}, "sort"),
        ("/movies/abc", {}, "movie_id"),
        ("/movies/0", {}, "movie_id"),
        ("/movies/99999999999999999999999", {}, "movie_id"),
        ("/movies/12/recommendations", {"limit": "many"}, "limit"),
    ],
)
async def test_bad_parameter_is_422_naming_it(client, path, params, parameter):
    response = await client.get(path, params=params)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [error["loc"][-1] for error in errors] == [parameter]
    assert errors[0]["msg"]


@pytest.mark.parametrize("genre", ["²", "١٨", "99999999999999999999"])
async def test_genre_that_is_not_an_ascii_id_is_a_name_matching_nothing(client, genre):
    """Unicode digits ("²" passes str.isdigit) and ids beyond a bigint are genre names:
    like any unknown name they are a 422 naming `genre`, not a server error."""
    response = await client.get("/movies", params={"genre": genre})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "genre"] and "known genres: Action" in error["msg"]


async def test_unknown_path_is_json_404(client):
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("path", ["/movies/explode/now", "/analytics/explode"])
async def test_unexpected_error_is_json_500_without_internals(api_settings, path):
    app = create_app(api_settings)

    async def explode() -> None:
        raise RuntimeError("secret internals at /srv/app.py line 42")

    app.add_api_route(path, explode)
    async with running(app, raise_app_exceptions=False) as client:
        response = await client.get(path)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "secret" not in response.text and "Traceback" not in response.text
