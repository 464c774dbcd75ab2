"""Query parameters shared by several routes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query

MAX_LIMIT = 100

LimitParam = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Items to return, 1 to {MAX_LIMIT} (more is a 422)."),
]
DateParam = Annotated[
    dt.date | None,
    Query(description="Day (YYYY-MM-DD); default: the latest published day."),
]
