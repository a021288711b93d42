from django.apps import AppConfig


class PhotoSyncConfig(AppConfig):
    name = "photosync"
    verbose_name = "PhotoSync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: both need the app registry (models) to be ready.
        # Building the broker and registering the actors in every process (web enqueues,
        # workers consume) makes both sides agree on queue and work names; the checks
        # module registers the system check that verifies it.
        from django.db.backends.signals import connection_created

        from photosync import checks, jobs  # noqa: F401
        from photosync.database import connection_prepare

        # Every connection, whatever opens it: SQLite zeroes what it deletes (erasure).
        connection_created.connect(connection_prepare, dispatch_uid="photosync.database")
