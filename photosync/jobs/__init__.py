"""Dramatiq actors, one module per queue: primitive ids in, one service call, retryable errors
mapped to a delay.

Each actor is named by a `queueing.Work` name and declared with `house_actor`, which states
its queue, retry budget and time limit once (nothing inherits Dramatiq's default of 20
retries spread over days). Services never import this package: they enqueue work by name.

Importing the package registers every actor with the broker: Django's app config does it in
every process (web, `serve`, syncd), and so does `photosync.worker_boot` for the dramatiq CLI.
"""

from photosync.jobs import generation, push, sync, webhooks

__all__ = ["generation", "push", "sync", "webhooks"]
