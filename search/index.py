"""The index step of the chain, and the index swap the publish runs.

``run_index(warehouse, options, sink)`` works on ``options.candidate``: the tested build
in ``artifacts__build`` during a run, or the published ``artifacts`` when no candidate
is given (``moviemetric index`` alone).

- Meilisearch (MEILI_URL set): a fresh index from the candidate's ``search_documents``
  (``search.meili.MeiliIndexer``). For a build, the index waits for the publish: the
  chain passes ``pending_index_swap(...)`` to the publish, which swaps it in inside the
  publish transaction, so the data version moves only once the index of that version
  is live. From the published artifacts it is swapped in at once.
- PostgreSQL (the default): the searchable form is built by dbt with the other
  artifacts and published in the same swap; the step checks that the candidate holds
  it and reports its row counts.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import TracebackType

from psycopg import sql

from moviemetric.ops import DATA_VERSION_QUERY, publish_version
from moviemetric.steps import Candidate, NullSink, ProgressSink, StepOptions, StepResult, utc_now
from moviemetric.warehouse import PUBLISHED_SCHEMA, Warehouse
from search.errors import IndexBuildError
from search.meili import LIVE_INDEX, MeiliIndexer

log = logging.getLogger(__name__)

# The PostgreSQL backend's artifacts, built by dbt from search_documents.
SEARCH_ARTIFACTS = (
    "search_index",
    "search_terms",
    "search_term_variants",
    "search_facet_cells",
    "search_catalog_facets",
    "search_bitmaps",
)
# dbt selection that rebuilds them alone: search_documents reads movie_catalog from the
# build schema, so the selection starts there. Models named one by one: their tests come
# by cautious indirect selection, never a test that also reads an artifact outside the
# selection (``movie_catalog+`` would select such a test as a descendant).
SEARCH_DBT_SELECTION = " ".join(("movie_catalog", "search_documents", *SEARCH_ARTIFACTS))


def run_index(
    warehouse: Warehouse,
    options: StepOptions = StepOptions(),
    sink: ProgressSink = NullSink(),
) -> StepResult:
    """The index step: build (Meilisearch) or check (PostgreSQL) the candidate's index."""
    started = utc_now()
    candidate = options.candidate or Candidate(schema=PUBLISHED_SCHEMA)
    if options.select and candidate.token and not _has_search_documents(warehouse, candidate):
        # a partial build that left the search artifacts out: the publish carries the
        # published ones over, and the live index stays as it is
        return StepResult(
            step="index",
            started_at=started,
            ended_at=utc_now(),
            summary=(
                f"search index unchanged: the dbt selection {options.select!r} built no "
                "search_documents; the publish keeps the published search artifacts and index"
            ),
        )
    if warehouse.settings.meili_url:
        return _meili_index(warehouse, candidate, sink, started)
    return _postgres_index(warehouse, candidate, started)


def _has_search_documents(warehouse: Warehouse, candidate: Candidate) -> bool:
    with warehouse.connect() as conn:
        row = conn.execute(
            "select 1 from information_schema.tables"
            " where table_schema = %s and table_name = 'search_documents'",
            (candidate.schema,),
        ).fetchone()
    return row is not None


def _meili_index(
    warehouse: Warehouse, candidate: Candidate, sink: ProgressSink, started
) -> StepResult:
    indexer = MeiliIndexer(warehouse.settings)
    stale = indexer.delete_stale_builds()
    if stale:
        log.warning("deleted Meilisearch index(es) left by a dead run: %s", ", ".join(stale))
    uid = indexer.new_uid(candidate.token)
    sink.message(f"building Meilisearch index {uid} from {candidate.schema}.search_documents")
    built = indexer.build(
        warehouse.url,
        candidate.schema,
        uid,
        progress=lambda done, total: sink.progress("index", done, total, uid),
    )
    where = f"{built.documents:,} documents in {built.batches} batches from {candidate.schema}"
    details: dict[str, object] = {"index_uid": uid, "documents": built.documents}
    rows = {"search_documents": built.documents}
    if candidate.token:
        return StepResult(
            step="index",
            started_at=started,
            ended_at=utc_now(),
            rows=rows,
            summary=f"built Meilisearch index {uid}: {where}; it goes live with the publish",
            details=details,
            candidate=replace(candidate, index_uid=uid),
        )
    try:
        indexer.swap(uid)
    except IndexBuildError:
        indexer.delete(uid)
        raise
    indexer.delete(uid)  # it holds the replaced documents now
    # What /search answers changed: a new data version retires every cached answer
    # (the published tables and their build stay as they are).
    with warehouse.connect() as conn:
        (build_id,) = conn.execute(DATA_VERSION_QUERY).fetchone()[2:]
        version = publish_version(conn, build_id or "")
    return StepResult(
        step="index",
        started_at=started,
        ended_at=utc_now(),
        rows=rows,
        version=version,
        summary=(
            f"rebuilt Meilisearch index {LIVE_INDEX!r}: {where}, swapped in; data version {version}"
        ),
        details=details,
    )


def _postgres_index(warehouse: Warehouse, candidate: Candidate, started) -> StepResult:
    schema = candidate.schema
    with warehouse.connect() as conn:
        present = {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables"
                " where table_schema = %s and table_name = any(%s)",
                (schema, [*SEARCH_ARTIFACTS, "search_documents"]),
            )
        }
        rows = {
            name: conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name))
            ).fetchone()[0]
            for name in sorted(present)
        }
    missing = [name for name in SEARCH_ARTIFACTS if name not in present]
    if "search_documents" not in present:
        raise IndexBuildError(
            f"{schema} has no search_documents: run `moviemetric transform` to build the "
            "artifacts the search index is made of"
        )
    if len(missing) == len(SEARCH_ARTIFACTS):
        summary = (
            f"PostgreSQL search: {schema} holds {rows['search_documents']:,} search documents "
            f"and none of the search artifacts ({', '.join(SEARCH_ARTIFACTS)}): this dbt "
            "project builds none, so there is no index to check"
        )
    elif missing:
        raise IndexBuildError(
            f"{schema} lacks the search artifact(s) {', '.join(missing)} but has the others: "
            "the build is incomplete; run `moviemetric transform` again"
        )
    else:
        listed = ", ".join(f"{name} {count:,}" for name, count in rows.items())
        summary = f"PostgreSQL search artifacts in {schema}, published with them: {listed}"
    return StepResult(
        step="index", started_at=started, ended_at=utc_now(), rows=rows, summary=summary
    )


class IndexSwap:
    """The publish's index swap for one candidate; use it as a context manager.

    ``swap_in`` is the publish's ``before_commit`` hook. Leaving the block normally
    (published) deletes the replaced index; leaving it with an error swaps the old
    index back if the swap already ran (the publish transaction then rolled back), and
    deletes the candidate's index: the live index stays the published version's.
    """

    def __init__(self, indexer: MeiliIndexer, uid: str) -> None:
        self.indexer = indexer
        self.uid = uid
        self.swapped = False

    def swap_in(self) -> None:
        self.indexer.swap(self.uid)
        self.swapped = True

    def __enter__(self) -> IndexSwap:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None and self.swapped:
            try:
                self.indexer.swap(self.uid)  # the same pair again: the old index is back
            except IndexBuildError as error:
                log.error(
                    "the publish failed after index %s was swapped in, and swapping the "
                    "old index back failed too: %s",
                    self.uid,
                    error,
                )
        self.indexer.delete(self.uid)


def pending_index_swap(warehouse: Warehouse, candidate: Candidate | None) -> IndexSwap | None:
    """The index swap the publish of ``candidate`` must run, or None (nothing to swap)."""
    if candidate is None or candidate.index_uid is None or not warehouse.settings.meili_url:
        return None
    return IndexSwap(MeiliIndexer(warehouse.settings), candidate.index_uid)
