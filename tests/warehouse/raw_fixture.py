"""Hand-made TMDB-shaped rows, loaded into raw_tmdb through dlt itself.

The tables, keys and write dispositions are those of docs/architecture.md "Raw
layer", so the layout (child tables, ``_dlt_*`` columns, merge behaviour) is what
the real loader writes. The catalog is small, deterministic from its seed, and has
the awkward shapes staging must clean: '' and null release dates, runtime 0,
adult titles, unrated movies, non-ASCII titles, sparse ids.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dlt
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

GENRES = {
    28: "Action",
    12: "Adventure",
    16: "Animation",
    35: "Comedy",
    80: "Crime",
    99: "Documentary",
    18: "Drama",
    10751: "Family",
    14: "Fantasy",
    36: "History",
    27: "Horror",
    10402: "Music",
    9648: "Mystery",
    10749: "Romance",
    878: "Science Fiction",
    10770: "TV Movie",
    53: "Thriller",
    10752: "War",
    37: "Western",
}
KEYWORDS = [
    "heist",
    "time travel",
    "dystopia",
    "based on novel",
    "revenge",
    "friendship",
    "space",
    "robot",
    "small town",
    "coming of age",
    "serial killer",
    "road trip",
    "world war ii",
    "high school",
    "zombie",
    "vampire",
    "musical",
    "sports",
    "biography",
    "martial arts",
    "detective",
    "alien",
    "pirate",
    "wedding",
]
TITLE_WORDS = ["Night", "Été", "Город", "Sun", "夢", "River", "Ghost", "Straße", "Love", "Fire"]


@dataclass
class RawCatalog:
    """Rows per raw table, in the shapes the loader writes."""

    genres: list[dict] = field(default_factory=list)
    movies: list[dict] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)
    trending: list[dict] = field(default_factory=list)


def make_catalog(
    movies: int = 300, days: int = 10, seed: int = 7, end: date | None = None
) -> RawCatalog:
    """A catalog of ``movies`` with ``days`` daily snapshots ending on ``end``."""
    rng = random.Random(seed)
    end = end or date(2026, 1, 15)
    loaded_at = datetime(end.year, end.month, end.day, 3, tzinfo=UTC)
    catalog = RawCatalog(
        genres=[{"id": gid, "name": name, "_loaded_at": loaded_at} for gid, name in GENRES.items()]
    )
    genre_ids = list(GENRES)
    genre_weights = [1.0 / (rank + 1) for rank in range(len(genre_ids))]
    for index in range(movies):
        movie_id = 11 + index * 7 + rng.randrange(3)
        vote_count = int(rng.paretovariate(0.8)) - 1 if rng.random() > 0.15 else 0
        year = rng.randrange(1931, 2027)
        release_date = rng.choice(
            [f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"] * 8 + ["", None]
        )
        if index % 25 == 0:  # a few new releases inside every stats window
            release_date = (end - timedelta(days=rng.randrange(0, 40))).isoformat()
        chosen_genres = sorted(
            set(rng.choices(genre_ids, weights=genre_weights, k=rng.randrange(0, 4)))
        )
        chosen_keywords = sorted(set(rng.sample(KEYWORDS, k=rng.randrange(0, 5))))
        catalog.movies.append(
            {
                "id": movie_id,
                "title": f"{rng.choice(TITLE_WORDS)} {rng.choice(TITLE_WORDS)} {index}",
                "original_title": f"{rng.choice(TITLE_WORDS)} {index}",
                "original_language": rng.choice(["en", "fr", "ru", "ja", "de"]),
                "overview": rng.choice(["", "A story about people.", "Des gens."]),
                "release_date": release_date,
                "adult": rng.random() < 0.03 if index % 9 else None,
                "popularity": round(rng.lognormvariate(1.0, 1.2), 3),
                "vote_average": round(rng.uniform(1, 10), 1) if vote_count else 0.0,
                "vote_count": vote_count,
                "runtime": rng.choice([0, None, 95, 120, 88, 142]),
                "budget": rng.choice([0, 0, 0, 1_000_000, 63_000_000]),
                "revenue": rng.choice([0, 0, 5_000_000]),
                "status": "Released",
                "imdb_id": rng.choice([f"tt{movie_id:07d}", None]),
                "tagline": rng.choice(["", "Mischief. Mayhem."]),
                "homepage": "",
                "poster_path": f"/{movie_id}.jpg",
                "backdrop_path": None,
                "video": False,
                "genres": [
                    {"id": gid, "name": GENRES[gid], "movie_id": movie_id} for gid in chosen_genres
                ],
                "keywords": [
                    {"id": KEYWORDS.index(name) + 1000, "name": name, "movie_id": movie_id}
                    for name in chosen_keywords
                ],
                "_loaded_at": loaded_at,
            }
        )
    catalog.snapshots = _snapshots(catalog.movies, days, end, rng)
    catalog.trending = [
        {
            "id": row["id"],
            "trend_date": row["snapshot_date"],
            "time_window": "day",
            "position": position,
            "popularity": row["popularity"],
            "_loaded_at": row["_loaded_at"],
        }
        for position, row in enumerate(
            sorted(
                (row for row in catalog.snapshots if row["snapshot_date"] == end),
                key=lambda row: -row["popularity"],
            )[:20],
            start=1,
        )
    ]
    return catalog


def _snapshots(movies: list[dict], days: int, end: date, rng: random.Random) -> list[dict]:
    """Daily popularity that drifts; some movies skip days, a few spike, and one in 40
    left the ID export two days before ``end`` (removed: no snapshot on the last days).
    Every other movie is in the last day's export, with votes a little newer than its
    details' for one in three."""
    rows = []
    for index, movie in enumerate(movies):
        level = movie["popularity"]
        votes = movie["vote_count"]
        spike_day = rng.randrange(days) if rng.random() < 0.05 else None
        removed = index % 40 == 3
        for offset in range(days):
            day = end - timedelta(days=days - 1 - offset)
            level = max(0.0, level * math.exp(rng.gauss(0, 0.15)))
            is_last = offset == days - 1
            skipped = rng.random() < 0.07  # not seen that day: drops out of that day's ranking
            if (skipped and not is_last) or (removed and offset >= days - 2):
                continue
            popularity = level * (8 if offset == spike_day else 1)
            latest_votes = votes + (2 if index % 3 == 0 else 0)
            rows.append(
                {
                    "id": movie["id"],
                    "snapshot_date": day,
                    "popularity": movie["popularity"] if is_last else round(popularity, 3),
                    "vote_average": movie["vote_average"],
                    "vote_count": latest_votes if is_last else max(0, votes - (days - offset)),
                    "_loaded_at": datetime(day.year, day.month, day.day, 3, tzinfo=UTC),
                }
            )
    return rows


def _credentials(database_url: str) -> PostgresCredentials:
    """dlt wants a password even under trust auth: an absent one means empty."""
    credentials = PostgresCredentials()
    credentials.parse_native_representation(database_url)
    credentials.password = credentials.password or ""
    credentials.resolve()
    return credentials


def load_raw(database_url: str, catalog: RawCatalog, pipelines_dir: Path) -> None:
    """Load ``catalog`` into raw_tmdb with the raw layer's keys and dispositions."""
    pipeline = dlt.pipeline(
        pipeline_name="warehouse_fixture",
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.postgres(credentials=_credentials(database_url)),
        dataset_name="raw_tmdb",
    )
    text_date = {"release_date": {"data_type": "text", "nullable": True}}
    resources = [
        dlt.resource(catalog.genres, name="genres", write_disposition="merge", primary_key="id"),
        dlt.resource(
            catalog.movies,
            name="movies",
            write_disposition="merge",
            primary_key="id",
            columns=text_date,
        ),
        dlt.resource(
            catalog.snapshots,
            name="movie_popularity_snapshots",
            write_disposition="merge",
            primary_key=("id", "snapshot_date"),
        ),
        dlt.resource(
            catalog.trending,
            name="trending_movies",
            write_disposition="merge",
            primary_key=("time_window", "trend_date", "id"),
        ),
    ]
    pipeline.run(resources)
