"""``python -m draft_api``: serve the draft API."""

from draft_api.main import main

main()
