"""The HTTP API: routers, authentication, idempotency and the server-only response models."""
