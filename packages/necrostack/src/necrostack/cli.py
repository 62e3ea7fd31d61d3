"""The ``necrostack`` command: run the demos, inspect a stream, manage dead letters.

Redis is configured by ``REDIS_URL`` and the ``NECROSTACK_*`` variables (or ``--redis-url``).
Exit codes: 0 ok, 1 failure, 2 usage error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

import click

from platform_core.errors import PlatformError
from platform_core.logging import configure_logging

if TYPE_CHECKING:
    from necrostack.backends.base import Backend

__all__ = ["main"]

# The names of necrostack.demos.runner.DEMOS, spelled out so that ``--help`` does not import
# the demos (and with them pydantic and the Spine); a test keeps the two in step.
DEMO_NAMES = ("etl", "seance")

_T = TypeVar("_T")


def _run(coro_fn: Callable[[], Awaitable[_T]]) -> _T:
    async def wrapped() -> _T:
        return await coro_fn()

    try:
        return asyncio.run(wrapped())
    except PlatformError as exc:
        raise click.ClickException(str(exc)) from exc


_EXTRA = "pip install 'necrostack[redis]'"


def _require_redis() -> None:
    """Fail with the pip command when the ``redis`` extra is not installed."""
    try:
        import redis  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            f"this command needs the Redis extra (missing module {exc.name!r}): {_EXTRA}"
        ) from exc


def _redis_parts(ctx: click.Context) -> tuple[Any, Any]:
    _require_redis()
    from necrostack.backends.redis.settings import RedisBackendSettings
    from platform_core.redis import RedisSettings

    overrides = {"url": ctx.obj["redis_url"]} if ctx.obj.get("redis_url") else {}
    stream = {"stream": ctx.obj["stream"]} if ctx.obj.get("stream") else {}
    return RedisSettings.load(**overrides), RedisBackendSettings.load(**stream)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--redis-url", envvar="REDIS_URL", help="Redis URL (default: $REDIS_URL).")
@click.option("--stream", help="Stream key (default: $NECROSTACK_STREAM or necrostack:events).")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, redis_url: str | None, stream: str | None, verbose: int) -> None:
    """NecroStack: events, organs and the Spine, on memory or Redis Streams."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    configure_logging(level, "console")
    ctx.ensure_object(dict)
    ctx.obj.update(redis_url=redis_url, stream=stream)


@main.command()
@click.argument("demo", type=click.Choice(DEMO_NAMES))
@click.option(
    "--backend",
    "backend_name",
    type=click.Choice(["memory", "redis"]),
    default="memory",
    show_default=True,
    help="Where events wait between organs.",
)
@click.option(
    "--until-idle",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds without events after which the run ends.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def run(ctx: click.Context, demo: str, backend_name: str, until_idle: float, as_json: bool) -> None:
    """Run the DEMO pipeline (seance or etl) to completion."""

    from necrostack.backends.memory import InMemoryBackend
    from necrostack.demos.runner import run_demo
    from necrostack.loading import load_backend

    async def go() -> Any:
        backend: Backend
        if backend_name == "memory":
            backend = InMemoryBackend()
        else:
            redis_settings, settings = _redis_parts(ctx)  # names the extra when missing
            backend = load_backend("redis", settings=settings, redis_settings=redis_settings)
        try:
            echo = (lambda _line: None) if as_json else click.echo
            return await run_demo(demo, backend, echo, until_idle=until_idle)
        finally:
            await backend.close()

    result = _run(go)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Lag, pending and dead letters per group (and partition), retries and consumers."""
    result = _admin_call(ctx, lambda admin: admin.stats())
    if as_json:
        click.echo(json.dumps(asdict(result), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"stream {result.stream}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name in ("length", "pending", "lag", "scheduled_retries", "dead_letters"):
        value = getattr(result, name)
        table.add_row(name.replace("_", " "), "?" if value is None else str(value))
    table.add_row("consumers", str(len(result.consumers)))
    table.add_row("partitions", str(len(result.partitions)))
    console.print(table)
    gtable = Table(title="groups")
    for col in ("partition", "group", "lag", "pending", "consumers", "retries", "dead letters"):
        gtable.add_column(col)
    for part in result.partitions:
        for g in part.groups:
            gtable.add_row(
                str(part.partition), g.group, "?" if g.lag is None else str(g.lag),
                str(g.pending), str(g.consumers), str(part.scheduled_retries),
                str(part.dead_letters),
            )  # fmt: skip
    console.print(gtable)
    if result.consumers:
        ctable = Table(title="consumers")
        for col in ("name", "pending", "idle ms"):
            ctable.add_column(col)
        for c in result.consumers:
            ctable.add_row(c.name, str(c.pending), str(c.idle_ms))
        console.print(ctable)


@main.group()
def dlq() -> None:
    """Inspect, replay or purge the dead-letter stream."""


def _admin_call(ctx: click.Context, fn: Callable[[Any], Awaitable[_T]]) -> _T:
    redis_settings, settings = _redis_parts(ctx)
    from necrostack.backends.redis import StreamAdmin, create_client

    async def go() -> _T:
        client = create_client(redis_settings, settings)
        try:
            return await fn(StreamAdmin(client, settings, redis_settings))
        finally:
            await client.aclose()

    return _run(go)


@dlq.command("list")
@click.option("--count", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def dlq_list(ctx: click.Context, count: int, as_json: bool) -> None:
    """List the oldest dead letters."""
    entries = _admin_call(ctx.find_root(), lambda admin: admin.dead_letters(count))
    if as_json:
        click.echo(json.dumps([asdict(e) for e in entries], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(entries)} dead letter(s)")
    for col in ("id", "reason", "deliveries", "error", "dead at"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.id, e.reason, str(e.deliveries), e.error[:80], e.dead_at)
    Console().print(table)


@dlq.command("replay")
@click.argument("ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@click.pass_context
def dlq_replay(ctx: click.Context, ids: tuple[str, ...], replay_all: bool) -> None:
    """Put dead letters (by IDS, or --all) back on the stream."""
    if not ids and not replay_all:
        raise click.UsageError("give dead-letter ids or --all")
    if ids and replay_all:
        raise click.UsageError("give either ids or --all, not both")
    wanted = None if replay_all else list(ids)
    replayed, skipped = _admin_call(ctx.find_root(), lambda admin: admin.replay(wanted))
    click.echo(f"replayed {replayed} dead letter(s)")
    if skipped:
        click.echo(
            f"skipped {len(skipped)} entries that are not valid events: {', '.join(skipped)}"
        )


@dlq.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def dlq_purge(ctx: click.Context, yes: bool) -> None:
    """Delete every dead letter."""
    if not yes:
        click.confirm("Delete every dead letter?", abort=True)
    removed = _admin_call(ctx.find_root(), lambda admin: admin.purge())
    click.echo(f"purged {removed} dead letter(s)")
