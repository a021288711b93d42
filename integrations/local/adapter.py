"""A folder is a store: the on-premise and demo storefront.

Layout::

    STORE/
      <product-id>/            one folder per product; its name is the product id
        product.json           optional: {"title": ..., "type": ...}
        front.jpg back.png     the merchant's photos (any file that is not hidden)
        approved/              written by PhotoSync: approved images + manifest.json

Every non-hidden regular file in the product folder counts as a source image, so a corrupt
or non-image file is reported per image by the pipeline rather than silently ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from integrations.base import (
    MediaStatus,
    NewImage,
    PushResult,
    PushState,
    RemoteImage,
    RemoteProduct,
    fetch_each,
    gallery_moved,
    gallery_without,
)
from integrations.errors import Invalid, NotFound, ProductGone

APPROVED_DIR = "approved"
MANIFEST = "manifest.json"
PRODUCT_FILE = "product.json"


class LocalStoreAdapter:
    platform = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def iter_products(self, *, updated_since: datetime | None = None) -> Iterator[RemoteProduct]:
        if not self.root.is_dir():
            raise NotFound(f"The store folder {self.root} does not exist.")
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir() and not entry.name.startswith("."):
                product = self._read(entry)
                if updated_since is None or (
                    product.updated_at is not None and product.updated_at >= updated_since
                ):
                    yield product

    def get_product(self, remote_id: str) -> RemoteProduct:
        return self._read(self._product_dir(remote_id))

    def fetch_products(self, remote_ids: list[str]) -> dict[str, RemoteProduct | None]:
        return fetch_each(self, remote_ids)  # a folder has nothing to batch

    def fetch_image(self, image: RemoteImage) -> bytes:
        path = Path(image.src)
        if not path.resolve().is_relative_to(self.root):
            raise Invalid(f"Image {image.remote_id} is outside the store folder.")
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"Image {image.remote_id} was removed from the folder.") from None

    def push_image(self, product_remote_id: str, image: NewImage) -> PushResult:
        folder = self._product_dir(product_remote_id) / APPROVED_DIR
        folder.mkdir(exist_ok=True)
        manifest = self._manifest(folder)
        for entry in manifest["images"]:
            if entry["content_hash"] == image.content_hash:  # already pushed: idempotent
                before = [dict(e) for e in manifest["images"] if e is not entry]
                return PushResult(entry["file"], MediaStatus.LIVE, {"images": before})
        previous = {"images": [dict(e) for e in manifest["images"]]}
        name = _unique_name(folder, image.filename)
        _atomic_write(folder / name, image.data)
        entry = {"file": name, "alt": image.alt, "content_hash": image.content_hash,
                 "featured": False}
        manifest["images"].append(entry)
        if image.featured:
            _feature(manifest, name, featured=True)
        self._write_manifest(folder, manifest)
        return PushResult(name, MediaStatus.LIVE, previous)

    def push_status(self, product_remote_id: str, remote_id: str) -> PushState:
        folder = self._product_dir(product_remote_id) / APPROVED_DIR
        entries = self._manifest(folder)["images"] if folder.is_dir() else []
        names = [e["file"] for e in entries]
        if remote_id not in names or not (folder / remote_id).is_file():
            return PushState(MediaStatus.MISSING, reason="the file is missing")
        entry = entries[names.index(remote_id)]
        return PushState(MediaStatus.LIVE, alt=str(entry.get("alt") or ""),
                         featured=bool(entry.get("featured")), count=len(names))

    def update_image(self, product_remote_id: str, remote_id: str, *, alt: str | None = None,
                     featured: bool | None = None) -> None:
        folder = self._product_dir(product_remote_id) / APPROVED_DIR
        manifest = self._manifest(folder)
        entry = next((e for e in manifest["images"] if e["file"] == remote_id), None)
        if entry is None:
            raise NotFound(f"{remote_id} is no longer in the product's approved images.")
        if alt is not None:
            entry["alt"] = alt
        if featured is not None:
            _feature(manifest, remote_id, featured=featured)
        self._write_manifest(folder, manifest)

    def rollback(self, product_remote_id: str, remote_id: str, previous_state: dict) -> None:
        folder = self._product_dir(product_remote_id) / APPROVED_DIR
        manifest = self._manifest(folder)
        entries = manifest["images"]
        names = [e["file"] for e in entries]
        ours_featured = any(e["file"] == remote_id and e.get("featured") for e in entries)
        before = next((e["file"] for e in previous_state.get("images", [])
                       if e.get("featured")), None)
        order = gallery_without(names, remote_id, before if ours_featured else None)
        by_name = {e["file"]: e for e in entries}
        manifest["images"] = [by_name[n] for n in order]
        if ours_featured and before in by_name:
            by_name[before]["featured"] = True
        (folder / Path(remote_id).name).unlink(missing_ok=True)
        if folder.is_dir():
            self._write_manifest(folder, manifest)

    def _product_dir(self, remote_id: str) -> Path:
        path = (self.root / remote_id).resolve()
        if path.parent != self.root:
            raise Invalid(f"{remote_id!r} is not a product folder name.")
        if not self.root.is_dir():  # an unmounted store is not a store without products
            raise NotFound(f"The store folder {self.root} does not exist.")
        if not path.is_dir():
            raise ProductGone(f"Product folder {remote_id!r} does not exist.")
        return path

    def _read(self, folder: Path) -> RemoteProduct:
        meta: dict = {}
        meta_path = folder / PRODUCT_FILE
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                meta = {}
            if not isinstance(meta, dict):
                meta = {}
        images = []
        newest = folder.stat().st_mtime
        files = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name != PRODUCT_FILE
        )
        for position, path in enumerate(files):
            stat = path.stat()
            newest = max(newest, stat.st_mtime)
            images.append(
                RemoteImage(
                    remote_id=path.name,
                    src=str(path),
                    position=position,
                    version=f"{stat.st_size}-{stat.st_mtime_ns}",
                )
            )
        return RemoteProduct(
            remote_id=folder.name,
            title=str(meta.get("title") or folder.name.replace("-", " ").replace("_", " ")),
            product_type=str(meta.get("type") or ""),
            updated_at=datetime.fromtimestamp(newest, tz=UTC),
            images=tuple(images),
        )

    @staticmethod
    def _manifest(folder: Path) -> dict:
        path = folder / MANIFEST
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("images"), list):
                return data
        return {"images": []}

    @staticmethod
    def _write_manifest(folder: Path, manifest: dict) -> None:
        _atomic_write(folder / MANIFEST, json.dumps(manifest, indent=2).encode())


def _feature(manifest: dict, name: str, *, featured: bool) -> None:
    """Make `name` the featured image (first, flagged) or an ordinary one (last)."""
    by_name = {e["file"]: e for e in manifest["images"]}
    for entry in by_name.values():
        if featured:
            entry["featured"] = entry["file"] == name
        elif entry["file"] == name:
            entry["featured"] = False
    manifest["images"] = [by_name[n] for n in gallery_moved(list(by_name), name,
                                                            featured=featured)]


def _unique_name(folder: Path, filename: str) -> str:
    stem, suffix = os.path.splitext(Path(filename).name)
    candidate, n = f"{stem}{suffix}", 1
    while (folder / candidate).exists():
        n += 1
        candidate = f"{stem}-{n}{suffix}"
    return candidate


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
