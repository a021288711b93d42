"""Every GPU worker definition runs its models on the GPU, with the registry's GPU-tier models.

Without PHOTOSYNC_DEVICE=cuda a GPU worker runs the models on the CPU (the setting's default)
while it holds a GPU; without the GPU tier's segmenter and scene model it serves something
other than what the image prefetched. Each definition (the Kubernetes Deployment with its
ConfigMap, the compose service, the GPU image) is reduced to the environment its process sees
and checked by one function; the function itself is shown to fail on an environment that lacks
any of them.
"""

from __future__ import annotations

import re

import pytest
import yaml

from pipeline.models import tier_defaults
from tests.deploy.conftest import COMPOSE, DEPLOY, by_kind, pod_spec
from tests.deploy.test_dockerfile import stage_args, stages
from tests.deploy.test_prefetch import load as load_prefetch

GPU = tier_defaults("gpu")
WANTED = {
    "PHOTOSYNC_DEVICE": "cuda",
    "PHOTOSYNC_DTYPE": "float16",
    "PHOTOSYNC_GPU_SEGMENTER": GPU["segmenter"],
    "PHOTOSYNC_SCENE_GENERATOR": GPU["scene_generator"],
}


def gpu_env_problems(env: dict[str, str], wanted: dict[str, str] = WANTED) -> list[str]:
    """What is wrong with a GPU worker's environment: one line per missing or wrong value."""
    return [f"{name}={env.get(name)!r}, expected {value!r}" for name, value in wanted.items()
            if env.get(name) != value]


def interpolate_default(value: str) -> str:
    """A compose value as it reads with no .env override: ${X:-default} -> default."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(value))


def k8s_gpu_env(rendered) -> dict[str, str]:
    """The gpu-worker container's environment: its envFrom ConfigMap, then its own env."""
    (container,) = pod_spec(by_kind(rendered, "Deployment")["gpu-worker"])["containers"]
    configmaps = by_kind(rendered, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]]["data"])
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    return env


def compose_gpu_env(service: str = "gpu-worker") -> dict[str, str]:
    environment = yaml.safe_load(COMPOSE.read_text())["services"][service]["environment"]
    return {k: interpolate_default(v) for k, v in environment.items()}


def image_env() -> dict[str, str]:
    """The GPU image's ENV with its build arguments' defaults substituted."""
    args = stage_args("gpu")
    env: dict[str, str] = {}
    for command in stages()["gpu"]:
        if command.cmd == "ENV":
            values = command.value
            for name, value in zip(values[::2], values[1::2], strict=True):
                env[name] = re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: args[m.group(1)], value)
    return env


@pytest.mark.parametrize("missing", sorted(WANTED))
def test_the_check_fails_a_gpu_worker_without_each_variable(missing):
    env = dict(WANTED)
    del env[missing]
    assert gpu_env_problems(env) and missing in gpu_env_problems(env)[0]
    assert gpu_env_problems({**WANTED, missing: "cpu"})
    assert gpu_env_problems(WANTED) == []


def test_the_kubernetes_gpu_worker_runs_on_the_gpu_with_the_gpu_tier(rendered):
    assert gpu_env_problems(k8s_gpu_env(rendered)) == []
    # The device is the GPU worker's alone: the ConfigMap every CPU pod reads keeps the CPU.
    config = by_kind(rendered, "ConfigMap")["photosync-config"]["data"]
    assert "PHOTOSYNC_DEVICE" not in config and "PHOTOSYNC_DTYPE" not in config
    assert config["PHOTOSYNC_SEGMENTER_FALLBACK"] == GPU["segmenter_fallback"]
    for name, doc in by_kind(rendered, "Deployment").items():
        if name != "gpu-worker":
            (container,) = pod_spec(doc)["containers"]
            assert "PHOTOSYNC_DEVICE" not in str(container.get("env", "")), name


def test_the_kubernetes_check_sees_a_deployment_without_the_device(rendered):
    import copy

    docs = copy.deepcopy(rendered)
    (container,) = pod_spec(by_kind(docs, "Deployment")["gpu-worker"])["containers"]
    container.pop("env")
    assert [p for p in gpu_env_problems(k8s_gpu_env(docs)) if "DEVICE" in p or "DTYPE" in p]


def test_the_compose_gpu_services_run_on_the_gpu_with_the_gpu_tier():
    # The scene generator decides a job's queue, so it is the deployment's (deploy/.env) and
    # not the GPU worker's alone; .env.example names the GPU tier's model for the gpu profile.
    device = {k: v for k, v in WANTED.items() if k != "PHOTOSYNC_SCENE_GENERATOR"}
    for service in ("gpu-worker", "gpu-prefetch"):
        assert gpu_env_problems(compose_gpu_env(service), device) == [], service
    for service in ("web", "worker", "syncd", "migrate"):
        environment = yaml.safe_load(COMPOSE.read_text())["services"][service]["environment"]
        assert "PHOTOSYNC_DEVICE" not in environment, service
    example = (DEPLOY / ".env.example").read_text()
    assert f"PHOTOSYNC_SCENE_GENERATOR={GPU['scene_generator']}" in example
    assert f"PHOTOSYNC_GPU_SEGMENTER={GPU['segmenter']}" in example


def test_the_gpu_image_defaults_to_the_gpu_tier():
    env = image_env()
    assert gpu_env_problems(env) == []
    assert env["PHOTOSYNC_SEGMENTER_FALLBACK"] == GPU["segmenter_fallback"]
    assert stage_args("gpu")["PHOTOSYNC_GPU_SEGMENTER"] == GPU["segmenter"]


def test_the_gpu_image_prefetches_exactly_the_models_it_serves():
    prefetch = load_prefetch()
    build_env = {k: v for k, v in stage_args("gpu").items() if k.startswith("PHOTOSYNC_")}
    runs = [c.value[0] for c in stages()["gpu"] if c.cmd == "RUN"]
    (line,) = [r for r in runs if "prefetch_models.py" in r]
    assert re.search(r"prefetch_models\.py;", line), "no arguments: it reads the build args"
    planned = prefetch.plan(prefetch.gpu_specs(build_env))
    Fetch = prefetch.Fetch
    served = [GPU["segmenter"], GPU["scene_generator"], *GPU["segmenter_fallback"].split(",")]
    assert planned == prefetch.plan(served)
    assert Fetch("rembg", "birefnet-general") in planned
    assert Fetch("diffusers", GPU["scene_generator"].removeprefix("diffusers:")) in planned
    # Unset variables fall back to the registry, not to the CPU defaults.
    assert prefetch.plan(prefetch.gpu_specs({})) == planned
    assert prefetch.plan(prefetch.gpu_specs({"PHOTOSYNC_SEGMENTER_FALLBACK": "none"})) == [
        f for f in planned if f.name != "isnet-general-use"]
