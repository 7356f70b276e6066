"""Copy the web assets installed by `npm ci` into static/vendor (pages load them from there)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
VENDOR = ROOT / "static" / "vendor"

# package -> folders inside it that the pages need
ASSETS = {
    "leaflet": ["dist"],
}


def main() -> None:
    """Replace static/vendor with fresh copies and write a manifest of versions."""
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    manifest = {}
    for package, folders in ASSETS.items():
        src = NODE / package
        if not src.exists():
            raise SystemExit(f"{package} is not installed; run `npm ci` first")
        for folder in folders:
            shutil.copytree(src / folder, VENDOR / package / folder)
        manifest[package] = json.loads((src / "package.json").read_text())["version"]
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
