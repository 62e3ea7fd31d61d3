"""Every bundled context serves a realistic document offline; look-alike IRIs are refused."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
from pyld import jsonld as pyld  # type: ignore[import-untyped]  # pyld ships no type information

from activity_store import ActivityStore, ContextNotAllowed, jsonld
from activity_store.backends.memory import MemoryBackend
from activity_store.caches.memory import MemoryCache
from activity_store.ld import AS_CONTEXT

AS = "https://www.w3.org/ns/activitystreams#"
SEC = "https://w3id.org/security#"
ACTOR = "https://social.example/users/ada"
KEY = f"{ACTOR}#main-key"
MULTIBASE = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


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


def _proof(kind: str, **extra: str) -> dict[str, str]:
    return {
        "type": kind,
        "created": "2026-12-01T10:00:00Z",
        "verificationMethod": KEY,
        "proofPurpose": "assertionMethod",
        "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a",
        **extra,
    }


# (context IRI, a document of the kind fediverse software sends with it, IRIs its expansion
# must contain as properties or types).
CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    (
        "https://w3id.org/security/v1",
        {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": ACTOR,
            "type": "Person",
            "publicKey": {"id": KEY, "owner": ACTOR, "publicKeyPem": "-----BEGIN PUBLIC KEY-----"},
        },
        {f"{SEC}publicKey", f"{SEC}owner", f"{SEC}publicKeyPem", f"{AS}Person"},
    ),
    (
        "https://w3id.org/security/v2",
        {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v2"],
            "id": f"{ACTOR}/notes/1",
            "type": "Note",
            "content": "signed",
            "proof": _proof("Ed25519Signature2018", jws="eyJhbGciOiJFZERTQSJ9..sig"),
        },
        {f"{SEC}proof", f"{SEC}Ed25519Signature2018", f"{SEC}jws", f"{SEC}verificationMethod"},
    ),
    (
        "https://w3id.org/security/suites/ed25519-2020/v1",
        {
            "@context": [AS_CONTEXT, "https://w3id.org/security/suites/ed25519-2020/v1"],
            "id": f"{ACTOR}/notes/2",
            "type": "Note",
            "content": "signed",
            "proof": _proof("Ed25519Signature2020"),
        },
        {f"{SEC}proof", f"{SEC}Ed25519Signature2020", f"{SEC}proofValue", f"{SEC}proofPurpose"},
    ),
    (
        "https://w3id.org/security/data-integrity/v1",
        {
            "@context": [AS_CONTEXT, "https://w3id.org/security/data-integrity/v1"],
            "id": f"{ACTOR}/notes/3",
            "type": "Note",
            "content": "signed",
            "proof": _proof("DataIntegrityProof", cryptosuite="eddsa-jcs-2022"),
        },
        {f"{SEC}DataIntegrityProof", f"{SEC}cryptosuite", f"{SEC}proofValue"},
    ),
    (
        "https://w3id.org/security/data-integrity/v2",
        {
            "@context": [AS_CONTEXT, "https://w3id.org/security/data-integrity/v2"],
            "id": f"{ACTOR}/notes/4",
            "type": "Note",
            "content": "signed",
            "proof": _proof("DataIntegrityProof", cryptosuite="eddsa-rdfc-2022"),
        },
        {f"{SEC}DataIntegrityProof", f"{SEC}cryptosuite", f"{SEC}proofValue"},
    ),
    (
        "https://w3id.org/security/multikey/v1",
        {
            "@context": [AS_CONTEXT, "https://w3id.org/security/multikey/v1"],
            "id": f"{ACTOR}#ed25519-key",
            "type": "Multikey",
            "controller": ACTOR,
            "publicKeyMultibase": MULTIBASE,
        },
        {f"{SEC}Multikey", f"{SEC}controller", f"{SEC}publicKeyMultibase"},
    ),
    (
        "https://w3id.org/identity/v1",
        {  # Mastodon's linked-data signature options, normalised under this context
            "@context": "https://w3id.org/identity/v1",
            "creator": KEY,
            "created": "2026-12-01T10:00:00Z",
        },
        {"http://purl.org/dc/terms/creator", "http://purl.org/dc/terms/created"},
    ),
    (
        "https://www.w3.org/ns/did/v1",
        {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": "did:example:123456789abcdefghi",
            "verificationMethod": {
                "id": "did:example:123456789abcdefghi#key-1",
                "type": "Multikey",
                "controller": "did:example:123456789abcdefghi",
                "publicKeyMultibase": MULTIBASE,
            },
            "authentication": ["did:example:123456789abcdefghi#key-1"],
        },
        {f"{SEC}verificationMethod", f"{SEC}authenticationMethod", f"{SEC}Multikey"},
    ),
    (
        "https://www.w3.org/ns/cid/v1",
        {
            "@context": [AS_CONTEXT, "https://www.w3.org/ns/cid/v1"],
            "id": ACTOR,
            "type": "Person",
            "assertionMethod": [
                {
                    "id": f"{ACTOR}#ed25519-key",
                    "type": "Multikey",
                    "controller": ACTOR,
                    "publicKeyMultibase": MULTIBASE,
                }
            ],
        },
        {f"{SEC}assertionMethod", f"{SEC}Multikey", f"{SEC}publicKeyMultibase"},
    ),
    (
        "http://joinmastodon.org/ns",
        {
            "@context": [AS_CONTEXT, "http://joinmastodon.org/ns"],
            "id": ACTOR,
            "type": "Person",
            "featured": f"{ACTOR}/collections/featured",
            "discoverable": True,
            "tag": {"type": "Emoji", "name": ":blobcat:"},
        },
        {
            "http://joinmastodon.org/ns#featured",
            "http://joinmastodon.org/ns#discoverable",
            "http://joinmastodon.org/ns#Emoji",
        },
    ),
    (
        "https://gotosocial.org/ns",
        {
            "@context": [AS_CONTEXT, "https://gotosocial.org/ns"],
            "id": f"{ACTOR}/statuses/1",
            "type": "Note",
            "interactionPolicy": {"canLike": {"automaticApproval": f"{ACTOR}/followers"}},
        },
        {
            "https://gotosocial.org/ns#interactionPolicy",
            "https://gotosocial.org/ns#canLike",
            "https://gotosocial.org/ns#automaticApproval",
        },
    ),
    (
        "https://join-lemmy.org/context.json",
        {
            "@context": ["https://join-lemmy.org/context.json", AS_CONTEXT],
            "id": "https://lemmy.example/c/cats",
            "type": "Group",
            "moderators": "https://lemmy.example/c/cats/moderators",
            "postingRestrictedToMods": False,
            "sensitive": False,
        },
        {
            "https://join-lemmy.org/ns#moderators",
            "https://join-lemmy.org/ns#postingRestrictedToMods",
            f"{AS}sensitive",
        },
    ),
    (
        "https://purl.archive.org/socialweb/webfinger",
        {
            "@context": [AS_CONTEXT, "https://purl.archive.org/socialweb/webfinger"],
            "id": ACTOR,
            "type": "Person",
            "webfinger": "ada@social.example",
        },
        {"https://purl.archive.org/socialweb/webfinger#webfinger"},
    ),
    (
        "https://purl.archive.org/miscellany",
        {
            "@context": [AS_CONTEXT, "https://purl.archive.org/miscellany"],
            "id": f"{ACTOR}/notes/5",
            "type": "Note",
            "sensitive": True,
            "tag": {"type": "Hashtag", "name": "#cats"},
        },
        {f"{AS}sensitive", f"{AS}Hashtag"},
    ),
    (
        "https://w3id.org/fep/5711",
        {
            "@context": [AS_CONTEXT, "https://w3id.org/fep/5711"],
            "id": f"{ACTOR}/notes/6/likes",
            "type": "Collection",
            "likesOf": f"{ACTOR}/notes/6",
        },
        {"https://w3id.org/fep/5711#likesOf"},
    ),
    (
        "https://w3id.org/fep/ef61",
        {
            "@context": [AS_CONTEXT, "https://w3id.org/fep/ef61"],
            "id": "ap://did:key:z6Mkr/actor",
            "type": "Person",
            "gateways": ["https://social.example"],
        },
        {"https://w3id.org/fep/ef61/gateways"},
    ),
]


def _iris(value: Any) -> set[str]:
    """Every property IRI and type IRI in an expanded document."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _iris(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "@type":
                found |= set(item) if isinstance(item, list) else {item}
            elif not key.startswith("@"):
                found.add(key)
            found |= _iris(item)
    return found


def test_every_bundled_context_is_a_case_here() -> None:
    named = {url for url, _, _ in CASES} | {AS_CONTEXT}
    aliases = {url.replace("https://", "http://", 1) for url in named}
    aliases |= {url.replace("http://", "https://", 1) for url in named} | {f"{AS_CONTEXT}.jsonld"}
    assert set(jsonld.BUNDLED_CONTEXTS) <= named | aliases


def test_every_bundled_file_is_listed_in_sources_with_its_licence() -> None:
    data = files("activity_store").joinpath("data")
    sources = data.joinpath("SOURCES.md").read_text("utf-8")
    for filename in set(jsonld.BUNDLED_CONTEXTS.values()):
        assert f"`{filename}`" in sources, filename
        assert isinstance(json.loads(data.joinpath(filename).read_text("utf-8")), dict)
    for licence in data.joinpath("licenses").iterdir():
        assert f"`licenses/{licence.name}`" in sources, licence.name


@pytest.mark.parametrize(("url", "document", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_document_using_the_context_expands_and_compacts_offline(
    url: str, document: dict[str, Any], expected: set[str]
) -> None:
    expanded = jsonld.expand(document)
    missing = expected - _iris(expanded)
    assert not missing, f"{url}: not expanded to {sorted(missing)}"
    # Compacting the expansion against the document's own context gives the document back.
    options = {"documentLoader": jsonld.get_loader()}
    assert pyld.compact(expanded, {"@context": document["@context"]}, options) == document
    # Against ActivityStreams alone, the foreign terms stay as full IRIs and nothing is lost.
    assert jsonld.expand(jsonld.compact(document)) == expanded
    assert len(jsonld.normalize_rdf(document).splitlines()) >= len(expected)


async def test_documents_with_bundled_contexts_are_stored_and_found_by_expanded_type() -> None:
    store = ActivityStore(MemoryBackend(), MemoryCache(), namespace="contexts")
    stored = [doc for _, doc, _ in CASES if "id" in doc and "type" in doc]
    await store.store_many(stored)
    latest = {doc["id"]: doc for doc in stored}  # several cases describe the same actor
    for object_id, doc in latest.items():
        assert await store.dereference(object_id) == doc
    found = await store.query(type=f"{SEC}Multikey")
    assert [item["id"] for item in found["items"]] == [f"{ACTOR}#ed25519-key"]


@pytest.mark.parametrize(
    "url",
    [
        "https://w3id.org/security/v3",
        "https://www.w3.org/ns/did/v2",
        "https://w3id.org/security/suites/ed25519-2020/v2",
        "https://pleroma.example/schemas/litepub-0.1.jsonld",
        "https://joinmastodon.org/ns",
    ],
)
async def test_an_unbundled_look_alike_is_still_refused(url: str) -> None:
    store = ActivityStore(MemoryBackend(), MemoryCache(), namespace="contexts")
    doc = {"@context": [AS_CONTEXT, url], "id": f"{ACTOR}/x", "type": "Note"}
    with pytest.raises(ContextNotAllowed) as info:
        await store.store(doc)
    assert info.value.url == url
    with pytest.raises(ContextNotAllowed):
        jsonld.expand(doc)
