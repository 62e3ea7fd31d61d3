"""API keys as the admin routes (``/api/keys``) show them: never the secret, except once in
the answer that creates it."""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field, SecretStr, field_serializer

from taskqueue.models.base import NonBlank, RequestModel, WireModel
from taskqueue.models.enums import ApiKeyRole

__all__ = ["ApiKey", "ApiKeyCreateRequest", "ApiKeyList"]


class ApiKeyCreateRequest(RequestModel):
    """The body of ``POST /api/keys`` (admin): a key in the caller's tenant.

    Attributes:
        name: Who or what the key is for.
        role: What it may do (``producer`` by default).
        projects: Restrict it to these projects; None for every project of the tenant. An
            admin restricted to projects may only create keys restricted to some of them.
    """

    name: NonBlank = Field(max_length=200)
    role: ApiKeyRole = ApiKeyRole.PRODUCER
    projects: list[UUID] | None = Field(default=None, max_length=100)


class ApiKey(WireModel):
    """An API key (``key`` is set only in the create answer).

    Attributes:
        id: The key's id.
        name: Who or what it is for.
        prefix: Its public part, ``tq_<prefix>_``.
        tenant: The tenant it belongs to.
        role: What it may do.
        projects: The projects it is restricted to; None for all of the tenant's.
        created_at: When it was created.
        revoked_at: When it was revoked; None while active.
        key: The key itself, only in the answer to ``POST /api/keys``.
    """

    id: UUID
    name: str
    prefix: str
    tenant: str
    role: ApiKeyRole
    projects: list[UUID] | None = None
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None
    key: SecretStr | None = None

    @field_serializer("key", when_used="json")
    def _key_json(self, key: SecretStr | None) -> str | None:
        return None if key is None else key.get_secret_value()


class ApiKeyList(WireModel):
    """``GET /api/keys``: the tenant's keys, active and revoked, oldest first."""

    keys: list[ApiKey]
