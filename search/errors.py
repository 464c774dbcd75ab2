"""Search's errors: each says what failed, on which index or task, and what to do."""

from moviemetric.errors import MovieMetricError


class SearchError(MovieMetricError):
    """The search engine could not answer or could not be reached."""


class IndexBuildError(SearchError):
    """Building or swapping a search index failed; the live index is as it was."""
