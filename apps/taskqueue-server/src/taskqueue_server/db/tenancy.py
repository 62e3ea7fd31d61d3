"""Tenants, roles and the one place every tenant filter comes from.

Every API key belongs to a tenant and carries a :class:`Role`; it may be restricted to some
projects. A request's key becomes a :class:`TenantScope`, and the routes reach the data only
through stores bound to that scope (``runtime.tasks.scoped(scope)`` and so on, handed to the
routes by :mod:`taskqueue_server.api.scope`). A scoped store adds :meth:`TenantScope.where` to
every statement it runs and stamps :attr:`TenantScope.tenant` on every row it creates, so a
route cannot forget the filter, and another tenant's row is simply not found (404).

How to use it in a new query (e.g. in ``db/leases.py``)::

    stmt = select(TaskRow).where(..., self._tenant_where(TaskRow))

``_tenant_where`` (on every store) returns ``TenantScope.where(model)``, and raises
:class:`UnscopedStoreError` on a store that was never scoped, so a query written for requests
cannot silently run across tenants. Background work that is meant to span tenants (lease
expiry, webhook delivery) simply does not call it.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from sqlalchemy import ColumnElement, and_, false

from taskqueue.models import ApiKeyRole

__all__ = [
    "DEFAULT_TENANT",
    "ROLE_RIGHTS",
    "Right",
    "Role",
    "ScopedStore",
    "TenantScope",
    "UnscopedStoreError",
    "check_tenant_name",
]

DEFAULT_TENANT = "default"
"""The tenant keys made before tenants existed were moved into (as admins)."""

_TENANT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_tenant_name(name: str) -> str:
    """Return ``name`` when it is a valid tenant name (1-64 of ``A-Z a-z 0-9 - _ .``).

    Raises:
        ValueError: naming what is wrong.
    """
    if not 1 <= len(name) <= 64 or not set(name) <= _TENANT_CHARS:
        raise ValueError(
            f"tenant {name!r} must be 1-64 characters of letters, digits, '-', '_' or '.'"
        )
    return name


Role = ApiKeyRole
"""What a key may do within its tenant: the SDK's :class:`~taskqueue.models.ApiKeyRole`
(admin, producer, worker, reader), so server and clients name roles alike."""


class Right(StrEnum):
    """A kind of action a route performs; :data:`ROLE_RIGHTS` says which roles have it."""

    READ = "read"
    WRITE_TASKS = "write_tasks"
    MANAGE = "manage"
    WORK = "work"


ROLE_RIGHTS: dict[Role, frozenset[Right]] = {
    Role.ADMIN: frozenset(Right),
    Role.PRODUCER: frozenset({Right.READ, Right.WRITE_TASKS}),
    Role.WORKER: frozenset({Right.WORK}),
    Role.READER: frozenset({Right.READ}),
}
"""The rights of each role."""


class UnscopedStoreError(RuntimeError):
    """A request-serving query ran on a store that was not bound to a tenant scope."""


@dataclass(frozen=True)
class TenantScope:
    """Whose data a request may see.

    Attributes:
        tenant: The tenant's name.
        role: The key's role.
        projects: The projects the key is restricted to; None: every project of the tenant
            (and tasks without a project).
        key_id: The API key's id (``"anonymous"`` with auth disabled).
    """

    tenant: str
    role: Role = Role.ADMIN
    projects: frozenset[uuid.UUID] | None = None
    key_id: str = "anonymous"

    def where(self, model: Any) -> ColumnElement[bool]:
        """The condition restricting ``model``'s rows to this scope.

        ``model`` is a mapped class (or alias) with a ``tenant_id`` column; for tasks
        (``project_id``) and projects (``id``) a project restriction applies too.
        """
        condition: ColumnElement[bool] = model.tenant_id == self.tenant
        if self.projects is None:
            return condition
        column = model.project_id if hasattr(model, "project_id") else None
        if column is None and getattr(model, "__tablename__", None) == "projects":
            column = model.id
        if column is None:
            return condition
        allowed = column.in_(sorted(self.projects, key=str)) if self.projects else false()
        return and_(condition, allowed)

    def allows_project(self, project_id: uuid.UUID | None) -> bool:
        """Whether a row of ``project_id`` (None: no project) is within this scope."""
        return self.projects is None or (project_id is not None and project_id in self.projects)

    def owns(self, tenant_id: str, project_id: uuid.UUID | None = None) -> bool:
        """Whether a row with these values is visible in this scope (checks done in Python,
        e.g. on a row fetched by primary key)."""
        return tenant_id == self.tenant and self.allows_project(project_id)

    def may(self, right: Right) -> bool:
        """Whether the key's role has ``right``."""
        return right in ROLE_RIGHTS[self.role]


class ScopedStore:
    """What every store shares: binding to a tenant scope and the filter that comes from it.

    The runtime's stores are unscoped; :meth:`scoped` returns a shallow copy bound to a
    request's scope (cheap: engines and compiled statements are shared).
    """

    _scope: TenantScope | None = None

    def scoped(self, scope: TenantScope) -> Self:
        """This store bound to ``scope``: it sees and writes only that tenant's rows."""
        clone = copy.copy(self)
        clone._scope = scope
        return clone

    @property
    def scope(self) -> TenantScope:
        """The tenant scope this store serves.

        Raises:
            UnscopedStoreError: the store was not bound with :meth:`scoped`.
        """
        if self._scope is None:
            raise UnscopedStoreError(
                f"a request-serving query ran on an unscoped {type(self).__name__}; "
                "use store.scoped(scope)"
            )
        return self._scope

    def _tenant_where(self, model: Any) -> ColumnElement[bool]:
        """The tenant (and project) condition for ``model`` every request query carries."""
        return self.scope.where(model)
