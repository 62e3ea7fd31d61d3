"""Refuse to start the compose stack while a secret is unset, weak or still the example's.

``docker compose up`` runs this first (the one-shot service ``preflight``); every other service
waits for it to exit 0. It is given the stack's secrets as environment variables and the path of
``.env.example``; a secret is a variable of that file whose name ends in ``_PASSWORD``,
``_KEY`` or ``_SECRET``. Each refusal names the variable, never its value. Standard library
only: it runs in the apps' image.

Usage: ``python preflight.py PATH_TO_ENV_EXAMPLE``. Exit 0 when every secret is fine, 1 when
one is not (each problem on stderr), 2 on usage errors.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

SECRET_NAME = re.compile(r"_(PASSWORD|KEY|SECRET)$")
# Passwords are embedded in connection URLs (postgresql://user:PASSWORD@host/db), so they
# may only use characters that need no percent-encoding there.
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
MIN_CHARS = 16
PLACEHOLDER_MARK = "change-me"


def example_values(text: str) -> dict[str, str]:
    """The ``NAME=value`` assignments of an env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def problems(example: dict[str, str], env: dict[str, str]) -> list[str]:
    """Why the secrets in ``env`` must not be used; empty when they all may.

    Args:
        example: ``.env.example``'s assignments.
        env: The environment the stack would run with.
    """
    found: list[str] = []
    for name, placeholder in sorted(example.items()):
        if not SECRET_NAME.search(name) or not placeholder:
            continue  # not a secret, or optional (empty in the example, e.g. an LLM key)
        value = env.get(name, "")
        if not value:
            found.append(f"{name} is not set; set it in .env")
        elif value == placeholder or PLACEHOLDER_MARK in value.lower():
            found.append(f"{name} still has the placeholder from .env.example; set a real secret")
        elif len(value) < MIN_CHARS:
            found.append(f"{name} is shorter than {MIN_CHARS} characters")
        elif name.endswith("_PASSWORD") and not URL_SAFE.match(value):
            found.append(f"{name} may only contain letters, digits and . _ ~ - (it goes into URLs)")
    return found


def main(argv: list[str]) -> int:
    """Check the environment against the example file named in ``argv``."""
    if len(argv) != 1:
        print("usage: preflight.py PATH_TO_ENV_EXAMPLE", file=sys.stderr)
        return 2
    example = example_values(Path(argv[0]).read_text(encoding="utf-8"))
    found = problems(example, dict(os.environ))
    for problem in found:
        print(f"preflight: {problem}", file=sys.stderr)
    if found:
        print(
            "preflight: refusing to start the stack; generate secrets with e.g. "
            'python3 -c "import secrets; print(secrets.token_urlsafe(32))"',
            file=sys.stderr,
        )
        return 1
    print("preflight: every secret is set")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
