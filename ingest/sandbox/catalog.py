"""The sandbox's generated movie catalog: deterministic from (seed, size), evolving by day.

Columns are generated once, vectorised with numpy; TMDB-shaped dicts are built lazily
per request. Time is counted in days from ``EPOCH`` (day 0). ``size`` movies exist on
every day; from day 1 on, a few new movies appear each day (ids keep increasing, so the
movies visible on a day are a prefix of the columns). Everything that varies by day
(popularity, votes, rating, edits, the changes feed) is a pure function of the day, so
any date can be computed without replaying history; derived per-day arrays are cached.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from ingest.sandbox import vocabulary as vocab
from moviemetric.errors import MovieMetricError

EPOCH = date(2026, 1, 1)
MIN_SIZE = 100
MAX_SIZE = 1_000_000
MAX_DAYS_AFTER_EPOCH = 3660
NEW_MOVIE_BLOCK_DAYS = 128
DAY_CACHE_DAYS = 10  # >= 8: the weekly trending window reads the last 7 days
DERIVED_CACHE_BYTES = 256 * 1024 * 1024
# Popularity drift: a random walk of DRIFT_SIGMA per day in log space, over a moving window.
DRIFT_SIGMA = 0.045
DRIFT_WINDOW_DAYS = 60
SPIKE_SHARE = 0.0015  # share of movies whose popularity spikes on a given day
WALK_LEVELS = 13
WALK_SPAN = 1 << WALK_LEVELS  # days the Brownian paths cover
WALK_ORIGIN = WALK_SPAN - MAX_DAYS_AFTER_EPOCH - 1  # the epoch's position on the paths
NOT_CREATED = np.iinfo(np.int32).min  # created-day of movies that exist on every day
SEQUEL_SHARE = 0.04  # movies continuing an earlier one (belongs_to_collection)
COLLECTION_ID_BASE = 10_000_000  # a saga's collection id: this plus its first movie's id

# release_kind values
DATED, NULL_DATE, EMPTY_DATE = 0, 1, 2

# Fields of /movie/{id} (and of list results) that move on nearly every day for nearly
# every movie. They are not content changes: /movie/changes does not list a movie for
# them (a material vote count move aside), as on TMDB; /discover/movie has them daily.
DAILY_FIELDS = ("popularity", "vote_average", "vote_count")

# /movie/{id} ``status`` by code; a dated movie is "In Production" until
# POST_PRODUCTION_DAYS before its release date, then "Post Production" until it.
STATUSES = ("Released", "Post Production", "In Production")
POST_PRODUCTION_DAYS = 120

SORT_KEYS = (
    "popularity.desc",
    "popularity.asc",
    "primary_release_date.asc",
    "primary_release_date.desc",
    "vote_count.desc",
    "vote_average.desc",
)

GENRE_IDS = tuple(genre_id for genre_id, _, _ in vocab.GENRES)
GENRE_NAMES = {genre_id: name for genre_id, name, _ in vocab.GENRES}
_GENRE_SHARES = np.array([share for _, _, share in vocab.GENRES], dtype=np.float32)
_LANGUAGE_SHARES = np.array([lang[1] for lang in vocab.LANGUAGES], dtype=np.float64)
_LANGUAGE_SHARES /= _LANGUAGE_SHARES.sum()
_KEYWORD_IDS = tuple(
    vocab.KEYWORD_ID_BASE + index * vocab.KEYWORD_ID_STEP for index in range(len(vocab.KEYWORDS))
)
_ZIPF = 1.0 / np.arange(1, len(vocab.KEYWORDS) + 1) ** 1.07
_ZIPF /= _ZIPF.sum()
# Per genre, its typical keywords (vocabulary indexes), padded by repetition to one width.
_KEYWORD_POSITION = {name: index for index, name in enumerate(vocab.KEYWORDS)}
_KEYWORD_CLUSTERS = np.array(
    [
        [_KEYWORD_POSITION[name] for name in np.resize(vocab.GENRE_KEYWORDS[genre_id], 8)]
        for genre_id in GENRE_IDS
    ],
    dtype=np.int16,
)


def day_of(day_date: date) -> int:
    """Days from the epoch (2026-01-01 is day 0)."""
    if not isinstance(day_date, date):
        raise MovieMetricError(f"expected a datetime.date, got {day_date!r}")
    return day_date.toordinal() - EPOCH.toordinal()


def date_of(day: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + day)


def status_codes(release_kind: np.ndarray, release_ordinal: np.ndarray, today: int) -> np.ndarray:
    """Index into STATUSES of each movie on the day with ordinal ``today``: movies without
    a release date count as released."""
    ahead = np.asarray(release_ordinal, dtype=np.int64) - today
    upcoming = (np.asarray(release_kind) == DATED) & (ahead > 0)
    return np.where(upcoming, np.where(ahead < POST_PRODUCTION_DAYS, 1, 2), 0).astype(np.int8)


@lru_cache(maxsize=65_536)
def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _image_path(seed: int, movie_id: int, kind: str) -> str:
    digest = hashlib.blake2b(f"{seed}:{movie_id}:{kind}".encode(), digest_size=20).digest()
    return "/" + base64.b64encode(digest, altchars=b"xY").decode()[:27] + ".jpg"


@dataclass(frozen=True)
class Day:
    """Everything about one day that is the same for every request on that day."""

    day: int
    count: int  # movies visible: the first `count` columns
    popularity: np.ndarray  # float32, rounded to 3 decimals when sent
    vote_count: np.ndarray  # int32
    vote_average: np.ndarray  # float32, 0 when vote_count is 0


class _Columns:
    """Column arrays of a block of movies (the base catalog, or new movies of some days)."""

    __slots__ = (
        "adult",
        "avg_base",
        "backdrop_null",
        "budget",
        "created",
        "edit_offset",
        "edit_period",
        "genre_bits",
        "ids",
        "imdb_null",
        "kw_index",
        "kw_offsets",
        "language",
        "popularity_base",
        "poster_null",
        "release_kind",
        "release_ordinal",
        "revenue",
        "runtime",
        "saga_root",
        "video",
        "vote_rate",
        "votes_full",
    )

    def __init__(self, **arrays: np.ndarray) -> None:
        for name in self.__slots__:
            setattr(self, name, arrays[name])

    @classmethod
    def concat(cls, blocks: list[_Columns]) -> _Columns:
        arrays = {}
        for name in cls.__slots__:
            if name == "kw_offsets":
                parts = [blocks[0].kw_offsets]
                base = int(blocks[0].kw_offsets[-1])
                for block in blocks[1:]:
                    parts.append(block.kw_offsets[1:] + base)
                    base += int(block.kw_offsets[-1])
                arrays[name] = np.concatenate(parts)
            else:
                arrays[name] = np.concatenate([getattr(block, name) for block in blocks])
        return cls(**arrays)


def _generate(
    rng: np.random.Generator,
    saga_rng: np.random.Generator,
    ids: np.ndarray,
    created: np.ndarray,
    release_anchor: np.ndarray | None,
) -> _Columns:
    """Columns for movies with the given ids; release dates near ``release_anchor`` (ordinals)
    when given (new movies), else spread from 1900 to a few months after the epoch.
    ``saga_rng`` draws the sagas (collections) apart from ``rng``, whose draws stay as
    they were before the catalog had sagas."""
    n = len(ids)
    epoch = EPOCH.toordinal()

    # Release dates: more recent years denser (exponential back from epoch + ~6 months).
    years_back = np.minimum(rng.exponential(22.0, n), 125.0)
    historic = epoch + 180 - (years_back * 365.25).astype(np.int32)
    if release_anchor is None:
        release_ordinal = historic
    else:
        near = release_anchor + rng.integers(-45, 240, n)
        release_ordinal = np.where(rng.random(n) < 0.6, near, historic)
    kind_draw = rng.random(n)
    release_kind = np.where(
        kind_draw < 0.015, NULL_DATE, np.where(kind_draw < 0.03, EMPTY_DATE, DATED)
    ).astype(np.int8)

    # Genres: independent draws per genre, at most 4 per movie; some movies have none.
    draws = rng.random((n, len(GENRE_IDS)), dtype=np.float32) < _GENRE_SHARES
    draws &= np.cumsum(draws, axis=1) <= 4
    genre_bits = (draws.astype(np.uint32) << np.arange(len(GENRE_IDS), dtype=np.uint32)).sum(
        axis=1, dtype=np.uint32
    )

    # Keywords: 0-10 per movie, Zipfian over the vocabulary (duplicates dropped when sent).
    kw_counts = rng.binomial(10, 0.4, n) * (rng.random(n) > 0.12)
    kw_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(kw_counts, out=kw_offsets[1:])
    kw_index = rng.choice(len(vocab.KEYWORDS), size=int(kw_offsets[-1]), p=_ZIPF).astype(np.int16)
    # Half of the keywords of a movie with genres come from its first genre's cluster, so
    # movies sharing a genre share keywords (content-based recommendations have signal).
    lowest_bit = genre_bits & (~genre_bits + np.uint32(1))
    first_genre = np.where(genre_bits > 0, np.log2(np.maximum(lowest_bit, 1)), -1).astype(np.int64)
    slot_genre = np.repeat(first_genre, kw_counts)
    clustered = (slot_genre >= 0) & (rng.random(len(kw_index)) < 0.5)
    cluster_pick = rng.integers(0, _KEYWORD_CLUSTERS.shape[1], len(kw_index))
    kw_index[clustered] = _KEYWORD_CLUSTERS[slot_genre[clustered], cluster_pick[clustered]]

    # Heavy tails: popularity lognormal, votes lognormal with a third never rated.
    popularity_base = (0.6 + rng.lognormal(0.3, 1.25, n)).astype(np.float32)
    never_rated = rng.random(n) < 0.33
    votes_full = np.where(never_rated, 0.0, np.minimum(rng.lognormal(2.6, 2.1, n), 60_000.0))
    vote_rate = rng.lognormal(-8.2, 0.8, n).astype(np.float32)  # ~0.0004 per day
    avg_base = np.clip(rng.normal(6.3, 1.2, n), 1.0, 9.6).astype(np.float32)

    runtime_draw = rng.random(n)
    runtime = np.clip(rng.normal(98, 24, n), 3, 300).astype(np.int16)
    runtime = np.where(runtime_draw < 0.06, 0, np.where(runtime_draw < 0.09, -1, runtime))
    has_money = rng.random(n) < 0.08
    budget = np.where(has_money, (rng.lognormal(15.5, 1.4, n) // 1000) * 1000, 0).astype(np.int64)
    revenue = np.where(
        has_money & (rng.random(n) < 0.7), (budget * rng.lognormal(0.5, 1.0, n)).astype(np.int64), 0
    )

    edit_period = rng.integers(90, 420, n).astype(np.int16)
    saga_root = _sagas(
        saga_rng, ids, genre_bits, kw_offsets, kw_index, release_ordinal, release_kind
    )
    return _Columns(
        ids=ids.astype(np.int32),
        created=created.astype(np.int32),
        release_ordinal=release_ordinal.astype(np.int32),
        release_kind=release_kind,
        language=rng.choice(len(vocab.LANGUAGES), size=n, p=_LANGUAGE_SHARES).astype(np.int8),
        genre_bits=genre_bits,
        kw_offsets=kw_offsets,
        kw_index=kw_index,
        popularity_base=popularity_base,
        votes_full=votes_full.astype(np.float32),
        vote_rate=vote_rate,
        avg_base=avg_base,
        runtime=runtime.astype(np.int16),
        saga_root=saga_root,
        budget=budget,
        revenue=revenue,
        adult=rng.random(n) < 0.01,
        video=rng.random(n) < 0.01,
        imdb_null=rng.random(n) < 0.15,
        poster_null=rng.random(n) < 0.08,
        backdrop_null=rng.random(n) < 0.25,
        edit_period=edit_period,
        edit_offset=(rng.random(n) * edit_period).astype(np.int16),
    )


def _sagas(
    rng: np.random.Generator,
    ids: np.ndarray,
    genre_bits: np.ndarray,
    kw_offsets: np.ndarray,
    kw_index: np.ndarray,
    release_ordinal: np.ndarray,
    release_kind: np.ndarray,
) -> np.ndarray:
    """Sequels, as TMDB has them: SEQUEL_SHARE of the movies continue an earlier movie of
    their block. A sequel takes its saga's genres and half its keywords (in place) and
    comes out 1 to 5 years after the saga's first movie (but not after the block's
    newest release date).
    Returns each movie's saga root id (0: no saga; a root with sequels names itself):
    the saga is the movie's ``belongs_to_collection``, and its people carry over
    (``Catalog.credits``)."""
    n = len(ids)
    sequel = rng.random(n) < SEQUEL_SHARE
    sequel[0] = False
    parent = (rng.random(n) * np.arange(n)).astype(np.int64)  # an earlier movie
    years_later = rng.integers(365, 5 * 365, n)
    root = np.arange(n)
    newest = int(release_ordinal.max()) if n else 0  # no sequel comes out later than this
    for index in np.flatnonzero(sequel).tolist():
        first = int(root[parent[index]])
        root[index] = first
        genre_bits[index] = genre_bits[first]
        start, end = int(kw_offsets[index]), int(kw_offsets[index + 1])
        first_start, first_end = int(kw_offsets[first]), int(kw_offsets[first + 1])
        shared = (min(end - start, first_end - first_start) + 1) // 2
        kw_index[start : start + shared] = kw_index[first_start : first_start + shared]
        if release_kind[index] == DATED and release_kind[first] == DATED:
            release_ordinal[index] = min(release_ordinal[first] + years_later[index], newest)
    saga_root = np.zeros(n, dtype=np.int32)
    in_saga = sequel.copy()
    in_saga[root[sequel]] = True
    saga_root[in_saga] = ids[root[in_saga]]
    return saga_root


class Catalog:
    """Ground truth of the sandbox: the movies, and how they look on any day."""

    def __init__(self, movies: int, seed: int) -> None:
        if not isinstance(movies, int) or not MIN_SIZE <= movies <= MAX_SIZE:
            raise MovieMetricError(
                f"sandbox catalog size must be an integer from {MIN_SIZE} to {MAX_SIZE}, "
                f"got movies={movies!r}"
            )
        if not isinstance(seed, int) or seed < 0:
            raise MovieMetricError(
                f"sandbox seed must be a non-negative integer, got seed={seed!r}"
            )
        self.size = movies
        self.seed = seed
        self.new_per_day = max(1, movies // 5000)
        self._lock = threading.RLock()
        self._day_cache: OrderedDict[int, Day] = OrderedDict()
        self._derived_cache: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._derived_bytes = 0

        rng = np.random.default_rng([seed, movies, 0])
        gaps = rng.geometric(0.77, movies)  # sparse ids: mean gap 1.3 -> ~1.3M for 1M movies
        ids = 1 + np.cumsum(gaps)
        saga_rng = np.random.default_rng([seed, movies, 10])
        base = _generate(rng, saga_rng, ids, np.full(movies, NOT_CREATED), None)
        self._last_base_id = int(ids[-1])
        self._blocks: list[_Columns] = [base]
        self._columns = base

    # ----- columns and visibility -------------------------------------------------

    def _ensure_days(self, day: int) -> _Columns:
        """Generate new-movie blocks until ``day`` is covered; returns the columns."""
        if day > MAX_DAYS_AFTER_EPOCH:
            raise MovieMetricError(
                f"sandbox catalog date {date_of(day)} is too far in the future: the catalog "
                f"covers {EPOCH} to {date_of(MAX_DAYS_AFTER_EPOCH)}"
            )
        with self._lock:
            while (len(self._blocks) - 1) * NEW_MOVIE_BLOCK_DAYS < day:
                block = len(self._blocks) - 1
                self._blocks.append(self._new_movie_block(block))
                self._columns = _Columns.concat(self._blocks)
            return self._columns

    def _new_movie_block(self, block: int) -> _Columns:
        per_day = self.new_per_day
        count = per_day * NEW_MOVIE_BLOCK_DAYS
        rng = np.random.default_rng([self.seed, self.size, 1 + block])
        first_id = self._last_base_id + 1 + block * count * 3
        ids = first_id + np.cumsum(rng.integers(1, 4, count)) - 1
        created = 1 + block * NEW_MOVIE_BLOCK_DAYS + np.arange(count) // per_day
        anchor = EPOCH.toordinal() + created
        saga_rng = np.random.default_rng([self.seed, self.size, 10, 1 + block])
        return _generate(rng, saga_rng, ids, created, anchor)

    def visible_count(self, day: int) -> int:
        return self.size + self.new_per_day * max(0, day)

    def index_of(self, movie_id: int, day: int) -> int | None:
        """Column index of ``movie_id`` if the movie is visible on ``day``."""
        columns = self._ensure_days(day)
        count = self.visible_count(day)
        index = int(np.searchsorted(columns.ids[:count], movie_id))
        if index < count and int(columns.ids[index]) == movie_id:
            return index
        return None

    # ----- per-day arrays ---------------------------------------------------------

    def day_state(self, day: int) -> Day:
        with self._lock:
            state = self._day_cache.get(day)
            if state is not None:
                self._day_cache.move_to_end(day)
                return state
        state = self._compute_day(day)
        with self._lock:
            self._day_cache[day] = state
            while len(self._day_cache) > DAY_CACHE_DAYS:
                self._day_cache.popitem(last=False)
        return state

    def _ages(self, day: int) -> tuple[_Columns, int, np.ndarray]:
        """(columns, visible count, days since release; undated movies count as very old)."""
        columns = self._ensure_days(day)
        count = self.visible_count(day)
        today = EPOCH.toordinal() + day
        dated = columns.release_kind[:count] == DATED
        age = np.where(dated, today - columns.release_ordinal[:count], 100_000).astype(np.float64)
        return columns, count, age

    def _compute_day(self, day: int) -> Day:
        columns, count, age = self._ages(day)

        # Popularity = base level x release hype x drift x decaying spikes. The drift is a
        # multiplicative random walk over a moving window, exp(sigma * (W(t) - W(t - w))),
        # with W one Brownian path per movie: every day moves it, yet it stays stationary.
        hype = 1.0 + 25.0 * np.exp(-np.abs(age) / np.where(age >= 0, 45.0, 20.0))
        now, window_start = self._brownian((day, day - DRIFT_WINDOW_DAYS), count)
        drift = DRIFT_SIGMA * (now - window_start)
        spike = np.ones(count)
        for lag in range(4):
            draw = np.random.default_rng([self.seed, self.size, 8, day - lag + 100_000]).random(
                count
            )
            # conditional on a spike (draw < p), draw / p is uniform: reuse it as the height
            height = 1.0 + 8.0 * draw / SPIKE_SHARE
            spike *= np.where(draw < SPIKE_SHARE, 1.0 + height * 0.5**lag, 1.0)
        popularity = columns.popularity_base[:count] * hype * np.exp(drift) * spike
        popularity = np.round(popularity, 3).astype(np.float32)

        vote_count, vote_average = self._votes(columns, count, day, age)
        return Day(day, count, popularity, vote_count, vote_average)

    def _brownian(self, days: tuple[int, ...], count: int) -> list[np.ndarray]:
        """W(day) for each day, one standard Brownian path per movie, in closed form.

        Lévy's construction: W(0) = 0, W(span) ~ N(0, span), and the value at the midpoint
        of a dyadic interval is the mean of its ends plus N(0, length / 4), drawn from a
        generator keyed by the midpoint alone. Walking down the intervals that contain a
        day needs WALK_LEVELS draws, the same whichever day was asked for before.
        """

        def normal(position: int, variance: float) -> np.ndarray:
            rng = np.random.default_rng([self.seed, self.size, 9, position])
            return rng.standard_normal(count, dtype=np.float32) * np.float32(math.sqrt(variance))

        values = {0: np.zeros(count, dtype=np.float32), WALK_SPAN: normal(WALK_SPAN, WALK_SPAN)}
        results = []
        for day in days:
            point = day + WALK_ORIGIN
            if not 0 <= point < WALK_SPAN:
                raise MovieMetricError(
                    f"sandbox catalog date {date_of(day)} is outside the simulated period "
                    f"{date_of(DRIFT_WINDOW_DAYS - WALK_ORIGIN)} to {date_of(MAX_DAYS_AFTER_EPOCH)}"
                )
            low, high = 0, WALK_SPAN
            while high - low > 1:
                middle = (low + high) // 2
                if middle not in values:
                    mean = (values[low] + values[high]) * np.float32(0.5)
                    values[middle] = mean + normal(middle, (high - low) / 4)
                if point < middle:
                    high = middle
                else:
                    low = middle
            results.append(values[low])
        return results

    @staticmethod
    def _votes(
        columns: _Columns, count: int, day: int, age: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Votes never decrease: full level x slow growth x ramp after release."""
        ramp = np.where(age < 0, 0.0, 1.0 - np.exp(-(np.maximum(age, 0) + 1) / 60.0))
        growth = np.exp(columns.vote_rate[:count].astype(np.float64) * day)
        vote_count = np.floor(columns.votes_full[:count] * growth * ramp).astype(np.int32)
        wobble = (
            0.25
            * np.sin(2 * np.pi * day / 53.0 + columns.ids[:count] * 0.37)
            / np.sqrt(1.0 + vote_count / 20.0)
        )
        vote_average = np.where(
            vote_count > 0, np.clip(np.round(columns.avg_base[:count] + wobble, 3), 0.5, 10.0), 0.0
        ).astype(np.float32)
        return vote_count, vote_average

    def _cached(self, key: Hashable, build: Callable[[], object]) -> object:
        """Derived arrays (sort orders, filtered windows, changes), LRU-bounded by bytes."""
        with self._lock:
            entry = self._derived_cache.get(key)
            if entry is not None:
                self._derived_cache.move_to_end(key)
                return entry[0]
        value = build()
        size = sum(part.nbytes for part in (value if isinstance(value, tuple) else (value,)))
        with self._lock:
            if key not in self._derived_cache:
                self._derived_cache[key] = (value, size)
                self._derived_bytes += size
            while self._derived_bytes > DERIVED_CACHE_BYTES and len(self._derived_cache) > 1:
                _, (_, evicted) = self._derived_cache.popitem(last=False)
                self._derived_bytes -= evicted
        return value

    # ----- listings ---------------------------------------------------------------

    def discover(
        self,
        day: int,
        sort_by: str = "popularity.desc",
        include_adult: bool = False,
        release_gte: date | None = None,
        release_lte: date | None = None,
    ) -> np.ndarray:
        """Column indexes matching the filters, in ``sort_by`` order (ties by id)."""
        if sort_by not in SORT_KEYS:
            raise MovieMetricError(
                f"sort_by must be one of {', '.join(SORT_KEYS)}; got {sort_by!r}"
            )
        gte = release_gte.toordinal() if release_gte else None
        lte = release_lte.toordinal() if release_lte else None

        def filtered() -> np.ndarray:
            order = self._sorted(day, sort_by, include_adult)
            if gte is None and lte is None:
                return order
            columns = self._columns
            keep = columns.release_kind[order] == DATED
            released = columns.release_ordinal[order]
            if gte is not None:
                keep &= released >= gte
            if lte is not None:
                keep &= released <= lte
            return order[keep]

        return self._cached(("discover", day, sort_by, include_adult, gte, lte), filtered)

    def _sorted(self, day: int, sort_by: str, include_adult: bool) -> np.ndarray:
        def build() -> np.ndarray:
            state = self.day_state(day)
            columns = self._columns
            count = state.count
            if sort_by == "popularity.desc":
                key = -state.popularity
            elif sort_by == "popularity.asc":
                key = state.popularity
            elif sort_by == "vote_count.desc":
                key = -state.vote_count
            elif sort_by == "vote_average.desc":
                key = -state.vote_average
            else:
                released = columns.release_ordinal[:count].astype(np.int64)
                if sort_by == "primary_release_date.desc":
                    released = -released
                # movies without a date go last in both directions
                key = np.where(columns.release_kind[:count] == DATED, released, 1 << 40)
            order = np.argsort(key, kind="stable").astype(np.int32)  # stable: ties by id
            if not include_adult:
                order = order[~columns.adult[order]]
            return order

        return self._cached(("sorted", day, sort_by, include_adult), build)

    def trending(self, day: int, window: str) -> tuple[np.ndarray, np.ndarray]:
        """(column indexes by trending score desc, scores): today's popularity for ``day``,
        the mean over the last 7 days for ``week``; adult titles excluded."""

        def build() -> tuple[np.ndarray, np.ndarray]:
            state = self.day_state(day)
            if window == "day":
                score = state.popularity.astype(np.float64)
            else:
                total = np.zeros(state.count)
                seen = np.zeros(state.count)
                for lag in range(7):
                    past = self.day_state(day - lag)
                    total[: past.count] += past.popularity
                    seen[: past.count] += 1
                score = np.round(total / seen, 3)
            order = np.argsort(-score, kind="stable").astype(np.int32)
            order = order[~self._columns.adult[order]]
            return order, score

        return self._cached(("trending", day, window), build)

    def changed_indexes(self, day: int) -> np.ndarray:
        """Column indexes changed on ``day``: new movies, every movie whose /movie/{id} body
        differs from the day before outside popularity, vote_count and vote_average (an
        edit: overview, keywords, runtime; a new status as the release date nears or
        passes), and movies whose vote count moved materially since the day before."""

        def build() -> np.ndarray:
            # votes only: a range of days must not pay for every day's popularity walk
            columns, count, age = self._ages(day)
            _, previous_count, previous_age = self._ages(day - 1)
            votes = self._votes(columns, count, day, age)[0]
            before = self._votes(columns, previous_count, day - 1, previous_age)[0]
            changed = np.zeros(count, dtype=bool)
            changed[previous_count:] = True  # new today
            day_plus_offset = day + columns.edit_offset[:count].astype(np.int64)
            changed |= day_plus_offset % columns.edit_period[:count] == 0  # edited today
            kind = columns.release_kind[:previous_count]
            released = columns.release_ordinal[:previous_count]
            today = EPOCH.toordinal() + day
            changed[:previous_count] |= status_codes(kind, released, today) != status_codes(
                kind, released, today - 1
            )
            before = before.astype(np.int64)
            delta = votes[:previous_count] - before
            changed[:previous_count] |= (delta >= 5) & (delta * 50 >= before)
            return np.flatnonzero(changed).astype(np.int32)

        return self._cached(("changed", day), build)

    # ----- TMDB-shaped records -----------------------------------------------------

    def edit_version(self, index: int, day: int) -> int:
        columns = self._columns
        return (day + int(columns.edit_offset[index])) // int(columns.edit_period[index])

    def _text_rng(self, movie_id: int, salt: int = 0) -> random.Random:
        # a string seed is hashed (sha512) by random.Random, so neighbouring ids diverge
        return random.Random(f"{self.seed}:{movie_id}:{salt}")

    def titles(self, index: int) -> tuple[str, str]:
        """(title, original_title) of a movie; foreign movies have a native original title."""
        columns = self._columns
        movie_id = int(columns.ids[index])
        language = int(columns.language[index])
        rng = self._text_rng(movie_id)
        column = language if language < len(vocab.ADJECTIVES[0]) else 0
        joiner = vocab.LANGUAGES[language][6]
        pattern = rng.random()
        adjective = rng.choice(vocab.ADJECTIVES)
        noun = rng.choice(vocab.NOUNS)
        if language == 0:
            if pattern < 0.25:
                title = f"The {adjective[0]} {rng.choice(vocab.ENGLISH_EXTRA_NOUNS)}"
            elif pattern < 0.4:
                title = f"{noun[0]} of the {adjective[0]} {rng.choice(vocab.NOUNS)[0]}"
            elif pattern < 0.5:
                title = f"The {noun[0]} {rng.choice(vocab.NUMERALS)}"
            elif pattern < 0.65:
                title = f"{rng.choice(vocab.FIRST_NAMES)}'s {adjective[0]} {noun[0]}"
            else:
                title = f"The {adjective[0]} {noun[0]}"
            if rng.random() < 0.2:
                title = f"{title}: {rng.choice(vocab.ENGLISH_EXTRA_NOUNS)}"
            return title, title
        title = f"The {adjective[0]} {noun[0]}"
        if language in (1, 2, 7, 9):  # French, Spanish, Italian, Portuguese: noun first
            original = f"{noun[column]}{joiner}{adjective[column]}"
        else:
            original = f"{adjective[column]}{joiner}{noun[column]}"
        original = original[0].upper() + original[1:]
        if pattern < 0.35:  # a subtitle, in both languages
            second = rng.choice([other for other in vocab.NOUNS if other is not noun])
            title, original = f"{title}: {second[0]}", f"{original}: {second[column]}"
        elif pattern < 0.45:
            title, original = f"{title} 2", f"{original} 2"
        return title, original

    def overview(self, index: int, day: int) -> str:
        movie_id = int(self._columns.ids[index])
        version = self.edit_version(index, day)
        if movie_id % 41 == 0 and version % 2 == 0:  # some movies have no overview yet
            return ""
        rng = self._text_rng(movie_id, 1 + version)
        name = f"{rng.choice(vocab.FIRST_NAMES)} {rng.choice(vocab.LAST_NAMES)}"
        return (
            f"In {rng.choice(vocab.PLACES)}, {name}, {rng.choice(vocab.OCCUPATIONS)}, "
            f"{rng.choice(vocab.ACTIONS)}.{rng.choice(vocab.CODAS)}"
        )

    def genre_ids(self, index: int) -> list[int]:
        bits = int(self._columns.genre_bits[index])
        return [genre_id for position, genre_id in enumerate(GENRE_IDS) if bits >> position & 1]

    def keywords(self, index: int, day: int) -> list[dict]:
        """Keywords of a movie on a day; every other edit adds one keyword."""
        columns = self._columns
        start, end = int(columns.kw_offsets[index]), int(columns.kw_offsets[index + 1])
        indexes = dict.fromkeys(columns.kw_index[start:end].tolist())
        version = self.edit_version(index, day)
        if version % 2:
            extra = (int(columns.ids[index]) * 7 + version) % len(vocab.KEYWORDS)
            indexes[extra] = None
        return [{"id": _KEYWORD_IDS[kw], "name": vocab.KEYWORDS[kw]} for kw in indexes]

    def release_date(self, index: int) -> str | None:
        kind = int(self._columns.release_kind[index])
        if kind == NULL_DATE:
            return None
        if kind == EMPTY_DATE:
            return ""
        return _iso(int(self._columns.release_ordinal[index]))

    def list_item(self, index: int, state: Day) -> dict:
        """A result of /discover/movie (and the other list endpoints)."""
        columns = self._columns
        movie_id = int(columns.ids[index])
        title, original_title = self.titles(index)
        return {
            "adult": bool(columns.adult[index]),
            "backdrop_path": None
            if columns.backdrop_null[index]
            else _image_path(self.seed, movie_id, "b"),
            "genre_ids": self.genre_ids(index),
            "id": movie_id,
            "original_language": vocab.LANGUAGES[int(columns.language[index])][0],
            "original_title": original_title,
            "overview": self.overview(index, state.day),
            "popularity": round(float(state.popularity[index]), 3),
            "poster_path": None
            if columns.poster_null[index]
            else _image_path(self.seed, movie_id, "p"),
            "release_date": self.release_date(index),
            "title": title,
            "video": bool(columns.video[index]),
            "vote_average": round(float(state.vote_average[index]), 3),
            "vote_count": int(state.vote_count[index]),
        }

    def details(self, index: int, state: Day, append: tuple[str, ...] = ()) -> dict:
        """/movie/{id}, with ``keywords`` and/or ``credits`` appended when asked."""
        columns = self._columns
        item = self.list_item(index, state)
        movie_id = item["id"]
        language = vocab.LANGUAGES[int(columns.language[index])]
        rng = self._text_rng(movie_id, 7)
        companies = [
            {
                "id": company_id,
                "logo_path": _image_path(self.seed, company_id, "logo") if company_id % 3 else None,
                "name": name,
                "origin_country": country,
            }
            for company_id, name, country in rng.sample(vocab.COMPANIES, rng.randint(0, 3))
        ]
        runtime = int(columns.runtime[index])
        if runtime > 0:
            runtime += self.edit_version(index, state.day) % 3
        status = STATUSES[
            int(
                status_codes(
                    columns.release_kind[index],
                    columns.release_ordinal[index],
                    EPOCH.toordinal() + state.day,
                )
            )
        ]
        details = {
            "adult": item["adult"],
            "backdrop_path": item["backdrop_path"],
            "belongs_to_collection": self.collection(index),
            "budget": int(columns.budget[index]),
            "genres": [
                {"id": genre_id, "name": GENRE_NAMES[genre_id]} for genre_id in item["genre_ids"]
            ],
            "homepage": f"https://movies.example.org/{movie_id}" if movie_id % 4 == 0 else "",
            "id": movie_id,
            "imdb_id": None if columns.imdb_null[index] else f"tt{movie_id * 7 % 9_999_999:07d}",
            "original_language": item["original_language"],
            "original_title": item["original_title"],
            "overview": item["overview"],
            "popularity": item["popularity"],
            "poster_path": item["poster_path"],
            "production_companies": companies,
            "production_countries": [{"iso_3166_1": language[2], "name": language[3]}],
            "release_date": item["release_date"],
            "revenue": int(columns.revenue[index]),
            "runtime": None if runtime < 0 else runtime,
            "spoken_languages": [
                {"english_name": language[4], "iso_639_1": language[0], "name": language[5]}
            ],
            "status": status,
            "tagline": rng.choice(vocab.TAGLINES),
            "title": item["title"],
            "video": item["video"],
            "vote_average": item["vote_average"],
            "vote_count": item["vote_count"],
        }
        if "keywords" in append:
            details["keywords"] = {"keywords": self.keywords(index, state.day)}
        if "credits" in append:
            details["credits"] = self.credits(index)
        return details

    def collection(self, index: int) -> dict | None:
        """``belongs_to_collection``: the movie's saga, named after its first movie."""
        root_id = int(self._columns.saga_root[index])
        if not root_id:
            return None
        root_index = int(np.searchsorted(self._columns.ids, root_id))
        return {
            "id": COLLECTION_ID_BASE + root_id,
            "name": f"{self.titles(root_index)[0]} Collection",
            "poster_path": _image_path(self.seed, root_id, "collection"),
            "backdrop_path": None,
        }

    def credits(self, index: int) -> dict:
        """``credits``: cast (0 to 8, billed in order) and crew (director first, then a
        writer and others). People recur as on TMDB: a director makes a few movies, an
        actor plays in a few more; a saga keeps its director and first two billed actors."""
        movie_id = int(self._columns.ids[index])
        saga_id = int(self._columns.saga_root[index]) or movie_id
        rng = self._text_rng(movie_id, 11)
        saga_rng = self._text_rng(saga_id, 12)
        # people ids scale with the catalog: about 4 movies per director, 12 per actor
        directors = max(len(vocab.FIRST_NAMES) * len(vocab.LAST_NAMES), self.size // 4)
        actors = max(directors, self.size // 2)

        def person(order: int, number: int) -> dict:
            first = vocab.FIRST_NAMES[number % len(vocab.FIRST_NAMES)]
            last = vocab.LAST_NAMES[number // len(vocab.FIRST_NAMES) % len(vocab.LAST_NAMES)]
            return {
                "adult": False,
                "gender": rng.choice((0, 1, 2)),
                "id": 1000 + number,
                "name": f"{first} {last}",
                "original_name": f"{first} {last}",
                "popularity": round(rng.lognormvariate(1.0, 1.0), 3),
                "profile_path": _image_path(self.seed, number, "person") if order % 4 else None,
                "credit_id": hashlib.blake2b(
                    f"{self.seed}:{movie_id}:{order}".encode(), digest_size=12
                ).hexdigest(),
            }

        saga_cast = [saga_rng.randrange(actors) for _ in range(2)]
        cast = []
        for order in range(rng.randint(0, 8)):
            number = saga_cast[order] if order < len(saga_cast) else rng.randrange(actors)
            member = person(order, number)
            member.update(
                known_for_department="Acting",
                cast_id=order + 1,
                character=rng.choice(vocab.FIRST_NAMES),
                order=order,
            )
            cast.append(member)
        crew = []
        director = saga_rng.randrange(directors)
        for order in range(rng.randint(1, 5)):
            number = director if order == 0 else rng.randrange(actors)
            member = person(100 + order, number)
            department, job = vocab.CREW_JOBS[order % len(vocab.CREW_JOBS)]
            member.update(known_for_department=department, department=department, job=job)
            crew.append(member)
        return {"cast": cast, "crew": crew}

    # ----- ground truth for tests ---------------------------------------------------

    def movies_on(self, day_date: date) -> list[dict]:
        """Every movie visible on ``day_date`` (adult ones too), as /movie/{id} dicts with
        genres, keywords and credits."""
        state = self.day_state(day_of(day_date))
        return [self.details(index, state, ("keywords", "credits")) for index in range(state.count)]

    def id_export_lines(self, day_date: date) -> list[dict]:
        """TMDB's daily movie ID export for ``day_date``: a line per movie visible that day,
        adult and undated ones too, with its adult flag, id, original title, the day's
        popularity and its video flag, by id."""
        state = self.day_state(day_of(day_date))
        columns = self._ensure_days(state.day)
        return [
            {
                "adult": bool(columns.adult[index]),
                "id": int(columns.ids[index]),
                "original_title": self.titles(index)[1],
                "popularity": round(float(state.popularity[index]), 3),
                "video": bool(columns.video[index]),
            }
            for index in range(state.count)
        ]

    def movie_ids(self, day_date: date) -> set[int]:
        day = day_of(day_date)
        columns = self._ensure_days(day)
        return set(columns.ids[: self.visible_count(day)].tolist())

    def catalog_ids(self, day_date: date, *, include_adult: bool = False) -> set[int]:
        """Ids a load from ``day_date``'s ID export holds: every movie visible that day,
        undated ones included, adult ones only with ``include_adult``."""
        day = day_of(day_date)
        columns = self._ensure_days(day)
        count = self.visible_count(day)
        ids = columns.ids[:count]
        if not include_adult:
            ids = ids[~columns.adult[:count].astype(bool)]
        return set(ids.tolist())

    def dated_movie_ids(self, day_date: date) -> set[int]:
        """Ids of movies visible on ``day_date`` with a non-empty release_date (adult too)."""
        day = day_of(day_date)
        columns = self._ensure_days(day)
        count = self.visible_count(day)
        return set(columns.ids[:count][columns.release_kind[:count] == DATED].tolist())

    def changes(self, first_day: int, last_day: int) -> tuple[np.ndarray, np.ndarray]:
        """What /movie/changes lists for the days ``first_day`` to ``last_day``: (ids sorted,
        adult flags: 1, 0, or -1 for null on vanished ids)."""

        def build() -> tuple[np.ndarray, np.ndarray]:
            days = range(first_day, last_day + 1)
            if not days:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
            columns = self._ensure_days(last_day)
            indexes = np.unique(np.concatenate([self.changed_indexes(day) for day in days]))
            vanished = np.unique(np.concatenate([self.vanished_ids(day) for day in days]))
            ids = np.concatenate([columns.ids[indexes].astype(np.int64), vanished])
            adult = np.concatenate(
                [columns.adult[indexes].astype(np.int8), np.full(len(vanished), -1, np.int8)]
            )
            order = np.argsort(ids, kind="stable")
            return ids[order], adult[order]

        return self._cached(("changes", first_day, last_day), build)

    def vanished_ids(self, day: int) -> np.ndarray:
        """Ids /movie/changes names on ``day`` that are not (or no longer) movies: TMDB's
        feed lists deleted entries too, with ``adult: null``; /movie/{id} answers 404.
        They are picked from the gaps between visible ids, which never fill later."""

        def build() -> np.ndarray:
            columns = self._ensure_days(day)
            ids = columns.ids[: self.visible_count(day)]
            gaps = np.flatnonzero(np.diff(ids) > 1)
            rng = np.random.default_rng([self.seed, self.size, 10, day + 100_000])
            wanted = min(len(gaps), max(1, len(ids) // 20_000))
            picked = rng.choice(gaps, size=wanted, replace=False)
            return np.sort(ids[picked].astype(np.int64) + 1)

        return self._cached(("vanished", day), build)

    def changed_ids(self, start: date, end: date) -> set[int]:
        """What /movie/changes reports for ``start_date=start&end_date=end`` (both inclusive,
        ``end`` not after the catalog date): new, edited, re-voted and vanished ids."""
        ids, _ = self.changes(day_of(start), day_of(end))
        return set(ids.tolist())

    def created_date(self, movie_id: int) -> date | None:
        """The day a movie appeared (it is invisible before); None for movies of the base
        catalog, which exist on every day. Only days up to the latest one asked about
        are generated."""
        columns = self._columns
        index = int(np.searchsorted(columns.ids, movie_id))
        if index == len(columns.ids) or int(columns.ids[index]) != movie_id:
            raise MovieMetricError(f"movie {movie_id} is not in the sandbox catalog")
        created = int(columns.created[index])
        return None if created == NOT_CREATED else date_of(created)

    def popularity_of(self, movie_id: int, day_date: date) -> float:
        day = day_of(day_date)
        index = self.index_of(movie_id, day)
        if index is None:
            raise MovieMetricError(f"movie {movie_id} is not in the sandbox catalog on {day_date}")
        return round(float(self.day_state(day).popularity[index]), 3)

    @property
    def columns(self) -> _Columns:
        return self._columns

    def __repr__(self) -> str:
        return f"Catalog(movies={self.size}, seed={self.seed})"
