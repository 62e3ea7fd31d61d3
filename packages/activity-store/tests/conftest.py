"""Fixtures shared by activity_store's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from activity_store import ActivityStore
from activity_store.backends.memory import MemoryBackend
from activity_store.caches.memory import MemoryCache


@pytest.fixture
async def memory_store() -> AsyncIterator[ActivityStore]:
    """An ActivityStore on the memory backend and memory cache."""
    async with ActivityStore(MemoryBackend(), MemoryCache(), namespace="test") as store:
        yield store
