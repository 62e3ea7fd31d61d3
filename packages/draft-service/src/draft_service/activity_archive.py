"""The message archive on activity-store: messages as ActivityStreams ``Note`` objects.

Each message becomes a canonical ``Note`` and a member of its user's collection; related
messages are found with the store's text query restricted to that collection, so a user's
search never sees another user's messages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC
from typing import Any
from urllib.parse import quote

from activity_store import ActivityStore, ObjectNotFound
from activity_store.backends import MemoryBackend
from draft_service.db.records import StoredMessage
from draft_service.prompt import PromptLine

__all__ = ["ActivityArchive", "keywords", "note_id", "user_collection"]

_WORD = re.compile(r"[^\W_]{4,}", re.UNICODE)
_STOP_WORDS = (
    "about above after again also been before being below between both but can could did "
    "does doing down during each from further have having here hers herself himself into "
    "its itself just more most myself once only other ours ourselves over own same "
    "should some such than that their theirs them themselves then there these they this "
    "those through under until very were what when where which while whom will with "
    "would your yours yourself yourselves hello thanks thank please okay sure"
)
_STOP = frozenset(_STOP_WORDS.split(" "))


def user_collection(user_id: str) -> str:
    """The id of the collection holding every archived message of ``user_id``."""
    return f"urn:draft-service:user:{quote(user_id, safe='')}:messages"


def _thread_prefix(user_id: str, thread_name: str) -> str:
    return f"urn:draft-service:message:{quote(user_id, safe='')}:{quote(thread_name, safe='')}:"


def note_id(user_id: str, thread_name: str, message_id: str) -> str:
    """The ``Note`` id of a message: stable, so archiving again overwrites the same object."""
    return _thread_prefix(user_id, thread_name) + quote(message_id, safe="")


def keywords(text: str, limit: int = 4) -> list[str]:
    """The most distinctive words of ``text``: long, not stop words, longest first."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOP:
            seen.setdefault(word)
    return sorted(seen, key=lambda w: (-len(w), w))[:limit]


def _note(user_id: str, thread_name: str, msg: StoredMessage) -> dict[str, Any]:
    return {
        "id": note_id(user_id, thread_name, msg.message_id),
        "type": "Note",
        "content": msg.content,
        "attributedTo": msg.sender_name,
        "published": msg.sent_at.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        "context": _thread_prefix(user_id, thread_name).rstrip(":"),
    }


class ActivityArchive:
    """A :class:`~draft_service.archive.MessageArchive` on an :class:`ActivityStore`.

    Args:
        store: The store (memory by default; Elasticsearch and Redis cache through
            activity-store's own ``ACTIVITY_STORE_*`` settings).
    """

    def __init__(self, store: ActivityStore) -> None:
        self.store = store
        self._ready = False

    @classmethod
    def from_environment(cls) -> ActivityArchive:
        """An archive on the store activity-store's settings select."""
        return cls(ActivityStore())

    async def _setup(self) -> None:
        if not self._ready:
            await self.store.setup()
            self._ready = True

    @property
    def shared(self) -> bool:
        """False on activity-store's memory backend, whose objects live in this process only."""
        return not isinstance(self.store.backend, MemoryBackend)

    async def archive(
        self, user_id: str, thread_name: str, messages: Sequence[StoredMessage]
    ) -> None:
        """Store each message as a ``Note`` in the user's collection (idempotent by id)."""
        if not messages:
            return
        await self._setup()
        notes = [_note(user_id, thread_name, m) for m in messages]
        await self.store.store_many(notes)
        collection = user_collection(user_id)
        for note in notes:
            await self.store.add_to_collection(note, collection)

    async def related(
        self,
        user_id: str,
        thread_name: str,
        text: str,
        limit: int,
        threads: Collection[str] | None = None,
    ) -> list[PromptLine]:
        """Earlier messages of ``user_id`` in other threads that share words with ``text``.

        Each distinctive word is one text query over the user's collection; messages matching
        more words rank first, newer first among equals. With ``threads``, only messages of
        those threads count (the scope is applied to every hit before ranking).
        """
        words = keywords(text)
        if not words or limit <= 0 or (threads is not None and not threads):
            return []
        await self._setup()
        own = _thread_prefix(user_id, thread_name)
        allowed = None if threads is None else tuple(_thread_prefix(user_id, t) for t in threads)
        hits: Counter[str] = Counter()
        published: dict[str, str] = {}
        for word in words:
            page = await self.store.query(
                text=word,
                collection=user_collection(user_id),
                type="Note",
                sort="published:desc",
                size=max(10, limit * 4) if allowed is None else max(50, limit * 10),
            )
            for item in page["items"]:
                item_id = str(item["id"])
                # A note's id starts with its thread's prefix (names are quoted, so one
                # thread's prefix never starts another's).
                if allowed is not None and not item_id.startswith(allowed):
                    continue
                if not item_id.startswith(own):
                    hits[item_id] += 1
                    published[item_id] = str(item.get("published", ""))
        ranked = sorted(hits, key=lambda i: published[i], reverse=True)
        ranked.sort(key=lambda i: -hits[i])  # stable: newest first among equal matches
        lines: list[PromptLine] = []
        for item_id in ranked[:limit]:
            try:
                note = await self.store.dereference(item_id)
            except ObjectNotFound:
                continue  # tombstoned or removed since the query; nothing to show
            lines.append(
                PromptLine(
                    sender_name=str(note.get("attributedTo", "")),
                    when=str(note.get("published", "")),
                    content=str(note.get("content", "")),
                    ref=item_id,
                )
            )
        return lines

    async def close(self) -> None:
        """Tear the store down (never deletes data)."""
        if self._ready:
            await self.store.teardown()
            self._ready = False
