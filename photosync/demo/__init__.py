"""The demo store: a local folder store seeded from real studio photos shipped in the repo.

The photos in `products/` are the Magento 2 sample data media, shipped unchanged with their
README and licence (OSL-3.0).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHOTOS = HERE / "products"


def demo_store_build(target: Path, *, limit: int | None = None) -> list[str]:
    """Lay out one product folder per photo under `target` (kept if already there)."""
    catalog = json.loads((HERE / "catalog.json").read_text())
    target.mkdir(parents=True, exist_ok=True)
    made = []
    for filename, meta in list(sorted(catalog.items()))[:limit]:
        folder = target / Path(filename).stem
        if not folder.exists():
            folder.mkdir()
            shutil.copy2(PHOTOS / filename, folder / filename)
            (folder / "product.json").write_text(json.dumps(meta, indent=2))
        made.append(folder.name)
    return made
