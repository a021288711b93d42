"""The README's threat model names the test behind every defence: each one must exist."""

import ast
import re

from tests.conftest import REPO


def _security_table() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Security\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "`" in line]


def _named_tests(cell: str) -> list[tuple[str, str | None]]:
    """`tests/x.py::test_a`, `::test_b` (same file) and `tests/y.py` -> (file, name)."""
    found, current = [], None
    for ref in re.findall(r"`([^`]+)`", cell):
        if ref.startswith("tests/"):
            current, _, name = ref.partition("::")
            found.append((current, name or None))
        elif ref.startswith("::") and current:
            found.append((current, ref[2:]))
    return found


def test_every_test_the_security_table_names_exists():
    rows = _security_table()
    assert len(rows) >= 20
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        named = _named_tests(cells[-1])
        assert named, f"a threat-model row names no test: {cells[0]}"
        for path, name in named:
            source = REPO / path
            assert source.is_file(), f"{path} (README security table) does not exist"
            if name:
                tree = ast.parse(source.read_text())
                functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
                assert name in functions, f"{path}::{name} (README security table) is missing"
