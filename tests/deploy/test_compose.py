"""docker-compose.yml: valid by the compose specification, and wired to what MovieMetric
reads (docs/deploy.md). No Docker needed: the file is read, not run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.stack_files import (
    COMPOSE_FILE,
    REPO_ROOT,
    compose,
    env_example,
    interpolated_variables,
    settings_variables,
)

# The official images' own variables, by the image that reads them.
IMAGE_VARIABLE_PREFIXES = {"postgres": "POSTGRES_", "getmeili/meilisearch": "MEILI_"}
APP_IMAGE = "moviemetric:local"
ONE_SHOT = {"bootstrap"}


def _services() -> dict[str, dict]:
    return compose()["services"]


def _image_name(service: dict) -> str:
    return service["image"].rsplit(":", 1)[0]


def _app_services() -> dict[str, dict]:
    return {name: s for name, s in _services().items() if s.get("image") == APP_IMAGE}


def test_compose_file_validates_against_the_compose_specification():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stack_has_every_service():
    assert set(_services()) == {"postgres", "redis", "meilisearch", "bootstrap", "api", "scheduler"}


def test_images_are_pinned():
    services = _services()
    postgres_tag = services["postgres"]["image"].split(":")[1]
    assert _image_name(services["postgres"]) == "postgres"
    assert int(re.match(r"\d+", postgres_tag)[0]) >= 15, "the SQL needs PostgreSQL 15 or newer"
    assert _image_name(services["meilisearch"]) == "getmeili/meilisearch"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", services["meilisearch"]["image"].split(":")[1])
    for name, service in services.items():
        assert ":" in service["image"] and not service["image"].endswith(":latest"), name


def test_app_services_run_the_moviemetric_image_with_their_commands():
    app = _app_services()
    assert set(app) == {"bootstrap", "api", "scheduler"}
    assert all(service["build"] == "." for service in app.values())
    assert app["api"]["command"][:3] == ["serve", "--host", "0.0.0.0"]
    assert app["scheduler"]["command"] == ["scheduler"]
    entrypoint = app["bootstrap"]["entrypoint"]
    assert entrypoint[0] == "python"
    script = Path(entrypoint[1])
    assert script.parts[:3] == ("/", "app", "deploy")  # where the Dockerfile copies deploy/
    assert (REPO_ROOT / "deploy" / script.name).is_file()


def test_app_services_use_only_variables_the_settings_read():
    read = settings_variables()
    for name, service in _app_services().items():
        unknown = set(service.get("environment") or {}) - read
        assert not unknown, f"{name} sets {sorted(unknown)}, which no setting reads"


def test_image_services_use_only_their_images_documented_variables():
    for name, service in _services().items():
        if service.get("image") == APP_IMAGE:
            continue
        prefix = IMAGE_VARIABLE_PREFIXES.get(_image_name(service))
        for variable in service.get("environment") or {}:
            assert prefix and variable.startswith(prefix), f"{name}: {variable}"


def test_interpolated_variables_are_read_and_come_from_the_env_file():
    assigned, _ = env_example()
    image_variables = tuple(IMAGE_VARIABLE_PREFIXES.values())
    for variable in interpolated_variables():
        assert variable in settings_variables() or variable.startswith(image_variables), variable
        assert variable in assigned, f"{variable} is interpolated but .env.example lacks it"


def test_env_example_documents_every_setting():
    assigned, documented = env_example()
    missing = settings_variables() - set(assigned) - documented
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_every_variable_env_example_documents_is_read():
    assigned, documented = env_example()
    read = settings_variables() | interpolated_variables()
    unread = (set(assigned) | documented) - read
    assert not unread, f".env.example documents {sorted(unread)}, which nothing reads"


def test_env_example_assigns_only_what_compose_passes_on():
    """A value in the env file reaches a container only through an interpolation."""
    assigned, _ = env_example()
    assert set(assigned) == interpolated_variables()


def test_required_secrets_have_placeholders_and_stop_compose_when_unset():
    assigned, _ = env_example()
    text = COMPOSE_FILE.read_text()
    for secret in ("POSTGRES_PASSWORD", "MEILI_MASTER_KEY", "MOVIEMETRIC_API_DATABASE_URL"):
        assert "change-me" in assigned[secret]
        assert re.search(r"\$\{" + secret + r":\?", text), f"{secret} must be required"
        assert not re.search(r"\$\{" + secret + r":-", text), f"{secret} must have no default"


def test_meilisearch_key_placeholder_is_long_enough_for_production_mode():
    assigned, _ = env_example()
    assert len(assigned["MEILI_MASTER_KEY"].encode()) >= 16


@pytest.mark.parametrize("name", ["postgres", "redis", "meilisearch", "api", "scheduler"])
def test_every_long_running_service_has_a_healthcheck_and_restarts(name):
    service = _services()[name]
    healthcheck = service.get("healthcheck") or {}
    assert healthcheck.get("test") and not healthcheck.get("disable"), name
    assert service["restart"] == "unless-stopped"


def test_only_the_bootstrap_is_one_shot():
    long_running = {n for n, s in _services().items() if s.get("restart") != "no"}
    assert set(_services()) - long_running == ONE_SHOT


def test_api_and_scheduler_wait_for_the_bootstrap():
    services = _services()
    for name in ("api", "scheduler"):
        condition = services[name]["depends_on"]["bootstrap"]["condition"]
        assert condition == "service_completed_successfully", name
    for dependency, condition in services["bootstrap"]["depends_on"].items():
        assert condition["condition"] == "service_healthy", dependency


def test_the_api_gets_its_own_login_and_not_the_warehouse_owner():
    api = _services()["api"]["environment"]
    assert "MOVIEMETRIC_API_DATABASE_URL" in api
    assert "DATABASE_URL" not in api
    assert "MOVIEMETRIC_API_DATABASE_URL" in _services()["bootstrap"]["environment"]


def test_api_healthcheck_asks_its_health_endpoint():
    test = " ".join(_services()["api"]["healthcheck"]["test"])
    assert "127.0.0.1:8000/health" in test


def test_state_lives_in_named_volumes():
    declared = set(compose()["volumes"])
    used = set()
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert not source.startswith((".", "/", "~")), f"{name} bind-mounts {source}"
            used.add(source)
    assert used == declared
    assert declared >= {"pgdata", "meili-data", "moviemetric-home"}
