"""The shape of one row of the settings table (rows.py holds the rows)."""

from __future__ import annotations

from dataclasses import dataclass, replace

TYPES = ("str", "int", "float", "bool", "url", "list", "path")
#: Processes of the README's process map. `serve` (one-machine mode) runs web, worker and
#: syncd in one process, so it reads whatever they read; rows name it only when no other does.
APP_PROCESSES = ("web", "worker", "gpu-worker", "syncd", "serve")
#: Readers outside the Django processes (deploy/): the container entrypoint, Compose, the
#: image build (Dockerfile build arguments, deploy/prefetch_models.py), KEDA's scalers.
DEPLOY_READERS = ("entrypoint", "compose", "image build", "KEDA")


@dataclass(frozen=True)
class Setting:
    """One environment variable. `default` is the typed value an unset (or blank) variable
    gets (a tuple for a list, handed out as a fresh list); None means unset. `shown_default`
    describes a default that settings.py computes from other settings (e.g. ALLOWED_HOSTS
    from PHOTOSYNC_PUBLIC_URL)."""

    name: str
    type: str
    default: object
    meaning: str
    readers: tuple[str, ...]
    group: str = ""
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    shown_default: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: type {self.type!r} is not one of {TYPES}")
        unknown = set(self.readers) - set(APP_PROCESSES) - set(DEPLOY_READERS)
        if not self.readers or unknown:
            raise ValueError(f"{self.name}: readers {self.readers!r} (unknown: {unknown})")
        if self.secret and self.default not in (None, ""):
            raise ValueError(f"{self.name}: a secret has no default")
        if isinstance(self.default, list):
            raise ValueError(f"{self.name}: a list default is a tuple (rows are shared)")
        if self.required and self.default is not None:
            raise ValueError(f"{self.name}: a required setting has no default")

    @property
    def read_by_app(self) -> bool:
        """True when a Django process reads it (so it belongs in `.env`)."""
        return bool(set(self.readers) & set(APP_PROCESSES))


ALL = ("web", "worker", "gpu-worker", "syncd")  # and serve, which runs the first three
WEB = ("web",)
WORKERS = ("worker", "gpu-worker")
SYNCD = ("syncd",)
STORES = ("web", "worker", "syncd")  # connect, push, reconcile, health checks
MODELS = ("worker", "gpu-worker", "image build")  # model caches: workers and prefetch


def group(title: str, *rows: Setting) -> tuple[Setting, ...]:
    return tuple(replace(row, group=title) for row in rows)
