"""The dependency rules of docs/architecture.md, checked on the real modules."""

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


def _module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` under `root`, by dotted name (a package by its own name)."""
    modules = {}
    for path in (root / package).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the modules it imports, counting every import statement wherever it is (inside
    functions too), relative ones resolved, and `from a import b` naming the submodule a.b
    when there is one. Also returns imports outside `package` (e.g. pipeline)."""
    modules = _module_files(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join(here + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in modules else base)
        graph[name] = targets - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ()) & graph.keys()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _importers(graph: dict[str, set[str]], of: str, where: str) -> dict[str, list[str]]:
    """Modules under `where` that import `of` or one of its submodules."""
    return {
        module: sorted(t for t in targets if t == of or t.startswith(of + "."))
        for module, targets in graph.items()
        if (module == where or module.startswith(where + "."))
        and any(t == of or t.startswith(of + ".") for t in targets)
    }


def test_no_import_cycle_among_photosync_modules():
    cycles = _cycles(_import_graph(REPO, "photosync"))
    assert cycles == [], "import cycles (imports inside functions count):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_the_cycle_finder_sees_imports_hidden_in_functions(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from .sub import c\n")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "c.py").write_text("def g():\n    import pkg.a\n")
    (tmp_path / "pkg" / "d.py").write_text("from pkg.a import something\n")
    assert _cycles(_import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_no_service_imports_the_actors():
    graph = _import_graph(REPO, "photosync")
    assert _importers(graph, "photosync.jobs", "photosync.services") == {}


def test_no_view_imports_pipeline():
    graph = _import_graph(REPO, "photosync")
    assert _importers(graph, "pipeline", "photosync.views") == {}


def test_lower_layers_never_import_upper_ones():
    """models ← selectors ← services ← jobs, views: arrows point one way (architecture.md)."""
    graph = _import_graph(REPO, "photosync")
    upward = {}
    for lower, uppers in (
        ("photosync.models", ("photosync.selectors", "photosync.services", "photosync.jobs",
                              "photosync.views")),
        ("photosync.selectors", ("photosync.services", "photosync.jobs", "photosync.views")),
        ("photosync.services", ("photosync.jobs", "photosync.views")),
        ("photosync.jobs", ("photosync.views",)),
    ):
        for upper in uppers:
            upward.update(_importers(graph, upper, lower))
    assert upward == {}


def test_no_source_file_is_over_400_lines():
    """House style 13: a module past ~400 lines (or serving two nouns) becomes a package."""
    sources = [
        path
        for package in ("photosync", "pipeline", "integrations")
        for pattern in ("*.py", "*.js")
        for path in (REPO / package).rglob(pattern)
        if "migrations" not in path.parts
    ]
    assert len(sources) > 50  # the walk found the real tree
    too_long = {
        str(path.relative_to(REPO)): n
        for path in sources
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert too_long == {}
