"""Errors raised by api-core.

Hierarchy::

    PlatformError (platform_core)
    └── ApiCoreError                    root of every error api-core raises on purpose
        ├── SpecificationError          a specification is malformed (operator, value, type)
        │   └── UnknownFieldError       a specification names a field the model does not have
        ├── InvalidFilterError          a ``?field=op:value`` query parameter is malformed (400)
        ├── ProblemError                an HTTP error rendered as RFC 9457 problem details
        ├── EntityNotFoundError         a repository has no entity with that id
        ├── HandlerNotFoundError        no CQRS handler is registered for a message type
        ├── HandlerRegistrationError    a CQRS handler's signature does not fit its message
        ├── SignInRequiredError         a web page needs a signed-in session (303 to sign-in)
        └── CsrfError                   an unsafe web request lacks its session's CSRF token (403)

Configuration problems raise :class:`platform_core.errors.ConfigurationError`; unreachable
services raise :class:`platform_core.errors.DependencyUnavailableError`.
"""

from __future__ import annotations

from typing import Any

from platform_core.errors import PlatformError

__all__ = [
    "ApiCoreError",
    "CsrfError",
    "EntityNotFoundError",
    "HandlerNotFoundError",
    "HandlerRegistrationError",
    "InvalidFilterError",
    "ProblemError",
    "SignInRequiredError",
    "SpecificationError",
    "UnknownFieldError",
]


class ApiCoreError(PlatformError):
    """Root of every error api-core raises deliberately."""


class SpecificationError(ApiCoreError, ValueError):
    """A specification cannot be built or evaluated as written."""


class UnknownFieldError(SpecificationError):
    """A specification refers to a field that the model or object does not have.

    Args:
        field: The field name the specification used.
        model: The name of the model or object type that lacks it.
    """

    def __init__(self, field: str, model: str) -> None:
        super().__init__(f"unknown field {field!r} on {model}; use one of the model's column names")
        self.field = field
        self.model = model


class InvalidFilterError(ApiCoreError):
    """A filter query parameter could not be turned into a specification.

    Args:
        parameter: The query parameter at fault.
        message: What was wrong and what is accepted.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"invalid filter {parameter!r}: {message}")
        self.parameter = parameter
        self.reason = message


class ProblemError(ApiCoreError):
    """An error a route raises to answer with RFC 9457 problem details.

    Args:
        status: The HTTP status code.
        title: A short, human-readable summary of the problem type.
        detail: What went wrong in this occurrence and what the client can do.
        type: A URI identifying the problem type; ``about:blank`` by default.
        extensions: Extra members added to the problem object.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type: str = "about:blank",
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.extensions = dict(extensions or {})


class EntityNotFoundError(ApiCoreError):
    """No entity with the given id exists.

    Args:
        entity: The entity name.
        entity_id: The id that was looked up.
    """

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(f"{entity} {entity_id!r} not found; check the id")
        self.entity = entity
        self.entity_id = entity_id


class HandlerNotFoundError(ApiCoreError):
    """No handler is registered for a command or query type.

    Args:
        message_type: The type that was dispatched.
        bus: ``"command"`` or ``"query"``.
    """

    def __init__(self, message_type: type[Any], bus: str) -> None:
        super().__init__(
            f"no {bus} handler registered for {message_type.__qualname__}; "
            f"call {bus.capitalize()}Bus.register({message_type.__qualname__}, handler) first"
        )
        self.message_type = message_type


class HandlerRegistrationError(ApiCoreError):
    """A handler cannot be registered for a message type (wrong signature or duplicate)."""


class SignInRequiredError(ApiCoreError):
    """A web page was asked for without a valid session; answered with a redirect to sign-in.

    Attributes:
        next_path: The page to return to after signing in.
    """

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in to see this page")
        self.next_path = next_path


class CsrfError(ApiCoreError):
    """An unsafe web request (POST, PUT, PATCH, DELETE) carried no CSRF token or a wrong one;
    answered with 403 and a page saying so."""
