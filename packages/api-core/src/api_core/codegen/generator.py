"""Render the Jinja2 entity templates into a project."""

from __future__ import annotations

import importlib
import keyword
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from api_core.errors import ApiCoreError
from platform_core.logging import get_logger

__all__ = ["EntitySpec", "FieldSpec", "GenerationError", "generate"]

_log = get_logger(__name__)


class GenerationError(ApiCoreError):
    """The entity description is invalid or the output cannot be written."""


@dataclass(frozen=True, slots=True)
class _Kind:
    python: str
    column: str
    sample: str
    other: str
    strategy: str


_KINDS: dict[str, _Kind] = {
    "str": _Kind("str", "sa.String(255)", '"Example"', '"Changed"', "_text"),
    "int": _Kind("int", "sa.BigInteger", "7", "8", "st.integers(-(2**53), 2**53)"),
    "float": _Kind("float", "sa.Float", "9.5", "10.25", "st.floats(-1e9, 1e9, allow_nan=False)"),
    "bool": _Kind("bool", "sa.Boolean", "True", "False", "st.booleans()"),
    "datetime": _Kind(
        "datetime",
        "UTCDateTime()",
        "datetime(2026, 1, 1, tzinfo=UTC)",
        "datetime(2026, 2, 1, tzinfo=UTC)",
        "_moments",
    ),
}
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED = {"id", "created_at", "updated_at", "metadata", "registry"}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One entity field: ``name`` of ``type`` (str, int, float, bool, datetime)."""

    name: str
    type: str

    @property
    def kind(self) -> _Kind:
        """Code fragments for this field's type."""
        return _KINDS[self.type]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.replace("-", "_")).lower()


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """What to generate.

    Attributes:
        name: PascalCase entity name, e.g. ``Product``.
        fields: The fields in order.
        with_events: Emit domain events from commands.
        with_cache: Cache queries (implies events, which invalidate them).
    """

    name: str
    fields: tuple[FieldSpec, ...]
    with_events: bool = False
    with_cache: bool = False

    @classmethod
    def parse(
        cls, name: str, fields: str, *, with_events: bool = False, with_cache: bool = False
    ) -> EntitySpec:
        """Parse ``NAME`` and ``"title:str,price:float"``.

        Raises:
            GenerationError: bad name, bad field, unknown type or duplicate field.
        """
        snake = _snake(name.strip())
        if not _IDENT.match(snake) or keyword.iskeyword(snake):
            raise GenerationError(f"entity name {name!r} must be a word like Product or order_item")
        pascal = "".join(part.capitalize() for part in snake.split("_"))
        parsed: list[FieldSpec] = []
        for item in (f.strip() for f in fields.split(",") if f.strip()):
            fname, sep, ftype = (p.strip() for p in item.partition(":"))
            if not sep or ftype not in _KINDS:
                kinds = ", ".join(_KINDS)
                raise GenerationError(f"field {item!r} must be name:type with type one of {kinds}")
            if not _IDENT.match(fname) or keyword.iskeyword(fname) or fname in _RESERVED:
                raise GenerationError(
                    f"field name {fname!r} must be snake_case, not a keyword and not one of "
                    f"{', '.join(sorted(_RESERVED))}"
                )
            if any(f.name == fname for f in parsed):
                raise GenerationError(f"field {fname!r} is listed twice")
            parsed.append(FieldSpec(fname, ftype))
        if not parsed:
            raise GenerationError('give at least one field, e.g. --fields "title:str"')
        return cls(pascal, tuple(parsed), with_events or with_cache, with_cache)

    @property
    def module(self) -> str:
        """The generated package's name, e.g. ``product``."""
        return _snake(self.name)

    @property
    def plural(self) -> str:
        """Table and route name, e.g. ``products``."""
        m = self.module
        return (
            m[:-1] + "ies"
            if m.endswith("y") and not m.endswith(("ay", "ey", "oy", "uy"))
            else (m + "es" if m.endswith(("s", "x", "ch", "sh")) else m + "s")
        )

    @property
    def types(self) -> set[str]:
        """The field types used."""
        return {f.type for f in self.fields}


_FILES = {
    "__init__.py.j2": "{module}/__init__.py",
    "models.py.j2": "{module}/models.py",
    "repository.py.j2": "{module}/repository.py",
    "mapper.py.j2": "{module}/mapper.py",
    "events.py.j2": "{module}/events.py",
    "use_cases.py.j2": "{module}/use_cases.py",
    "routes.py.j2": "{module}/routes.py",
    "tests/test_unit.py.j2": "tests/test_{module}_unit.py",
    "tests/test_properties.py.j2": "tests/test_{module}_properties.py",
    "tests/test_api.py.j2": "tests/test_{module}_api.py",
}


def _find_ruff() -> str | None:
    found = shutil.which("ruff")
    if found:
        return found
    try:
        ruff_main = importlib.import_module("ruff.__main__")
    except ImportError:
        return None
    return str(ruff_main.find_ruff_bin())


def _format(paths: list[Path], root: Path) -> None:
    """Sort imports and format with the target project's ruff settings, when ruff exists."""
    ruff = _find_ruff()
    if ruff is None:
        _log.info("ruff not found; generated files are left as rendered")
        return
    files = [str(p) for p in paths]
    for args in (["check", "--fix", "--select", "I", "--quiet"], ["format", "--quiet"]):
        done = subprocess.run([ruff, *args, *files], cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            raise GenerationError(
                f"ruff {args[0]} failed on the generated files: {done.stdout}{done.stderr}"
            )


def generate(
    spec: EntitySpec,
    output: Path,
    *,
    dry_run: bool = False,
    overwrite: bool = False,
    format_code: bool = True,
) -> list[Path]:
    """Render every template for ``spec`` under ``output``.

    The files are then import-sorted and formatted by ruff (with the target project's
    configuration) when ruff is installed, so they match the project's style.

    Returns:
        The paths written (or that would be, with ``dry_run``).

    Raises:
        GenerationError: a target exists and ``overwrite`` is False.
    """
    env = Environment(
        loader=PackageLoader("api_core.codegen", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - renders Python source, not HTML
    )
    targets: list[tuple[Path, str]] = []
    for template, pattern in _FILES.items():
        if template == "events.py.j2" and not spec.with_events:
            continue
        path = output / pattern.format(module=spec.module)
        targets.append((path, template))
    clashes = [str(p) for p, _ in targets if p.exists()]
    if clashes and not overwrite and not dry_run:
        raise GenerationError(f"refusing to overwrite {', '.join(clashes)}; pass --force")
    if dry_run:
        return [p for p, _ in targets]
    for path, template in targets:
        text = env.get_template(template).render(e=spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    written = [p for p, _ in targets]
    if format_code:
        _format(written, output)
    return written
