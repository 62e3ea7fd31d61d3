"""The ``taskqueue`` console script: explains the missing extra instead of a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the CLI, or say how to install it when the ``cli`` extra is missing."""
    try:
        from taskqueue.cli import main as cli_main
    except ImportError as exc:
        sys.stderr.write(
            f"the taskqueue command needs the cli extra (missing module {exc.name!r}): "
            "pip install 'taskqueue-sdk[cli]'\n"
        )
        raise SystemExit(1) from exc
    cli_main()
