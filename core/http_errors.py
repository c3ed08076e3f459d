"""Every 4xx/5xx answer of the service is an ErrorResponse {message, code, detailInfo}.

`code` is the HTTP status as a string, as in the contract. A `DomainError` (core.errors) that
reaches an API view is answered by `exception_handler` with its own status, message and field
errors; views raise and never catch. Unhandled errors become a 500 with no stack trace in the
body (it goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status

from core.errors import DomainError, IntegrationError

logger = logging.getLogger(__name__)

# What a view could not do when a dependency failed (a view says its own: `upstream_failure`).
UPSTREAM_FAILURE = "The request could not be completed"


class ApiError(DomainError):
    """What a view (or the API's parser or permission) answers about the request itself."""

    def __init__(
        self,
        status_code: int,
        message: str,
        detail_info: str = "",
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message, detail_info=detail_info, errors=errors)
        self.http_status = status_code


def error_body(status_code: int, message: str, detail_info: str = "", **extra: Any) -> dict[str, Any]:
    return {"message": message, "code": str(status_code), "detailInfo": detail_info, **extra}


def error_json(status_code: int, message: str, detail_info: str = "", **extra: Any) -> JsonResponse:
    return JsonResponse(error_body(status_code, message, detail_info, **extra), status=status_code)


def field_errors_text(errors: Iterable[Mapping[str, str]], *, blank: str = "") -> str:
    """Field errors on one line, for detailInfo: "entries[1].amount: must be a number; ...".

    `blank` names the field of an error about the whole document (field "").
    """
    return "; ".join(f"{error['field'] or blank}: {error['message']}" for error in errors)


def domain_error_body(exc: DomainError, *, upstream_failure: str = UPSTREAM_FAILURE) -> dict[str, Any]:
    """The ErrorResponse of a DomainError (see its docstring for which part goes where)."""
    code = exc.http_status
    if isinstance(exc, IntegrationError) and code >= 500:
        # A dependency failed (Transient 503, Permanent 502): the answer says what could not be
        # done, the dependency's own words are the detail.
        message = f"{upstream_failure}; try again later." if code == 503 else f"{upstream_failure}."
        return error_body(code, message, exc.message)
    extra = {"errors": exc.errors} if exc.errors else {}
    detail = exc.detail_info or field_errors_text(exc.errors)
    return error_body(code, exc.http_message or exc.message, detail, **extra)


def too_large_json(limit: int, setting: str = "INVOICE_MAX_BODY_BYTES") -> JsonResponse:
    """413 for a body over a size limit (RFC 9110, 15.5.14 Content Too Large)."""
    return error_json(
        413, "The request body is too large.", f"At most {limit} bytes are accepted ({setting})."
    )


_DEFAULT_MESSAGES = {
    status.HTTP_401_UNAUTHORIZED: "Authentication required: send a valid bearer token from POST /oauth/token.",
    status.HTTP_403_FORBIDDEN: "Forbidden.",
    status.HTTP_404_NOT_FOUND: "Not found.",
    status.HTTP_405_METHOD_NOT_ALLOWED: "Method not allowed.",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "Unsupported media type: send application/json.",
}


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            out.extend(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list):
        out = []
        for value in detail:
            out.extend(_flatten(value, prefix))
        return out
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's EXCEPTION_HANDLER: the one place where an error of any API view becomes its answer."""
    # Imported here: the authentication classes import this module while DRF's views module is
    # still initialising (DEFAULT_AUTHENTICATION_CLASSES), so a top-level import would be circular.
    from rest_framework.response import Response
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DomainError):
        upstream_failure = getattr(context.get("view"), "upstream_failure", UPSTREAM_FAILURE)
        return Response(domain_error_body(exc, upstream_failure=upstream_failure), status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, read lazily
        from django.conf import settings

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        detail = f"At most {limit} bytes are accepted (DATA_UPLOAD_MAX_MEMORY_SIZE)."
        return Response(error_body(413, "The request body is too large.", detail), status=413)
    response = drf_exception_handler(exc, context)
    if response is None:
        request = context.get("request")
        logger.exception("unhandled error in %s", getattr(request, "path", "?"), exc_info=exc)
        return Response(
            error_body(500, "Internal server error.", "The error was logged; no details are given here."),
            status=500,
        )
    code = response.status_code
    if isinstance(exc, exceptions.ParseError):
        message, detail = "Malformed JSON in the request body.", str(exc.detail)
    elif isinstance(exc, exceptions.MethodNotAllowed):
        message, detail = f"Method {context['request'].method} is not allowed here.", ""
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        message, detail = _DEFAULT_MESSAGES[415], str(exc.detail)
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        message, detail = _DEFAULT_MESSAGES[401], str(exc.detail)
    else:
        parts = _flatten(exc.detail) if isinstance(exc, exceptions.APIException) else [str(exc)]
        message, detail = (parts[0] if parts else _DEFAULT_MESSAGES.get(code, "Error.")), "; ".join(parts[1:])
    response.data = error_body(code, message, detail)
    return response


# Django-level handlers, for what never reaches a DRF view (unknown paths, crashes in middleware).
def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_json(404, f"No such resource: {request.path}")


def handler500(request: HttpRequest) -> JsonResponse:
    return error_json(500, "Internal server error.", "The error was logged; no details are given here.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_json(403, "Forbidden.")


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_json(400, "Bad request.")


def require_GET(view: Callable[..., Any]) -> Callable[..., Any]:
    """Like django.views.decorators.http.require_GET (HEAD too), answering 405 as an ErrorResponse."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method not in ("GET", "HEAD"):
            answer = error_json(405, f"Method {request.method} is not allowed here.", "Use GET.")
            answer["Allow"] = "GET, HEAD"
            return answer
        return view(request, *args, **kwargs)

    return wrapper
