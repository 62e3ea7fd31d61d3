"""JSON-LD processing with pyld, offline: expansion, compaction against AS2, URDNA2015.

Every pyld call goes through a :class:`ContextLoader`, which serves the contexts bundled with
the package and never opens a connection. A remote context that is not bundled is refused
with :class:`~activity_store.errors.ContextNotAllowed`, unless the application passes it in
(``contexts={url: document}``) or allows it and supplies a ``fetch`` function of its own.

Bundled (see ``activity_store/data/SOURCES.md`` for where each copy comes from):

* ActivityStreams 2.0 — ``https://www.w3.org/ns/activitystreams``
* Security v1 and v2 — ``https://w3id.org/security/v1``, ``https://w3id.org/security/v2``
* Data Integrity v1 and v2, Multikey v1, the Ed25519Signature2020 suite
  (``https://w3id.org/security/suites/ed25519-2020/v1``)
* Identity v1 (``https://w3id.org/identity/v1``, Mastodon's linked-data signatures), DID v1
  (``https://www.w3.org/ns/did/v1``), Controlled Identifiers v1 (``https://www.w3.org/ns/cid/v1``)
* Extension contexts that fediverse software names by IRI: Mastodon's ``http://joinmastodon.org/ns``,
  GoToSocial, Lemmy, WebFinger, the SWICG miscellany, FEP-5711 and FEP-ef61
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped]  # pyld ships no type information

from activity_store.errors import ContextNotAllowed, InvalidLDObject

__all__ = [
    "BUNDLED_CONTEXTS",
    "ContextLoader",
    "canonical_hash",
    "compact",
    "context_urls",
    "expand",
    "get_loader",
    "normalize_rdf",
    "use_loader",
]

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"

BUNDLED_CONTEXTS: dict[str, str] = {
    AS_CONTEXT: "activitystreams.jsonld",
    "http://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "https://www.w3.org/ns/activitystreams.jsonld": "activitystreams.jsonld",
    "https://w3id.org/security/v1": "security-v1.jsonld",
    "http://w3id.org/security/v1": "security-v1.jsonld",
    "https://w3id.org/security/v2": "security-v2.jsonld",
    "http://w3id.org/security/v2": "security-v2.jsonld",
    "https://w3id.org/security/data-integrity/v1": "data-integrity-v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://w3id.org/security/suites/ed25519-2020/v1": "ed25519-signature-2020-v1.jsonld",
    "https://w3id.org/identity/v1": "identity-v1.jsonld",
    "http://w3id.org/identity/v1": "identity-v1.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://www.w3.org/ns/cid/v1": "cid-v1.jsonld",
    "http://joinmastodon.org/ns": "joinmastodon.jsonld",
    "https://gotosocial.org/ns": "gotosocial.jsonld",
    "https://join-lemmy.org/context.json": "join-lemmy.jsonld",
    "https://purl.archive.org/socialweb/webfinger": "webfinger.jsonld",
    "https://purl.archive.org/miscellany": "miscellany.jsonld",
    "https://w3id.org/fep/5711": "fep-5711.jsonld",
    "https://w3id.org/fep/ef61": "fep-ef61.jsonld",
}
"""Context IRI -> the bundled file (under ``activity_store/data``) that serves it."""


@cache
def _bundled(filename: str) -> dict[str, Any]:
    text = files("activity_store").joinpath(f"data/{filename}").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


class ContextLoader:
    """A pyld document loader that never touches the network.

    Args:
        contexts: Extra context documents by IRI, served as given (the application's cache).
        allow: IRIs the application allows to be resolved through ``fetch``.
        fetch: Called once per allowed IRI (``fetch(iri) -> document``); its result is kept.
            Without it, allowed IRIs that are not in ``contexts`` are refused.

    Raises:
        ContextNotAllowed: (when called) the IRI is neither bundled, given nor allowed.
    """

    def __init__(
        self,
        contexts: Mapping[str, Any] | None = None,
        *,
        allow: Iterable[str] = (),
        fetch: Callable[[str], Any] | None = None,
    ) -> None:
        self._contexts: dict[str, Any] = dict(contexts or {})
        self._allow = frozenset(allow)
        self._fetch = fetch
        self._lock = threading.Lock()

    def document(self, url: str) -> Any:
        """Return the context document for ``url``.

        Raises:
            ContextNotAllowed: ``url`` is not bundled, given or allowed.
        """
        filename = BUNDLED_CONTEXTS.get(url)
        if filename is not None:
            return _bundled(filename)
        with self._lock:
            if url in self._contexts:
                return self._contexts[url]
        if url not in self._allow or self._fetch is None:
            raise ContextNotAllowed(url)
        document = self._fetch(url)
        if isinstance(document, str | bytes):
            document = json.loads(document)
        with self._lock:
            self._contexts[url] = document
        return document

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        """The pyld document-loader protocol: a remote document for ``url``."""
        return {"contextUrl": None, "documentUrl": url, "document": self.document(url)}

    def knows(self, url: str) -> bool:
        """Whether ``url`` can be served without asking ``fetch`` (bundled or given)."""
        return url in BUNDLED_CONTEXTS or url in self._contexts


_loader = ContextLoader()


def use_loader(loader: ContextLoader) -> None:
    """Make ``loader`` the one every store in this process resolves contexts with."""
    global _loader
    _loader = loader


def get_loader() -> ContextLoader:
    """The loader in use (bundled contexts only, unless :func:`use_loader` changed it)."""
    return _loader


def context_urls(value: Any) -> list[str]:
    """Every remote context IRI an ``@context`` value (string, list or object) refers to."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [url for item in value for url in context_urls(item)]
    if isinstance(value, dict):
        found = context_urls(value["@import"]) if "@import" in value else []
        for definition in value.values():
            if isinstance(definition, dict) and "@context" in definition:
                found.extend(context_urls(definition["@context"]))
        return found
    return []


def _options(loader: ContextLoader | None, **extra: Any) -> dict[str, Any]:
    return {"documentLoader": loader or _loader, **extra}


def _run(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except jsonld.JsonLdError as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ContextNotAllowed):
                raise ContextNotAllowed(cause.url) from exc
            cause = cause.__cause__ or cause.__context__
        raise InvalidLDObject(f"not valid JSON-LD: {exc.args[0] if exc.args else exc}") from exc


def expand(document: dict[str, Any], loader: ContextLoader | None = None) -> list[Any]:
    """Expand ``document``: every term, compact IRI and alias becomes a full IRI.

    Raises:
        ContextNotAllowed: the document names a context that is not bundled or allowed.
        InvalidLDObject: the document is not valid JSON-LD.
    """
    expanded: list[Any] = _run(lambda: jsonld.expand(document, _options(loader)))
    return expanded


def compact(document: Any, loader: ContextLoader | None = None) -> dict[str, Any]:
    """Compact ``document`` (expanded or not) against the ActivityStreams context.

    Raises:
        ContextNotAllowed: the document names a context that is not bundled or allowed.
        InvalidLDObject: the document is not valid JSON-LD.
    """
    compacted: dict[str, Any] = _run(lambda: jsonld.compact(document, AS_CONTEXT, _options(loader)))
    return compacted


def normalize_rdf(document: dict[str, Any], loader: ContextLoader | None = None) -> str:
    """The URDNA2015 canonical N-Quads of ``document``: equal for equal graphs.

    Raises:
        ContextNotAllowed: the document names a context that is not bundled or allowed.
        InvalidLDObject: the document is not valid JSON-LD.
    """
    options = _options(loader, algorithm="URDNA2015", format="application/n-quads")
    nquads: str = _run(lambda: jsonld.normalize(document, options))
    return nquads


def canonical_hash(document: dict[str, Any], loader: ContextLoader | None = None) -> str:
    """SHA-256 (hex) of :func:`normalize_rdf`: one hash for every spelling of one graph."""
    return hashlib.sha256(normalize_rdf(document, loader).encode()).hexdigest()
