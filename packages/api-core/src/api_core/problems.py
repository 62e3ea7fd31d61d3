"""RFC 9457 problem details for every error a ``create_app`` service returns."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match

from api_core.errors import InvalidFilterError, ProblemError
from platform_core.errors import DependencyUnavailableError
from platform_core.logging import get_logger

__all__ = [
    "PROBLEM_JSON",
    "UNAVAILABLE_RETRY_AFTER",
    "allowed_methods",
    "install_problem_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
UNAVAILABLE_RETRY_AFTER = 5
"""Seconds a ``503`` for an unreachable service asks the client to wait (``Retry-After``)."""
_log = get_logger(__name__)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    request: Request | None,
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """Build an ``application/problem+json`` response.

    Args:
        request: The request being answered; gives ``instance`` and the request id.
        status: The HTTP status code.
        title: Summary of the problem type; the status phrase by default.
        detail: This occurrence's explanation.
        type: URI of the problem type.
        headers: Extra response headers.
        **extensions: Extra members of the problem object.
    """
    body: dict[str, Any] = {"type": type, "title": title or _title(status), "status": status}
    if detail is not None:
        body["detail"] = detail
    out_headers = dict(headers or {})
    if request is not None:
        body["instance"] = request.url.path
        state = request.scope.get("state") or {}
        request_id = state.get("request_id")
        if request_id:
            body["request_id"] = request_id
            out_headers.setdefault(state.get("request_id_header", "X-Request-ID"), request_id)
    body.update(extensions)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=out_headers, media_type=PROBLEM_JSON
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app accepts on the request's path.

    Starlette answers 405 with the methods of the first route whose path matched; a path
    served by several routes (``GET`` and ``POST /items``) needs all of them in ``Allow``.
    Each method is tried against the app's routes with the routes' own matching.
    """
    router = getattr(request.app, "router", None)
    routes: list[BaseRoute] = list(getattr(router, "routes", []))
    allowed: list[str] = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    extra: dict[str, Any] = {} if isinstance(exc.detail, str) else {"errors": exc.detail}
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
            if detail in (None, "Method Not Allowed"):
                detail = f"{request.method} is not allowed here; use {', '.join(allowed)}"
    return problem_response(request, exc.status_code, detail=detail, headers=headers, **extra)


def _printable(value: Any) -> Any:
    # A location or message may echo the client's text; a lone surrogate in it (e.g. a bad
    # mapping key) cannot be encoded as UTF-8, so it is written as its escape instead.
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [_printable(part) for part in e.get("loc", ())],
            "msg": _printable(e.get("msg", "")),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    return problem_response(
        request,
        422,
        title="Request validation failed",
        detail="One or more request fields are invalid; see errors.",
        errors=errors,
    )


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        exc.status,
        title=exc.title,
        detail=exc.detail,
        type=exc.type,
        **exc.extensions,
    )


async def _invalid_filter(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidFilterError)
    return problem_response(
        request,
        400,
        title="Invalid filter",
        detail=str(exc),
        parameter=exc.parameter,
    )


def _request_fields(request: Request) -> dict[str, Any]:
    # The 500 handler runs outside the request-id middleware (Starlette's outermost layer),
    # where the logging context no longer holds the id; the scope does, for every handler.
    state = request.scope.get("state") or {}
    return {
        "request_id": state.get("request_id"),
        "method": request.method,
        "path": request.url.path,
    }


async def _unavailable(request: Request, exc: Exception) -> Response:
    # The message may name hosts and ports: it goes to the log, the client gets the service.
    service = getattr(exc, "service", "a dependency")
    fields = _request_fields(request)
    _log.warning("dependency unavailable", **fields, service=service, error=str(exc))
    return problem_response(
        request,
        503,
        detail=f"A service this request needs ({service}) cannot be reached; try again in "
        f"{UNAVAILABLE_RETRY_AFTER} s.",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        service=service,
    )


async def _unhandled(request: Request, exc: Exception) -> Response:
    fields = _request_fields(request)
    _log.error("unhandled error", **fields, error_type=type(exc).__name__, exc_info=exc)
    return problem_response(
        request,
        500,
        detail="The server failed to handle this request; quote the request_id when reporting.",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer HTTP errors, validation errors, filter errors, :class:`ProblemError`, an
    unreachable service (:class:`~platform_core.errors.DependencyUnavailableError`: ``503``
    with ``Retry-After``, naming the service but not its address) and unhandled exceptions
    with problem details (unhandled ones are logged with traceback and never leak their
    message)."""
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(InvalidFilterError, _invalid_filter)
    app.add_exception_handler(DependencyUnavailableError, _unavailable)
    app.add_exception_handler(Exception, _unhandled)
