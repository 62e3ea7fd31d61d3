"""Async and sync clients, CLI and webhook receiver for the Task Queue API."""

__all__: list[str] = []
