"""One settings object for every part of MovieMetric (docs/design.md section 2).

Every command and service reads the same environment variables, so two commands
started with the same environment see the same warehouse, cache and index.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TMDB_BASE_URL = "https://api.themoviedb.org/3"
DEFAULT_TMDB_EXPORTS_URL = "http://files.tmdb.org/p/exports"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Runtime configuration; unset services fall back to their embedded default."""

    # An empty variable (e.g. `TMDB_API_KEY=` from a compose file) counts as unset.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    # warehouse
    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    # Not named `home`: with populate_by_name the field name is read too, and HOME is set.
    moviemetric_home: Path = Field(
        default=Path(".moviemetric"), validation_alias=_env("MOVIEMETRIC_HOME")
    )

    # cache
    redis_url: str | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    cache_ttl_seconds: int = Field(
        default=3600, ge=1, validation_alias=_env("MOVIEMETRIC_CACHE_TTL")
    )

    # search
    meili_url: str | None = Field(default=None, validation_alias=_env("MEILI_URL"))
    meili_master_key: SecretStr | None = Field(
        default=None, validation_alias=_env("MEILI_MASTER_KEY")
    )

    # TMDB source
    tmdb_api_key: SecretStr | None = Field(default=None, validation_alias=_env("TMDB_API_KEY"))
    tmdb_access_token: SecretStr | None = Field(
        default=None, validation_alias=_env("TMDB_ACCESS_TOKEN")
    )
    tmdb_base_url: str = Field(
        default=DEFAULT_TMDB_BASE_URL, validation_alias=_env("TMDB_BASE_URL")
    )
    tmdb_requests_per_second: float = Field(
        default=40.0, gt=0, validation_alias=_env("TMDB_REQUESTS_PER_SECOND")
    )
    tmdb_concurrency: int = Field(default=8, ge=1, le=64, validation_alias=_env("TMDB_CONCURRENCY"))
    tmdb_exports_url: str = Field(
        default=DEFAULT_TMDB_EXPORTS_URL, validation_alias=_env("TMDB_EXPORTS_URL")
    )
    # adult movies of the ID export are skipped unless this is set
    tmdb_include_adult: bool = Field(default=False, validation_alias=_env("TMDB_INCLUDE_ADULT"))
    # daily /discover/movie pages (20 movies each, by popularity) whose votes are loaded
    tmdb_discover_pages: int = Field(
        default=500, ge=0, le=500, validation_alias=_env("TMDB_DISCOVER_PAGES")
    )

    # built-in TMDB sandbox, used when no TMDB key is set
    sandbox_movies: int = Field(
        default=10_000, ge=100, le=1_000_000, validation_alias=_env("MOVIEMETRIC_SANDBOX_MOVIES")
    )
    sandbox_seed: int = Field(default=42, validation_alias=_env("MOVIEMETRIC_SANDBOX_SEED"))

    # API
    api_database_url: str | None = Field(
        default=None, validation_alias=_env("MOVIEMETRIC_API_DATABASE_URL")
    )
    admin_token: SecretStr | None = Field(
        default=None, validation_alias=_env("MOVIEMETRIC_ADMIN_TOKEN")
    )
    api_host: str = Field(default="127.0.0.1", validation_alias=_env("MOVIEMETRIC_API_HOST"))
    api_port: int = Field(default=8000, validation_alias=_env("MOVIEMETRIC_API_PORT"))

    # scheduler (docs/design.md section 7): cron expressions in UTC, run leases, history
    schedule_ingest_cron: str = Field(
        default="0 2 * * *", validation_alias=_env("MOVIEMETRIC_SCHEDULE_INGEST")
    )
    schedule_full_refresh_cron: str = Field(
        default="0 4 * * mon", validation_alias=_env("MOVIEMETRIC_SCHEDULE_FULL_REFRESH")
    )
    run_lease_seconds: int = Field(
        default=60, ge=5, validation_alias=_env("MOVIEMETRIC_RUN_LEASE_SECONDS")
    )
    run_retention_days: int = Field(
        default=30, ge=1, validation_alias=_env("MOVIEMETRIC_RUN_RETENTION_DAYS")
    )

    # dbt
    dbt_project_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "dbt_project",
        validation_alias=_env("MOVIEMETRIC_DBT_PROJECT_DIR"),
    )

    @property
    def tmdb_configured(self) -> bool:
        """True when a real TMDB credential is set; otherwise the sandbox is used."""
        return self.tmdb_api_key is not None or self.tmdb_access_token is not None

    @property
    def home_dir(self) -> Path:
        return self.moviemetric_home.expanduser().resolve()

    @property
    def lineage_dir(self) -> Path:
        """Where `moviemetric docs` writes the dbt docs site that the API serves at /lineage."""
        return self.home_dir / "lineage"


@lru_cache
def get_settings() -> Settings:
    return Settings()
