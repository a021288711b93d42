"""deploy/Dockerfile and deploy/entrypoint.sh: the images install what CI tests, the same way.

The Dockerfile is parsed with BuildKit's own parser (the `dockerfile` package wraps it), so a
syntax error fails here. "No drift" means:

- the project is installed with CI's command (`pip install -e .[extras]`, after CI's
  `pip install --upgrade pip`), and only with extras that CI installs too;
- the only other installs are the GPU builds of packages pyproject pins, at the same pins;
- every stage ends as the non-root user and starts through deploy/entrypoint.sh.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import dockerfile
import pytest

from tests.conftest import REPO
from tests.deploy.conftest import DOCKERFILE, ENTRYPOINT

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT_INSTALL = re.compile(r"^pip install -e (?P<spec>\S+)$")


def stages() -> dict[str, list[dockerfile.Command]]:
    """Instructions by stage name (BuildKit's parser)."""
    out: dict[str, list[dockerfile.Command]] = {}
    current = None
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "FROM":
            current = command.value[-1]
            out[current] = []
        elif current is not None:
            out[current].append(command)
    return out


def global_args() -> dict[str, str]:
    args = {}
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "FROM":
            break
        if command.cmd == "ARG":
            name, _, default = command.value[0].partition("=")
            args[name] = default
    return args


def stage_args(stage: str) -> dict[str, str]:
    args = {}
    for command in stages()[stage]:
        if command.cmd == "ARG":
            name, _, default = command.value[0].partition("=")
            args[name] = default
    return args


def shell_commands(script: str) -> list[str]:
    """Split a RUN line (or a recipe line) into its simple commands, normalised."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    out: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            out.append([])
        elif token not in ("--quiet", "-q"):
            out[-1].append(token)
    return [" ".join(words) for words in out if words]


def pip_commands(lines: list[str]) -> list[str]:
    return [c for line in lines for c in shell_commands(line) if c.startswith("pip ")]


def dockerfile_pip(stage: str) -> list[str]:
    runs = [c.value[0] for c in stages()[stage] if c.cmd == "RUN" and not c.json]
    return pip_commands(runs)


def ci_pip() -> list[str]:
    """The pip commands CI runs: .ci/run runs `make test`, whose recipes hold them."""
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M), ".ci/run no longer runs `make test`"
    assert "pip install" not in ci, ".ci/run installs packages itself: compare those too"
    recipes = [
        line.strip().replace("$(BIN)/", "")
        for line in (REPO / "Makefile").read_text().splitlines()
        if line.startswith("\t")
    ]
    return pip_commands(recipes)


def extras(spec: str) -> set[str]:
    match = re.fullmatch(r"\.(?:\[(?P<extras>[^\]]*)\])?", spec)
    assert match, f"unexpected project spec {spec!r}"
    return {e.strip() for e in (match["extras"] or "").split(",") if e.strip()}


def ci_tested_extras() -> set[str]:
    """Extras CI installs, with those they pull in by naming the project itself."""
    installed = set()
    for command in ci_pip():
        if m := PROJECT_INSTALL.match(command):
            installed |= extras(m["spec"])
    optional = PYPROJECT["project"]["optional-dependencies"]
    todo = list(installed)
    while todo:
        for requirement in optional.get(todo.pop(), []):
            if m := re.fullmatch(r"photosync\[([^\]]+)\]", requirement):
                for extra in m[1].split(","):
                    if extra not in installed:
                        installed.add(extra)
                        todo.append(extra)
    return installed


def pin(name: str) -> str:
    """The version pyproject pins `name` to (dependencies or any extra)."""
    optional = PYPROJECT["project"]["optional-dependencies"]
    requirements = PYPROJECT["project"]["dependencies"] + [r for e in optional.values() for r in e]
    for requirement in requirements:
        if m := re.fullmatch(rf"{re.escape(name)}(?:\[[^\]]*\])?==(\S+)", requirement):
            return m[1]
    raise AssertionError(f"pyproject does not pin {name}")


def test_the_dockerfile_parses_into_the_two_targets():
    assert list(stages()) == ["app", "gpu"]


def test_ci_commands_are_what_the_makefile_says():
    assert ci_pip() == [
        "pip install --upgrade pip",
        "pip install -e .",
        "pip install -e .[ml,test]",
        "pip install -e .[ml,test,bench]",  # make bench-smoke, after the tests
    ]


@pytest.mark.parametrize("stage", ["app", "gpu"])
def test_images_install_the_project_as_ci_does(stage):
    ci = ci_pip()
    commands = dockerfile_pip(stage)
    assert "pip install --upgrade pip" in ci and "pip install --upgrade pip" in commands
    (project,) = [c for c in commands if PROJECT_INSTALL.match(c)]
    ci_forms = {PROJECT_INSTALL.sub("pip install -e .", c) for c in ci if PROJECT_INSTALL.match(c)}
    assert PROJECT_INSTALL.sub("pip install -e .", project) in ci_forms
    wanted = extras(PROJECT_INSTALL.match(project)["spec"])
    assert wanted <= ci_tested_extras(), "the image installs an extra CI never installs"
    assert "test" not in wanted
    assert ("ml" in wanted) == (stage == "gpu"), "torch belongs in the GPU image only"


def test_the_app_image_installs_nothing_else():
    assert [c for c in dockerfile_pip("app") if not c.startswith("pip install -e ")] == [
        "pip install --upgrade pip"
    ]


def test_the_gpu_image_installs_the_gpu_builds_of_pyproject_pins():
    args = {**global_args(), **stage_args("gpu")}
    assert args["TORCH_VERSION"] == pin("torch")
    assert args["REMBG_VERSION"] == pin("rembg")
    assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu\d+", args["TORCH_INDEX_URL"])
    cuda = re.search(r"nvidia/cuda:(\d+)\.(\d+)", args["CUDA_IMAGE"])
    assert args["TORCH_INDEX_URL"].endswith(f"cu{cuda[1]}{cuda[2]}"), "CUDA versions differ"
    others = [
        c for c in dockerfile_pip("gpu")
        if c != "pip install --upgrade pip" and not PROJECT_INSTALL.match(c)
    ]
    assert others == [
        'pip install --index-url ${TORCH_INDEX_URL} torch==${TORCH_VERSION}',
        'pip install rembg[gpu]==${REMBG_VERSION}',
        "pip uninstall -y onnxruntime",
        "pip install --no-deps --force-reinstall"
        " onnxruntime-gpu==$(pip show onnxruntime-gpu | sed -n 's/^Version: //p')",
    ]
    order = [c for c in dockerfile_pip("gpu") if "torch" in c or PROJECT_INSTALL.match(c)]
    assert "torch==" in order[0], "the CUDA torch must come first, or pip picks another build"


def test_python_is_the_version_ci_and_ruff_target():
    target = PYPROJECT["tool"]["ruff"]["target-version"]  # py311
    version = f"{target[2]}.{target[3:]}"
    assert re.search(rf"python:{re.escape(version)}-", global_args()["PYTHON_IMAGE"])
    gpu_runs = " ".join(c.value[0] for c in stages()["gpu"] if c.cmd == "RUN")
    assert f"python{version} -m venv /opt/venv" in gpu_runs
    assert PYPROJECT["project"]["requires-python"] == f">={version}"


@pytest.mark.parametrize("stage", ["app", "gpu"])
def test_images_run_unprivileged_through_the_entrypoint(stage):
    commands = stages()[stage]
    users = [c.value[0] for c in commands if c.cmd == "USER"]
    assert users and users[-1] == "10001:10001"
    last_user = max(i for i, c in enumerate(commands) if c.cmd == "USER")
    assert not [c for c in commands[last_user:] if c.cmd == "RUN"], "RUN after USER: root-free"
    (entrypoint,) = [c for c in commands if c.cmd == "ENTRYPOINT"]
    assert entrypoint.json and entrypoint.value == ("tini", "--", "/app/deploy/entrypoint.sh")
    (cmd,) = [c for c in commands if c.cmd == "CMD"]
    assert cmd.value == (("gpu-worker",) if stage == "gpu" else ("web",))
    env = " ".join(" ".join(c.value) for c in commands if c.cmd == "ENV")
    assert "HF_HUB_OFFLINE 1" in env or "HF_HUB_OFFLINE=1" in env.replace(" ", "=")


@pytest.mark.parametrize("stage", ["app", "gpu"])
def test_models_are_fetched_at_build_time(stage):
    runs = [c.value[0] for c in stages()[stage] if c.cmd == "RUN"]
    assert any("python deploy/prefetch_models.py" in r for r in runs)


def test_dockerignore_keeps_secrets_and_state_out_of_the_image():
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    for entry in (".env", ".venv", ".git", "var", "deploy/.env"):
        assert entry in ignore


# --- the entrypoint -----------------------------------------------------------------------


def run_entrypoint(tmp_path: Path, *args: str, **env: str) -> str:
    """Run entrypoint.sh with `python` and `gunicorn` replaced by stubs that print argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("python", "gunicorn"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        stub.chmod(0o755)
    result = subprocess.run(
        ["bash", str(ENTRYPOINT), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "PHOTOSYNC_APP_DIR": str(REPO), **env},
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_entrypoint_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(ENTRYPOINT)]).returncode == 0
    assert os.access(ENTRYPOINT, os.X_OK)


def test_entrypoint_roles(tmp_path):
    assert run_entrypoint(tmp_path, "gpu-worker", WORKER_PROCESSES="8", WORKER_THREADS="8") == (
        "python manage.py worker --queues generate-gpu --processes 1 --threads 1 --prefetch 1"
    )
    assert run_entrypoint(tmp_path, "worker", WORKER_PROCESSES="3") == (
        "python manage.py worker --queues webhooks,generate-cpu,push,sync --processes 3 "
        "--threads 2"
    )
    assert run_entrypoint(tmp_path, "syncd") == "python manage.py syncd"
    assert run_entrypoint(tmp_path, "migrate") == "python manage.py migrate --noinput"
    assert run_entrypoint(tmp_path, "prefetch-models", "rembg:u2net") == (
        "python deploy/prefetch_models.py rembg:u2net"
    )
    web = run_entrypoint(tmp_path, "web", PORT="9000")
    assert web.startswith("gunicorn photosync.wsgi --bind 0.0.0.0:9000 --workers 4 ")
    assert run_entrypoint(tmp_path, "python", "manage.py", "shell") == "python manage.py shell"
