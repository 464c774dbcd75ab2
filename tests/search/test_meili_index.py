"""The Meilisearch index builder at the HTTP level: every request it sends, and failures.

The documents come from a real PostgreSQL table shaped like ``search_documents``; the
Meilisearch side is the recording server of ``meili_server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from pytest_httpserver import HTTPServer

from moviemetric.config import Settings
from search import MAX_LIMIT, MAX_OFFSET, IndexBuildError, IndexSwap
from search.meili import INDEX_SETTINGS, LIVE_INDEX, MeiliIndexer
from tests.search.meili_server import FakeMeili, task_error

SCHEMA = "candidate"
MASTER_KEY = "test-master-key"


def _documents(count: int) -> list[tuple]:
    rows = []
    for number in range(1, count + 1):
        rows.append(
            (
                number,
                f'Title {number} "quoted" OR genres = x [1]',
                f"Original {number}",
                "An overview.",
                ["Drama", 'Sci "Fi"'] if number % 2 else ["Horror"],
                ["heist"],
                date(1990 + number % 30, 1, 2),
                1990 + number % 30,
                1990 + (number % 30) // 10 * 10,
                "en",
                6.5,
                100 + number,
                float(number),
            )
        )
    return rows


@pytest.fixture
def candidate_url(make_database) -> str:
    """A database whose schema ``candidate`` holds 7 search documents."""
    url = make_database()
    with psycopg.connect(url) as conn:
        conn.execute(f"create schema {SCHEMA}")
        conn.execute(
            f"create table {SCHEMA}.search_documents (movie_id bigint primary key, title text,"
            " original_title text, overview text, genres text[], keywords text[],"
            " release_date date, release_year integer, release_decade integer,"
            " original_language text, vote_average double precision, vote_count bigint,"
            " popularity double precision)"
        )
        conn.cursor().executemany(
            f"insert into {SCHEMA}.search_documents values"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            _documents(7),
        )
    return url


@pytest.fixture
def meili(httpserver: HTTPServer) -> Iterator[FakeMeili]:
    yield FakeMeili(httpserver).install()


def indexer(meili: FakeMeili, **timing) -> MeiliIndexer:
    settings = Settings(meili_url=meili.url, meili_master_key=MASTER_KEY)
    return MeiliIndexer(settings, batch_size=3, poll_interval=0.01, **timing)


def test_a_build_sends_creation_settings_and_batches_then_swaps_and_deletes(
    meili: FakeMeili, candidate_url: str
) -> None:
    builder = indexer(meili)
    uid = builder.new_uid("abc123")
    progress = []

    built = builder.build(candidate_url, SCHEMA, uid, progress=lambda *p: progress.append(p))

    assert (built.uid, built.documents, built.batches) == (uid, 7, 3)
    assert uid == "movies_build_abc123"
    (create,) = meili.calls("POST", "/indexes")
    assert create.body == {"uid": uid, "primaryKey": "movie_id"}
    assert create.headers["Authorization"] == f"Bearer {MASTER_KEY}"
    (settings,) = meili.calls("PATCH", f"/indexes/{uid}/settings")
    assert settings.body == INDEX_SETTINGS
    assert settings.body["searchableAttributes"] == [
        "title",
        "original_title",
        "keywords",
        "genres",
        "overview",
    ]
    assert set(settings.body["filterableAttributes"]) == {
        "release_year",
        "release_decade",
        "genres",
        "vote_average",
        "vote_count",
        "original_language",
    }
    assert settings.body["sortableAttributes"] == ["popularity", "vote_average", "release_date"]
    assert settings.body["rankingRules"][-2:] == ["popularity:desc", "vote_count:desc"]
    assert settings.body["typoTolerance"]["minWordSizeForTypos"] == {"oneTypo": 5, "twoTypos": 9}
    assert settings.body["pagination"] == {"maxTotalHits": MAX_OFFSET + MAX_LIMIT}
    batches = meili.calls("POST", f"/indexes/{uid}/documents")
    assert [len(batch.body) for batch in batches] == [3, 3, 1]
    assert all(batch.query == {"primaryKey": ["movie_id"]} for batch in batches)
    first = batches[0].body[0]
    assert first == {
        "movie_id": 1,
        "title": 'Title 1 "quoted" OR genres = x [1]',
        "original_title": "Original 1",
        "overview": "An overview.",
        "genres": ["Drama", 'Sci "Fi"'],
        "keywords": ["heist"],
        "release_date": "1991-01-02",
        "release_year": 1991,
        "release_decade": 1990,
        "original_language": "en",
        "vote_average": 6.5,
        "vote_count": 101,
        "popularity": 1.0,
    }
    # every task was polled until it succeeded, each before the next request was sent
    assert all(task["status"] == "succeeded" for task in meili.tasks.values())
    assert progress == [(3, 7), (6, 7), (7, 7)]
    assert LIVE_INDEX not in meili.indexes  # building never touches the live index

    # the very first swap: no live index yet, so an empty one is made to swap with
    builder.swap(uid)
    builder.delete(uid)

    assert [(r.method, r.path) for r in meili.calls()][-5:] == [
        ("GET", f"/indexes/{LIVE_INDEX}"),
        ("POST", "/indexes"),
        ("POST", "/swap-indexes"),
        ("POST", "/tasks/cancel"),
        ("DELETE", f"/indexes/{uid}"),
    ]
    assert meili.calls("POST", "/swap-indexes")[0].body == [{"indexes": [LIVE_INDEX, uid]}]
    assert meili.calls("POST", "/tasks/cancel")[0].query == {
        "indexUids": [uid],
        "statuses": ["enqueued,processing"],
    }
    assert sorted(meili.documents(LIVE_INDEX)) == list(range(1, 8))
    assert uid not in meili.indexes


def test_a_second_swap_replaces_the_live_index_without_creating_one(
    meili: FakeMeili, candidate_url: str
) -> None:
    builder = indexer(meili)
    for token in ("first", "second"):
        uid = builder.new_uid(token)
        builder.build(candidate_url, SCHEMA, uid)
        builder.swap(uid)
        builder.delete(uid)

    live_creations = [c for c in meili.calls("POST", "/indexes") if c.body["uid"] == LIVE_INDEX]
    assert len(live_creations) == 1  # only for the first swap
    assert sorted(meili.indexes) == [LIVE_INDEX]
    assert len(meili.documents(LIVE_INDEX)) == 7


def _live_index_with_old_documents(meili: FakeMeili) -> dict:
    meili.indexes[LIVE_INDEX] = {
        "primaryKey": "movie_id",
        "documents": {99: {"movie_id": 99}},
        "settings": {},
    }
    return dict(meili.documents(LIVE_INDEX))


def test_a_failed_task_deletes_the_half_built_index_and_names_index_and_task(
    meili: FakeMeili, candidate_url: str
) -> None:
    old = _live_index_with_old_documents(meili)
    meili.faults["documentAdditionOrUpdate"] = task_error(
        'Document identifier `"x"` is invalid.', "invalid_document_id"
    )
    builder = indexer(meili)
    uid = builder.new_uid("failing")

    with pytest.raises(IndexBuildError) as failure:
        builder.build(candidate_url, SCHEMA, uid)

    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(
        f"Meilisearch task 2 (documentAdditionOrUpdate) on index {uid} failed: "
        'Document identifier `"x"` is invalid. [invalid_document_id]'
    )
    assert message.endswith(f"the live index {LIVE_INDEX!r} is unchanged")
    assert meili.documents(LIVE_INDEX) == old
    assert uid not in meili.indexes
    assert meili.calls("DELETE", f"/indexes/{uid}")
    assert not meili.calls("POST", "/swap-indexes")


def test_a_timed_out_task_deletes_the_half_built_index(
    meili: FakeMeili, candidate_url: str
) -> None:
    old = _live_index_with_old_documents(meili)
    meili.faults["settingsUpdate"] = "stuck"
    builder = indexer(meili, task_timeout=0.2, per_document_timeout=0.0)
    uid = builder.new_uid("slow")

    with pytest.raises(IndexBuildError) as failure:
        builder.build(candidate_url, SCHEMA, uid)

    assert str(failure.value) == (
        f"Meilisearch task 1 (settingsUpdate) on index {uid} did not finish within 0.2 s; "
        f"the live index {LIVE_INDEX!r} is unchanged"
    )
    # the stuck task is cancelled and the index deleted; no document was sent
    cancel = meili.calls("POST", "/tasks/cancel")[0]
    assert cancel.query["indexUids"] == [uid]
    assert meili.calls("DELETE", f"/indexes/{uid}")
    assert not meili.calls("POST", f"/indexes/{uid}/documents")
    assert meili.documents(LIVE_INDEX) == old


def test_the_timeout_grows_with_the_batch(meili: FakeMeili, candidate_url: str) -> None:
    meili.faults["documentAdditionOrUpdate"] = "stuck"
    builder = indexer(meili, task_timeout=0.1, per_document_timeout=0.2)

    with pytest.raises(IndexBuildError, match=r"did not finish within 0.7 s"):
        builder.build(candidate_url, SCHEMA, builder.new_uid("batch"))  # 0.1 + 3 * 0.2 s


def test_a_failed_swap_leaves_the_live_index(meili: FakeMeili, candidate_url: str) -> None:
    old = _live_index_with_old_documents(meili)
    builder = indexer(meili)
    uid = builder.new_uid("swap")
    builder.build(candidate_url, SCHEMA, uid)
    meili.faults["indexSwap"] = task_error("Index `movies` not found.", "index_not_found")

    with pytest.raises(IndexBuildError, match=rf"task \d+ \(indexSwap\) on index {uid} failed"):
        builder.swap(uid)

    assert meili.documents(LIVE_INDEX) == old


def test_stale_build_indexes_are_deleted_but_not_the_live_one(meili: FakeMeili) -> None:
    _live_index_with_old_documents(meili)
    for uid in ("movies_build_dead", "other_index"):
        meili.indexes[uid] = {"primaryKey": "movie_id", "documents": {}, "settings": {}}

    assert indexer(meili).delete_stale_builds() == ["movies_build_dead"]

    assert sorted(meili.indexes) == [LIVE_INDEX, "other_index"]
    assert meili.calls("GET", "/indexes")[0].query == {"limit": ["1000"]}


def test_a_publish_failing_after_the_swap_swaps_the_old_index_back(
    meili: FakeMeili, candidate_url: str
) -> None:
    old = _live_index_with_old_documents(meili)
    builder = indexer(meili)
    uid = builder.new_uid("commit")
    builder.build(candidate_url, SCHEMA, uid)

    with pytest.raises(RuntimeError), IndexSwap(builder, uid) as swap:
        swap.swap_in()
        assert len(meili.documents(LIVE_INDEX)) == 7
        raise RuntimeError("the publish commit failed")

    assert meili.documents(LIVE_INDEX) == old
    assert sorted(meili.indexes) == [LIVE_INDEX]
    assert [call.body for call in meili.calls("POST", "/swap-indexes")] == [
        [{"indexes": [LIVE_INDEX, uid]}]
    ] * 2
