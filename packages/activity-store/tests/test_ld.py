"""ld.normalize and ld.to_tombstone, offline."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from activity_store import InvalidLDObject, ld
from activity_store.testing import examples


def test_normalize_lists_type_and_multi_valued_properties() -> None:
    note = examples.note()
    normalized = ld.normalize(note)
    assert normalized["type"] == ["Note"]
    assert normalized["cc"] == [note["cc"]]
    assert normalized["to"] == note["to"]
    assert normalized["attributedTo"] == [note["attributedTo"]]
    assert normalized["tag"][0]["type"] == ["Hashtag"]  # nested objects too
    # functional properties and natural-language literals stay single values
    assert normalized["id"] == note["id"]
    assert normalized["published"] == note["published"]
    assert normalized["name"] == note["name"]
    assert normalized["content"] == note["content"]
    assert normalized["@context"] == note["@context"]


def test_normalize_recurses_into_activities_and_keeps_extensions() -> None:
    create = {**examples.create(), "ext:score": 3}
    normalized = ld.normalize(create)
    assert normalized["actor"] == [create["actor"]]
    assert normalized["object"][0]["type"] == ["Note"]
    assert normalized["ext:score"] == 3


def test_normalize_does_not_modify_its_argument() -> None:
    note = examples.note()
    ld.normalize(note)
    assert note == examples.note()


def test_context_is_bundled_and_read_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> socket.socket:
        raise AssertionError("activity_store tried to open a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    ld.activitystreams_context.cache_clear()
    ld._multi_valued_terms.cache_clear()
    context = ld.activitystreams_context()["@context"]
    assert context["Note"] == "as:Note"
    assert context["actor"] == {"@id": "as:actor", "@type": "@id"}
    assert ld.normalize(examples.article())["type"] == ["Article"]


def test_to_tombstone_shape() -> None:
    tombstone = ld.to_tombstone({**examples.person(), "type": ["Person", "Service"]})
    assert tombstone["id"] == examples.person()["id"]
    assert tombstone["type"] == "Tombstone"
    assert tombstone["formerType"] == ["Person", "Service"]
    assert tombstone["deleted"].endswith("Z")
    assert tombstone["@context"] == ld.AS_CONTEXT


def test_to_tombstone_rejects_an_invalid_object() -> None:
    with pytest.raises(InvalidLDObject, match="type"):
        ld.to_tombstone({"id": "https://example.org/x"})
