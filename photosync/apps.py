from django.apps import AppConfig


class PhotoSyncConfig(AppConfig):
    name = "photosync"
    verbose_name = "PhotoSync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Build the broker and register the actors as soon as Django is up, in every
        # process (web enqueues, workers consume), so both sides agree on queue names.
        from photosync import jobs  # noqa: F401
