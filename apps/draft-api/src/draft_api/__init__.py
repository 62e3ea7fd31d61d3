"""The draft service as a deployable."""

__all__: list[str] = []
