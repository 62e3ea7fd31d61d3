"""Refresh the browser assets api-core ships (and the axe-core the browser tests use).

The pins live in the manifests this script writes (``manifest.json`` next to the assets);
change a version there, or pass ``--set NAME=VERSION``, and run::

    python scripts/refresh_web_assets.py            # fetch the pinned versions, verify, write
    python scripts/refresh_web_assets.py --check    # verify the files on disk match the manifest

Each package is fetched from the npm registry as its published tarball, checked against the
registry's sha512 ``integrity``, and only the listed files (plus licences) are written. Nothing
is fetched at run time: the services serve these files from the installed package.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = "https://registry.npmjs.org"
VENDOR_DIRS = [
    ROOT / "packages/api-core/src/api_core/web/static/vendor",
    ROOT / "packages/api-core/tests/browser/assets",
]


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        data: bytes = response.read()
    return data


def _tarball(name: str, version: str) -> tuple[bytes, str]:
    meta = json.loads(_fetch(f"{REGISTRY}/{name}/{version}"))
    integrity: str = meta["dist"]["integrity"]
    data = _fetch(meta["dist"]["tarball"])
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        raise SystemExit(f"{name}@{version}: unexpected integrity algorithm {algo!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{name}@{version}: tarball does not match the registry's integrity")
    return data, integrity


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def refresh(vendor_dir: Path, overrides: dict[str, str]) -> None:
    """Fetch every package of ``vendor_dir/manifest.json`` and write its files."""
    manifest_path = vendor_dir / "manifest.json"
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    for entry in manifest["packages"]:
        name = entry["npm"]
        entry["version"] = overrides.get(name, entry["version"])
        data, entry["integrity"] = _tarball(name, entry["version"])
        target = vendor_dir / entry["dir"]
        target.mkdir(parents=True, exist_ok=True)
        hashes: dict[str, str] = {}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for source, dest in entry["files"].items():
                member = tar.extractfile(f"package/{source}")
                if member is None:
                    raise SystemExit(f"{name}@{entry['version']}: no file {source!r}")
                content = member.read()
                (target / dest).write_bytes(content)
                hashes[dest] = _sha256(content)
        entry["sha256"] = hashes
        print(f"{name}@{entry['version']}: {len(hashes)} files -> {target.relative_to(ROOT)}")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


def check(vendor_dir: Path) -> list[str]:
    """Differences between the files on disk and ``vendor_dir/manifest.json``."""
    manifest = json.loads((vendor_dir / "manifest.json").read_text())
    problems = []
    for entry in manifest["packages"]:
        for dest, digest in entry.get("sha256", {}).items():
            path = vendor_dir / entry["dir"] / dest
            if not path.is_file():
                problems.append(f"missing {path.relative_to(ROOT)}")
            elif _sha256(path.read_bytes()) != digest:
                problems.append(f"changed {path.relative_to(ROOT)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify files, fetch nothing")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VERSION", help="change a pin"
    )
    args = parser.parse_args(argv)
    if args.check:
        problems = [p for vendor_dir in VENDOR_DIRS for p in check(vendor_dir)]
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    overrides = dict(item.split("=", 1) for item in args.set)
    for vendor_dir in VENDOR_DIRS:
        refresh(vendor_dir, overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
