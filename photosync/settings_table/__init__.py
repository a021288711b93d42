"""Every environment variable PhotoSync or its deployment reads, defined once.

`SETTINGS` (rows.py) is the one list: name, type, default, meaning, group, who reads it.
`photosync/settings.py` reads each value through `read(name)`, so a setting cannot exist
without a row; `.env.example` and the README's settings table are generated from the rows
(`python -m photosync.settings_table --write`; tests/test_settings_table.py fails on drift).

Nothing here needs Django settings: `photosync.envfile` and the generator run without them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from photosync.settings_table.rows import SETTINGS
from photosync.settings_table.setting import Setting

__all__ = ["SETTINGS", "Setting", "read", "secret_names", "setting"]

BY_NAME = {row.name: row for row in SETTINGS}
if len(BY_NAME) != len(SETTINGS):
    raise ValueError("photosync/settings_table/rows.py defines a setting twice")

_TRUE = ("true", "on", "ok", "y", "yes", "1")  # django-environ's spellings of true
_FALSE = ("false", "off", "n", "no", "0")
_SPELLED = {
    "int": "a whole number", "float": "a number", "bool": "true or false",
    "list": "a comma-separated list", "path": "a path", "url": "a URL", "str": "text",
}


def setting(name: str) -> Setting:
    """The row named `name`; a name without a row is a programming error."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise LookupError(
            f"{name} is not in photosync/settings_table/rows.py: add a row for it"
        ) from None


def read(name: str, environ: Mapping[str, str] | None = None) -> object:
    """The typed value of the variable `name` (a row of SETTINGS), from `environ`
    (default: the process environment). Blank counts as unset. A missing required value, or
    a value of the wrong type, outside the row's choices or under its minimum, stops start-up
    with a message naming the variable; a secret's value is never repeated in it."""
    row = setting(name)
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    shown = "" if row.secret else f", got {raw!r}"
    try:
        value = _parse(row.type, raw) if raw else None
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {_SPELLED[row.type]}{shown}") from None
    if value in (None, []):  # blank, or a list of nothing: unset
        if row.required:
            raise ImproperlyConfigured(
                f"Missing required setting {name}: set the environment variable {name} "
                f"(see .env.example and the README's settings table)."
            )
        return list(row.default) if isinstance(row.default, tuple) else row.default
    if row.choices and value not in row.choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(row.choices)}{shown}")
    if row.minimum is not None and value < row.minimum:
        raise ImproperlyConfigured(f"{name} must be at least {row.minimum:g}{shown}")
    return value


def _parse(kind: str, raw: str) -> object:
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(raw)
    if kind == "list":
        return [part.strip() for part in raw.split(",") if part.strip()]
    if kind == "path":
        return Path(raw).expanduser()
    return raw  # str, url


def secret_names() -> tuple[str, ...]:
    """Variables whose values must never reach a log line or the repository."""
    return tuple(row.name for row in SETTINGS if row.secret)
