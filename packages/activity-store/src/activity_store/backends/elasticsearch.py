"""The Elasticsearch backend (extra ``activity-store[es]``), on the official async client.

Two indices live under the namespace: ``{namespace}-objects`` holds one document per object and
``{namespace}-collections`` one per membership, keyed by a hash of collection id and object id.
An object's document id is the object's id, or a hash of it when the id is longer than
Elasticsearch's 512-byte limit (the id itself is always kept in the ``id`` field).
Each document carries the object verbatim (not indexed) next to the fields queries use; those
internal fields never reach callers. Writes wait for a refresh, so what was stored is at once
readable and searchable. Transport and API errors surface as
:class:`~activity_store.errors.ActivityStoreError` with the client's exception as cause.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self

from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from activity_store._index import query_words
from activity_store.backends._es_documents import (
    COLLECTIONS_MAPPING,
    OBJECTS_MAPPING,
    document_id,
    membership_id,
    search_fields,
    with_short_terms,
)
from activity_store.errors import ActivityStoreError
from activity_store.interfaces import StorageBackend
from activity_store.ld import type_iris
from activity_store.query import Page, Query, decode_cursor, encode_cursor
from activity_store.settings import ElasticsearchSettings
from platform_core.logging import get_logger

__all__ = ["ElasticsearchBackend"]

_log = get_logger(__name__)


@contextmanager
def _wrap(action: str) -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        raise ActivityStoreError(
            f"Elasticsearch rejected {action}: {exc.message} (status {exc.meta.status})"
        ) from exc
    except TransportError as exc:
        raise ActivityStoreError(
            f"Elasticsearch unreachable during {action}: {exc}; check ES_URL and that the "
            "cluster is running"
        ) from exc


class ElasticsearchBackend(StorageBackend):
    """Stores objects and collection members in two Elasticsearch indices.

    Args:
        client: An ``AsyncElasticsearch`` client.
        namespace: Prefix of the index names (lower case).
        owns_client: Close ``client`` on :meth:`teardown`.
    """

    def __init__(
        self,
        client: AsyncElasticsearch,
        *,
        namespace: str = "activity_store",
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.objects_index = f"{namespace}-objects"
        self.collections_index = f"{namespace}-collections"
        self._owns_client = owns_client
        self._ready = False

    @classmethod
    def from_settings(cls, settings: ElasticsearchSettings, *, namespace: str) -> Self:
        """Build the backend and its client from :class:`ElasticsearchSettings`."""
        api_key = settings.api_key.get_secret_value() if settings.api_key else None
        if settings.cloud_id:
            client = AsyncElasticsearch(
                cloud_id=settings.cloud_id,
                api_key=api_key,
                request_timeout=settings.request_timeout,
            )
        else:
            client = AsyncElasticsearch(
                settings.url, api_key=api_key, request_timeout=settings.request_timeout
            )
        return cls(client, namespace=namespace, owns_client=True)

    @classmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build the backend from ``ES_URL`` (or ``ES_CLOUD_ID``) and ``ES_API_KEY``."""
        return cls.from_settings(ElasticsearchSettings.load(), namespace=namespace)

    async def setup(self) -> None:
        """Create the two indices with explicit mappings when they do not exist."""
        if self._ready:
            return
        for index, mapping in (
            (self.objects_index, OBJECTS_MAPPING),
            (self.collections_index, COLLECTIONS_MAPPING),
        ):
            with _wrap(f"creating index {index!r}"):
                if await self.client.indices.exists(index=index):
                    # Indices made by an earlier version lack newer fields; adding is allowed.
                    await self.client.indices.put_mapping(
                        index=index, properties=mapping["properties"]
                    )
                    continue
                response = await self.client.options(ignore_status=400).indices.create(
                    index=index, mappings=mapping
                )
                # 400 "already exists" means another process created it first: fine.
                if response.meta.status == 400 and "already_exists" not in str(response.body):
                    raise ActivityStoreError(f"could not create index {index!r}: {response.body}")
            _log.info("activity_store.es.index_ready", index=index)
        self._ready = True

    async def teardown(self, *, delete_data: bool = False) -> None:
        """Close the client if this backend created it; first delete both indices when asked."""
        try:
            if delete_data:
                await self.delete_indices()
        finally:
            self._ready = False
            if self._owns_client:
                await self.client.close()

    async def delete_indices(self) -> None:
        """Delete both indices and everything in them. Irreversible; call it explicitly."""
        with _wrap("deleting indices"):
            await self.client.options(ignore_status=404).indices.delete(
                index=[self.objects_index, self.collections_index]
            )
        self._ready = False

    async def put(self, obj: dict[str, Any]) -> None:
        """Index ``obj`` under its id and wait until it is searchable."""
        with _wrap(f"storing {obj['id']!r}"):
            await self.client.index(
                index=self.objects_index,
                id=document_id(obj["id"]),
                document={**search_fields(obj), "object": obj},
                refresh="wait_for",
            )

    async def put_many(self, objs: Sequence[dict[str, Any]]) -> None:
        """Index every object in one bulk request and wait until they are searchable."""
        if not objs:
            return
        operations: list[dict[str, Any]] = []
        for obj in objs:
            operations.append(
                {"index": {"_index": self.objects_index, "_id": document_id(obj["id"])}}
            )
            operations.append({**search_fields(obj), "object": obj})
        with _wrap(f"storing {len(objs)} objects"):
            response = await self.client.bulk(operations=operations, refresh="wait_for")
        if response["errors"]:
            failed = [
                f"{result['_id']}: {result['error'].get('reason', result['error'])}"
                for result in (item["index"] for item in response["items"])
                if "error" in result
            ]
            raise ActivityStoreError(
                f"Elasticsearch refused {len(failed)} of {len(objs)} objects; first: {failed[0]}"
            )

    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return the stored object without the internal fields, or ``None``."""
        with _wrap(f"reading {object_id!r}"):
            response = await self.client.options(ignore_status=404).get(
                index=self.objects_index, id=document_id(object_id), source_includes=["object"]
            )
        if response.meta.status == 404 or not response.get("found"):
            return None
        found: dict[str, Any] = response["_source"]["object"]
        return found

    async def add_member(
        self, collection: str, member: dict[str, Any], source: dict[str, Any]
    ) -> None:
        """Index ``member`` in ``collection`` (searchable by ``source``'s fields)."""
        document = {**search_fields(source), "collection": collection, "member": member}
        with _wrap(f"adding {member['id']!r} to {collection!r}"):
            await self.client.index(
                index=self.collections_index,
                id=membership_id(collection, member["id"]),
                document=document,
                refresh="wait_for",
            )

    async def add_members(
        self, collection: str, entries: Sequence[tuple[dict[str, Any], dict[str, Any]]]
    ) -> None:
        """Index every ``(member, source)`` pair in ``collection`` in one bulk request."""
        operations: list[dict[str, Any]] = []
        for member, source in entries:
            doc_id = membership_id(collection, member["id"])
            operations.append({"index": {"_index": self.collections_index, "_id": doc_id}})
            operations.append({**search_fields(source), "collection": collection, "member": member})
        if operations:
            await self._bulk(operations, f"adding {len(entries)} members to {collection!r}")

    async def remove_member(self, collection: str, object_id: str) -> bool:
        """Delete the membership document; the canonical object stays."""
        with _wrap(f"removing {object_id!r} from {collection!r}"):
            response = await self.client.options(ignore_status=404).delete(
                index=self.collections_index,
                id=membership_id(collection, object_id),
                refresh="wait_for",
            )
        return response.meta.status != 404 and response.get("result") == "deleted"

    async def get_member(self, collection: str, object_id: str) -> dict[str, Any] | None:
        """Return ``collection``'s partial copy of ``object_id``, or ``None``."""
        with _wrap(f"reading {object_id!r} in {collection!r}"):
            response = await self.client.options(ignore_status=404).get(
                index=self.collections_index,
                id=membership_id(collection, object_id),
                source_includes=["member"],
            )
        if response.meta.status == 404 or not response.get("found"):
            return None
        found: dict[str, Any] = response["_source"]["member"]
        return found

    async def _memberships(self, object_id: str) -> list[tuple[str, str]]:
        """The document id and collection of every collection entry of ``object_id``."""
        found: list[tuple[str, str]] = []
        after: list[Any] | None = None
        while True:
            with _wrap(f"finding the collections of {object_id!r}"):
                response = await self.client.search(
                    index=self.collections_index,
                    query={"bool": {"filter": [{"term": {"id": object_id}}]}},
                    sort=[{"collection": {"order": "asc"}}],
                    size=1000,
                    search_after=after,
                    source_includes=["collection"],
                )
            hits = response["hits"]["hits"]
            found.extend((hit["_id"], hit["_source"]["collection"]) for hit in hits)
            if len(hits) < 1000:
                return found
            after = hits[-1]["sort"]

    async def _bulk(self, operations: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
        with _wrap(action):
            response = await self.client.bulk(operations=operations, refresh="wait_for")
        results: list[dict[str, Any]] = [next(iter(item.values())) for item in response["items"]]
        failed = [r for r in results if "error" in r]
        if failed:
            raise ActivityStoreError(f"Elasticsearch refused {action}: {failed[0]['error']}")
        return results

    async def delete(self, object_id: str) -> bool:
        """Delete the object's document and its collection entries in one bulk request."""
        members = await self._memberships(object_id)
        operations: list[dict[str, Any]] = [
            {"delete": {"_index": self.objects_index, "_id": document_id(object_id)}}
        ]
        operations += [
            {"delete": {"_index": self.collections_index, "_id": doc_id}} for doc_id, _ in members
        ]
        results = await self._bulk(operations, f"deleting {object_id!r}")
        return bool(results[0].get("result") == "deleted")

    async def put_tombstone(self, tombstone: dict[str, Any], member: dict[str, Any]) -> None:
        """Index the tombstone and rewrite its collection entries in one bulk request."""
        members = await self._memberships(tombstone["id"])
        fields = search_fields(tombstone)
        operations: list[dict[str, Any]] = [
            {"index": {"_index": self.objects_index, "_id": document_id(tombstone["id"])}},
            {**fields, "object": tombstone},
        ]
        for doc_id, collection in members:
            # A whole new document: a partial update would merge the old name and text in.
            operations.append({"index": {"_index": self.collections_index, "_id": doc_id}})
            operations.append({**fields, "collection": collection, "member": member})
        await self._bulk(operations, f"tombstoning {tombstone['id']!r}")

    async def query(self, query: Query) -> Page:
        """Translate ``query`` to the query DSL and page with ``search_after``."""
        filters: list[dict[str, Any]] = [
            {"term": {"words": word}} for word in query_words(query.text)
        ]
        if query.keywords:
            filters.append({"terms": {"tag": [keyword.lower() for keyword in query.keywords]}})
        if query.type is not None:
            types = with_short_terms(type_iris(query.type))
            should = [{"terms": {"type": types}}]
            if query.include_deleted:
                should.append({"terms": {"formerType": types}})
            filters.append({"bool": {"should": should, "minimum_should_match": 1}})
        index, holder = self.objects_index, "object"
        if query.collection is not None:
            index, holder = self.collections_index, "member"
            filters.append({"term": {"collection": query.collection}})
        order = "desc" if query.descending else "asc"
        sort: list[dict[str, Any]] = [{"id": {"order": order}}]
        if query.sort_field != "id":
            sort = [
                {query.sort_field: {"order": order, "missing": "_last"}},
                {"id": {"order": "asc"}},
            ]
        with _wrap("searching"):
            response = await self.client.search(
                index=index,
                query={"bool": {"filter": filters}},
                sort=sort,
                size=query.size + 1,
                search_after=decode_cursor(query.after) if query.after else None,
                track_total_hits=True,
                source_includes=[holder],
            )
        hits = response["hits"]["hits"]
        page: Page = {
            "type": "OrderedCollection" if query.sort else "Collection",
            "totalItems": int(response["hits"]["total"]["value"]),
            "items": [hit["_source"][holder] for hit in hits[: query.size]],
        }
        if len(hits) > query.size:
            page["next"] = encode_cursor(hits[query.size - 1]["sort"])
        return page
