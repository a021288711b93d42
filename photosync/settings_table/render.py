"""`.env.example` and the README's settings table, generated from the rows."""

from __future__ import annotations

import textwrap
from pathlib import Path

from photosync.settings_table.rows import ALL, SETTINGS
from photosync.settings_table.setting import Setting

REPO = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = REPO / ".env.example"
README = REPO / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"

ENV_HEADER = """\
# Every setting the PhotoSync app reads. GENERATED from photosync/settings_table/rows.py:
# change a row there, then run `python -m photosync.settings_table --write` (which rewrites
# this file and the README's settings table; tests/test_settings_table.py fails when either
# drifts from the table).
#
# Copy to .env beside manage.py, or set the variables in the environment, which wins over the
# file; `make run` writes a .env with fresh secrets for one-machine mode. Uncommented lines are
# required. A commented line shows the default; a blank value counts as unset. The variables of
# the containers themselves (deploy/entrypoint.sh, compose, KEDA) are in the README's table and
# deploy/.env.example.
"""


def groups(rows: tuple[Setting, ...] = SETTINGS) -> list[tuple[str, list[Setting]]]:
    """The rows by group, in table order."""
    out: dict[str, list[Setting]] = {}
    for row in rows:
        out.setdefault(row.group, []).append(row)
    return list(out.items())


def value_text(value: object) -> str:
    """A value as the environment spells it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def default_text(row: Setting) -> str:
    """The README's Default cell (Markdown)."""
    if row.required:
        return "required"
    if row.shown_default:
        return row.shown_default
    shown = value_text(row.default)
    return f"`{shown}`" if shown else "unset"


def type_text(row: Setting) -> str:
    parts = [row.type]
    if row.choices:
        parts = [" \\| ".join(f"`{c}`" for c in row.choices)]
    if row.minimum is not None:
        parts.append(f"≥ {row.minimum:g}")
    if row.secret:
        parts.append("secret")
    return ", ".join(parts)


def readers_text(row: Setting) -> str:
    readers = list(row.readers)
    if set(ALL) <= set(readers):
        readers = ["all"] + [r for r in readers if r not in ALL]
    return ", ".join(readers)


def _comment(text: str) -> list[str]:
    """`text` as wrapped comment lines; a `code span` (a command, a value) is never split."""
    spans = text.split("`")
    kept = "`".join(part.replace(" ", "\0") if i % 2 else part for i, part in enumerate(spans))
    lines = textwrap.wrap(kept, width=96, initial_indent="# ", subsequent_indent="# ",
                          break_long_words=False, break_on_hyphens=False)
    return [line.replace("\0", " ") for line in lines]


def env_example() -> str:
    """The whole `.env.example`: every row a Django process reads, by group."""
    lines = [ENV_HEADER.rstrip("\n")]
    for title, rows in groups():
        rows = [row for row in rows if row.read_by_app]
        if not rows:
            continue
        lines += ["", f"# --- {title} ".ljust(96, "-")]
        for row in rows:
            note = row.meaning
            if row.shown_default and not row.required:
                note += f" Default: {row.shown_default}."
            if row.choices:
                note += f" One of: {', '.join(f'`{c}`' for c in row.choices)}."
            lines += _comment(note)
            shown = "" if row.secret else value_text(row.default)
            lines.append(f"{row.name}=" if row.required else f"# {row.name}={shown}")
    return "\n".join(lines) + "\n"


def readme_table() -> str:
    """The README's settings section between the markers: one table per group."""
    out = []
    for title, rows in groups():
        out += [f"### {title}", "", "| Variable | Type | Default | Read by | Meaning |",
                "|---|---|---|---|---|"]
        for row in rows:
            cells = (f"`{row.name}`", type_text(row), default_text(row), readers_text(row),
                     row.meaning.replace("|", "\\|"))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def readme_with_table(text: str) -> str:
    """`text` (the README) with the generated table between its markers."""
    before, start, rest = text.partition(START)
    _, end, after = rest.partition(END)
    if not (start and end):
        raise ValueError(f"README.md lacks the {START} ... {END} markers")
    return f"{before}{START}\n{readme_table()}{END}{after}"


def expected() -> dict[Path, str]:
    """What each generated file must hold."""
    return {ENV_EXAMPLE: env_example(), README: readme_with_table(README.read_text())}


def drifted() -> list[Path]:
    """The generated files whose text differs from the table's."""
    return [path for path, text in expected().items()
            if not path.is_file() or path.read_text() != text]


def write() -> list[Path]:
    """Rewrite the files that drifted; return them."""
    changed = drifted()
    wanted = expected()
    for path in changed:
        path.write_text(wanted[path])
    return changed
