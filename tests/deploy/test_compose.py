"""deploy/compose.yaml: valid against the Compose Specification's JSON schema, and coherent.

The schema is the compose-spec schema that check-jsonschema vendors (from SchemaStore) for its
`check-compose-spec` hook, read from the installed package: no network. No container engine
runs here, so `docker compose config` cannot; the checks below cover what it would add (every
reference resolves, every required variable is documented).
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources

import jsonschema
import pytest
import yaml

from tests.conftest import REPO
from tests.deploy.conftest import COMPOSE, DEPLOY, DOCKERFILE
from tests.deploy.test_k8s import entrypoint_roles

APP_SERVICES = ("migrate", "web", "worker", "syncd", "gpu-prefetch", "gpu-worker")


def compose_schema() -> dict:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def schema_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        compose_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_validates_against_the_compose_spec():
    assert compose_schema()["title"] == "Compose Specification"
    assert schema_errors(compose()) == []


def test_the_schema_rejects_mistakes():
    doc = compose()
    typo = copy.deepcopy(doc)
    typo["services"]["web"]["healthchek"] = typo["services"]["web"].pop("healthcheck")
    assert schema_errors(typo)
    wrong = copy.deepcopy(doc)
    wrong["services"]["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0][
        "capabilities"
    ] = "gpu"  # must be a list
    assert schema_errors(wrong)


def test_the_services_the_issue_asks_for():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "prometheus", *APP_SERVICES}
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert services["web"]["healthcheck"]["test"][-2:] == ["healthcheck", "/readyz"]
    roles = entrypoint_roles()
    for name in APP_SERVICES:
        assert services[name]["command"][0] in roles, name
    assert services["gpu-worker"]["command"] == ["gpu-worker"]


def test_gpu_worker_reserves_a_gpu_and_reads_the_model_cache():
    gpu = compose()["services"]["gpu-worker"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    assert "models:/models:ro" in gpu["volumes"] and "media:/data" in gpu["volumes"]
    assert gpu["build"]["target"] == "gpu" and gpu["profiles"] == ["gpu"]
    assert gpu["depends_on"]["gpu-prefetch"]["condition"] == "service_completed_successfully"
    assert "models:/models" in compose()["services"]["gpu-prefetch"]["volumes"]


def test_references_resolve():
    doc = compose()
    services, volumes = doc["services"], set(doc["volumes"])
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE.read_text(), flags=re.M))
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, (name, dependency)
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
        for mount in service.get("volumes", []):
            assert mount.split(":")[0] in volumes, (name, mount)
        if "build" in service:
            assert service["build"]["target"] in stages
            assert (COMPOSE.parent / service["build"]["context"] / service["build"][
                "dockerfile"]).resolve() == DOCKERFILE
    for name in ("web", "worker", "syncd", "migrate", "gpu-worker"):
        assert "media:/data" in services[name]["volumes"], name
        assert services[name]["env_file"] == [".env"]


def test_every_variable_is_documented_in_the_env_example():
    text = COMPOSE.read_text()
    example = (DEPLOY / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert required <= {k for k in documented if re.search(rf"^{k}=", example, flags=re.M)}
    assert used - documented <= {"PHOTOSYNC_IMAGE", "PHOTOSYNC_GPU_IMAGE"}


def test_env_example_names_only_real_settings():
    """A misspelt name in deploy/.env.example would be silently ignored by the app."""
    example = (DEPLOY / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    known = (REPO / "photosync" / "settings.py").read_text() + (
        DEPLOY / "entrypoint.sh"
    ).read_text() + COMPOSE.read_text()
    boto3_chain = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    for name in sorted(names - boto3_chain):
        assert re.search(rf"\b{name}\b", known), name


def test_the_monitoring_profile_scrapes_web_with_the_metrics_token():
    """/metrics answers 404 without a token: the shipped Prometheus sends it."""
    doc = compose()
    prometheus = doc["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    assert doc["secrets"]["metrics_token"] == {"environment": "PHOTOSYNC_METRICS_TOKEN"}
    config = yaml.safe_load((DEPLOY / doc["configs"]["prometheus"]["file"]).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["web:8000"]}]
    secret = prometheus["secrets"][0]
    assert job["authorization"] == {"type": "Bearer",
                                    "credentials_file": f"/run/secrets/{secret['target']}"}


@pytest.mark.parametrize("name", ["SECRET_KEY", "PHOTOSYNC_ENCRYPTION_KEY", "POSTGRES_PASSWORD",
                                  "PHOTOSYNC_METRICS_TOKEN"])
def test_env_example_ships_no_secret_values(name):
    example = (DEPLOY / ".env.example").read_text()
    (line,) = re.findall(rf"^{name}=.*$", example, flags=re.M)
    assert line == f"{name}="
