"""Async store for JSON-LD / ActivityStreams objects with memory and Elasticsearch backends."""

__all__: list[str] = []
