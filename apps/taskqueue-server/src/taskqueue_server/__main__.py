"""``python -m taskqueue_server`` runs the CLI."""

from taskqueue_server.cli import main

main()
