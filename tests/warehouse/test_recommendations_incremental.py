"""Recommendations rebuilt at the cost of what changed (int_movie_recommendation_lists,
a view over its two incremental parts).

A daily build rescores only the movies whose recommendation content changed and the
movies whose lists they can touch; every other row stays as it was, also when the two
parts of the lists are built on different runs. With the frozen
terms (idf, pools, priors) kept, a full rebuild of the lists on the same day gives
the same table, and the same published recommendations; and a full rebuild of the
per-movie models they read (features, content, pool partners; incremental by movie)
gives the same rows as the daily path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ingest.sandbox import Sandbox
from moviemetric.steps import StepOptions
from moviemetric.warehouse import open_warehouse
from tests.sandbox_loads import load_sandbox
from tests.warehouse.conftest import warehouse_settings
from transform import run_transform

MOVIES, SEED, DAY = 2000, 11, date(2026, 3, 10)
# the incremental tables behind the view int_movie_recommendation_lists
LIST_PARTS = ("int_movie_recommendation_lists_part_0", "int_movie_recommendation_lists_part_1")

# A row is (exact columns, float columns). The floats are compared to 1e-9: a movie's
# norms are sums rebuilt each day in whatever order the plan adds them, so a list kept
# from yesterday and the same list rescored today can differ in the last bits.
LIST_COLUMNS = (
    "(movie_id, recommended_movie_id, list_rank, same_collection, has_genres, "
    "has_evidence, shared_genre_count, shared_keyword_count, shared_person_count, reason, "
    "content_hash, recommended_content_hash), array[selection_score, genre_similarity, "
    "keyword_similarity, "
    "people_similarity, year_proximity]"
)
PUBLISHED_COLUMNS = "(movie_id, recommended_movie_id, rank, reason), array[score::float8]"
# the per-movie incremental models the lists read, each (table, columns, order)
PER_MOVIE_MODELS = (
    (
        "int_movie_features",
        "(movie_id, feature_type, feature_id, feature_name, loaded_at), array[]::float8[]",
        "movie_id, feature_type, feature_id",
    ),
    (
        "int_movie_recommendation_content",
        "(movie_id, release_year, genre_mask, genre_count, collection_id, feature_keys, "
        "feature_names, content_hash, loaded_at), "
        "array[keyword_norm, people_norm] || feature_idfs",
        "movie_id",
    ),
    (
        "int_recommendation_pool_partners",
        "(feature_type, feature_id, feature_key, recommended_movie_id, genre_mask, genre_count, "
        "release_year, has_genres, has_evidence, loaded_at), "
        "array[keyword_norm, people_norm, frozen_prior]",
        "feature_type, feature_id, recommended_movie_id",
    ),
)


Table = tuple[list[tuple], list[float | None]]


def _split(rows: list[tuple]) -> Table:
    """Exact columns (with where the floats are null) apart from the non-null floats."""
    return [(exact, tuple(value is None for value in floats)) for exact, floats in rows], [
        value for _exact, floats in rows for value in floats if value is not None
    ]


def assert_same(table: Table, expected: Table) -> None:
    """The exact columns equal, the floats within 1e-9."""
    assert table[0] == expected[0]
    assert table[1] == pytest.approx(expected[1], rel=0, abs=1e-9)


def _rows(url: str, statement: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement).fetchall()


def _lists(url: str) -> Table:
    return _split(
        _rows(
            url,
            f"select {LIST_COLUMNS} from intermediate.int_movie_recommendation_lists "
            "order by movie_id, list_rank",
        )
    )


def _published(url: str) -> Table:
    return _split(
        _rows(
            url,
            f"select {PUBLISHED_COLUMNS} from artifacts.movie_recommendations "
            "order by movie_id, rank",
        )
    )


def _per_movie_tables(url: str) -> dict[str, Table]:
    return {
        table: _split(_rows(url, f"select {columns} from intermediate.{table} order by {order}"))
        for table, columns, order in PER_MOVIE_MODELS
    }


def _row_versions(url: str) -> dict[tuple[int, int], str]:
    """(movie, list rank) -> the transaction that wrote the row (xmin) in its part."""
    rows = _rows(
        url,
        " union all ".join(
            f"select movie_id, list_rank, xmin::text from intermediate.{part}"
            for part in LIST_PARTS
        ),
    )
    return {(movie, rank): xmin for movie, rank, xmin in rows}


def _content_hashes(url: str) -> dict[int, str]:
    rows = _rows(
        url, "select movie_id, content_hash from intermediate.int_movie_recommendation_content"
    )
    return dict(rows)


def test_a_daily_build_rescores_what_changed_and_agrees_with_a_full_rebuild(
    make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = make_database()
    warehouse = open_warehouse(warehouse_settings(url, tmp_path / "home"))
    with Sandbox(movies=MOVIES, seed=SEED, catalog_date=DAY) as sandbox:
        load_sandbox(monkeypatch, sandbox, url, tmp_path / "home")
        run_transform(warehouse)
        before_versions, before_hashes = _row_versions(url), _content_hashes(url)
        sandbox.advance(days=1)
        load_sandbox(monkeypatch, sandbox, url, tmp_path / "home")
    # the day's build first for part 0 alone (with what it reads and what reads it),
    # then the whole build: part 1 must still see the movies that changed in part 0's
    # run, and part 0 has nothing left to do
    run_transform(warehouse, StepOptions(select="+int_movie_recommendation_lists_part_0+"))
    run_transform(warehouse)
    incremental_lists, incremental_published = _lists(url), _published(url)
    incremental_per_movie = _per_movie_tables(url)
    after_versions, after_hashes = _row_versions(url), _content_hashes(url)

    changed = {m for m, h in after_hashes.items() if before_hashes.get(m) != h}
    rescored = {
        movie
        for (movie, rank), xmin in after_versions.items()
        if before_versions.get((movie, rank)) != xmin
    }
    kept = {movie for (movie, _rank) in after_versions} - rescored
    assert changed, "the sandbox day should change some movies' genres, keywords or dates"
    # each part holds the lists of its own movies: even ids, then odd ids
    for remainder, part in enumerate(LIST_PARTS):
        parities = _rows(url, f"select distinct movie_id % 2 from intermediate.{part}")
        assert parities == [(remainder,)], (part, parities)
    # every changed movie that has a list was rescored, and most movies were left alone
    assert changed & {movie for (movie, _rank) in after_versions} <= rescored
    assert len(rescored) < 0.5 * len(after_hashes), (len(rescored), len(after_hashes))
    assert kept, "an incremental build rewrote every list"

    # the same day rebuilt in full, with the frozen terms (idf and genre bits, pools,
    # priors: not selected) kept as they are
    per_movie = " ".join(table for table, _columns, _order in PER_MOVIE_MODELS)
    run_transform(
        warehouse,
        StepOptions(full_refresh=True, select=f"{per_movie} tag:recommendation_lists+"),
    )
    for table, rows in _per_movie_tables(url).items():
        assert rows[0], table
        assert_same(rows, incremental_per_movie[table])
    assert_same(_lists(url), incremental_lists)
    assert_same(_published(url), incremental_published)
