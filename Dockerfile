# The MovieMetric image: one image for every process of the stack (docker-compose.yml):
# the API (`moviemetric serve`), the scheduler (`moviemetric scheduler`), one-off
# commands (`moviemetric run`, `docs`, `dbt ...`) and the bootstrap (deploy/bootstrap.py).
#
# Two stages: the builder installs the package (not editable) and its dependencies into
# a virtual environment; the final stage gets that environment and the files the
# package reads at run time (the dbt project and its profile), and nothing that built it.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/moviemetric
WORKDIR /src
COPY pyproject.toml README.md ./
COPY moviemetric ./moviemetric
COPY ingest ./ingest
COPY transform ./transform
COPY search ./search
COPY api ./api
COPY scheduler ./scheduler
RUN /opt/moviemetric/bin/pip install . \
    && /opt/moviemetric/bin/moviemetric --help > /dev/null

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/moviemetric/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MOVIEMETRIC_HOME=/var/lib/moviemetric \
    MOVIEMETRIC_DBT_PROJECT_DIR=/app/dbt_project \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DBT_TARGET_PATH=/var/lib/moviemetric/dbt/target-analyst \
    DBT_LOG_PATH=/var/lib/moviemetric/dbt/logs-analyst
# MOVIEMETRIC_HOME (dlt state, dbt target and logs, the docs site) is the only folder the
# processes write; docker-compose.yml mounts a named volume there, which takes this
# folder's owner on first use. /app is read-only to them: the pipeline gives dbt its
# target and log paths under MOVIEMETRIC_HOME, and DBT_TARGET_PATH / DBT_LOG_PATH do the
# same for `moviemetric dbt ...` by hand.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/moviemetric \
        --create-home --shell /usr/sbin/nologin moviemetric
COPY --from=builder /opt/moviemetric /opt/moviemetric
# dbt reads profiles.yml from the project folder's parent (transform/dbt.py).
COPY profiles.yml /app/profiles.yml
COPY dbt_project /app/dbt_project
COPY deploy /app/deploy
WORKDIR /var/lib/moviemetric
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["moviemetric"]
CMD ["serve", "--host", "0.0.0.0"]
