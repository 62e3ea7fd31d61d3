"""ActivityStreams 2.0 objects in the shapes the AS2 vocabulary defines, for tests.

Each call returns fresh dicts, so tests may change them freely.
"""

from __future__ import annotations

from typing import Any

from activity_store.ld import AS_CONTEXT

__all__ = ["BASE", "article", "collection", "create", "examples", "note", "person"]

BASE = "https://social.example"


def person() -> dict[str, Any]:
    """An actor with inbox, outbox and a display name."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{BASE}/users/ada",
        "type": "Person",
        "name": "Ada Lovelace",
        "preferredUsername": "ada",
        "summary": "Writes notes about analytical engines",
        "inbox": f"{BASE}/users/ada/inbox",
        "outbox": f"{BASE}/users/ada/outbox",
        "published": "2024-01-01T09:00:00Z",
    }


def note() -> dict[str, Any]:
    """A short public Note with a hashtag, a mention and an attachment."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{BASE}/notes/1",
        "type": "Note",
        "attributedTo": f"{BASE}/users/ada",
        "name": "Engine notes",
        "content": "<p>The Analytical Engine weaves algebraic patterns</p>",
        "published": "2024-03-01T10:15:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": f"{BASE}/users/ada/followers",
        "tag": [
            {"type": "Hashtag", "name": "#engines", "href": f"{BASE}/tags/engines"},
            {"type": "Mention", "name": "@charles", "href": f"{BASE}/users/charles"},
        ],
        "attachment": [
            {"type": "Image", "mediaType": "image/png", "url": f"{BASE}/media/loom.png"}
        ],
    }


def article() -> dict[str, Any]:
    """A long-form Article with a summary and an update time."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{BASE}/articles/notes-on-the-engine",
        "type": "Article",
        "attributedTo": f"{BASE}/users/ada",
        "name": "Notes on the Analytical Engine",
        "summary": "A translation with extensive notes",
        "content": "<p>The engine might compose elaborate pieces of music.</p>",
        "published": "2024-02-01T08:00:00Z",
        "updated": "2024-02-03T12:30:00Z",
        "tag": [{"type": "Hashtag", "name": "#engines"}, {"type": "Hashtag", "name": "#music"}],
    }


def create() -> dict[str, Any]:
    """A Create activity wrapping a Note, addressed to the public."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{BASE}/activities/create-1",
        "type": "Create",
        "actor": f"{BASE}/users/ada",
        "summary": "Ada created a note",
        "published": "2024-03-01T10:15:01Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": f"{BASE}/notes/2",
            "type": "Note",
            "content": "Punched cards for the loom",
        },
    }


def collection() -> dict[str, Any]:
    """An OrderedCollection (an outbox) referring to its items by id."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{BASE}/users/ada/outbox",
        "type": "OrderedCollection",
        "totalItems": 2,
        "orderedItems": [f"{BASE}/activities/create-1", f"{BASE}/notes/1"],
    }


def examples() -> list[dict[str, Any]]:
    """One of each example: Person, Note, Article, Create and OrderedCollection."""
    return [person(), note(), article(), create(), collection()]
