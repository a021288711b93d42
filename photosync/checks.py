"""System checks run at start-up (`manage.py check`, runserver, migrate, serve, worker)."""

from __future__ import annotations

from django.core import checks
from dramatiq.errors import ActorNotFound

from photosync.queueing import Queues, Work, get_broker


@checks.register("photosync")
def work_names_resolve(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every Work name resolves to a registered actor on a declared queue.

    PhotoSyncConfig.ready() imported photosync.jobs before any check runs, so a name that
    does not resolve here would fail every enqueue of that work at run time."""
    broker = get_broker()
    problems: list[checks.CheckMessage] = []
    for name in Work.ALL:
        try:
            actor = broker.get_actor(name)
        except ActorNotFound:
            problems.append(checks.Error(
                f"No actor is registered for the work {name!r}.",
                hint="Declare it with @house_actor(Work...) in a module that "
                "photosync/jobs/__init__.py imports.",
                id="photosync.E001",
            ))
            continue
        if actor.queue_name not in Queues.ALL:
            problems.append(checks.Error(
                f"The actor of the work {name!r} is on the undeclared queue "
                f"{actor.queue_name!r}.",
                hint="Add the queue to queueing.Queues.",
                id="photosync.E002",
            ))
    return problems
