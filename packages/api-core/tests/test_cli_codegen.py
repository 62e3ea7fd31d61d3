"""The api-core CLI: config-docs and generate-entity (property 14 of the seed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from api_core.cli import main
from api_core.codegen import EntitySpec, GenerationError, generate

_PROJECT_CONFIG = """
[tool.ruff]
line-length = 100
[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "SIM", "RUF", "ASYNC", "PT", "C4", "N"]
[tool.pytest.ini_options]
filterwarnings = ["error"]
asyncio_default_fixture_loop_scope = "function"
[tool.mypy]
strict = true
"""


def test_config_docs_markdown_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["config-docs", "api_core.settings:ApiSettings"])
    assert result.exit_code == 0, result.output
    assert (
        "| `cors.allow_origins` | `API_CORS__ALLOW_ORIGINS` | `list[str]` | `[]` |" in result.output
    )
    out = tmp_path / "settings.json"
    result = runner.invoke(main, ["config-docs", "api_core:ApiSettings", "--json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    docs = {d["env"]: d for d in json.loads(out.read_text())}
    assert docs["API_TELEMETRY__OTLP_HEADERS"]["type"] == "SecretStr | None"
    assert docs["API_MAX_BODY_SIZE"]["default"] == "`1048576`"


def test_config_docs_bad_class_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["config-docs", "api_core.settings:Nope"])
    assert result.exit_code == 2
    assert "cannot import" in result.output


def test_dry_run_lists_files_without_writing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "generate-entity",
            "Book",
            "--fields",
            "title:str",
            "--dry-run",
            "--json",
            "-o",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    files = json.loads(result.output)["files"]
    assert str(tmp_path / "book" / "models.py") in files
    assert not any("events.py" in f for f in files)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        ("Book", "title", "name:type"),
        ("Book", "title:decimal", "one of str, int"),
        ("Book", "class:str", "not a keyword"),
        ("Book", "id:int", "not one of"),
        ("Book", "a:str,a:int", "listed twice"),
        ("2Book", "a:str", "entity name"),
        ("Book", "", "at least one field"),
    ],
)
def test_bad_entity_descriptions(name: str, fields: str, message: str) -> None:
    with pytest.raises(GenerationError, match=message):
        EntitySpec.parse(name, fields)


_types = st.sampled_from(["str", "int", "float", "bool", "datetime"])
_names = st.from_regex(r"[a-z]{1,8}", fullmatch=True).filter(
    lambda n: (
        n not in {"id", "created_at", "updated_at", "metadata", "registry"}
        and n not in {"and", "as", "if", "in", "is", "or", "def", "for", "del", "not", "try"}
    )
)


@given(
    fields=st.lists(st.tuples(_names, _types), min_size=1, max_size=5, unique_by=lambda f: f[0]),
    events=st.booleans(),
)
def test_property_generation_is_complete(fields: list[tuple[str, str]], events: bool) -> None:
    spec = EntitySpec.parse("Gadget", ",".join(f"{n}:{t}" for n, t in fields), with_events=events)
    files = generate(spec, Path("/nonexistent"), dry_run=True)
    names = {p.name for p in files}
    expected = {
        "models.py",
        "repository.py",
        "mapper.py",
        "use_cases.py",
        "routes.py",
        "__init__.py",
        "test_gadget_unit.py",
        "test_gadget_properties.py",
        "test_gadget_api.py",
    }
    assert names == expected | ({"events.py"} if events else set())


def test_generated_entity_passes_ruff_mypy_and_its_own_tests(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "pyproject.toml").write_text(_PROJECT_CONFIG)
    result = CliRunner().invoke(
        main,
        [
            "generate-entity",
            "Product",
            "--fields",
            "title:str,price:float,stock:int,active:bool,launch_at:datetime",
            "--with-events",
            "--with-cache",
            "-o",
            str(tmp_path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(
        main, ["generate-entity", "Product", "--fields", "a:str", "-o", str(tmp_path)]
    )
    assert again.exit_code == 2
    assert "--force" in again.output

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", *args], cwd=tmp_path, capture_output=True, text=True, timeout=240
        )

    lint = run("ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run("ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    # mypy's cache of the installed packages (FastAPI, pydantic, SQLAlchemy...) lives in pytest's
    # cache between runs: rebuilding it cost minutes of CPU per run. mypy revalidates every
    # entry, and the generated code itself is new each time, so it is always checked in full.
    cache = getattr(request.config, "cache", None)
    mypy_cache = cache.mkdir("api-core-codegen-mypy") if cache is not None else tmp_path / ".mypy"
    types = run("mypy", "--cache-dir", str(mypy_cache), "product", "tests")
    assert types.returncode == 0, types.stdout + types.stderr
    tests = run("pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "tests")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout
    assert "failed" not in tests.stdout
