"""SyncActivityStore: the ActivityStore API for code that is not async.

It owns one event loop running in a daemon thread for its whole life, so the async clients
(Elasticsearch, Redis) stay bound to one loop across any number of calls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from types import TracebackType
from typing import Any, Self, TypeVar

from activity_store.errors import ActivityStoreError
from activity_store.interfaces import CacheBackend, StorageBackend
from activity_store.query import Page, Query
from activity_store.store import ActivityStore

__all__ = ["SyncActivityStore"]

T = TypeVar("T")


class SyncActivityStore:
    """Blocking version of :class:`ActivityStore` with the same methods and arguments.

    Use it as a context manager or call :meth:`close` when done; closing tears the store down
    and stops the loop thread. Do not call it from inside a running event loop's thread
    (use :class:`ActivityStore` there).

    Args:
        backend: As for :class:`ActivityStore`.
        cache: As for :class:`ActivityStore`.
        namespace: As for :class:`ActivityStore`.
    """

    def __init__(
        self,
        backend: StorageBackend | None = None,
        cache: CacheBackend | None = None,
        namespace: str | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="activity-store-loop", daemon=True
        )
        self._thread.start()
        self._closed = False
        try:
            self.store_async = self._run(_build(backend, cache, namespace))
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise ActivityStoreError("this SyncActivityStore is closed; create a new one")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> Self:
        self._run(self.store_async.setup())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, *, delete_data: bool = False) -> None:
        """Tear the store down and stop the loop thread. Safe to call twice.

        Args:
            delete_data: See :meth:`ActivityStore.teardown`.
        """
        if self._closed:
            return
        try:
            self._run(self.store_async.teardown(delete_data=delete_data))
        finally:
            self._closed = True
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def teardown(self, *, delete_data: bool = False) -> None:
        """See :meth:`ActivityStore.teardown`; also stops the loop thread (as :meth:`close`)."""
        self.close(delete_data=delete_data)

    def store(self, obj: dict[str, Any], *, cache_ttl: float | None = None) -> str:
        """See :meth:`ActivityStore.store`."""
        return self._run(self.store_async.store(obj, cache_ttl=cache_ttl))

    def store_many(
        self, objs: Iterable[dict[str, Any]], *, cache_ttl: float | None = None
    ) -> list[str]:
        """See :meth:`ActivityStore.store_many`."""
        return self._run(self.store_async.store_many(list(objs), cache_ttl=cache_ttl))

    def get(self, object_id: str, collection: str | None = None) -> dict[str, Any]:
        """See :meth:`ActivityStore.get`."""
        return self._run(self.store_async.get(object_id, collection))

    def contains(self, collection: str, object_id: str) -> bool:
        """See :meth:`ActivityStore.contains`."""
        return self._run(self.store_async.contains(collection, object_id))

    def delete(self, object_id: str) -> bool:
        """See :meth:`ActivityStore.delete`."""
        return self._run(self.store_async.delete(object_id))

    def dereference(self, object_id: str) -> dict[str, Any]:
        """See :meth:`ActivityStore.dereference`."""
        return self._run(self.store_async.dereference(object_id))

    def add_to_collection(self, obj: dict[str, Any] | str, collection: str) -> None:
        """See :meth:`ActivityStore.add_to_collection`."""
        self._run(self.store_async.add_to_collection(obj, collection))

    def remove_from_collection(self, object_id: str, collection: str) -> bool:
        """See :meth:`ActivityStore.remove_from_collection`."""
        return self._run(self.store_async.remove_from_collection(object_id, collection))

    def convert_to_tombstone(self, obj_or_id: dict[str, Any] | str) -> dict[str, Any]:
        """See :meth:`ActivityStore.convert_to_tombstone`."""
        return self._run(self.store_async.convert_to_tombstone(obj_or_id))

    def query(self, query: Query | dict[str, Any] | None = None, **kwargs: Any) -> Page:
        """See :meth:`ActivityStore.query`."""
        return self._run(self.store_async.query(query, **kwargs))


async def _build(
    backend: StorageBackend | None, cache: CacheBackend | None, namespace: str | None
) -> ActivityStore:
    # Built on the loop thread so clients created by the factories bind to that loop.
    return ActivityStore(backend=backend, cache=cache, namespace=namespace)
