"""The backend conformance suite on the memory backend."""

from __future__ import annotations

import pytest

from activity_store.backends.memory import MemoryBackend
from activity_store.interfaces import StorageBackend
from activity_store.testing import BackendConformance, BackendMaker


class TestMemoryBackend(BackendConformance):
    @pytest.fixture
    def make_backend(self) -> BackendMaker:
        backends: dict[str, MemoryBackend] = {}

        async def make(suffix: str) -> StorageBackend:
            # The same suffix means the same data, as it would on a server.
            backend = backends.setdefault(suffix, MemoryBackend(namespace=suffix))
            await backend.setup()
            return backend

        return make
