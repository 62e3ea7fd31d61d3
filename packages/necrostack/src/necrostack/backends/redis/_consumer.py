"""The reading side of :class:`~necrostack.backends.redis.RedisBackend`: reads, reclaims,
acks, claim renewal and handing entries back at close."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.exceptions import NoScriptError

from necrostack import _metrics
from necrostack.backends.redis._codec import NOT_AN_EVENT, decode_entry
from necrostack.backends.redis._leases import LeaseKeeper
from necrostack.backends.redis._renewer import Held, Renewer
from necrostack.backends.redis._scripts import PROMOTE_DUE, REFRESH_CLAIMS
from necrostack.backends.redis._state import Delivery, Fields, PartState
from necrostack.backends.redis.settings import RedisBackendSettings
from necrostack.errors import EventDecodeError
from necrostack.event import Event
from platform_core.logging import get_logger

__all__ = ["Consumer"]

_log = get_logger("necrostack.backends.redis")
_CLUSTER_BLOCK_MS = 100  # a cluster read blocks on each partition at once, this long at most
_PROMOTE_EVERY = 0.1  # seconds between retry promotions per partition on a cluster
_DONE = (b"0-0", "0-0")


class Consumer:
    """Mixin holding the consumer internals; the state lives on the backend."""

    settings: RedisBackendSettings
    client: Any
    cluster: bool
    leased: bool
    group: str
    consumer: str
    parts: list[PartState]
    _by_stream: dict[bytes, int]
    _leases: LeaseKeeper | None
    _buffer: deque[Delivery]
    _inflight: dict[str, Delivery]
    _unacked: int
    _last_reclaim: float
    _closed: bool
    _renewer: Renewer | None
    _held: Callable[[], Held]
    _gauges: list[tuple[str, str, int, int | None]]

    _call: Callable[..., Awaitable[Any]]
    _dead_letter: Callable[[Delivery, str, str], Awaitable[None]]
    _balance: Callable[[], Awaitable[None]]

    def _init_scripts(self) -> None:
        self._promote = self.client.register_script(PROMOTE_DUE)
        self._refresh = self.client.register_script(REFRESH_CLAIMS)

    @property
    def _reclaim_every(self) -> float:
        return max(self.settings.claim_idle_ms / 2000, 0.05)

    def _held_ids(self, part: int) -> set[bytes]:
        held = {d.entry_id for d in self._buffer if d.part == part}
        held.update(d.entry_id for d in self._inflight.values() if d.part == part)
        held.update(self.parts[part].to_ack)
        return held

    # --- reading ----------------------------------------------------------------------

    async def _read(self, parts: Sequence[PartState], block_ms: int) -> None:
        if self.cluster:
            await self._read_cluster(parts, block_ms)
            return
        now_ms = int(time.time() * 1000)
        starts = {p.keys.stream: "0" if p.recover else ">" for p in parts}
        history = any(p.recover for p in parts)
        settings = self.settings
        # Acks recorded since the last round trip go first in the same pipeline: the server
        # applies them before the read blocks, so they cost no round trip of their own.
        acks = [(p, list(p.to_ack)) for p in self.parts if p.to_ack]
        async with self.client.pipeline(transaction=False) as pipe:
            for part, ids in acks:
                pipe.xack(part.keys.stream, self.group, *ids)
            for part in parts:
                # EVALSHA directly: a pipeline given a Script object first asks SCRIPT EXISTS,
                # a round trip of its own on every read. A NOSCRIPT reply (Redis restarted
                # or flushed its scripts) loads the script; promotion resumes next read.
                pipe.execute_command(
                    "EVALSHA",
                    self._promote.sha,
                    2,
                    part.keys.retry,
                    part.keys.stream,
                    now_ms,
                    settings.batch_size,
                    settings.maxlen,
                )
            pipe.xreadgroup(
                self.group,
                self.consumer,
                starts,
                count=settings.batch_size,
                block=None if history or block_ms <= 0 else block_ms,
            )
            results = await pipe.execute(raise_on_error=False)
        reply = results[-1]
        if isinstance(reply, Exception):
            raise reply  # unsent acks stay recorded; XACK again is harmless
        failed: list[Exception] = []
        for (part, ids), result in zip(acks, results, strict=False):
            if isinstance(result, Exception):
                failed.append(result)  # kept, to be sent again
            else:
                self._acked(part, ids)
        for part in parts:
            part.recover = False
        await self._take(reply)
        for result in results[len(acks) : -1]:
            if isinstance(result, NoScriptError):
                await self.client.script_load(PROMOTE_DUE)
            elif isinstance(result, Exception):
                failed.append(result)
        if failed:
            raise failed[0]

    async def _read_cluster(self, parts: Sequence[PartState], block_ms: int) -> None:
        now = time.monotonic()
        due = [p for p in parts if now >= p.next_promote]
        for part in due:
            part.next_promote = now + _PROMOTE_EVERY
        await asyncio.gather(
            *(
                self._promote(
                    keys=[p.keys.retry, p.keys.stream],
                    args=[int(time.time() * 1000), self.settings.batch_size, self.settings.maxlen],
                )
                for p in due
            )
        )

        async def one(part: PartState, block: int | None) -> Any:
            start = "0" if part.recover else ">"
            reply = await self.client.xreadgroup(
                self.group,
                self.consumer,
                {part.keys.stream: start},
                count=self.settings.batch_size,
                block=None if start == "0" else block,
            )
            part.recover = False
            return reply

        replies = await asyncio.gather(*(one(p, None) for p in parts))
        if not any(r for r in replies) and block_ms > 0:
            block = min(block_ms, _CLUSTER_BLOCK_MS)
            replies = await asyncio.gather(*(one(p, block) for p in parts))
        for reply in replies:
            await self._take(reply)

    async def _take(self, reply: Any) -> None:
        if isinstance(reply, dict):  # RESP3 replies are keyed by stream
            reply = list(reply.items())
        for stream, entries in reply or []:
            index = self._by_stream[stream if isinstance(stream, bytes) else stream.encode()]
            part = self.parts[index]
            if not part.owned:
                continue  # its lease was lost meanwhile: the new owner claims these
            held = self._held_ids(index)
            await self._accept([(e, f) for e, f in entries if f and e not in held], index, False)

    async def _claim_abandoned(self) -> None:
        due = time.monotonic() - self._last_reclaim >= self._reclaim_every
        if not self.leased:
            if due:
                await self._call("XAUTOCLAIM", self._reclaim)
            return
        for part in self.parts:
            if part.owned and part.fresh:
                await self._call("XAUTOCLAIM", lambda p=part: self._claim_all(p))
        if due:
            # An entry can still go pending under an earlier owner after this consumer
            # claimed the partition's leftovers: a read of that owner in flight when the
            # lease moved delivers it there, and that owner drops it (see _take). Nobody
            # renews it, so it goes idle and is taken here like an abandoned one.
            self._last_reclaim = time.monotonic()
            for part in self.parts:
                if part.owned and not part.fresh:
                    index = part.keys.index
                    await self._call("XAUTOCLAIM", lambda i=index: self._reclaim(i))

    async def _reclaim(self, index: int = 0) -> None:
        """Take the partition's entries idle past ``claim_idle_ms`` (their consumer died, or
        lost the partition's lease), never the ones this consumer holds, walking the pending
        list with a cursor."""
        self._last_reclaim = time.monotonic()
        part = self.parts[index]
        reply = await self.client.xautoclaim(
            part.keys.stream,
            self.group,
            self.consumer,
            min_idle_time=self.settings.claim_idle_ms,
            start_id=part.cursor,
            count=self.settings.batch_size,
        )
        part.cursor = reply[0] if reply[0] not in _DONE else b"0-0"
        held = self._held_ids(index)
        entries = [(eid, f) for eid, f in reply[1] if f and eid not in held]
        if len(reply) > 2 and reply[2]:
            _log.error(
                "pending entries were trimmed before being handled",
                stream=part.keys.stream,
                lost=len(reply[2]),
                hint="raise NECROSTACK_MAXLEN or add workers",
            )
        if entries:
            _log.warning("reclaimed stale entries", stream=part.keys.stream, count=len(entries))
            await self._accept(entries, index, True)

    async def _claim_all(self, part: PartState) -> None:
        """A partition just leased: claim everything its earlier owners left pending, in
        order, before reading anything new from it."""
        cursor: Any = b"0-0"
        claimed: list[tuple[bytes, Fields]] = []
        held = self._held_ids(part.keys.index)
        while True:
            reply = await self.client.xautoclaim(
                part.keys.stream,
                self.group,
                self.consumer,
                min_idle_time=0,
                start_id=cursor,
                count=self.settings.batch_size,
            )
            claimed += [(eid, f) for eid, f in reply[1] if f and eid not in held]
            cursor = reply[0]
            if cursor in _DONE:
                break
        part.fresh = False
        part.recover = False  # own pending entries were claimed above too
        if claimed:
            _log.warning("claimed entries of an earlier owner", stream=part.keys.stream,
                         count=len(claimed))  # fmt: skip
            await self._accept(claimed, part.keys.index, True)

    async def _accept(
        self, entries: Sequence[tuple[bytes, Fields]], part: int, reclaimed: bool
    ) -> None:
        counts: dict[bytes, int] = {}
        stream = self.parts[part].keys.stream
        if reclaimed and entries:
            async with self.client.pipeline(transaction=False) as pipe:
                for eid, _ in entries:
                    pipe.xpending_range(stream, self.group, eid, eid, 1)
                for (eid, _), info in zip(entries, await pipe.execute(), strict=True):
                    counts[eid] = int(info[0]["times_delivered"]) if info else 1
        for eid, fields in entries:
            try:
                event, attempts = decode_entry(fields)
            except EventDecodeError as exc:
                placeholder = Delivery(eid, fields, Event(event_type="?"), counts.get(eid, 1), part)
                await self._dead_letter(placeholder, NOT_AN_EVENT, exc.reason)
                continue
            delivery = Delivery(eid, fields, event, attempts + counts.get(eid, 1), part)
            if delivery.deliveries > self.settings.max_deliveries:
                await self._dead_letter(
                    delivery,
                    "max deliveries reached",
                    "delivered without an ack: the consumer crashed or stalled each time",
                )
                continue
            self._buffer.append(delivery)

    # --- acks, renewal, close -----------------------------------------------------------

    async def _flush_acks(self) -> None:
        pending = [(p, list(p.to_ack)) for p in self.parts if p.to_ack]
        if not pending:
            return

        async def send() -> None:
            if len(pending) == 1:
                part, ids = pending[0]
                await self.client.xack(part.keys.stream, self.group, *ids)
            elif self.cluster:
                await asyncio.gather(
                    *(self.client.xack(p.keys.stream, self.group, *ids) for p, ids in pending)
                )
            else:
                async with self.client.pipeline(transaction=False) as pipe:
                    for part, ids in pending:
                        pipe.xack(part.keys.stream, self.group, *ids)
                    await pipe.execute()

        await self._call("XACK", send)
        for part, ids in pending:
            self._acked(part, ids)

    def _acked(self, part: PartState, ids: list[bytes]) -> None:
        """Forget the recorded acks ``ids`` of ``part`` once Redis has them."""
        to_ack, n = part.to_ack, len(ids)
        before = len(to_ack)
        if to_ack[:n] == ids:
            del to_ack[:n]
        else:  # another flush (a lease hand-back) sent some of them meanwhile
            sent = set(ids)
            to_ack[:] = [i for i in to_ack if i not in sent]
        self._unacked -= before - len(to_ack)

    async def _hand_back(self) -> None:
        """At close: make prefetched entries reclaimable now instead of after the idle time."""
        if self._leases is not None:
            await self._leases.release_all()
            return
        ids = [d.entry_id for d in self._buffer]
        if ids:
            await self.client.xclaim(
                self.parts[0].keys.stream,
                self.group,
                self.consumer,
                0,
                ids,
                idle=self.settings.claim_idle_ms,
                justid=True,
            )
            self._buffer.clear()

    async def _maintain(self) -> None:
        """Every ``claim_idle_ms / 5`` until closed: renew claims unless the renewal thread
        does, flush acks no pull carried, balance partition leases and read the gauges."""
        interval = self.settings.claim_idle_ms / 5000
        while True:
            due = time.monotonic() + interval
            await asyncio.sleep(interval)
            if self._closed:
                return
            late = time.monotonic() - due
            if late > 2.5 * interval:
                # The renewal thread keeps the claims; everything else on the loop waited.
                _log.warning(
                    "event loop blocked",
                    stream=self.parts[0].keys.stream,
                    late_s=round(late, 3),
                    hint="an async def handler must not block (time.sleep, CPU work, blocking "
                    "I/O): make it a plain def, which runs on a thread",
                )
            try:
                if self._renewer is None:
                    await self._renew_claims()
                if self._unacked:  # recorded acks no pull carried (the Spine stopped)
                    await self._flush_acks()
                if self._leases is not None:
                    await self._balance()
                if _metrics.active_metrics() is not None:
                    await self._read_gauges()
            except Exception as exc:  # the next pull reconnects and reports
                _log.warning("claim renewal failed", stream=self.parts[0].keys.stream,
                             error=repr(exc))  # fmt: skip

    async def _renew_claims(self) -> None:
        """Renewal on the loop, for a client the renewal thread cannot open a twin of."""
        streams, _ = self._held()
        for stream, ids in streams:
            await self._refresh(keys=[stream], args=[self.group, self.consumer, *ids])

    async def _read_gauges(self) -> None:
        found: list[tuple[str, str, int, int | None]] = []
        for part in self.parts:
            for group in await self.client.xinfo_groups(part.keys.stream):
                name = group["name"]
                lag = group.get("lag")
                found.append(
                    (
                        part.keys.stream,
                        name.decode() if isinstance(name, bytes) else str(name),
                        int(group["pending"]),
                        int(lag) if lag is not None else None,
                    )
                )
        self._gauges = found
