"""The published numbers, recomputed in Python from the same raw rows.

Each expectation is computed here from the hand-made raw catalog, independently
of the SQL: exact decimals for the aggregates, the documented formula for trending.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tests.warehouse.raw_fixture import GENRES

MIN_VOTES = 10
TOP_N = 100
TOP_K = 10
MOMENTUM_CAP = 2
NEW_RELEASE_WINDOW_DAYS = 30


def _pg_numeric(value: float) -> Fraction:
    """float8 -> numeric as PostgreSQL casts it (15 significant digits)."""
    return Fraction(Decimal(f"{value:.15g}"))


def _round3(value: Fraction | None) -> Decimal | None:
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _mean(values: list[Fraction]) -> Fraction | None:
    return sum(values, Fraction(0)) / len(values) if values else None


def _catalog_movies(catalog) -> list[dict]:
    """Movies neither adult nor removed (a movie with snapshots but none on the newest
    export day left the export)."""
    latest_day = max(row["snapshot_date"] for row in catalog.snapshots)
    snapshot_days: dict[int, set[date]] = defaultdict(set)
    for row in catalog.snapshots:
        snapshot_days[row["id"]].add(row["snapshot_date"])
    return [
        movie
        for movie in catalog.movies
        if not movie["adult"]
        and (not snapshot_days[movie["id"]] or latest_day in snapshot_days[movie["id"]])
    ]


def _release_date(movie: dict) -> date | None:
    return date.fromisoformat(movie["release_date"]) if movie["release_date"] else None


def _with_current_votes(catalog) -> list[dict]:
    """Catalog movies with vote_average and vote_count of their latest snapshot.

    dim_movies takes them from the newest snapshot (details are re-fetched only for
    changed movies); a movie without a snapshot keeps its details' values.
    """
    latest: dict[int, dict] = {}
    for row in sorted(catalog.snapshots, key=lambda row: row["snapshot_date"]):
        latest[row["id"]] = row
    current = []
    for movie in _catalog_movies(catalog):
        snapshot = latest.get(movie["id"], movie)
        current.append(
            {
                **movie,
                "vote_average": snapshot["vote_average"],
                "vote_count": snapshot["vote_count"],
            }
        )
    return current


def test_ratings_by_decade_match_python(published_warehouse):
    decades: dict[int, list[dict]] = defaultdict(list)
    current_movies = _with_current_votes(published_warehouse.catalog)
    # some fixture movies have newer votes in their latest snapshot than in their details
    assert any(
        movie["vote_count"] != details["vote_count"]
        for movie, details in zip(
            current_movies, _catalog_movies(published_warehouse.catalog), strict=True
        )
    )
    for movie in current_movies:
        released = _release_date(movie)
        if released is not None:
            decades[released.year // 10 * 10].append(movie)
    expected = []
    for decade, movies in sorted(decades.items()):
        rated = [movie for movie in movies if movie["vote_count"] >= MIN_VOTES]
        rated_votes = sum(movie["vote_count"] for movie in rated)
        weighted = (
            sum(_pg_numeric(movie["vote_average"]) * movie["vote_count"] for movie in rated)
            / rated_votes
            if rated_votes
            else None
        )
        expected.append(
            (
                decade,
                len(movies),
                len(rated),
                _round3(_mean([_pg_numeric(movie["vote_average"]) for movie in rated])),
                _round3(weighted),
                sum(movie["vote_count"] for movie in movies),
            )
        )

    published = published_warehouse.query(
        "select decade, movie_count, rated_movie_count, avg_rating, weighted_rating, total_votes"
        " from artifacts.ratings_by_decade order by decade"
    )

    assert len(expected) >= 8  # the fixture spans 1930..2026
    assert published == expected


def test_genre_stats_daily_match_python(published_warehouse):
    catalog = published_warehouse.catalog
    movies = {movie["id"]: movie for movie in _catalog_movies(catalog)}
    snapshots: dict[int, list[dict]] = defaultdict(list)
    for row in sorted(catalog.snapshots, key=lambda row: row["snapshot_date"]):
        if row["id"] in movies:
            snapshots[row["id"]].append(row)
    stat_dates = sorted({row["snapshot_date"] for row in catalog.snapshots})

    expected = []
    for stat_date in stat_dates:
        # each movie as of its latest snapshot on or before the day
        state = {
            movie_id: [row for row in rows if row["snapshot_date"] <= stat_date][-1]
            for movie_id, rows in snapshots.items()
            if rows[0]["snapshot_date"] <= stat_date
        }
        for genre_id, genre_name in GENRES.items():
            members = [
                movie_id
                for movie_id in state
                if genre_id in {genre["id"] for genre in movies[movie_id]["genres"]}
            ]
            rated = [m for m in members if state[m]["vote_count"] >= MIN_VOTES]
            released = [_release_date(movies[m]) for m in members]
            window_start = stat_date - timedelta(days=NEW_RELEASE_WINDOW_DAYS)
            expected.append(
                (
                    stat_date,
                    genre_id,
                    genre_name,
                    len(members),
                    len(rated),
                    _round3(_mean([_pg_numeric(state[m]["vote_average"]) for m in rated])),
                    sum(state[m]["vote_count"] for m in members),
                    _round3(_mean([_pg_numeric(state[m]["popularity"]) for m in members])),
                    sum(1 for day in released if day and window_start < day <= stat_date),
                )
            )

    published = published_warehouse.query(
        "select stat_date, genre_id, genre_name, movie_count, rated_movie_count, avg_rating,"
        " total_votes, avg_popularity, new_release_count"
        " from artifacts.genre_stats_daily order by stat_date, genre_id"
    )

    expected.sort(key=lambda row: (row[0], row[1]))
    assert len(published) == len(stat_dates) * len(GENRES)
    assert sum(row[8] for row in expected) > 0  # the fixture has new releases
    assert published == expected


def _python_trending(catalog) -> dict[date, list[tuple[int, float]]]:
    """movie_trending_daily from the documented formula: {day: [(movie_id, score)] ranked}."""
    movies = {movie["id"] for movie in _catalog_movies(catalog)}
    by_movie: dict[int, dict[date, float]] = defaultdict(dict)
    for row in catalog.snapshots:
        if row["id"] in movies:
            by_movie[row["id"]][row["snapshot_date"]] = row["popularity"]
    scored: dict[date, list[tuple[float, int]]] = defaultdict(list)
    for movie_id, days in by_movie.items():
        for day, popularity in days.items():
            history = [
                days[day - timedelta(days=back)]
                for back in range(1, 8)
                if day - timedelta(days=back) in days
            ]
            average = sum(history) / len(history) if history else None
            momentum = popularity / average - 1 if average else 0.0
            score = math.log(1 + popularity) * (1 + min(max(momentum, -1), MOMENTUM_CAP))
            scored[day].append((score, movie_id))
    return {
        day: [(movie_id, score) for score, movie_id in sorted(rows, key=lambda r: (-r[0], r[1]))][
            :TOP_N
        ]
        for day, rows in scored.items()
    }


def test_trending_ranks_match_python_formula(published_warehouse):
    expected = _python_trending(published_warehouse.catalog)
    rows = published_warehouse.query(
        "select trend_date, movie_id, rank, score from artifacts.movie_trending_daily"
        " order by trend_date, rank"
    )
    published: dict[date, list[tuple[int, float]]] = defaultdict(list)
    for trend_date, movie_id, rank, score in rows:
        assert rank == len(published[trend_date]) + 1
        published[trend_date].append((movie_id, score))

    assert sorted(published) == sorted(expected)
    for day, ranking in expected.items():
        assert [movie_id for movie_id, _ in published[day]] == [m for m, _ in ranking], day
        for (_, sql_score), (_, python_score) in zip(published[day], ranking, strict=True):
            assert math.isclose(sql_score, python_score, rel_tol=1e-9)


def test_recommendations_are_top_k_shared_features_never_self(published_warehouse):
    catalog = published_warehouse.catalog
    movies = {movie["id"]: movie for movie in _catalog_movies(catalog)}
    rows = published_warehouse.query(
        "select movie_id, recommended_movie_id, rank, score, reason,"
        " shared_genre_count, shared_keyword_count"
        " from artifacts.movie_recommendations order by movie_id, rank"
    )
    per_movie: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        per_movie[row[0]].append(row)

    with_features = [m for m in movies.values() if m["genres"] or m["keywords"]]
    assert len(per_movie) >= 0.9 * len(with_features)
    for movie_id, recommendations in per_movie.items():
        assert movie_id in movies  # adult movies get none
        assert [row[2] for row in recommendations] == list(range(1, len(recommendations) + 1))
        assert len(recommendations) <= TOP_K
        # by score, except that a candidate without genres or votes (score 0) never
        # outranks one with both
        order = [(bool(movies[row[1]]["genres"]) and row[3] > 0, row[3]) for row in recommendations]
        assert order == sorted(order, reverse=True)
        own = movies[movie_id]
        for _, other_id, _, score, reason, genre_count, keyword_count in recommendations:
            assert other_id != movie_id
            assert other_id in movies  # adult movies are never recommended
            assert 0 <= score <= 1
            other = movies[other_id]
            shared_genres = {g["name"] for g in own["genres"]} & {
                g["name"] for g in other["genres"]
            }
            shared_keywords = {k["name"] for k in own["keywords"]} & {
                k["name"] for k in other["keywords"]
            }
            assert (genre_count, keyword_count) == (len(shared_genres), len(shared_keywords))
            if shared_genres:
                listed = reason.split("shared genres: ")[1].split(";")[0].split(", ")
                assert set(listed) == shared_genres
            if shared_keywords:
                listed = reason.split("shared keywords: ")[1].split(";")[0].split(", ")
                assert set(listed) <= shared_keywords
                assert len(listed) == min(5, len(shared_keywords))


def test_movie_catalog_covers_the_catalog(published_warehouse):
    catalog = published_warehouse.catalog
    expected = {
        movie["id"]: (
            [genre["id"] for genre in movie["genres"]],
            [GENRES[genre["id"]] for genre in movie["genres"]],
            [keyword["name"] for keyword in movie["keywords"]],
            _release_date(movie),
            movie["runtime"] or None,
        )
        for movie in _catalog_movies(catalog)
    }
    rows = published_warehouse.query(
        "select movie_id, genre_ids, genres, keywords, release_date, runtime"
        " from artifacts.movie_catalog"
    )
    assert {row[0]: tuple(row[1:]) for row in rows} == expected

    # movies that left the ID export keep their details and history, out of the catalog
    removed = {
        movie["id"]
        for movie in catalog.movies
        if not movie["adult"] and movie["id"] not in expected
    }
    assert removed, "the fixture has movies that left the export"
    kept = published_warehouse.query(
        "select movie_id from marts.dim_movies where is_removed and not is_in_catalog"
    )
    assert {movie_id for (movie_id,) in kept} == removed


SEARCH_DOCUMENT_COLUMNS = (
    "movie_id",
    "title",
    "original_title",
    "overview",
    "genres",
    "keywords",
    "release_date",
    "release_year",
    "release_decade",
    "original_language",
    "vote_average",
    "vote_count",
    "popularity",
)


def test_search_documents_hold_the_index_fields_of_every_catalog_movie(published_warehouse):
    """Only what the search index uses, and the same values as movie_catalog."""
    columns = published_warehouse.query(
        "select column_name from information_schema.columns"
        " where table_schema = 'artifacts' and table_name = 'search_documents'"
        " order by ordinal_position"
    )
    assert tuple(column for (column,) in columns) == SEARCH_DOCUMENT_COLUMNS
    shared = ", ".join(column for column in SEARCH_DOCUMENT_COLUMNS if column != "release_decade")
    catalog = {
        row[0]: row
        for row in published_warehouse.query(f"select {shared} from artifacts.movie_catalog")
    }
    documents = published_warehouse.query(
        f"select {', '.join(SEARCH_DOCUMENT_COLUMNS)} from artifacts.search_documents"
    )
    assert {row[0] for row in documents} == set(catalog)
    decade = SEARCH_DOCUMENT_COLUMNS.index("release_decade")
    for row in documents:
        assert row[:decade] + row[decade + 1 :] == catalog[row[0]]
        release_date = row[SEARCH_DOCUMENT_COLUMNS.index("release_date")]
        assert row[decade] == (release_date.year // 10 * 10 if release_date else None)
