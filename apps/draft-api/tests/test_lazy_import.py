"""``draft-api --help`` lists the settings without loading the app."""

from __future__ import annotations

from platform_core.testing import modules_imported_by, top_level_packages

APP = ("fastapi", "starlette", "sqlalchemy", "openai", "uvicorn", "structlog", "draft_service.api")


def test_help_loads_no_part_of_the_app() -> None:
    code = (
        "from draft_api.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert top_level_packages(modules_imported_by(code), APP) == []
