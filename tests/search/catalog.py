"""The search tests' catalog: the warehouse fixture's synthetic movies plus a few
movies with known titles, so relevance can be asserted by name."""

from __future__ import annotations

import copy
from datetime import date

from search.folding import FOLDED_BLOCK
from tests.warehouse.raw_fixture import GENRES, RawCatalog, make_catalog

END = date(2026, 1, 15)

# Every letter of the folded block, as words of one title: the folding test reads them
# back folded by the dbt macro.
FOLDING_TITLE = " ".join(chr(code) for code in FOLDED_BLOCK if chr(code).isalpha())

# (id, title, original_title, language, year, genres, keywords, overview, popularity, votes)
KNOWN_MOVIES = [
    (
        900001,
        "The Godfather",
        "The Godfather",
        "en",
        1972,
        [80, 18],
        ["mafia"],
        "The aging patriarch of an organized crime dynasty transfers control.",
        60.0,
        20000,
    ),
    (
        900002,
        "The Godfather Part II",
        "The Godfather Part II",
        "en",
        1974,
        [80, 18],
        ["mafia"],
        "The early life and career of Vito Corleone.",
        40.0,
        12000,
    ),
    (
        900003,
        "Interstellar",
        "Interstellar",
        "en",
        2014,
        [12, 18, 878],
        ["space"],
        "Explorers travel through a wormhole in space.",
        90.0,
        35000,
    ),
    (
        900004,
        "Amélie",
        "Le Fabuleux Destin d'Amélie Poulain",
        "fr",
        2001,
        [35, 10749],
        ["paris"],
        "A shy waitress decides to change the lives of those around her.",
        30.0,
        11000,
    ),
    (
        900005,
        "Aliens",
        "Aliens",
        "en",
        1986,
        [28, 878],
        ["alien"],
        "Ripley returns to the moon where her crew found the alien.",
        25.0,
        9000,
    ),
    (
        900006,
        "Alien",
        "Alien",
        "en",
        1979,
        [27, 878],
        ["alien"],
        "A crew in deep space meets a deadly lifeform.",
        55.0,
        14000,
    ),
    (
        900007,
        "Mafia Days",
        "Mafia Days",
        "it",
        1990,
        [80],
        ["godfather"],
        "A comedy about a small-town godfather.",
        2.0,
        40,
    ),
    (
        900008,
        "Casablanca",
        "Casablanca",
        "en",
        1942,
        [18, 10749],
        ["world war ii"],
        "A cafe owner meets his former lover in wartime Morocco.",
        20.0,
        5000,
    ),
    (
        900009,
        "Casablanca Nights",
        "Casablanca Nights",
        "en",
        1999,
        [10749],
        [],
        "Romance in the city.",
        20.0,
        5000,
    ),
    (
        900010,
        "Casablanca Express",
        "Casablanca Express",
        "en",
        1989,
        [28],
        [],
        "A train across the desert.",
        20.0,
        7000,
    ),
    (900011, FOLDING_TITLE, None, "xx", 2000, [], [], "", 0.001, 0),
]


def _movie(known: tuple, loaded_at) -> dict:
    movie_id, title, original, language, year, genre_ids, keywords, overview, pop, votes = known
    return {
        "id": movie_id,
        "title": title,
        "original_title": original,
        "original_language": language,
        "overview": overview,
        "release_date": f"{year}-06-01",
        "adult": False,
        "popularity": pop,
        "vote_average": 8.0 if votes else 0.0,
        "vote_count": votes,
        "runtime": 120,
        "budget": 0,
        "revenue": 0,
        "status": "Released",
        "imdb_id": None,
        "tagline": "",
        "homepage": "",
        "poster_path": f"/{movie_id}.jpg",
        "backdrop_path": None,
        "video": False,
        "genres": [{"id": gid, "name": GENRES[gid], "movie_id": movie_id} for gid in genre_ids],
        "keywords": [
            {"id": 5000 + index, "name": name, "movie_id": movie_id}
            for index, name in enumerate(keywords)
        ],
        "_loaded_at": loaded_at,
    }


def search_catalog() -> RawCatalog:
    """300 synthetic movies (``make_catalog``) and ``KNOWN_MOVIES``, with one snapshot
    each on the catalog's last day."""
    catalog = make_catalog(movies=300, days=3, seed=11, end=END)
    loaded_at = catalog.movies[0]["_loaded_at"]
    for known in KNOWN_MOVIES:
        movie = _movie(known, loaded_at)
        catalog.movies.append(movie)
        catalog.snapshots.append(
            {
                "id": movie["id"],
                "snapshot_date": END,
                "popularity": movie["popularity"],
                "vote_average": movie["vote_average"],
                "vote_count": movie["vote_count"],
                "_loaded_at": loaded_at,
            }
        )
    return copy.deepcopy(catalog)
