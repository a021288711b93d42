"""Work is sent by name: every name resolves to one actor, and the system check says so."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from dramatiq.errors import ActorNotFound

import photosync.services
from photosync.checks import work_names_resolve
from photosync.jobs.base import house_actor
from photosync.queueing import Queues, Work, enqueue, generation_work, get_broker, queue_depth
from tests.conftest import REPO
from tests.test_settings import BASE_ENV


def test_every_work_name_has_one_actor_and_every_actor_a_work_name():
    assert sorted(get_broker().get_declared_actors()) == sorted(Work.ALL)
    assert work_names_resolve() == []


def test_no_actor_shares_its_name_with_the_service_it_calls():
    services = set()
    for info in pkgutil.walk_packages(photosync.services.__path__, "photosync.services."):
        module = importlib.import_module(info.name)
        services |= {name for name, value in vars(module).items()
                     if inspect.isfunction(value) and value.__module__ == module.__name__}
    assert {"push_send", "webhook_event_handle", "shopify_bulk_ingest"} <= services
    assert services & set(Work.ALL) == set()


def test_manage_py_check_passes():
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=BASE_ENV,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_system_check_fails_naming_a_work_without_an_actor(monkeypatch):
    monkeypatch.delitem(get_broker().actors, Work.PUSH_POLL)
    problems = work_names_resolve()
    assert [(p.id, p.msg) for p in problems] == [
        ("photosync.E001", "No actor is registered for the work 'push_poll'.")]
    with pytest.raises(SystemCheckError, match="push_poll"):
        call_command("check")


def test_the_system_check_fails_naming_an_actor_on_an_undeclared_queue(monkeypatch):
    monkeypatch.setattr(get_broker().get_actor(Work.PUSH_RUN), "queue_name", "pushes")
    assert [p.msg for p in work_names_resolve()] == [
        "The actor of the work 'push_run' is on the undeclared queue 'pushes'."]


def test_an_actor_must_be_declared_for_a_work_name():
    with pytest.raises(ValueError, match="not a queueing.Work name"):
        house_actor("product_refresh", queue=Queues.WEBHOOKS, retries=1,
                    time_limit=timedelta(minutes=1))
    assert "product_refresh" not in get_broker().get_declared_actors()


def test_generation_jobs_map_to_their_work_by_queue():
    assert generation_work(Queues.GENERATE_CPU) == Work.GENERATION_RUN
    assert generation_work(Queues.GENERATE_GPU) == Work.GENERATION_RUN_GPU
    assert get_broker().get_actor(Work.GENERATION_RUN_GPU).queue_name == Queues.GENERATE_GPU


@pytest.mark.django_db
def test_enqueue_sends_by_name_only_once_the_transaction_commits(
    broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue(Work.PUSH_POLL, 12345, 0)
        assert queue_depth(Queues.PUSH) == 0  # nothing sent before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert queue_depth(Queues.PUSH) == 1


def test_enqueue_of_a_name_without_an_actor_raises_at_once():
    with pytest.raises(ActorNotFound):
        enqueue("product_refresh", 1, "gid://shopify/Product/1")
