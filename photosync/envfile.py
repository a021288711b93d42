"""Write a `.env` with fresh secrets for one-machine mode (never overwrites one).

Run as `python -m photosync.envfile PATH`. It does not import Django settings, which need
these values to exist.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Written by `python -m photosync.envfile` for one-machine mode. Keep it private.
SECRET_KEY={secret_key}
PHOTOSYNC_ENCRYPTION_KEY={encryption_key}
PHOTOSYNC_PUBLIC_URL=http://127.0.0.1:8000
PHOTOSYNC_ADMIN_USER=admin
PHOTOSYNC_ADMIN_PASSWORD={password}
"""


def write_env(path: Path) -> bool:
    """Create the file with mode 600; return False when it already exists."""
    if path.exists():
        return False
    text = TEMPLATE.format(
        secret_key=secrets.token_urlsafe(50),
        encryption_key=Fernet.generate_key().decode(),
        password=secrets.token_urlsafe(12),
    )
    path.touch(mode=0o600)
    path.write_text(text)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    print(f"{'wrote' if write_env(target) else 'kept existing'} {target}")
