"""Media through Django's storage API: the filesystem by default, S3-compatible storage when
PHOTOSYNC_S3_BUCKET is set. No live S3: settings are read in a fresh process, and the one URL
check signs offline with dummy credentials."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

from tests.conftest import REPO
from tests.test_settings import BASE_ENV

PROBE = """
import json, os, django
django.setup()
from django.conf import settings
from django.core.files.storage import default_storage
out = {"backend": settings.STORAGES["default"]["BACKEND"],
       "options": settings.STORAGES["default"].get("OPTIONS", {})}
default_storage._setup()
out["class"] = type(default_storage._wrapped).__name__
if out["class"] == "S3Storage" and os.environ.get("AWS_ACCESS_KEY_ID"):
    out["url"] = default_storage.url("originals/1/ab/abc.jpg")
print(json.dumps(out))
"""


#: boto3 must find dummy credentials in the environment or none: never look further (the
#: instance metadata service is a network call).
NO_AWS_LOOKUPS = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def probe(**env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env={**BASE_ENV, **NO_AWS_LOOKUPS, **env},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_media_is_on_the_filesystem_by_default():
    out = probe()
    assert out["backend"] == "django.core.files.storage.FileSystemStorage"
    assert out["class"] == "FileSystemStorage"


def test_the_bucket_setting_selects_s3_storage():
    out = probe(
        PHOTOSYNC_S3_BUCKET="photosync-media",
        PHOTOSYNC_S3_ENDPOINT_URL="https://s3.example.com",
        PHOTOSYNC_S3_REGION="eu-central-1",
        PHOTOSYNC_S3_PREFIX="prod",
        PHOTOSYNC_S3_ADDRESSING_STYLE="path",
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="not-a-real-secret",
    )
    assert out["backend"] == "storages.backends.s3.S3Storage"
    assert out["class"] == "S3Storage"
    assert out["options"] == {
        "bucket_name": "photosync-media",
        "endpoint_url": "https://s3.example.com",
        "region_name": "eu-central-1",
        "location": "prod",
        "addressing_style": "path",
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 3600,
        "file_overwrite": False,
    }
    # Nothing in the bucket is public: a URL the storage hands out is signed and expires.
    url = urlsplit(out["url"])
    assert (url.scheme, url.hostname) == ("https", "s3.example.com")
    assert url.path == "/photosync-media/prod/originals/1/ab/abc.jpg"
    query = parse_qs(url.query)
    assert "X-Amz-Signature" in query or "Signature" in query
    assert query.get("X-Amz-Expires", ["3600"]) == ["3600"]


def test_optional_s3_settings_fall_back_to_boto3_defaults():
    out = probe(PHOTOSYNC_S3_BUCKET="media")
    assert out["options"]["endpoint_url"] is None
    assert out["options"]["region_name"] is None
    assert out["options"]["addressing_style"] is None
    assert out["options"]["location"] == ""
