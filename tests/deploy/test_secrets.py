"""No secret is committed under deploy/, and every secret a pod reads comes from the Secret the
operator creates (`photosync-secrets`), by secretRef or secretKeyRef."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO
from tests.deploy.conftest import DEPLOY, K8S, by_kind, manifest_files, pod_spec, yaml_docs

SECRET_NAME = "photosync-secrets"
SECRETISH = re.compile(r"(SECRET|PASSWORD|TOKEN|_KEY$|^DATABASE_URL$|^REDIS_URL$)")
#: What every process needs from the Secret (README, "Settings"; settings.py `required`).
NEEDED = {"SECRET_KEY", "PHOTOSYNC_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"}


def test_no_secret_is_rendered_or_committed(rendered):
    assert not [d for d in rendered if d["kind"] == "Secret"]
    for path in manifest_files():
        kinds = {d["kind"] for d in yaml_docs(path)}
        assert ("Secret" in kinds) == (path.name == "secret.example.yaml"), path.name


def test_the_secret_example_holds_placeholders_only():
    (secret,) = yaml_docs(K8S / "secret.example.yaml")
    assert secret["metadata"]["name"] == SECRET_NAME
    assert "data" not in secret  # base64 would hide what is in it
    for key, value in secret["stringData"].items():
        assert value == "" or "change-me" in value, key
    assert NEEDED <= set(secret["stringData"])


def test_pods_read_secrets_only_from_the_operators_secret(rendered):
    workloads = [d for d in rendered if d["kind"] in ("Deployment", "Job")]
    assert workloads
    for doc in workloads:
        for container in pod_spec(doc)["containers"]:
            refs = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
            assert refs == [SECRET_NAME], doc["metadata"]["name"]
            for var in container.get("env", []):
                if SECRETISH.search(var["name"]):
                    assert "value" not in var, (doc["metadata"]["name"], var["name"])
                    assert var["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME
    config = by_kind(rendered, "ConfigMap")["photosync-config"]["data"]
    assert not [k for k in config if SECRETISH.search(k)]


def test_keda_reads_the_same_secret(rendered):
    (secret,) = yaml_docs(K8S / "secret.example.yaml")
    for auth in by_kind(rendered, "TriggerAuthentication").values():
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["name"] == SECRET_NAME
            assert ref["key"] in secret["stringData"], ref["key"]
    (scaled,) = by_kind(rendered, "ScaledObject").values()
    for trigger in scaled["spec"]["triggers"]:
        for key, value in trigger["metadata"].items():
            assert not SECRETISH.search(key.upper()) or key.endswith("FromEnv"), key
            if key != "query":
                assert "://" not in value, f"a connection string in the manifest: {key}"


def test_nothing_that_looks_like_a_key_is_committed_under_deploy():
    fernet = re.compile(r"\b[A-Za-z0-9_-]{43}=")
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or path.suffix in (".pyc",):
            continue
        text = path.read_text(errors="replace")
        assert "-----BEGIN" not in text, path
        assert not fernet.search(text), path


def test_the_compose_env_file_is_ignored_by_git():
    for name in ("deploy/.env", ".env"):
        check = subprocess.run(["git", "check-ignore", "-q", name], cwd=REPO)
        assert check.returncode == 0, f"{name} is not git-ignored"
    check = subprocess.run(["git", "check-ignore", "-q", "deploy/.env.example"], cwd=REPO)
    assert check.returncode == 1
