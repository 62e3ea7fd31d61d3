"""Backends: where events wait between handlers. Pluggable via ``necrostack.backends``."""

from necrostack.backends.base import Backend
from necrostack.backends.memory import DeadLetter, InMemoryBackend

__all__ = ["Backend", "DeadLetter", "InMemoryBackend"]
