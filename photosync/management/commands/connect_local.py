from django.core.management.base import BaseCommand, CommandError

from photosync.services.stores import store_connect_local


class Command(BaseCommand):
    help = (
        "Register a folder as a store: each subfolder is a product; "
        "approved images go to its approved/ folder."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--name", default="")

    def handle(self, *args, path: str, name: str, **options):
        try:
            store = store_connect_local(path=path, name=name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Connected local store {store.pk} at {store.domain}")
