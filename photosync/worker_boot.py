"""Module the `dramatiq` CLI imports in each worker process: set up Django, register actors."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "photosync.settings")
django.setup()  # PhotoSyncConfig.ready() imports photosync.jobs, which binds the broker
