"""Write a `.env` with fresh secrets for one-machine mode.

`python -m photosync.envfile [PATH] [--addr HOST:PORT] [--force]`; `make run` runs it as
`python -m photosync.envfile .env --addr $(ADDR)` when there is no `.env` yet. It never
replaces a file without --force, and it does not import Django settings, which need these
values to exist.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from photosync.settings_table import setting

DEFAULT_ADDR = "127.0.0.1:8000"
WILDCARDS = ("0.0.0.0", "::", "[::]")
HEADER = (
    "# Written by `python -m photosync.envfile` for one-machine mode. Keep it private.\n"
    "# Every other setting, with its default: .env.example.\n"
)


def public_url(addr: str) -> str:
    """The origin a browser on this machine uses for `serve ADDR` (HOST:PORT or PORT)."""
    host, _, port = addr.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT or PORT, got {addr!r}")
    host = host or "127.0.0.1"
    if host in WILDCARDS:  # listening everywhere: this machine still answers on loopback
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # a bare IPv6 address
    return f"http://{host}:{int(port)}"


def env_values(*, addr: str = DEFAULT_ADDR) -> dict[str, str]:
    """Fresh values for the settings one-machine mode needs."""
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PHOTOSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PHOTOSYNC_PUBLIC_URL": public_url(addr),
        "PHOTOSYNC_ADMIN_USER": "admin",
        "PHOTOSYNC_ADMIN_PASSWORD": secrets.token_urlsafe(12),
    }
    for name in values:
        setting(name)  # every name is a row of the settings table
    return values


def write_env(path: Path, *, addr: str = DEFAULT_ADDR, force: bool = False) -> bool:
    """Create `path` (mode 600) with fresh values; return False, writing nothing, when it
    exists and `force` is not set. With `force` the old file is replaced in one step."""
    text = HEADER + "".join(f"{k}={v}\n" for k, v in env_values(addr=addr).items())
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL  # never follows or truncates a file
    if force:
        staged = path.with_name(path.name + ".new")
        staged.unlink(missing_ok=True)
        with os.fdopen(os.open(staged, flags, 0o600), "w") as handle:
            handle.write(text)
        os.replace(staged, path)
        return True
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m photosync.envfile",
        description="Write a .env with fresh secrets (SECRET_KEY, PHOTOSYNC_ENCRYPTION_KEY, "
                    "the admin password) for one-machine mode (`manage.py serve`).",
    )
    parser.add_argument("path", nargs="?", default=".env", type=Path,
                        help="the file to write (default: .env)")
    parser.add_argument("--addr", default=DEFAULT_ADDR, metavar="HOST:PORT",
                        help="the address `serve` listens on; PHOTOSYNC_PUBLIC_URL is "
                             f"http://HOST:PORT (default: {DEFAULT_ADDR})")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing file. Its PHOTOSYNC_ENCRYPTION_KEY is lost "
                             "with it, and so are the store credentials encrypted with it")
    args = parser.parse_args(argv)
    try:
        url = public_url(args.addr)
    except ValueError as exc:
        parser.error(f"--addr: {exc}")
    if not write_env(args.path, addr=args.addr, force=args.force):
        print(f"{args.path} exists: kept it (--force replaces it, and its secrets)",
              file=sys.stderr)
        return 1
    print(f"wrote {args.path} (PHOTOSYNC_PUBLIC_URL={url})")
    if args.addr.rpartition(":")[0] in WILDCARDS:
        print(f"{args.addr} listens on every interface: set PHOTOSYNC_PUBLIC_URL and "
              f"ALLOWED_HOSTS in {args.path} to the address other machines use",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
