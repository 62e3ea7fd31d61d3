"""The ``api-core`` command line: ``config-docs`` and ``generate-entity``.

Each command imports what it needs when it runs, so ``--help`` loads click and nothing more.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

__all__ = ["main"]


@click.group()
@click.version_option(package_name="api-core")
def main() -> None:
    """api-core tools for services built on create_app."""


@main.command("config-docs")
@click.argument("settings_class")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def config_docs(settings_class: str, output: Path | None, as_json: bool) -> None:
    """Document every setting of SETTINGS_CLASS (e.g. api_core.settings:ApiSettings)."""
    from api_core.config_docs import describe_settings, import_settings_class, render_markdown

    try:
        cls = import_settings_class(settings_class)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        text = json.dumps([asdict(d) for d in describe_settings(cls)], indent=2) + "\n"
    else:
        text = render_markdown(cls)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command("generate-entity")
@click.argument("name")
@click.option(
    "--fields", required=True, help='Comma list of name:type, e.g. "title:str,price:float".'
)
@click.option("--with-events", is_flag=True, help="Emit domain events from the use cases.")
@click.option("--with-cache", is_flag=True, help="Cache queries, invalidated by the events.")
@click.option("--dry-run", is_flag=True, help="List the files without writing them.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Project root to write into.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def generate_entity(
    name: str,
    fields: str,
    with_events: bool,
    with_cache: bool,
    dry_run: bool,
    output: Path,
    force: bool,
    as_json: bool,
) -> None:
    """Generate entity NAME: model, repository, use cases, mapper, routes, events and tests."""
    from rich.console import Console
    from rich.table import Table

    from api_core.codegen import EntitySpec, GenerationError, generate

    try:
        spec = EntitySpec.parse(name, fields, with_events=with_events, with_cache=with_cache)
        files = generate(spec, output, dry_run=dry_run, overwrite=force)
    except GenerationError as exc:
        raise click.UsageError(str(exc)) from exc
    paths = [str(p) for p in files]
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "files": paths}))
        return
    table = Table(title=("would write" if dry_run else "wrote") + f" {len(paths)} files")
    table.add_column("file")
    for p in paths:
        table.add_row(p)
    Console(file=sys.stdout).print(table)


if __name__ == "__main__":  # pragma: no cover
    main()
