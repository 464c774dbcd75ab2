"""The error every part raises for a failure the user can act on.

The CLI prints its message as one line on stderr and exits non-zero; anything
else is a bug and keeps its traceback.
"""


class MovieMetricError(RuntimeError):
    """A failure with a message that says what failed, on which input, and what to do."""
