"""Query parameters and responses shared by several routes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query

from api.models import ErrorPublic

MAX_LIMIT = 100

LimitParam = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Items to return, 1 to {MAX_LIMIT} (more is a 422)."),
]
DateParam = Annotated[
    dt.date | None,
    Query(description="Day (YYYY-MM-DD); default: the latest published day."),
]

# What every route that reads published data may answer besides its own responses.
UNAVAILABLE_RESPONSES: dict[int | str, dict] = {
    503: {
        "model": ErrorPublic,
        "description": "The warehouse is unreachable, or nothing is published yet "
        "(the detail says what to run).",
    }
}
