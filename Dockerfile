# One image for every MovieMetric process: the API, and one-off or cron-run commands
# (`moviemetric run`, `load`, `transform`, `docs`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MOVIEMETRIC_HOME=/var/lib/moviemetric \
    MOVIEMETRIC_DBT_PROJECT_DIR=/app/dbt_project \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false

WORKDIR /app
COPY pyproject.toml README.md profiles.yml ./
COPY moviemetric ./moviemetric
COPY ingest ./ingest
COPY api ./api
COPY scheduler ./scheduler
COPY dbt_project ./dbt_project
RUN pip install . \
    && useradd --system --home-dir /var/lib/moviemetric --create-home moviemetric \
    && chown -R moviemetric /app
USER moviemetric
EXPOSE 8000
ENTRYPOINT ["moviemetric"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
