"""Command and query buses (properties 12-13 of the seed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from api_core import HandlerNotFoundError, HandlerRegistrationError
from api_core.caching import MemoryCache
from api_core.cqrs import (
    CommandBus,
    QueryBus,
    WithEvents,
    current_unit_of_work,
    logging_middleware,
    tracing_middleware,
    transaction_middleware,
    validation_middleware,
)
from api_core.result import Err, Ok


@dataclass
class Deposit:
    account: str
    amount: int


@dataclass
class Withdraw:
    account: str
    amount: int


@dataclass
class Balance:
    account: str


@dataclass
class BalanceChanged:
    account: str


class Ledger:
    def __init__(self) -> None:
        self.balances: dict[str, int] = {}
        self.reads = 0

    async def deposit(self, cmd: Deposit) -> WithEvents[int]:
        self.balances[cmd.account] = self.balances.get(cmd.account, 0) + cmd.amount
        return WithEvents(self.balances[cmd.account], [BalanceChanged(cmd.account)])

    async def withdraw(self, cmd: Withdraw) -> int:
        if self.balances.get(cmd.account, 0) < cmd.amount:
            raise ValueError(f"insufficient funds in {cmd.account}")
        self.balances[cmd.account] -= cmd.amount
        return self.balances[cmd.account]

    async def balance(self, query: Balance) -> int:
        self.reads += 1
        return self.balances.get(query.account, 0)


def make_buses(ledger: Ledger) -> tuple[CommandBus, QueryBus]:
    queries = QueryBus(cache=MemoryCache())
    queries.register(Balance, ledger.balance, cache_ttl=60, invalidated_by=[BalanceChanged])
    commands = CommandBus([logging_middleware, tracing_middleware], query_bus=queries)
    commands.register(Deposit, ledger.deposit)
    commands.register(Withdraw, ledger.withdraw)
    return commands, queries


@given(amounts=st.lists(st.integers(1, 100), max_size=10))
async def test_property_command_dispatch_reaches_its_handler(amounts: list[int]) -> None:
    ledger = Ledger()
    commands, _ = make_buses(ledger)
    for i, amount in enumerate(amounts):
        result = await commands.dispatch(Deposit("a", amount))
        assert result == Ok(sum(amounts[: i + 1]))
    assert ledger.balances.get("a", 0) == sum(amounts)


@given(accounts=st.lists(st.sampled_from("xyz"), max_size=8))
async def test_property_query_dispatch_and_caching(accounts: list[str]) -> None:
    ledger = Ledger()
    ledger.balances = {"x": 1, "y": 2}
    _, queries = make_buses(ledger)
    for account in accounts:
        assert (await queries.dispatch(Balance(account))).unwrap() == ledger.balances.get(
            account, 0
        )
    assert ledger.reads == len(set(accounts))


async def test_events_invalidate_cached_queries() -> None:
    ledger = Ledger()
    commands, queries = make_buses(ledger)
    assert (await queries.dispatch(Balance("a"))).unwrap() == 0
    assert (await queries.dispatch(Balance("a"))).unwrap() == 0
    assert ledger.reads == 1
    await commands.dispatch(Deposit("a", 5))
    assert (await queries.dispatch(Balance("a"))).unwrap() == 5
    assert ledger.reads == 2
    # a command without events leaves the cache alone (and so the result is stale by design)
    await commands.dispatch(Withdraw("a", 1))
    assert (await queries.dispatch(Balance("a"))).unwrap() == 5


async def test_handler_errors_come_back_as_err(caplog: pytest.LogCaptureFixture) -> None:
    ledger = Ledger()
    commands, _ = make_buses(ledger)
    received: list[Any] = []

    async def on_change(event: BalanceChanged) -> None:
        received.append(event)

    commands.subscribe(BalanceChanged, on_change)
    with caplog.at_level(logging.INFO):
        result = await commands.dispatch(Withdraw("a", 10))
    assert isinstance(result, Err)
    assert isinstance(result.error, ValueError)
    assert received == []  # no events from a failed command
    events = [r.msg["event"] for r in caplog.records if isinstance(r.msg, dict)]
    assert "message failed" in events
    await commands.dispatch(Deposit("a", 1))
    assert received == [BalanceChanged("a")]


async def test_unknown_message_type_raises() -> None:
    commands, queries = make_buses(Ledger())
    with pytest.raises(HandlerNotFoundError, match="no command handler registered for Balance"):
        await commands.dispatch(Balance("a"))
    with pytest.raises(HandlerNotFoundError, match="query handler"):
        await queries.dispatch(Deposit("a", 1))


async def _sync_handler(cmd: Deposit) -> int:
    return 1


def test_handlers_that_do_not_fit_are_rejected() -> None:
    bus = CommandBus()

    def not_async(cmd: Deposit) -> int:
        return 1

    async def two_args(cmd: Deposit, extra: int) -> int:
        return extra

    async def wrong_type(cmd: Withdraw) -> int:
        return 1

    with pytest.raises(HandlerRegistrationError, match="must be an async function"):
        bus.register(Deposit, not_async)
    with pytest.raises(HandlerRegistrationError, match="exactly one required argument"):
        bus.register(Deposit, two_args)
    with pytest.raises(HandlerRegistrationError, match="takes Withdraw, not Deposit"):
        bus.register(Deposit, wrong_type)
    bus.register(Deposit, _sync_handler)
    with pytest.raises(HandlerRegistrationError, match="already has a command handler"):
        bus.register(Deposit, _sync_handler)
    with pytest.raises(HandlerRegistrationError, match="needs QueryBus"):
        QueryBus().register(Balance, _sync_handler, cache_ttl=5)


class Transfer(BaseModel):
    amount: int = Field(gt=0)


async def test_validation_middleware_rejects_mutated_message() -> None:
    bus = CommandBus([validation_middleware])

    async def handle(cmd: Transfer) -> int:
        return cmd.amount

    bus.register(Transfer, handle)
    assert await bus.dispatch(Transfer(amount=3)) == Ok(3)
    bad = Transfer(amount=3)
    bad.amount = -1
    result = await bus.dispatch(bad)
    assert result.is_err()


class FakeUow:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __aenter__(self) -> FakeUow:
        self.log.append("begin")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.log.append("end")

    async def commit(self) -> None:
        self.log.append("commit")

    async def rollback(self) -> None:
        self.log.append("rollback")


async def test_transaction_middleware_commits_only_on_success() -> None:
    log: list[str] = []
    bus = CommandBus([transaction_middleware(lambda: FakeUow(log))])

    async def handle(cmd: Withdraw) -> str:
        assert current_unit_of_work() is not None
        if cmd.amount > 1:
            raise ValueError("too much")
        return "ok"

    bus.register(Withdraw, handle)
    assert await bus.dispatch(Withdraw("a", 1)) == Ok("ok")
    assert log == ["begin", "commit", "end"]
    log.clear()
    assert (await bus.dispatch(Withdraw("a", 2))).is_err()
    assert log == ["begin", "end"]
    with pytest.raises(LookupError, match="transaction_middleware"):
        current_unit_of_work()
