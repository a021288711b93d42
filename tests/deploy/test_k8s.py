"""deploy/k8s: renders with kustomize and validates against the published schemas, offline.

Built-in kinds are validated strictly (unknown fields are errors) by kubernetes-validate, which
bundles the Kubernetes OpenAPI schemas, for the oldest release we support and the newest it
knows. KEDA's ScaledObject and TriggerAuthentication, and the optional Prometheus Operator
ServiceMonitor, are validated by the pydantic models that cloudcoil-models-keda and
cloudcoil-models-prometheus-operator generate from the published CRDs; a round trip through
the model must give the document back unchanged, so an unknown field is an error there too.
"""

from __future__ import annotations

import copy
import re

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError, latest_version

from tests.conftest import REPO
from tests.deploy.conftest import (
    ENTRYPOINT,
    K8S,
    K8S_VERSIONS,
    by_kind,
    manifest_files,
    pod_spec,
    yaml_docs,
)

KEDA_API = "keda.sh/v1alpha1"
MONITORING_API = "monitoring.coreos.com/v1"
# Applied by hand, not by kustomize: an example, and a kind only some clusters have.
UNLISTED = {"secret.example.yaml", "servicemonitor.yaml"}
WORKLOADS = ("Deployment", "Job")


def _version(name: str) -> str:
    return latest_version() if name == "latest" else name


def validate_builtin(doc: dict, version: str) -> None:
    kubernetes_validate.validate(doc, _version(version), strict=True)


def validate_keda(doc: dict) -> None:
    from cloudcoil.models.keda import v1alpha1

    _round_trip(v1alpha1, doc)


def validate_monitoring(doc: dict) -> None:
    from cloudcoil.models.prometheus_operator import v1

    _round_trip(v1, doc)


def _round_trip(models, doc: dict) -> None:
    model = getattr(models, doc["kind"]).model_validate(doc)
    back = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert back == doc, f"{doc['kind']}/{doc['metadata']['name']}: fields the CRD does not know"


def validate(doc: dict, version: str) -> None:
    if doc["apiVersion"] == KEDA_API:
        validate_keda(doc)
    elif doc["apiVersion"] == MONITORING_API:
        validate_monitoring(doc)
    else:
        validate_builtin(doc, version)


def test_the_kustomization_lists_every_manifest_but_the_unlisted_ones():
    kustomization = yaml_docs(K8S / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in manifest_files()}
    assert UNLISTED <= on_disk
    assert not UNLISTED & listed
    assert listed == on_disk - UNLISTED


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_manifests_validate_against_the_schemas(rendered, version):
    kinds = sorted({d["kind"] for d in rendered})
    assert kinds == [
        "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Ingress", "Job", "Namespace",
        "PodDisruptionBudget", "ScaledObject", "Service", "TriggerAuthentication",
    ]
    for doc in rendered:
        validate(doc, version)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_each_file_validates_on_its_own(path):
    """Also the files kustomize does not render (secret.example.yaml, servicemonitor.yaml)."""
    for doc in yaml_docs(path):
        validate(doc, "1.29")


def test_the_validators_reject_what_a_cluster_would_reject():
    """Negative controls: the checks above would catch a typo."""
    deployment = yaml_docs(K8S / "worker.yaml")[0]
    typo = copy.deepcopy(deployment)
    typo["spec"]["replica"] = typo["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(typo, "1.29")
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(wrong_type, "1.29")
    with pytest.raises(SchemaNotFoundError):
        validate_builtin({**deployment, "apiVersion": "apps/v1beta9"}, "1.29")

    scaled = by_kind(yaml_docs(K8S / "gpu-worker.yaml"), "ScaledObject")["gpu-worker"]
    typo = copy.deepcopy(scaled)
    typo["spec"]["minReplicaCountt"] = typo["spec"].pop("minReplicaCount")
    with pytest.raises(AssertionError):
        validate_keda(typo)
    missing = copy.deepcopy(scaled)
    del missing["spec"]["triggers"]
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        validate_keda(missing)


def test_deployments_and_their_roles(rendered):
    deployments = by_kind(rendered, "Deployment")
    assert sorted(deployments) == ["gpu-worker", "syncd", "web", "worker"]
    roles = entrypoint_roles()
    for name, doc in {**deployments, **by_kind(rendered, "Job")}.items():
        (container,) = pod_spec(doc)["containers"]
        assert container["args"][0] in roles, name
    assert deployments["syncd"]["spec"]["replicas"] == 2
    # HPA and KEDA own these counts; a replicas field would fight them on every apply.
    assert "replicas" not in deployments["web"]["spec"]
    assert "replicas" not in deployments["gpu-worker"]["spec"]
    (job,) = by_kind(rendered, "Job").values()
    assert pod_spec(job)["containers"][0]["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_images_are_the_two_targets_of_the_dockerfile(rendered):
    images = {}
    for doc in rendered:
        if doc["kind"] in WORKLOADS:
            for container in pod_spec(doc)["containers"]:
                images[doc["metadata"]["name"]] = container["image"]
    gpu = images.pop("gpu-worker")
    assert re.fullmatch(r"\S+/photosync-gpu:\S+", gpu)
    assert {re.sub(r":\S+$", "", image) for image in images.values()} == {
        re.sub(r"-gpu:\S+$", "", gpu)
    }


def test_gpu_worker_gets_one_gpu_on_a_gpu_node(rendered):
    spec = pod_spec(by_kind(rendered, "Deployment")["gpu-worker"])
    (container,) = spec["containers"]
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    for name, doc in by_kind(rendered, "Deployment").items():
        if name != "gpu-worker":
            assert "nvidia.com/gpu" not in str(doc), name


def test_web_probes_use_readyz_and_healthz_with_an_allowed_host(rendered):
    (container,) = pod_spec(by_kind(rendered, "Deployment")["web"])["containers"]
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert (ready["path"], live["path"]) == ("/readyz", "/healthz")
    for probe in (ready, live):
        # Django answers 400 to the pod IP the kubelet would send as Host.
        assert {"name": "Host", "value": "localhost"} in probe["httpHeaders"]
        assert probe["port"] == "http"
    assert {"name": "http", "containerPort": 8000} in container["ports"]


def test_services_ingress_hpa_and_pdbs_point_at_real_pods(rendered):
    deployments = by_kind(rendered, "Deployment")
    labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}

    def selects(selector: dict) -> list[str]:
        return [n for n, lab in labels.items() if selector.items() <= lab.items()]

    service = by_kind(rendered, "Service")["web"]
    assert selects(service["spec"]["selector"]) == ["web"]
    port_names = {p["name"] for p in service["spec"]["ports"]}
    ingress = by_kind(rendered, "Ingress")["web"]
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "web" and backend["port"]["name"] in port_names
    hpa = by_kind(rendered, "HorizontalPodAutoscaler")["web"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "web"}
    assert hpa["spec"]["minReplicas"] >= 2
    pdbs = by_kind(rendered, "PodDisruptionBudget")
    assert {n: selects(p["spec"]["selector"]["matchLabels"]) for n, p in pdbs.items()} == {
        n: [n] for n in deployments
    }


def test_every_pod_runs_unprivileged(rendered):
    for doc in rendered:
        if doc["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            # A read-only root needs somewhere to write: /tmp at least.
            if context.get("readOnlyRootFilesystem"):
                mounts = {m["mountPath"] for m in container["volumeMounts"]}
                assert "/tmp" in mounts


def test_configmap_keys_are_settings_the_app_reads(rendered):
    """A misspelt variable in the ConfigMap would be silently ignored: catch it here."""
    config = by_kind(rendered, "ConfigMap")["photosync-config"]["data"]
    settings_source = (REPO / "photosync" / "settings.py").read_text()
    for key in config:
        assert f'"{key}"' in settings_source, f"{key} is not read by photosync/settings.py"


def entrypoint_roles() -> set[str]:
    text = ENTRYPOINT.read_text()
    return set(re.findall(r"^  ([a-z][a-z-]*)\)$", text, flags=re.M))


def test_prometheus_scrapes_web_with_the_metrics_token(rendered):
    """/metrics answers 404 without PHOTOSYNC_METRICS_TOKEN: the shipped scrape config sends
    the token from the operator's Secret (ServiceMonitor), and the pods carry the usual
    scrape annotations for annotation-based setups (docs/operations.md, "Monitoring")."""
    (monitor,) = yaml_docs(K8S / "servicemonitor.yaml")
    web_service = by_kind(rendered, "Service")["web"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= web_service["metadata"][
        "labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in web_service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {
        "name": "photosync-secrets", "key": "PHOTOSYNC_METRICS_TOKEN"}}
    (secret,) = yaml_docs(K8S / "secret.example.yaml")
    assert "PHOTOSYNC_METRICS_TOKEN" in secret["stringData"]
    annotations = by_kind(rendered, "Deployment")["web"]["spec"]["template"]["metadata"][
        "annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics",
                           "prometheus.io/port": "8000"}
    config = by_kind(rendered, "ConfigMap")["photosync-config"]["data"]
    assert config.get("PHOTOSYNC_METRICS_PUBLIC", "false") == "false"
    assert config["PHOTOSYNC_TRUSTED_PROXIES"] == "1"  # behind the Ingress
