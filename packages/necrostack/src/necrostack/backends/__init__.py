"""Backends: where events wait between handlers. Pluggable via ``necrostack.backends``."""

from necrostack.backends.base import Backend, DeadLetter, DeadLetterHook
from necrostack.backends.memory import InMemoryBackend

__all__ = ["Backend", "DeadLetter", "DeadLetterHook", "InMemoryBackend"]
