"""``python -m taskqueue.cli``."""

from taskqueue.cli import main

main()
