"""``python -m draft_service``: the same as the ``draft-service`` command."""

from draft_service.cli import main

main()
