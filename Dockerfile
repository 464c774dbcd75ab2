# One image for every MovieMetric process (api, scheduler, one-off commands).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MOVIEMETRIC_HOME=/var/lib/moviemetric

WORKDIR /app
COPY pyproject.toml README.md ./
COPY moviemetric ./moviemetric
COPY ingest ./ingest
COPY api ./api
COPY scheduler ./scheduler
COPY search ./search
COPY dbt_project ./dbt_project
COPY profiles.yml ./
RUN pip install . \
    && useradd --system --home-dir /var/lib/moviemetric --create-home moviemetric
USER moviemetric
EXPOSE 8000
ENTRYPOINT ["moviemetric"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
