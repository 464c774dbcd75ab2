"""The generated catalog: deterministic, realistic in shape, and a pure function of the day."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest

from ingest.sandbox import Catalog
from ingest.sandbox.catalog import DAILY_FIELDS, day_of
from moviemetric.errors import MovieMetricError

DAY = date(2026, 3, 1)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(5000, seed=11)


@pytest.fixture(scope="module")
def movies(catalog) -> list[dict]:
    return catalog.movies_on(DAY)


def test_same_seed_and_size_give_the_same_catalog():
    first, second = Catalog(300, seed=5), Catalog(300, seed=5)
    assert first.movies_on(DAY) == second.movies_on(DAY)
    assert first.changed_ids(DAY, DAY) == second.changed_ids(DAY, DAY)


def test_another_seed_or_size_gives_another_catalog():
    base = Catalog(300, seed=5).movies_on(DAY)
    assert Catalog(300, seed=6).movies_on(DAY) != base
    assert Catalog(400, seed=5).movies_on(DAY)[:300] != base


def test_any_day_is_computed_without_history():
    """A catalog asked for day D directly says the same as one that walked there."""
    walked = Catalog(300, seed=9)
    for offset in range(10):
        walked.day_state(day_of(DAY) + offset)
    direct = Catalog(300, seed=9)
    later = DAY + timedelta(days=9)
    assert direct.movies_on(later) == walked.movies_on(later)


def test_ids_are_sparse_and_increasing(catalog):
    ids = catalog.columns.ids[: catalog.size]
    assert (np.diff(ids) > 0).all()
    assert ids[-1] > catalog.size * 1.15  # gaps like TMDB's deleted ids


def test_genres_have_realistic_frequencies(movies):
    counts = Counter(genre["name"] for movie in movies for genre in movie["genres"])
    ranked = [name for name, _ in counts.most_common()]
    assert ranked[:3] == ["Drama", "Comedy", "Thriller"]
    assert len(counts) == 19
    per_movie = Counter(len(movie["genres"]) for movie in movies)
    assert set(per_movie) == {0, 1, 2, 3, 4}
    assert 0.05 < per_movie[0] / len(movies) < 0.25


def test_titles_are_multilingual(movies):
    foreign = [movie for movie in movies if movie["original_language"] != "en"]
    assert 0.3 < len(foreign) / len(movies) < 0.6
    assert all(movie["original_title"] != movie["title"] for movie in foreign)
    languages = {movie["original_language"] for movie in movies}
    assert {"ja", "ko", "ru", "fr", "de", "es"} <= languages
    assert any(
        not movie["original_title"].isascii()
        for movie in movies
        if movie["original_language"] == "ja"
    )
    assert any(
        not movie["original_title"].isascii()
        for movie in movies
        if movie["original_language"] == "fr"
    )


def test_numbers_are_heavy_tailed_and_consistent(movies):
    popularity = np.array([movie["popularity"] for movie in movies])
    votes = np.array([movie["vote_count"] for movie in movies])
    assert popularity.max() > 20 * np.median(popularity)
    assert votes.max() > 100 * max(np.median(votes), 1)
    assert all(movie["vote_average"] == 0 for movie in movies if movie["vote_count"] == 0)
    rated = [movie["vote_average"] for movie in movies if movie["vote_count"] > 0]
    assert min(rated) > 0 and max(rated) <= 10
    assert sum(movie["budget"] == 0 for movie in movies) / len(movies) > 0.8
    assert any(movie["runtime"] is None for movie in movies)
    assert any(movie["runtime"] == 0 for movie in movies)


def test_dates_cover_a_century_with_gaps_and_future_releases(movies):
    dates = [movie["release_date"] for movie in movies]
    missing = sum(1 for value in dates if not value)
    assert 0.01 < missing / len(dates) < 0.06
    assert None in dates and "" in dates
    years = [int(value[:4]) for value in dates if value]
    assert min(years) < 1930
    assert any(value > DAY.isoformat() for value in dates if value)
    assert sum(year >= 2000 for year in years) > sum(year < 2000 for year in years)


def test_a_few_adult_titles_and_other_quirks(movies):
    adult = sum(movie["adult"] for movie in movies) / len(movies)
    assert 0.003 < adult < 0.03
    assert any(movie["imdb_id"] is None for movie in movies)
    assert any(movie["poster_path"] is None for movie in movies)
    statuses = {movie["status"] for movie in movies}
    assert "Released" in statuses and len(statuses) > 1


def test_keywords_are_zipfian(movies):
    per_movie = [len(movie["keywords"]["keywords"]) for movie in movies]
    assert min(per_movie) == 0 and max(per_movie) <= 11
    counts = Counter(kw["name"] for movie in movies for kw in movie["keywords"]["keywords"])
    frequencies = sorted(counts.values(), reverse=True)
    assert len(counts) > 150
    assert frequencies[0] > 10 * frequencies[len(frequencies) // 2]
    for movie in movies[:200]:
        ids = [kw["id"] for kw in movie["keywords"]["keywords"]]
        assert len(ids) == len(set(ids))


def test_votes_never_decrease_and_popularity_drifts(catalog):
    first, later = catalog.day_state(day_of(DAY)), catalog.day_state(day_of(DAY) + 30)
    count = first.count
    assert (later.vote_count[:count] >= first.vote_count[:count]).all()
    assert (later.vote_count[:count] > first.vote_count[:count]).any()
    changed = later.popularity[:count] != first.popularity[:count]
    assert changed.mean() > 0.9


def test_new_movies_appear_each_day_after_the_epoch(catalog):
    before = catalog.movie_ids(DAY)
    after = catalog.movie_ids(DAY + timedelta(days=1))
    new = after - before
    assert before < after
    assert len(new) == catalog.new_per_day
    assert min(new) > max(before)
    assert new <= catalog.changed_ids(DAY + timedelta(days=1), DAY + timedelta(days=1))


def test_a_small_share_changes_each_day(catalog):
    day = DAY + timedelta(days=3)
    changed = catalog.changed_ids(day, day)
    assert 0.001 < len(changed) / catalog.visible_count(day_of(day)) < 0.05
    edited = [
        movie_id
        for movie_id in sorted(changed)
        if movie_id in catalog.movie_ids(day - timedelta(days=1))
    ]
    differs = 0
    before = {m["id"]: m for m in catalog.movies_on(day - timedelta(days=1))}
    after = {m["id"]: m for m in catalog.movies_on(day)}
    for movie_id in edited:
        a, b = before[movie_id], after[movie_id]
        fields = ("overview", "keywords", "runtime", "status", "vote_count")
        if any(a[name] != b[name] for name in fields):
            differs += 1
    assert differs == len(edited)


@pytest.mark.parametrize("movies", [0, 99, 1_000_001, "100"])
def test_bad_sizes_are_refused_naming_the_input(movies):
    with pytest.raises(MovieMetricError, match="movies="):
        Catalog(movies, seed=1)


def test_dates_far_beyond_the_epoch_are_refused():
    with pytest.raises(MovieMetricError, match="too far in the future"):
        Catalog(100, seed=1).day_state(day_of(date(2040, 1, 1)))


def test_popularity_walks_daily_with_occasional_spikes(catalog):
    first = day_of(DAY)
    count = catalog.size
    ratios = np.array(
        [
            catalog.day_state(day + 1).popularity[:count]
            / catalog.day_state(day).popularity[:count]
            for day in range(first, first + 20)
        ]
    )
    typical = np.median(np.abs(np.log(ratios)))
    assert 0.005 < typical < 0.1, "a small daily step"
    assert (ratios > 3).any(), "some spikes"
    assert (ratios > 3).mean() < 0.01, "spikes are occasional"


def test_weekly_trending_ranks_by_the_seven_day_mean(catalog):
    day = day_of(DAY)
    order, score = catalog.trending(day, "week")
    top = order[:50]
    count = catalog.visible_count(day)
    window = [catalog.day_state(day - lag) for lag in range(7)]
    for index in top[:10]:
        if index < count - 7 * catalog.new_per_day:
            mean = np.mean([state.popularity[index] for state in window])
            assert score[index] == pytest.approx(mean, abs=0.001)
    assert list(score[top]) == sorted(score[top], reverse=True)
    assert not catalog.columns.adult[top].any()


def test_movies_sharing_a_genre_share_keywords(movies):
    def keyword_names(movie):
        return {kw["name"] for kw in movie["keywords"]["keywords"]}

    horror = [keyword_names(m) for m in movies if m["genres"] and m["genres"][0]["id"] == 27]
    comedy = [keyword_names(m) for m in movies if m["genres"] and m["genres"][0]["id"] == 35]
    horror_share = np.mean(["haunted house" in names or "zombie" in names for names in horror])
    comedy_share = np.mean(["haunted house" in names or "zombie" in names for names in comedy])
    assert horror_share > 3 * comedy_share


def test_dates_outside_the_simulated_period_are_refused():
    with pytest.raises(MovieMetricError, match="outside the simulated period"):
        Catalog(100, seed=1).day_state(day_of(date(2001, 1, 1)))


def test_changes_list_every_movie_whose_details_changed_but_for_the_daily_fields(catalog):
    """The rule a loader relies on: a movie not listed on day D has, on D, the /movie/{id}
    body (keywords appended) it had on D-1, popularity, vote_average and vote_count aside."""
    before = {movie["id"]: movie for movie in catalog.movies_on(DAY - timedelta(days=1))}
    changed_fields: Counter[str] = Counter()
    for offset in range(5):
        day = DAY + timedelta(days=offset)
        after = {movie["id"]: movie for movie in catalog.movies_on(day)}
        listed = catalog.changed_ids(day, day)
        assert set(after) - set(before) <= listed  # new movies
        for movie_id, old in before.items():
            new = after[movie_id]
            fields = {name for name in new if new[name] != old[name]} - set(DAILY_FIELDS)
            assert not fields or movie_id in listed, (day, movie_id, sorted(fields))
            changed_fields.update(fields)
        before = after
    # every kind of day-to-day change happened, so the rule was tested for each
    assert {"overview", "keywords", "runtime", "status"} <= set(changed_fields)


def test_sequels_form_collections_that_keep_genres_director_and_leads(movies):
    sagas: dict[int, list[dict]] = {}
    for movie in movies:
        if movie["belongs_to_collection"]:
            sagas.setdefault(movie["belongs_to_collection"]["id"], []).append(movie)
    assert 0.02 < sum(map(len, sagas.values())) / len(movies) < 0.15
    # a saga of the newest movies may have its sequel still to come
    assert sum(len(members) >= 2 for members in sagas.values()) > 0.9 * len(sagas)
    titles = {movie["id"]: movie["title"] for movie in movies}
    for members in sagas.values():
        first = min(members, key=lambda movie: movie["id"])
        collection = first["belongs_to_collection"]
        assert collection["name"] == f"{titles[first['id']]} Collection"
        for sequel in members:
            assert sequel["belongs_to_collection"] == collection
            assert sequel["genres"] == first["genres"]
            director = [p["id"] for p in sequel["credits"]["crew"] if p["job"] == "Director"]
            assert director == [p["id"] for p in first["credits"]["crew"] if p["job"] == "Director"]
            shared_cast = min(len(sequel["credits"]["cast"]), len(first["credits"]["cast"]), 2)
            assert [p["id"] for p in sequel["credits"]["cast"][:shared_cast]] == [
                p["id"] for p in first["credits"]["cast"][:shared_cast]
            ]
            if sequel is not first and first["release_date"] and sequel["release_date"]:
                assert sequel["release_date"] >= first["release_date"]


def test_people_recur_across_movies_a_few_times_each(movies):
    directed = Counter(
        person["id"]
        for movie in movies
        for person in movie["credits"]["crew"]
        if person["job"] == "Director"
    )
    assert 1.5 < len(movies) / len(directed) < 10, "a director makes a few movies"
    assert max(directed.values()) < 40
