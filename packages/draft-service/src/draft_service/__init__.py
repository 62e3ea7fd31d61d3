"""Message threads to LLM-drafted replies with feedback, rejection and lineage."""

__all__: list[str] = []
