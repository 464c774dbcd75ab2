"""The transform's errors: every one leaves the published artifacts as they were."""

from moviemetric.errors import MovieMetricError


class TransformError(MovieMetricError):
    """The transform could not run or publish; published artifacts are unchanged."""


class DbtError(TransformError):
    """dbt could not run, or failed without naming failed nodes."""


class PublishError(TransformError):
    """The publish could not swap; the published artifacts are unchanged."""


class BuildFailedError(TransformError):
    """A dbt model or test failed, so nothing was published."""

    def __init__(self, message: str, failed_nodes: list[str], version: int) -> None:
        super().__init__(message)
        self.failed_nodes = failed_nodes
        self.version = version
