"""Domain errors and the one handler that renders every error as RFC 9457 problem+json."""

import logging
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from registry.database import routing

logger = logging.getLogger("registry.http.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Stable problem types by status, for errors raised by the framework itself.
_HTTP_TYPES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    428: ("precondition-required", "Precondition required"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    503: ("service-unavailable", "Service unavailable"),
}


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


class RegistryError(Exception):
    """Base of the errors services raise; each maps to one HTTP status and problem type."""

    status_code = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}


class Unauthorized(RegistryError):
    status_code, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(RegistryError):
    status_code, slug, title = 403, "forbidden", "Forbidden"


class NotFound(RegistryError):
    status_code, slug, title = 404, "not-found", "Not found"


class Conflict(RegistryError):
    status_code, slug, title = 409, "conflict", "Conflict"


class KeyShownOnce(Conflict):
    slug, title = "key-shown-once", "The key was shown once"


class PreconditionFailed(RegistryError):
    status_code, slug, title = 412, "precondition-failed", "Precondition failed"


class InvalidInput(RegistryError):
    status_code, slug, title = 422, "invalid-input", "Invalid input"


class PreconditionRequired(RegistryError):
    status_code, slug, title = 428, "precondition-required", "Precondition required"


class TooManyRequests(RegistryError):
    status_code, slug, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(RegistryError):
    status_code, slug, title = 503, "service-unavailable", "Service unavailable"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                errors.append({k: str(v) for k, v in item.items() if k in ("key", "message", "source")})
    return errors


# SQLSTATE classes that mean "the database cannot serve this now", not "the request is wrong":
# 08 connection exceptions, 53 insufficient resources, 57 operator intervention (incl. 57014
# statement timeout), 40001/40P01 serialization failure and deadlock.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57", "40001", "40P01")


def _sqlstate(exc: DBAPIError) -> object:
    return getattr(exc.orig, "sqlstate", None) or getattr(
        getattr(exc.orig, "__cause__", None), "sqlstate", None
    )


REPLICA_FAILED = "registry_replica_failed"


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeoutError | OSError | TimeoutError | ConnectionError):
        return True
    if isinstance(
        exc, asyncpg.InterfaceError | asyncpg.PostgresConnectionError | asyncpg.InternalClientError
    ):
        return True  # the one-statement reads' pool, on a connection the server dropped
    if isinstance(exc, asyncpg.PostgresError) and str(getattr(exc, "sqlstate", "")).startswith(
        _UNAVAILABLE_SQLSTATES
    ):
        return True  # the same reads, refused for now (shutting down, too many connections)
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(
            getattr(exc.orig, "__cause__", None), "sqlstate", None
        )
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        return isinstance(getattr(exc.orig, "__cause__", None), OSError | TimeoutError)
    return False


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Render any exception as problem+json; internals never reach the client."""
    if routing.current() is not None and (isinstance(exc, routing.NotReplayed) or database_unavailable(exc)):
        # Read from a replica that went away or lags: the read routing drops this answer and has
        # the primary answer instead.
        request.scope[REPLICA_FAILED] = exc  # type: ignore[literal-required]
        return problem_response(
            503, "service-unavailable", "Service unavailable", "A read replica could not answer; retry."
        )
    if isinstance(exc, RegistryError):
        return problem_response(
            exc.status_code, exc.slug, exc.title, exc.detail, extra=exc.extra, headers=exc.headers
        )
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc)
        detail = "; ".join(
            f"{e.get('key') or e.get('source', 'body')}: {e.get('message', '')}" for e in errors
        ) or str(exc.detail)
        status = 400 if "malformed" in detail.lower() else 422
        slug, title = _HTTP_TYPES[status]
        return problem_response(status, slug, title, detail, extra={"errors": errors})
    if isinstance(exc, NotAuthorizedException):
        return problem_response(
            401,
            "unauthorized",
            "Authentication required",
            str(exc.detail),
            headers={"WWW-Authenticate": "Bearer"},
        )
    if isinstance(exc, HTTPException):
        status = exc.status_code
        slug, title = _HTTP_TYPES.get(status, ("http-error", "HTTP error"))
        headers = dict(exc.headers or {})
        return problem_response(status, slug, title, str(exc.detail), headers=headers)
    if database_unavailable(exc):
        logger.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "service-unavailable",
            "Service unavailable",
            "The database is unavailable or busy; retry shortly.",
            headers={"Retry-After": "2"},
        )
    if isinstance(exc, DBAPIError) and str(_sqlstate(exc) or "").startswith("22"):
        # A data exception (a NUL character, a number out of range...): the input, not us.
        return problem_response(
            422,
            "invalid-input",
            "Invalid input",
            "A value was not acceptable to the database (for example a NUL character in text, "
            "or a number out of range).",
        )
    logger.exception("unhandled error on %s %s", request.method, request.scope.get("path_template"))
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal-error",
        "Internal server error",
        "An unexpected error occurred; it has been logged.",
    )
