"""The dependency rules of architecture.md, checked on the real modules."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.test_settings import BASE_ENV

HEAVY = ("torch", "diffusers", "onnxruntime", "rembg", "transformers")


def _imports(package: str) -> set[str]:
    found = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_pipeline_imports_no_django_and_no_photosync():
    assert {"django", "photosync", "rest_framework"} & _imports("pipeline") == set()


def test_integrations_import_nothing_from_photosync():
    imported = _imports("integrations")
    assert "photosync" not in imported
    assert "django" not in imported


def test_emulators_import_nothing_from_the_app():
    """The store emulators are products of their own: they know the platforms, not PhotoSync."""
    app = {"photosync", "integrations", "pipeline", "django", "rest_framework", "tests", "bench"}
    assert app & _imports("emulators") == set()


def test_runtime_code_never_imports_emulators_tests_or_bench():
    """Only tests and bench drive the emulators; bench never reaches into tests."""
    for package in ("photosync", "integrations", "pipeline"):
        assert {"emulators", "tests", "bench"} & _imports(package) == set(), package
    assert "tests" not in _imports("bench")


def test_web_and_daemon_processes_do_not_load_model_frameworks():
    probe = (
        "import sys, django; django.setup();"
        "import photosync.wsgi, photosync.urls, photosync.syncd, photosync.jobs;"
        "from photosync.management.commands import serve, syncd;"
        "from django.test import Client; Client().get('/healthz');"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=BASE_ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_classical_cpu_path_does_not_load_model_frameworks():
    photo = Path(REPO / "photosync/demo/products/mg01-bk-0.jpg")
    probe = (
        "import sys; from pipeline import PipelineConfig, process_image;"
        f"process_image(open({str(photo)!r}, 'rb').read(), PipelineConfig());"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=BASE_ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
