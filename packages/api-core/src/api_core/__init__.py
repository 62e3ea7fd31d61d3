"""FastAPI infrastructure: protocols, specifications, caching, telemetry, CQRS, health, settings, codegen."""

__all__: list[str] = []
