import logging
import os
import signal
import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from dramatiq import Worker
from waitress import create_server

from photosync import syncd
from photosync.demo import demo_store_build
from photosync.queueing import Queues, get_broker
from photosync.services.generation_config import models_licence_check
from photosync.services.stores import store_connect_local
from photosync.wsgi import application

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "One-machine mode: web server, worker threads and the sync loop in one process, "
        "on the embedded defaults (SQLite, in-process broker) unless settings say otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--demo", action="store_true", help="seed and connect the demo store")
        parser.add_argument("--demo-products", type=int, default=None, metavar="N",
                            help="seed only the first N demo products")
        parser.add_argument("--no-migrate", action="store_true")
        parser.add_argument("--web-threads", type=int, default=8)

    def handle(self, *args, addrport: str, demo: bool, no_migrate: bool, web_threads: int,
               demo_products: int | None, **kw):
        host, _, port = addrport.rpartition(":")
        if not port.isdigit():
            raise CommandError(f"Expected ADDR:PORT or PORT, got {addrport!r}")
        host = host or "127.0.0.1"
        try:
            models_licence_check()
        except ImproperlyConfigured as exc:
            raise CommandError(f"PhotoSync refuses to start: {exc}") from None
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        operator = self._ensure_operator()
        if demo:
            self._seed_demo(limit=demo_products)

        # The GPU queue is served here only when the operator chose a model generator.
        queues = set(Queues.CPU)
        if settings.PHOTOSYNC_SCENE_GENERATOR.startswith("diffusers:"):
            queues.add(Queues.GENERATE_GPU)
        worker = Worker(
            get_broker(), queues=queues, worker_threads=settings.PHOTOSYNC_WORKER_THREADS,
            worker_timeout=100,  # ms between polls of an idle queue (see manage.py worker)
        )
        worker.start()
        stop = threading.Event()
        loop = threading.Thread(
            target=syncd.run,
            kwargs={"interval": settings.PHOTOSYNC_SYNC_INTERVAL, "stop": stop},
            name="syncd",
            daemon=True,
        )
        loop.start()
        server = create_server(application, host=host, port=int(port), threads=web_threads)

        def shutdown(*_):
            raise SystemExit(0)  # unwinds server.run(); the finally block stops the rest

        signal.signal(signal.SIGTERM, shutdown)
        url = f"http://{host}:{port}/"
        self.stdout.write(f"PhotoSync is serving on {url}")
        if operator:
            self.stdout.write(
                f"Log in as {operator!r}; the password is PHOTOSYNC_ADMIN_PASSWORD in .env"
            )
        self.stdout.write(f"Review queue: {url}   API: {url}api/v1/   Health: {url}readyz")
        if demo:
            self.stdout.write(f"Demo store folder: {self._demo_dir()} (approved images go to "
                              "<product>/approved/)")
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
            stop.set()
            worker.stop()
            loop.join(timeout=30)

    def _ensure_operator(self) -> str | None:
        username = os.environ.get("PHOTOSYNC_ADMIN_USER", "")
        password = os.environ.get("PHOTOSYNC_ADMIN_PASSWORD", "")
        if not (username and password):
            return None
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True}
        )
        if created or not user.check_password(password):
            user.is_staff = True
            user.set_password(password)
            user.save()
        return username

    def _demo_dir(self):
        return settings.DATA_DIR / "demo-store"

    def _seed_demo(self, *, limit: int | None) -> None:
        products = demo_store_build(self._demo_dir(), limit=limit)
        store_connect_local(path=self._demo_dir(), name="Demo store")
        self.stdout.write(f"Demo store ready with {len(products)} products")

