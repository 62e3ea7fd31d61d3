"""Build, check and publish the workspace's packages, one distribution per package.

Usage (from the repository root)::

    python scripts/release.py build            # wheel + sdist of every package into dist/
    python scripts/release.py check [NAME ...] # each wheel alone in a fresh venv, and every
                                               # README's install line, verbatim
    python scripts/release.py publish          # dry run: what would be uploaded, in order
    python scripts/release.py publish --yes    # upload with `uv publish` (UV_PUBLISH_TOKEN)

Packages are handled in dependency order (platform-core first), so an index never holds a
package whose dependencies it does not have yet. ``build`` and ``check`` need ``uv`` (the
Makefile's ``.tools/bin/uv``, or one on ``PATH``); third-party dependencies come from the
package index as usual, the workspace's own packages from ``dist/``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"


@dataclass
class Package:
    """One workspace member: its distribution name, version, folder and import name."""

    name: str
    version: str
    path: Path
    module: str
    needs: set[str] = field(default_factory=set)


def _requirement_name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower()


def discover() -> list[Package]:
    """Every package under ``packages/`` and ``apps/``, in dependency order."""
    found: dict[str, Package] = {}
    members = [*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("apps/*/pyproject.toml")]
    for pyproject in sorted(members):
        data = tomllib.loads(pyproject.read_text())
        project = data["project"]
        src = data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"][0]
        reqs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            reqs.extend(extra)
        found[project["name"]] = Package(
            project["name"], project["version"], pyproject.parent, Path(src).name,
            {_requirement_name(r) for r in reqs},
        )  # fmt: skip
    for pkg in found.values():
        pkg.needs = {n for n in pkg.needs if n in found and n != pkg.name}
    ordered: list[Package] = []
    done: set[str] = set()
    while len(ordered) < len(found):
        ready = sorted(
            (p for p in found.values() if p.name not in done and p.needs <= done),
            key=lambda p: p.name,
        )
        if not ready:
            raise SystemExit(f"dependency cycle among {sorted(set(found) - done)}")
        ordered.extend(ready)
        done.update(p.name for p in ready)
    return ordered


def _uv() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        raise SystemExit("uv is needed: run `make install` first (it puts uv in .tools/bin)")
    return found


def _run(args: list[str], **kwargs: object) -> None:
    print("+", shlex.join(args), flush=True)
    subprocess.run(args, check=True, **kwargs)  # type: ignore[call-overload]


def build(packages: list[Package]) -> None:
    """Write a wheel and an sdist of every package into ``dist/`` (old files removed)."""
    DIST.mkdir(exist_ok=True)
    for old in DIST.glob("*"):
        if old.suffix in (".whl", ".gz"):
            old.unlink()
    for pkg in packages:
        _run([_uv(), "build", "--quiet", "--sdist", "--wheel", "--out-dir", str(DIST),
              str(pkg.path)])  # fmt: skip
    for pkg in packages:
        stem = pkg.name.replace("-", "_")
        wheels = list(DIST.glob(f"{stem}-{pkg.version}-*.whl"))
        sdists = list(DIST.glob(f"{stem}-{pkg.version}.tar.gz"))
        if not (wheels and sdists):
            raise SystemExit(f"{pkg.name} {pkg.version}: wheel or sdist missing from dist/")
    print(f"built {len(packages)} packages into {DIST.relative_to(ROOT)}/")


def readme_install_lines(pkg: Package) -> list[str]:
    """The ``pip install --find-links dist ...`` lines of the package's README."""
    text = (pkg.path / "README.md").read_text()
    lines = []
    for block in re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("pip install") and "--find-links dist" in command:
                lines.append(command)
    return lines


def _fresh_venv(where: Path) -> Path:
    _run([_uv(), "venv", "--quiet", "--python", sys.executable, str(where)])
    return where / "bin" / "python"


def check(packages: list[Package], only: list[str]) -> None:
    """Install each wheel alone into a fresh venv and import it; run each README's install
    line verbatim (through ``uv pip``, which takes pip's arguments) in a fresh venv too."""
    if not list(DIST.glob("*.whl")):
        raise SystemExit("dist/ has no wheels: run `make dist` first")
    failures = []
    for pkg in packages:
        if only and pkg.name not in only:
            continue
        lines = readme_install_lines(pkg)
        if not lines:
            failures.append(f"{pkg.name}: README has no `pip install --find-links dist` line")
        with tempfile.TemporaryDirectory(prefix=f"check-{pkg.name}-") as tmp:
            python = _fresh_venv(Path(tmp) / "alone")
            try:
                _run([_uv(), "pip", "install", "--quiet", "--python", str(python),
                      "--find-links", "dist", pkg.name], cwd=ROOT)  # fmt: skip
                _run([str(python), "-c", f"import {pkg.module}"], cwd=tmp)
            except subprocess.CalledProcessError as exc:
                failures.append(f"{pkg.name} alone: {exc}")
            for n, line in enumerate(lines):
                python = _fresh_venv(Path(tmp) / f"readme{n}")
                args = shlex.split(line)[2:]  # after `pip install`
                try:
                    _run([_uv(), "pip", "install", "--quiet", "--python", str(python), *args],
                         cwd=ROOT)  # fmt: skip
                    _run([str(python), "-c", f"import {pkg.module}"], cwd=tmp)
                except subprocess.CalledProcessError as exc:
                    failures.append(f"{pkg.name} README line {line!r}: {exc}")
    if failures:
        raise SystemExit("\n".join(["install check failed:", *failures]))
    print("every wheel installs alone and imports; every README install line works")


def publish(packages: list[Package], *, yes: bool, index: str | None) -> None:
    """Upload the built files in dependency order; without ``yes`` only say what would go."""
    command = [_uv(), "publish"]
    if index:
        command += ["--publish-url", index]
    for pkg in packages:
        stem = pkg.name.replace("-", "_")
        files = sorted(
            [*DIST.glob(f"{stem}-{pkg.version}-*.whl"), *DIST.glob(f"{stem}-{pkg.version}.tar.gz")]
        )
        if not files:
            raise SystemExit(f"{pkg.name} {pkg.version} is not built: run `make dist` first")
        args = [*command, *(str(f.relative_to(ROOT)) for f in files)]
        if yes:
            _run(args, cwd=ROOT)
        else:
            print("would run:", shlex.join(args))
    if not yes:
        print("dry run: nothing uploaded (add --yes to publish)")


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    summary = (__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="scripts/release.py", description=summary)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("order", help="print the packages in dependency order")
    sub.add_parser("build", help="wheel + sdist of every package into dist/")
    chk = sub.add_parser("check", help="install each wheel alone and every README line")
    chk.add_argument("names", nargs="*", help="only these distributions")
    pub = sub.add_parser("publish", help="upload dist/ in dependency order (dry run by default)")
    pub.add_argument("--yes", action="store_true", help="really upload")
    pub.add_argument("--index", default=os.environ.get("RELEASE_INDEX_URL"), help="upload URL")
    args = parser.parse_args(argv)
    packages = discover()
    if args.command == "order":
        for pkg in packages:
            print(f"{pkg.name} {pkg.version}")
    elif args.command == "build":
        build(packages)
    elif args.command == "check":
        check(packages, args.names)
    else:
        publish(packages, yes=args.yes, index=args.index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
