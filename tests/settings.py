"""Settings for the test suite: the real settings module with test-only secrets.

DATABASE_URL / REDIS_URL decide the configuration: both set → PostgreSQL and Redis as in
production; neither → SQLite and the in-process broker (the embedded defaults).
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("PHOTOSYNC_ENCRYPTION_KEY", "3JF7PEkdBUJ71z9pXbR5oknn6Tfjp3ThPd4WSCT_1bk=")
os.environ.setdefault("PHOTOSYNC_PUBLIC_URL", "http://testserver")
os.environ.setdefault("PHOTOSYNC_DATA_DIR", tempfile.mkdtemp(prefix="photosync-test-"))
os.environ["PHOTOSYNC_ENV_FILE"] = os.devnull  # never read a developer's .env in tests
# Approvals push at once in tests; test_review_api holds them as production does (10 s).
os.environ.setdefault("PHOTOSYNC_APPROVE_UNDO_SECONDS", "0")

from photosync.settings import *  # noqa: E402,F403
from photosync.settings import DATA_DIR, DATABASES  # noqa: E402

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not shared-cache memory: worker threads open their own connections.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # One database per test run, so concurrent runs on one server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_photosync_{os.getpid()}"}
PHOTOSYNC_QUEUE_NAMESPACE = f"photosync-test-{os.getpid()}"
