"""``taskqueue-server --help`` loads no part of the server; the package's names still resolve."""

from __future__ import annotations

import pytest

import taskqueue_server
from platform_core.testing import modules_imported_by, top_level_packages

APP = ("fastapi", "starlette", "sqlalchemy", "alembic", "mcp", "httpx", "uvicorn", "structlog")


def test_help_loads_no_part_of_the_server() -> None:
    code = (
        "from taskqueue_server.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert top_level_packages(modules_imported_by(code), APP) == []


@pytest.mark.parametrize("name", taskqueue_server.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(taskqueue_server, name) is not None
    assert name in dir(taskqueue_server)
