"""Benchmark: uncached ``GET /search`` on the PostgreSQL backend against its own SQL.

In one run, per catalog size (10,000 and 100,000 movies by default):

1. A published warehouse in a scratch database (dropped afterwards): a synthetic raw
   catalog (``tests/warehouse/raw_fixture.make_catalog`` for the shapes, dates,
   genres, popularity and votes) whose titles and overviews are drawn from a large
   Zipf-distributed vocabulary (``bench_catalog``), loaded through dlt, then the real
   transform (``transform.run_transform``, selecting the artifacts the search reads).
2. Query sets drawn from the built vocabulary (``search_terms``) and titles, per
   query type: rare words, common words, prefixes, one-typo words, two words,
   filters only, and the empty query.
3. Per query type, alternating in ``--rounds`` rounds so that other load on the
   machine hits both alike:
   - **api**: the MovieMetric API under uvicorn (uvloop, httptools, one worker, no
     access log) in its own process, one keep-alive connection, one request at a time;
     every request carries a unique ``bench`` parameter, so the response cache never
     answers (each request does the whole path: routing, validation, a pooled
     connection, the search statement, serialization, storing the entry);
   - **sql**: the same statement, run the same way (``search.postgres.fetch_search``
     with the API's select list: prepared where the API prepares it) on one psycopg
     connection from this process, rows fetched.
   Then the whole mix at ``--connections`` concurrent clients, for requests/s.

Reported per size and type: p50 and p99 latency and requests/s of both, and the ratio
api/sql of the p50s. Raw numbers: bench/results/search.json; bench/README.md
("Search") records them.

    python -m bench.search [--movies 10000 100000] [--seconds 2] [--rounds 3]
        [--connections 4] [--database-url URL ...] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import psycopg

from bench._harness import RESULTS_DIR, scratch_database
from bench.api_load import _load, uvicorn_process
from search.index import SEARCH_ARTIFACTS

END = date(2026, 6, 1)
SEED = 42

# What the search reads (search_index, search_terms, search_term_variants, movie_catalog)
# and what the API needs to answer (genre_stats_daily: the known genres), with their
# parents; the recommendations, which the search does not read, are not built.
SEARCH_SELECTION = " ".join(
    f"+{name}" for name in ("movie_catalog", "genre_stats_daily", *SEARCH_ARTIFACTS)
)

QUERY_TYPES = (
    "rare word",
    "common word",
    "prefix",
    "typo",
    "two words",
    "filters only",
    "empty q",
)
QUERIES_PER_TYPE = 300

# --- the catalog ---------------------------------------------------------------------

# The most frequent words of real titles and overviews, ranked first in the vocabulary.
COMMON_WORDS = """
    the of a and in to man love night last day dark
    life world war king girl house black dead time home blood city
    story lost wild little death secret big new black american road heart
    star moon sun summer winter island red white street fire ghost river
    family mother father brother sister lady kiss dream angel devil hell heaven
    game money power murder escape return rise fall shadow legend hunter killer
    journey children boy woman women men school party wedding christmas
    """
ONSETS = (
    "", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
    "w", "z", "br", "cr", "dr", "gr", "pr", "tr", "st", "sh", "ch", "th", "bl", "cl",
    "fl", "gl", "pl", "sl", "qu",
)  # fmt: skip
VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "ie", "y", "é", "ö", "à", "ñ")
CODAS = ("", "", "n", "r", "s", "l", "m", "t", "x", "nd", "rt", "st", "ck")
VOCABULARY_SIZE = 120_000


def vocabulary(rng: random.Random) -> list[str]:
    """COMMON_WORDS, then distinct invented words of one to four syllables, by rank."""
    words = list(dict.fromkeys(COMMON_WORDS.split()))
    seen = set(words)
    while len(words) < VOCABULARY_SIZE:
        syllables = rng.choices((1, 2, 3, 4), weights=(1, 5, 4, 1))[0]
        word = "".join(
            rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)
        )
        if len(word) >= 3 and word not in seen:
            seen.add(word)
            words.append(word)
    return words


class ZipfWords:
    """Words drawn by rank with probability proportional to 1 / rank."""

    def __init__(self, words: list[str], rng: random.Random) -> None:
        self.words = words
        self.rng = rng
        self.cumulative = list(
            itertools.accumulate(1.0 / rank for rank in range(1, len(words) + 1))
        )

    def draw(self, count: int) -> list[str]:
        total = self.cumulative[-1]
        return [
            self.words[bisect.bisect_left(self.cumulative, self.rng.random() * total)]
            for _ in range(count)
        ]


def bench_catalog(movies: int):
    """``make_catalog``'s movies with titles, original titles and overviews drawn from a
    Zipf vocabulary of VOCABULARY_SIZE words, so the search tables have a realistic
    number of distinct words (the fixture and sandbox title vocabularies are small)."""
    from tests.warehouse.raw_fixture import make_catalog

    # about 3% of the fixture's movies are adult titles, which are not searchable
    catalog = make_catalog(movies=round(movies / 0.97), days=1, seed=SEED, end=END)
    rng = random.Random(SEED)
    zipf = ZipfWords(vocabulary(rng), rng)
    for movie in catalog.movies:
        title = zipf.draw(rng.choices((1, 2, 3, 4, 5), weights=(20, 35, 25, 12, 8))[0])
        title = " ".join(word.capitalize() if rng.random() < 0.9 else word for word in title)
        movie["title"] = title
        movie["original_title"] = (
            title if rng.random() < 0.7 else " ".join(zipf.draw(rng.randrange(1, 5)))
        )
        movie["overview"] = (
            "" if rng.random() < 0.05 else " ".join(zipf.draw(rng.randrange(15, 60))) + "."
        )
    return catalog


def build_warehouse(url: str, movies: int) -> dict:
    """Load ``bench_catalog(movies)`` into ``url`` and publish the search artifacts."""
    from moviemetric.config import Settings
    from moviemetric.steps import StepOptions
    from moviemetric.warehouse import open_warehouse
    from tests.warehouse.raw_fixture import load_raw
    from transform import run_transform

    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        load_raw(url, bench_catalog(movies), Path(root) / "dlt")
        loaded = time.perf_counter()
        settings = Settings(database_url=url, moviemetric_home=Path(root) / "home")
        run_transform(open_warehouse(settings), StepOptions(select=SEARCH_SELECTION))
        built = time.perf_counter()
    return {"load_seconds": round(loaded - started, 1), "build_seconds": round(built - loaded, 1)}


@contextmanager
def warehouses(sizes: list[int], urls: list[str], keep: bool) -> Iterator[dict[int, str]]:
    """Per size, a warehouse URL: the given ones, else scratch databases built here."""
    if urls:
        if len(urls) != len(sizes):
            raise SystemExit("--database-url: one per --movies size, in the same order")
        yield dict(zip(sizes, urls, strict=True))
        return
    with ExitStack() as stack:
        built = {}
        for movies in sizes:
            if keep:
                url = _kept_database(f"mm_bench_search_{movies}")
            else:
                url = stack.enter_context(scratch_database(f"mm_bench_search_{movies}"))
            print(f"building {movies:,} movies in {url}", flush=True)
            print(json.dumps(build_warehouse(url, movies)), flush=True)
            built[movies] = url
        yield built


def _kept_database(name: str) -> str:
    from urllib.parse import urlparse

    from psycopg import sql

    from bench._harness import ADMIN_URL

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return urlparse(ADMIN_URL)._replace(path=f"/{name}").geturl()


# --- the queries ---------------------------------------------------------------------


def _typo(word: str, rng: random.Random) -> str:
    """``word`` with one edit: a letter replaced, deleted, inserted, or two swapped."""
    position = rng.randrange(len(word) - 1)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    edit = rng.randrange(4)
    if edit == 0:
        return word[:position] + letter + word[position + 1 :]
    if edit == 1:
        return word[:position] + word[position + 1 :]
    if edit == 2:
        return word[:position] + letter + word[position:]
    return word[:position] + word[position + 1] + word[position] + word[position + 2 :]


def query_sets(url: str) -> dict[str, list[dict]]:
    """Per query type, QUERIES_PER_TYPE parameter sets drawn from the published data."""
    rng = random.Random(SEED)
    with psycopg.connect(url) as conn:
        terms = conn.execute(
            "select term, movie_count from artifacts.search_terms where term ~ '^[a-z]+$'"
        ).fetchall()
        titles = [
            row[0]
            for row in conn.execute(
                "select title_words from artifacts.search_index "
                "where title_words like '% %' order by movie_id"
            )
        ]
        genres = [
            row[0]
            for row in conn.execute("select distinct genre_name from artifacts.genre_stats_daily")
        ]
        decades = [
            row[0]
            for row in conn.execute(
                "select distinct release_decade from artifacts.search_index "
                "where release_decade is not null"
            )
        ]
    rare = [term for term, count in terms if count <= 3 and len(term) >= 4]
    common = [term for term, _ in sorted(terms, key=lambda row: -row[1])[:30]]
    long_terms = [term for term, _ in terms if len(term) >= 6]
    typo_terms = [term for term, _ in terms if len(term) >= 5]

    def filters() -> dict:
        chosen: dict = {"genre": rng.choice(genres)}
        if rng.random() < 0.4:
            chosen["decade"] = rng.choice(decades)
        if rng.random() < 0.3:
            chosen["min_rating"] = rng.choice((5, 6, 7, 8))
        if rng.random() < 0.2:
            chosen["language"] = rng.choice(("en", "fr", "ja"))
        return chosen

    def prefix() -> str:
        term = rng.choice(long_terms)
        return term[: rng.randrange(3, 6)]

    makers = {
        "rare word": lambda: {"q": rng.choice(rare)},
        "common word": lambda: {"q": rng.choice(common)},
        "prefix": lambda: {"q": prefix()},
        "typo": lambda: {"q": _typo(rng.choice(typo_terms), rng)},
        "two words": lambda: {"q": " ".join(rng.choice(titles).split()[:2])},
        "filters only": filters,
        "empty q": dict,
    }
    return {name: [makers[name]() for _ in range(QUERIES_PER_TYPE)] for name in QUERY_TYPES}


def api_app():
    """The API as ``moviemetric serve`` builds it, from the environment's settings."""
    from api.main import create_app
    from moviemetric.config import Settings

    return create_app(Settings())


# --- measuring -----------------------------------------------------------------------


@dataclass
class Result:
    size: int
    query_type: str
    side: str  # "api" or "sql"
    connections: int
    requests: int
    errors: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float


def _result(size, query_type, side, connections, latencies, errors, seconds) -> Result:
    latencies.sort()
    cut = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(
        size=size,
        query_type=query_type,
        side=side,
        connections=connections,
        requests=len(latencies),
        errors=len(errors),
        requests_per_second=round(len(latencies) / seconds, 1),
        p50_ms=round(cut[49] * 1000, 3),
        p99_ms=round(cut[98] * 1000, 3),
    )


def api_paths(queries: list[dict], counter: Iterator[int]) -> Iterator[str]:
    """The queries as /search paths, each made unique by a ``bench`` parameter."""
    for params in itertools.cycle(queries):
        yield "/search?" + urlencode({**params, "bench": next(counter)})


def _search_query(params: dict):
    from search import SearchQuery

    return SearchQuery(
        q=params.get("q", ""),
        genre=params.get("genre"),
        year=None,
        decade=params.get("decade"),
        min_rating=params.get("min_rating"),
        language=params.get("language"),
        limit=20,
        offset=0,
    )


async def _sql_load(url: str, queries: Iterator, connections: int, seconds: float, warmup: float):
    from api.routes.search import ITEM_COLUMNS
    from search.postgres import fetch_search

    latencies: list[float] = []
    now = time.perf_counter()
    record_from, stop_at = now + warmup, now + warmup + seconds

    async def client() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            while True:
                started = time.perf_counter()
                if started >= stop_at:
                    return
                query = next(queries)
                async with conn.cursor() as cursor:
                    await fetch_search(cursor, query, ITEM_COLUMNS)
                if started >= record_from:
                    latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(connections)))
    return latencies, []


def sql_queries(queries: list[dict]) -> Iterator:
    return itertools.cycle([_search_query(params) for params in queries])


def bench_size(size: int, url: str, args: argparse.Namespace) -> list[Result]:
    import uvloop

    queries = query_sets(url)
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "MEILI_URL")}
    env["DATABASE_URL"] = url
    counter = itertools.count()
    rounds: dict[tuple[str, str], list[Result]] = {}
    with uvicorn_process("bench.search:api_app", env, factory=True) as port:
        # one request per type first: the API answers them (no 422 from a drawn query)
        for name in QUERY_TYPES:
            latencies, errors = uvloop.run(
                _load(port, api_paths(queries[name][:1], counter), 1, 0.2, 0)
            )
            if errors:
                raise SystemExit(f"{name}: the API answered {errors[0]}")
        cases = [(name, queries[name]) for name in QUERY_TYPES]
        cases.append(("mix", [params for name in QUERY_TYPES for params in queries[name]]))
        random.Random(SEED).shuffle(cases[-1][1])
        for _ in range(args.rounds):
            for name, chosen in cases:
                connections = args.connections if name == "mix" else 1
                latencies, errors = uvloop.run(
                    _load(port, api_paths(chosen, counter), connections, args.seconds, 0.5)
                )
                rounds.setdefault((name, "api"), []).append(
                    _result(size, name, "api", connections, latencies, errors, args.seconds)
                )
                latencies, errors = uvloop.run(
                    _sql_load(url, sql_queries(chosen), connections, args.seconds, 0.5)
                )
                rounds.setdefault((name, "sql"), []).append(
                    _result(size, name, "sql", connections, latencies, errors, args.seconds)
                )
    # each case's median round by p50
    return [
        sorted(measured, key=lambda result: result.p50_ms)[len(measured) // 2]
        for measured in rounds.values()
    ]


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--database-url", nargs="*", default=[], help="Reuse published warehouses, one per size."
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the built databases (mm_bench_search_<size>)."
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="Per case and round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4, help="Clients of the mix case.")
    args = parser.parse_args()

    sizes = []
    with warehouses(args.movies, args.database_url, args.keep) as urls:
        for size, url in urls.items():
            with psycopg.connect(url) as conn:
                vocabulary_size = conn.execute(
                    "select count(*) from artifacts.search_terms"
                ).fetchone()[0]
                documents = conn.execute("select count(*) from artifacts.search_index").fetchone()[
                    0
                ]
            load_before = _load_average()
            results = bench_size(size, url, args)
            sizes.append(
                {
                    "movies": size,
                    "documents": documents,
                    "title_words": vocabulary_size,
                    "load_average_before": load_before,
                    "load_average_after": _load_average(),
                    "results": [asdict(result) for result in results],
                }
            )
            _print(sizes[-1])
    RESULTS_DIR.mkdir(exist_ok=True)
    summary = {
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "mix_connections": args.connections,
        "sizes": sizes,
    }
    (RESULTS_DIR / "search.json").write_text(json.dumps(summary, indent=2) + "\n")


def _print(size: dict) -> None:
    by_case = {(row["query_type"], row["side"]): row for row in size["results"]}
    print(
        f"\n{size['documents']:,} documents, {size['title_words']:,} title words, "
        f"load average {size['load_average_before']} -> {size['load_average_after']}"
    )
    columns = ("api p50", "api p99", "api rps", "sql p50", "sql p99", "sql rps", "api/sql")
    print(f"{'query type':14} " + " ".join(f"{column:>8}" for column in columns))
    for name in (*QUERY_TYPES, "mix"):
        api, direct = by_case[(name, "api")], by_case[(name, "sql")]
        print(
            f"{name:14} {api['p50_ms']:>8} {api['p99_ms']:>8} {api['requests_per_second']:>8} "
            f"{direct['p50_ms']:>8} {direct['p99_ms']:>8} {direct['requests_per_second']:>8} "
            f"{api['p50_ms'] / direct['p50_ms']:>8.2f}"
        )


if __name__ == "__main__":
    main()
