"""What every command shares: the client from options, output as tables or JSON, errors."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from taskqueue.errors import TaskQueueError

if TYPE_CHECKING:
    from taskqueue.sync_client import TaskQueueClient

P = ParamSpec("P")
R = TypeVar("R")

out = Console(soft_wrap=True)
err = Console(stderr=True)


@dataclass
class CliState:
    """The root options, shared with every subcommand through click's context."""

    base_url: str | None = None
    api_key: str | None = None
    json: bool = False
    _client: TaskQueueClient | None = field(default=None, repr=False)

    def client(self) -> TaskQueueClient:
        """The sync client, created on first use and closed when the command ends."""
        if self._client is None:
            from taskqueue.sync_client import TaskQueueClient  # httpx loads with the client

            self._client = TaskQueueClient(self.base_url, self.api_key)
            click.get_current_context().call_on_close(self._client.close)
        return self._client


pass_state = click.make_pass_decorator(CliState, ensure=True)


def json_option(func: Callable[P, R]) -> Callable[P, R]:
    """Add ``--json`` to a command (the root group's ``--json`` works too)."""

    def flag(ctx: click.Context, _: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(CliState).json = True

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=flag,
        help="Print JSON for scripts instead of a table.",
    )(func)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print SDK errors in red and exit 1 (usage errors stay click's exit 2)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TaskQueueError as exc:
            err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            raise SystemExit(1) from exc

    return wrapper


def dump(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> str:
    """JSON text for a model, a list of models, or a dict."""
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [item.model_dump(mode="json") for item in value]
    return json.dumps(data, indent=2)


def emit_json(state: CliState, value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> bool:
    """Print ``value`` as JSON when ``--json`` was given; return whether it did."""
    if state.json:
        click.echo(dump(value))
    return state.json


ID_WIDTH = 36
"""The printed length of a UUID."""


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a rich table; an ``id`` column is never wrapped or cut, whatever the width.

    An id split across lines cannot be copied or pasted back into a command, so on a narrow
    terminal the other columns give way (they fold) and the id column keeps its 36 characters.
    """
    grid = Table(title=title, title_justify="left")
    for column in columns:
        if column == "id" or column.endswith("_id"):
            grid.add_column(column, no_wrap=True, overflow="ignore", min_width=ID_WIDTH)
        else:
            grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    out.print(grid)


def details(title: str, model: BaseModel, fields: Sequence[str]) -> None:
    """Print chosen fields of one model as a two-column table."""
    data = model.model_dump(mode="json")
    table(title, ["field", "value"], ((name, _cell(data.get(name))) for name in fields))


def _cell(value: object) -> object:
    if isinstance(value, list | dict):
        return json.dumps(value) if value else ""
    return value


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` options to a dict.

    Raises:
        click.BadParameter: for a pair without ``=``.
    """
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    return env
