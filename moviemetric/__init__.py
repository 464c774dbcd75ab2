"""MovieMetric: TMDB -> dlt -> PostgreSQL -> dbt -> search -> FastAPI."""

__version__ = "0.1.0"
