"""Event dispatch framework: Event, Organ handlers and the Spine, on memory or Redis Streams."""

__all__: list[str] = []
