"""The settings table (photosync/settings_table): every variable defined once, `.env.example`
and the README generated from it, and every variable read anywhere has a row."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured

from photosync.settings_table import BY_NAME, SETTINGS, read, render, secret_names, setting
from photosync.settings_table.setting import Setting
from tests.conftest import REPO
from tests.deploy.conftest import COMPOSE, DEPLOY, K8S, yaml_docs

SCANNED = ("photosync", "pipeline", "integrations", "deploy")
TABLE_DIR = REPO / "photosync" / "settings_table"
#: Django settings that settings.py builds from rows; they are not environment variables.
DERIVED = {"PHOTOSYNC_ENCRYPTION_KEYS", "PHOTOSYNC_ADAPTER_OPTIONS"}
PY_READS = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|environ\.get)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\](?!\s*=[^=])"""
    r"""|["']([A-Z][A-Z0-9_]*)["']\s+in\s+os\.environ"""
)
#: Variables of libraries (boto3, Hugging Face, rembg, prometheus_client) that the table
#: documents but that the libraries read themselves.
LIBRARIES_OWN = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HF_HOME", "HF_HUB_OFFLINE",
                 "U2NET_HOME", "REMBG_HOME", "PROMETHEUS_MULTIPROC_DIR", "CUDA_VISIBLE_DEVICES"}
SHELL_READS = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")
ASSIGNED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=", flags=re.M)


def source_files() -> list[Path]:
    """Every text file under the scanned folders, the table's own package aside."""
    files = []
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or TABLE_DIR in path.parents:
                continue
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # photos, fonts
            files.append(path)
    return files


def k8s_variables() -> set[str]:
    """ConfigMap and Secret keys, container env names, and keys KEDA reads from the Secret."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("env"), list):
                found.update(var["name"] for var in node["env"])
            if "secretTargetRef" in node:
                found.update(ref["key"] for ref in node["secretTargetRef"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml_docs(path):
            if doc.get("kind") == "ConfigMap":
                found.update(doc.get("data", {}))
            if doc.get("kind") == "Secret":
                found.update(doc.get("stringData", {}))
            walk(doc)
    return found


def compose_variables() -> set[str]:
    """${...} references, and the environment the app containers get (not postgres's own)."""
    found = set(SHELL_READS.findall(COMPOSE.read_text()))
    for name, service in yaml.safe_load(COMPOSE.read_text())["services"].items():
        if name not in ("postgres", "redis"):
            found.update(service.get("environment") or {})
    return found


def variables_read_anywhere() -> dict[str, set[str]]:
    """Variable -> the files that read or set it for PhotoSync."""
    where: dict[str, set[str]] = {}

    def add(names, origin: str) -> None:
        for name in names:
            if name and name not in DERIVED:
                where.setdefault(name, set()).add(origin)

    for path in source_files():
        text = path.read_text()
        origin = str(path.relative_to(REPO))
        add(re.findall(r"\bPHOTOSYNC_[A-Z0-9_]+", text), origin)
        add((name for groups in PY_READS.findall(text) for name in groups), origin)
        if path.suffix == ".sh":
            add(SHELL_READS.findall(text), origin)
    add(compose_variables(), "deploy/compose.yaml")
    add(k8s_variables(), "deploy/k8s")
    add(ASSIGNED.findall((DEPLOY / ".env.example").read_text()), "deploy/.env.example")
    return where


def test_env_example_and_the_readme_are_generated_from_the_table():
    assert render.drifted() == [], (
        "run `python -m photosync.settings_table --write` and commit the result"
    )
    example = (REPO / ".env.example").read_text()
    readme = (REPO / "README.md").read_text()
    for row in SETTINGS:
        assert f"| `{row.name}` |" in readme, row.name
        listed = re.findall(rf"^(?:# )?{row.name}=", example, flags=re.M)
        assert len(listed) == (1 if row.read_by_app else 0), row.name
    # The one the issue found documented nowhere (the other, PHOTOSYNC_RECOVER_EVENTS_AFTER,
    # is gone: recovery waits out the actor's own retry window).
    for name in ("PHOTOSYNC_HEALTH_INTERVAL",):
        assert re.search(rf"^# {name}=\d", example, flags=re.M), name


def test_check_finds_drift_and_write_repairs_it(tmp_path, monkeypatch):
    example, readme = tmp_path / ".env.example", tmp_path / "README.md"
    example.write_text(render.env_example().replace("# PHOTOSYNC_SYNC_INTERVAL=10\n", ""))
    readme.write_text(render.readme_with_table((REPO / "README.md").read_text()).replace(
        "| `PHOTOSYNC_HEALTH_INTERVAL` |", "| `PHOTOSYNC_HEALTH_INTERVL` |"))
    monkeypatch.setattr(render, "ENV_EXAMPLE", example)
    monkeypatch.setattr(render, "README", readme)
    assert render.drifted() == [example, readme]
    assert render.write() == [example, readme]
    assert render.drifted() == []
    assert "# PHOTOSYNC_SYNC_INTERVAL=10\n" in example.read_text()
    assert "| `PHOTOSYNC_HEALTH_INTERVAL` |" in readme.read_text()
    readme.write_text("# PhotoSync\n\nno markers\n")
    with pytest.raises(ValueError, match="markers"):
        render.drifted()


def test_the_command_line_checks_and_prints():
    def run(*args):
        return subprocess.run([sys.executable, "-m", "photosync.settings_table", *args],
                              cwd=REPO, capture_output=True, text=True)

    assert run("--check").returncode == 0
    printed = run("--env-example")
    assert printed.returncode == 0 and printed.stdout == (REPO / ".env.example").read_text()
    table = run("--readme").stdout
    assert table.startswith("### Required") and "`PHOTOSYNC_HEALTH_INTERVAL`" in table
    assert run().returncode == 2  # one of the actions is required


def test_every_variable_read_anywhere_has_a_row():
    missing = {name: sorted(files) for name, files in variables_read_anywhere().items()
               if name not in BY_NAME}
    assert missing == {}, "add rows to photosync/settings_table/rows.py"


def test_the_scan_sees_reads_of_every_kind():
    """Guard for the scan itself: it finds each kind of read that the tree contains."""
    found = variables_read_anywhere()
    assert "photosync/management/commands/serve.py" in found["PHOTOSYNC_ADMIN_PASSWORD"]
    assert "photosync/observability.py" in found["PROMETHEUS_MULTIPROC_DIR"]
    assert "deploy/prefetch_models.py" in found["REMBG_HOME"]
    assert "deploy/entrypoint.sh" in found["WEB_CONCURRENCY"]
    assert "deploy/entrypoint.sh" in found["PORT"]  # os.environ.get inside the shell script
    assert "deploy/compose.yaml" in found["POSTGRES_PASSWORD"]
    assert "deploy/k8s" in found["REDIS_ADDRESS"]
    assert "deploy/Dockerfile" in found["PHOTOSYNC_PREFETCH"]
    assert "POSTGRES_USER" not in found  # the postgres image's own, not PhotoSync's
    assert not PY_READS.search('os.environ["PHOTOSYNC_WORKER_QUEUES"] = queues')
    assert PY_READS.search('if os.environ["PHOTOSYNC_WORKER_QUEUES"] == "x":')


def test_every_row_is_used_somewhere():
    text = "\n".join(path.read_text() for path in source_files())
    unused = [row.name for row in SETTINGS if not re.search(rf"\b{row.name}\b", text)]
    assert unused == []


def test_settings_py_reads_only_through_the_table():
    source = (REPO / "photosync" / "settings.py").read_text()
    assert not re.search(r"os\.environ|getenv|\benv\.\w+\(", source)
    through_table = set(re.findall(r'\bread\("([A-Z0-9_]+)"\)', source))
    elsewhere = {name for path in source_files() if path.suffix == ".py"
                 and path.name != "settings.py"
                 for groups in PY_READS.findall(path.read_text()) for name in groups}
    app_rows = {row.name for row in SETTINGS if row.read_by_app}
    assert through_table <= app_rows
    # Every other variable a Django process reads is read by settings.py, through the table.
    only_elsewhere = (elsewhere & app_rows) - through_table
    assert app_rows - LIBRARIES_OWN - only_elsewhere == through_table
    assert only_elsewhere == {
        "PHOTOSYNC_ADMIN_USER", "PHOTOSYNC_ADMIN_PASSWORD", "PHOTOSYNC_WORKER_QUEUES",
        "PROMETHEUS_MULTIPROC_DIR", "U2NET_HOME", "REMBG_HOME", "CUDA_VISIBLE_DEVICES"}


def test_secrets_have_no_value_in_env_example():
    example = (REPO / ".env.example").read_text()
    secrets = [name for name in secret_names() if BY_NAME[name].read_by_app]
    assert {"SECRET_KEY", "PHOTOSYNC_ENCRYPTION_KEY", "SHOPIFY_API_SECRET",
            "PHOTOSYNC_ADMIN_PASSWORD", "DATABASE_URL"} <= set(secrets)
    for name in secrets:
        (line,) = re.findall(rf"^(?:# )?{name}=.*$", example, flags=re.M)
        assert line.endswith(f"{name}="), line
    for row in SETTINGS:
        if row.required:
            assert re.search(rf"^{row.name}=$", example, flags=re.M), row.name
    with pytest.raises(ValueError, match="a secret has no default"):
        Setting("X_TOKEN", "str", "hunter2", "", ("web",), secret=True)


def test_a_name_without_a_row_cannot_be_read():
    with pytest.raises(LookupError, match="PHOTOSYNC_NO_SUCH_THING.*add a row"):
        read("PHOTOSYNC_NO_SUCH_THING", {})
    assert setting("PHOTOSYNC_SYNC_INTERVAL").group == "Sync and scheduling"


def test_values_are_typed_and_blank_means_unset():
    env = {"PHOTOSYNC_SYNC_INTERVAL": "2.5", "PHOTOSYNC_WORKER_THREADS": " 3 ",
           "PHOTOSYNC_ALPHA_MATTING": "yes", "DEBUG": "off", "PHOTOSYNC_DATA_DIR": "~/ps",
           "PHOTOSYNC_WOOCOMMERCE_ALLOWED_NETWORKS": "10.0.0.0/8, 192.168.0.0/16,",
           "PHOTOSYNC_SCENE_SIZE": "", "PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT": "   "}
    assert read("PHOTOSYNC_SYNC_INTERVAL", env) == 2.5
    assert read("PHOTOSYNC_WORKER_THREADS", env) == 3
    assert read("PHOTOSYNC_ALPHA_MATTING", env) is True
    assert read("DEBUG", env) is False
    assert read("PHOTOSYNC_DATA_DIR", env) == Path.home() / "ps"
    assert read("PHOTOSYNC_WOOCOMMERCE_ALLOWED_NETWORKS", env) == [
        "10.0.0.0/8", "192.168.0.0/16"]
    assert read("PHOTOSYNC_SCENE_SIZE", env) is None
    assert read("PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT", env) == 4
    first = read("WORKER_QUEUES", {})
    first.append("mutated")
    assert read("WORKER_QUEUES", {}) == ["webhooks", "generate-cpu", "push", "sync"]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("PHOTOSYNC_SYNC_INTERVAL", "soon", "PHOTOSYNC_SYNC_INTERVAL must be a number, got 'soon'"),
    ("PHOTOSYNC_WORKER_THREADS", "2.5", "must be a whole number"),
    ("DEBUG", "maybe", "DEBUG must be true or false"),
    ("PHOTOSYNC_GPU_FALLBACK", "gpu", "must be one of cpu, hold, got 'gpu'"),
    ("LOG_FORMAT", "jsno", "LOG_FORMAT must be one of plain, json"),
    ("PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT", "60", "must be at least 120, got '60'"),
    ("SECRET_KEY", "", "Missing required setting SECRET_KEY"),
])
def test_bad_values_are_refused_naming_the_variable(name, value, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        read(name, {name: value})


def test_a_refused_secret_is_not_repeated(monkeypatch):
    row = Setting("X_SECRET_PORT", "int", None, "", ("web",), secret=True)
    monkeypatch.setitem(BY_NAME, row.name, row)
    with pytest.raises(ImproperlyConfigured) as refused:
        read("X_SECRET_PORT", {"X_SECRET_PORT": "s3cr3t-value"})
    assert str(refused.value) == "X_SECRET_PORT must be a whole number"


def test_a_required_list_of_nothing_is_missing():
    with pytest.raises(ImproperlyConfigured, match="Missing required setting PHOTOSYNC_ENC"):
        read("PHOTOSYNC_ENCRYPTION_KEY", {"PHOTOSYNC_ENCRYPTION_KEY": " , "})


def test_every_secret_of_the_table_is_redacted_from_logs(monkeypatch, caplog):
    import logging

    from photosync.observability import RedactSecrets

    monkeypatch.setenv("PHOTOSYNC_METRICS_TOKEN", "metrics-bearer-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key")
    monkeypatch.setenv("DATABASE_URL", "postgres://photosync:db-password-1@db.internal/ps")
    logger = logging.getLogger("photosync.test.redact")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("token %s, key %s, cannot reach postgres://photosync:db-password-1"
                    "@db.internal/ps", "metrics-bearer-token", "aws-secret-access-key")
    assert "metrics-bearer-token" not in caplog.text
    assert "aws-secret-access-key" not in caplog.text
    assert "db-password-1" not in caplog.text
    assert "postgres://photosync:[redacted]@db.internal/ps" in caplog.text  # host kept
