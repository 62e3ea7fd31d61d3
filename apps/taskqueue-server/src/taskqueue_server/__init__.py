"""The Task Queue API server and its workers."""

__all__: list[str] = []
