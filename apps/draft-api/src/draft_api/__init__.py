"""The draft service as a deployable: settings and the ``draft-api`` entry point."""

from draft_api.main import create_app, main
from draft_api.settings import DraftApiSettings

__all__ = ["DraftApiSettings", "create_app", "main"]
