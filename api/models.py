"""Response models: ``<Entity>Public`` for one item, ``<Entity>sPublic`` for a collection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class MovieSummaryPublic(BaseModel):
    """A movie as every endpoint returns it: these fields, named and ordered the same in
    /movies items, /movies/{movie_id}, trending items and recommendations. Each endpoint
    only adds its own fields after them."""

    id: int = Field(description="TMDB movie id.")
    title: str
    original_title: str | None = None
    release_date: dt.date | None = None
    release_year: int | None = None
    genres: list[str] = Field(default_factory=list, description="Genre names.")
    vote_average: float | None = Field(default=None, description="TMDB rating, 0 to 10.")
    vote_count: int | None = None
    popularity: float | None = None
    poster_path: str | None = None


class MoviesPublic(BaseModel):
    items: list[MovieSummaryPublic]
    total: int = Field(description="Movies matching the filters, ignoring limit and offset.")
    limit: int
    offset: int = Field(description="The offset asked for (0 when paging by cursor).")
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` (with the same filters and sort) for the next page, "
        "found as fast at any depth; null on the last page.",
    )


class SearchFacetsPublic(BaseModel):
    """Counts over every match of the search, not only the page's."""

    genres: dict[str, int] = Field(description="Matches per genre name, most first.")
    decades: dict[str, int] = Field(
        description='Matches per release decade (its first year, e.g. "1990"), oldest first.'
    )


class SearchResultsPublic(BaseModel):
    items: list[MovieSummaryPublic] = Field(description="The page's matches, best first.")
    total: int = Field(description="Movies matching the query and filters.")
    limit: int
    offset: int
    facets: SearchFacetsPublic


class MovieTrendingPositionPublic(BaseModel):
    """The movie's place in the latest trending list, when it is in it."""

    date: dt.date
    rank: int
    score: float


class MoviePublic(MovieSummaryPublic):
    """One movie: the fields of every listing, then what only the detail carries."""

    overview: str | None = None
    original_language: str | None = None
    status: str | None = None
    imdb_id: str | None = None
    genre_ids: list[int] = Field(default_factory=list, description="TMDB ids of ``genres``.")
    keywords: list[str] = Field(default_factory=list)
    runtime: int | None = Field(default=None, description="Minutes; null when unknown.")
    budget: int | None = None
    revenue: int | None = None
    trending: MovieTrendingPositionPublic | None = None


_MOVIE = TypeAdapter(MoviePublic)


def movie_json(movie: dict[str, Any]) -> bytes:
    """The body of ``GET /movies/{movie_id}``: the row of ``repositories.get_movie``
    validated and serialized by pydantic's core, as FastAPI does for a response model. The
    route and ``api.fast_path`` both answer with it, so their bytes are the same."""
    return _MOVIE.dump_json(_MOVIE.validate_python(movie))


class TrendingMoviePublic(MovieSummaryPublic):
    """A trending movie; its votes and popularity are those of the trend date."""

    rank: int = Field(description="1 is the most trending movie of the day.")
    score: float
    avg_popularity_7d: float | None = Field(
        default=None, description="Trailing 7-day average popularity."
    )
    momentum: float | None = Field(
        default=None, description="Popularity against its trailing 7-day average."
    )


class TrendingMoviesPublic(BaseModel):
    date: dt.date | None = Field(description="The trend date; null when nothing is published.")
    items: list[TrendingMoviePublic]


class RecommendationPublic(MovieSummaryPublic):
    rank: int
    score: float
    reason: str
    shared_genre_count: int | None = None
    shared_keyword_count: int | None = None


class RecommendationsPublic(BaseModel):
    movie_id: int
    items: list[RecommendationPublic]


class GenreStatPublic(BaseModel):
    genre_id: int
    genre_name: str
    movie_count: int
    rated_movie_count: int
    avg_rating: float | None = None
    total_votes: int
    avg_popularity: float | None = None
    new_release_count: int


class GenreStatsPublic(BaseModel):
    date: dt.date | None = Field(description="The stat date; null when nothing is published.")
    items: list[GenreStatPublic]


class GenreStatDayPublic(GenreStatPublic):
    """A genre's statistics on one day: one point of its daily series."""

    stat_date: dt.date


class GenreStatSeriesPublic(BaseModel):
    """The daily series of a window of days, by day then genre name."""

    model_config = ConfigDict(populate_by_name=True)

    first_date: dt.date | None = Field(
        alias="from", description="The window's first day; null when nothing is published."
    )
    last_date: dt.date | None = Field(
        alias="to", description="The window's last day; null when nothing is published."
    )
    items: list[GenreStatDayPublic]


class DecadeRatingPublic(BaseModel):
    decade: int
    movie_count: int
    rated_movie_count: int
    avg_rating: float | None = None
    weighted_rating: float | None = None
    total_votes: int


class DecadeRatingsPublic(BaseModel):
    items: list[DecadeRatingPublic]


class ComponentHealthPublic(BaseModel):
    status: str = Field(description="ok, degraded or unavailable.")
    detail: str | None = None


class CacheHealthPublic(ComponentHealthPublic):
    backend: str = Field(description="redis or memory.")


class DataVersionHealthPublic(ComponentHealthPublic):
    version: int | None = Field(default=None, description="The published data version.")
    published_at: dt.datetime | None = Field(
        default=None, description="When the last run published it."
    )
    age_seconds: float | None = Field(
        default=None, description="Seconds since it was published: the age of the data."
    )
    build_id: str | None = Field(default=None, description="The build that published it.")
    serving_version: int | None = Field(
        default=None, description="The version this process keys its cache with."
    )


class LastRunPublic(BaseModel):
    id: int
    kind: str
    status: str = Field(description="queued, running, succeeded or failed.")
    ended_at: dt.datetime | None = None


class RunsHealthPublic(ComponentHealthPublic):
    """degraded when the last successful ingest (or full refresh) ended longer ago than
    twice the ingest cron period; with none recorded, when the data is that old."""

    last_run: LastRunPublic | None = Field(
        default=None, description="The most recently requested run."
    )
    last_ingest_succeeded_at: dt.datetime | None = Field(
        default=None, description="When the last successful ingest or full-refresh run ended."
    )
    ingest_period_seconds: float | None = Field(
        default=None, description="The longest gap between two fires of the ingest cron."
    )
    source_freshness: Any = Field(
        default=None, description="The source freshness the last run that checked it recorded."
    )


class HealthComponentsPublic(BaseModel):
    warehouse: ComponentHealthPublic
    cache: CacheHealthPublic
    data_version: DataVersionHealthPublic
    runs: RunsHealthPublic


class HealthPublic(BaseModel):
    status: str = Field(
        description="ok, degraded (serving, a part is down) or unavailable (the warehouse "
        "is unreachable or nothing is published yet)."
    )
    components: HealthComponentsPublic


class IndexPublic(BaseModel):
    """Where the parts of the API are: paths on this server; ``{movie_id}`` is a TMDB id."""

    title: str
    version: str
    links: dict[str, str] = Field(description="Path of each part, by name.")


class ErrorPublic(BaseModel):
    detail: str


class JobAcceptedPublic(BaseModel):
    job_id: int = Field(description="The queued run's id (an equal queued run's, if any).")


class JobStepPublic(BaseModel):
    """One step of a run, as the scheduler recorded it when the step ended."""

    step: str
    status: str = Field(description="succeeded or failed.")
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    seconds: float | None = None
    rows: dict[str, int] = Field(default_factory=dict, description="Rows per table.")
    models: int = Field(default=0, description="dbt models built.")
    tests: int = Field(default=0, description="dbt data and unit tests passed.")
    version: int | None = Field(default=None, description="The data version it published.")
    freshness: Any = None
    summary: str = ""
    error: str | None = None


class JobPublic(BaseModel):
    """A run: queued, running, succeeded or failed, with each finished step."""

    job_id: int
    kind: str
    status: str = Field(description="queued, running, succeeded or failed.")
    requested_by: str = Field(description="cron, admin or cli.")
    requested_at: dt.datetime
    scheduled_for: dt.datetime | None = Field(default=None, description="Its cron fire time.")
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    seconds: float | None = Field(default=None, description="From start to end (or to now).")
    rows: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Rows per table, by step."
    )
    error: str | None = None
    steps: list[JobStepPublic]


class JobsPublic(BaseModel):
    items: list[JobPublic] = Field(description="Newest first.")
