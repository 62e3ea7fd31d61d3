"""JSON-LD processing: spellings that mean the same, bundled contexts, refusal, normalisation."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activity_store import ActivityStore, ContextNotAllowed, InvalidLDObject, ObjectNotFound, jsonld
from activity_store._index import Indexed
from activity_store.backends.memory import MemoryBackend
from activity_store.caches.memory import MemoryCache
from activity_store.ld import AS_CONTEXT, AS_NAMESPACE, ensure_context, is_plain_as2
from activity_store.testing.strategies import ld_objects

AS = AS_NAMESPACE
UNKNOWN = "https://contexts.example/unknown/v1"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Any attempt to open a connection fails the test loudly."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise AssertionError(f"network access attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert attempts == []


@pytest.fixture
def restore_loader() -> Iterator[None]:
    before = jsonld.get_loader()
    yield
    jsonld.use_loader(before)


@pytest.fixture
async def store() -> ActivityStore:
    return ActivityStore(MemoryBackend(), MemoryCache(), namespace="ld")


def _ids(page: Any) -> list[str]:
    return [item["id"].rsplit("/", 1)[1] for item in page["items"]]


async def test_prefixed_aliased_and_expanded_documents_index_alike(store: ActivityStore) -> None:
    await store.store_many(
        [
            {"id": "https://ex.org/plain", "type": "Note", "content": "shared words"},
            {
                "@context": AS_CONTEXT,
                "id": "https://ex.org/prefixed",
                "type": "as:Note",
                "as:content": "shared words",
            },
            {
                "@context": [AS_CONTEXT, {"body": "as:content", "kind": "@type", "ref": "@id"}],
                "ref": "https://ex.org/aliased",
                "kind": "Note",
                "body": "shared words",
            },
            {
                "@id": "https://ex.org/expanded",
                "@type": [f"{AS}Note"],
                f"{AS}content": [{"@value": "shared words"}],
            },
            {"id": "https://ex.org/other", "type": "Article", "content": "other words"},
        ]
    )
    page = await store.query(text="shared", type="Note")
    assert _ids(page) == ["aliased", "expanded", "plain", "prefixed"]
    for spelling in ("Note", "as:Note", f"{AS}Note"):
        assert (await store.query(type=spelling))["totalItems"] == 4
    # Documents without a plain id/type are stored compacted against the AS2 context.
    assert await store.dereference("https://ex.org/expanded") == {
        "@context": AS_CONTEXT,
        "id": "https://ex.org/expanded",
        "type": "Note",
        "content": "shared words",
    }
    # Documents that have them are stored as given.
    prefixed = await store.dereference("https://ex.org/prefixed")
    assert prefixed["as:content"] == "shared words"


async def test_context_arrays_with_extensions_and_security(store: ActivityStore) -> None:
    actor = {
        "@context": [
            AS_CONTEXT,
            "https://w3id.org/security/v1",
            {
                "toot": "http://joinmastodon.org/ns#",
                "Emoji": "toot:Emoji",
                "schema": "http://schema.org#",
            },
        ],
        "id": "https://ex.org/users/ada",
        "type": "Person",
        "name": "Ada",
        "publicKey": {
            "id": "https://ex.org/users/ada#main-key",
            "owner": "https://ex.org/users/ada",
            "publicKeyPem": "-----BEGIN PUBLIC KEY-----",
        },
        "tag": [{"type": "Emoji", "name": ":blobcat:", "icon": {"type": "Image", "url": "x"}}],
    }
    await store.store(actor)
    assert await store.dereference(actor["id"]) == actor
    page = await store.query(type="http://joinmastodon.org/ns#Emoji")
    assert page["totalItems"] == 0  # the Emoji is a tag, not the actor's type
    assert (await store.query(keywords=":blobcat:"))["totalItems"] == 1
    assert (await store.query(text="ada", type="Person"))["totalItems"] == 1
    key = jsonld.expand(actor)[0]["https://w3id.org/security#publicKey"][0]
    assert key["https://w3id.org/security#publicKeyPem"][0]["@value"].startswith("-----BEGIN")


async def test_language_maps_and_a_default_language(store: ActivityStore) -> None:
    await store.store_many(
        [
            {
                "@context": [AS_CONTEXT, {"@language": "en"}],
                "id": "https://ex.org/1",
                "type": "Note",
                "content": "colour",
            },
            {"id": "https://ex.org/2", "type": "Note", "contentMap": {"fr": "couleur"}},
            {
                "@context": AS_CONTEXT,
                "id": "https://ex.org/3",
                "type": "Note",
                f"{AS}content": [{"@value": "Farbe", "@language": "de"}],
            },
        ]
    )
    assert _ids(await store.query(text="colour")) == ["1"]
    assert _ids(await store.query(text="couleur")) == ["2"]
    assert _ids(await store.query(text="farbe")) == ["3"]


async def test_an_unknown_remote_context_is_refused_and_nothing_fetched(
    store: ActivityStore, restore_loader: None
) -> None:
    asked: list[str] = []
    jsonld.use_loader(jsonld.ContextLoader(allow=["https://other.example/ctx"], fetch=asked.append))
    doc = {"@context": [AS_CONTEXT, UNKNOWN], "id": "https://ex.org/x", "type": "Note"}
    with pytest.raises(ContextNotAllowed, match="not bundled") as info:
        await store.store(doc)
    assert info.value.url == UNKNOWN
    assert isinstance(info.value, ValueError)
    with pytest.raises(ContextNotAllowed):
        await store.store_many([{"id": "https://ex.org/ok", "type": "Note"}, doc])
    assert asked == []
    with pytest.raises(ObjectNotFound):
        await store.dereference("https://ex.org/ok")  # nothing of the batch was written
    assert (await store.query())["totalItems"] == 0
    with pytest.raises(ContextNotAllowed):
        jsonld.expand({"@context": UNKNOWN, "id": "https://ex.org/y"})


async def test_an_allowed_context_is_served_from_the_application(
    store: ActivityStore, restore_loader: None
) -> None:
    fetched: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        return {"@context": {"ext": "https://ext.example/ns#", "Poll": "ext:Poll"}}

    jsonld.use_loader(jsonld.ContextLoader(allow=[UNKNOWN], fetch=fetch))
    for i in range(3):
        await store.store(
            {"@context": [AS_CONTEXT, UNKNOWN], "id": f"https://ex.org/{i}", "type": "Poll"}
        )
    assert fetched == [UNKNOWN]  # fetched once, then kept
    page = await store.query(type="https://ext.example/ns#Poll")
    assert page["totalItems"] == 3


def test_normalisation_gives_one_hash_for_every_spelling() -> None:
    plain = {"@context": AS_CONTEXT, "id": "https://ex.org/1", "type": "Note", "content": "hi"}
    prefixed = {
        "@context": AS_CONTEXT,
        "id": "https://ex.org/1",
        "type": "as:Note",
        "as:content": "hi",
    }
    expanded = jsonld.expand(plain)
    assert jsonld.canonical_hash(plain) == jsonld.canonical_hash(prefixed)
    assert jsonld.canonical_hash(plain) == jsonld.canonical_hash({"@graph": expanded})
    changed = {**plain, "content": "ho"}
    assert jsonld.canonical_hash(plain) != jsonld.canonical_hash(changed)
    assert jsonld.normalize_rdf(plain).startswith("<https://ex.org/1> ")


def test_invalid_json_ld_is_an_invalid_object() -> None:
    with pytest.raises(InvalidLDObject, match="not valid JSON-LD"):
        jsonld.expand({"@context": {"@vocab": 5}, "id": "https://ex.org/1"})


_extra_text = st.fixed_dictionaries(
    {},
    optional={
        "contentMap": st.dictionaries(
            st.sampled_from(["en", "fr", "de"]),
            st.sampled_from(["un deux", "zwei drei"]),
            min_size=1,
        ),
        "object": st.fixed_dictionaries(
            {
                "type": st.sampled_from(["Note", "Image"]),
                "content": st.sampled_from(["inner words", "more"]),
            }
        ),
        "attachment": st.lists(
            st.fixed_dictionaries(
                {"type": st.just("Image"), "name": st.sampled_from(["a pic", "b"])}
            ),
            max_size=2,
        ),
    },
)


@given(objs=ld_objects(max_size=4), extra=_extra_text)
def test_fast_path_equals_the_full_pyld_path(
    objs: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    for obj in objs:
        doc = ensure_context({**obj, **extra})
        assert is_plain_as2(doc)
        fast = Indexed.of(doc)
        full = Indexed.from_view(doc["id"], jsonld.compact(doc))
        assert fast == full


async def test_a_prefixed_document_keeps_its_name_in_collections(store: ActivityStore) -> None:
    doc = {
        "@context": AS_CONTEXT,
        "id": "https://ex.org/p",
        "type": "as:Article",
        "as:name": "Prefixed title",
        "as:content": "body",
    }
    await store.store(doc)
    await store.add_to_collection(doc["id"], "https://ex.org/c")
    assert await store.get(doc["id"], collection="https://ex.org/c") == {
        "id": "https://ex.org/p",
        "type": "Article",
        "name": "Prefixed title",
    }
