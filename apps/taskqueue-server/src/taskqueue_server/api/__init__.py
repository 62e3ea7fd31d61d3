"""The HTTP API: routers, authentication and idempotency; every body is an SDK model."""
