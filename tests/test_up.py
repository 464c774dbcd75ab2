"""`moviemetric up`'s own pieces: the admin token it keeps, its settings, its search example.

The whole command runs end to end in tests/e2e/test_up.py.
"""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from moviemetric.config import Settings, get_settings
from moviemetric.steps import NullSink
from moviemetric.up import (
    SANDBOX_DAYS,
    UP_SANDBOX_MOVIES,
    admin_token,
    first_run,
    title_word,
    up_settings,
)
from moviemetric.warehouse import Warehouse


def test_the_admin_token_is_made_once_and_only_its_owner_can_read_it():
    settings = get_settings()
    token = admin_token(settings)
    path = settings.home_dir / "admin-token"

    assert len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert admin_token(settings) == token  # a restart keeps it

    path.chmod(0o644)
    assert admin_token(settings) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_moviemetric_admin_token_wins_and_is_not_written(monkeypatch):
    monkeypatch.setenv("MOVIEMETRIC_ADMIN_TOKEN", "chosen-by-the-operator")
    get_settings.cache_clear()
    settings = up_settings(get_settings())

    assert settings.admin_token.get_secret_value() == "chosen-by-the-operator"
    assert not (settings.home_dir / "admin-token").exists()


def test_up_loads_a_smaller_sandbox_unless_its_size_is_set(monkeypatch):
    assert up_settings(get_settings()).sandbox_movies == UP_SANDBOX_MOVIES
    monkeypatch.setenv("MOVIEMETRIC_SANDBOX_MOVIES", "1234")
    assert up_settings(Settings()).sandbox_movies == 1234


def test_the_search_example_is_the_longest_word_of_the_title():
    assert title_word("The Burning Mirror 2") == "Burning"
    assert title_word("Love & War: 1999") == "Love"
    assert title_word("") == "movie"


TMDB_ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB"


def test_the_readme_and_the_api_docs_carry_tmdb_s_attribution():
    from api import create_app

    readme = (get_settings().dbt_project_dir.parent / "README.md").read_text()
    schema = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none")).openapi()

    assert TMDB_ATTRIBUTION in " ".join(readme.split())
    assert TMDB_ATTRIBUTION in " ".join(schema["info"]["description"].split())


def _record_chains(monkeypatch) -> list[tuple[str, tuple[str, ...], str]]:
    """Replace the chain: each call records (TMDB base URL, steps, the source's date)."""
    import httpx

    import scheduler

    calls: list[tuple[str, tuple[str, ...], str]] = []

    def run_chain(warehouse, *, steps, sink, on_step):
        settings = warehouse.settings
        served = ""
        if settings.tmdb_api_key is not None:
            response = httpx.get(
                f"{settings.tmdb_base_url}/genre/movie/list",
                params={"api_key": settings.tmdb_api_key.get_secret_value()},
                timeout=10,
            )
            served = response.headers["date"]
        calls.append((settings.tmdb_base_url, steps, served))
        return []

    monkeypatch.setattr(scheduler, "run_chain", run_chain)
    return calls


def _warehouse(settings: Settings) -> Warehouse:
    return Warehouse(url="postgresql://nobody@127.0.0.1:1/none", settings=settings, embedded=False)


def test_without_a_tmdb_key_the_first_run_loads_the_sandbox_day_by_day_over_8_days(monkeypatch):
    import scheduler

    calls = _record_chains(monkeypatch)
    monkeypatch.setenv("MOVIEMETRIC_SANDBOX_MOVIES", "100")
    first_run(_warehouse(up_settings(Settings())), NullSink(), echo=lambda line: None)

    assert len(calls) == SANDBOX_DAYS == 8
    assert [steps for _, steps, _ in calls] == [("load",)] * 7 + [tuple(scheduler.STEPS)]
    served_days = [parsedate_to_datetime(served).date() for _, _, served in calls]
    today = datetime.now(UTC).date()
    assert served_days == [today - timedelta(days=7 - day) for day in range(8)]
    assert len({base_url for base_url, _, _ in calls}) == 1  # one sandbox, advanced daily


def test_with_a_tmdb_key_the_first_run_is_one_chain_from_tmdb(monkeypatch):
    import scheduler

    calls = _record_chains(monkeypatch)
    monkeypatch.setenv("TMDB_ACCESS_TOKEN", "a-real-read-token")
    first_run(_warehouse(up_settings(Settings())), NullSink(), echo=lambda line: None)

    assert calls == [("https://api.themoviedb.org/3", tuple(scheduler.STEPS), "")]
