"""Request limits enforced before any view runs (body size), and the checks every JSON body gets.

Body size: a body over `INVOICE_MAX_BODY_BYTES` is answered 413 before anything reads it, on
every path (the token endpoint too, which needs no authentication). The default, 10 MiB, holds
a MANUAL job of 1,000 order ids of 255 characters (about 0.3 MB) and an order of 5,000 lines
(about 2 KB a line as Emporix writes them) with room to spare. A chunked body (no
Content-Length) is read up to the limit here and handed on with its length, so it is bounded
the same way.

JSON checks (`json_problems`): nesting depth, NUL characters and unpaired surrogates (PostgreSQL
stores neither in text or jsonb), and numbers out of range (1e400 parses as infinity, which
jsonb cannot hold). The API's parser (`jobs.api.parsers`) and the order mapper both use them.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
# Deep enough for any salesOrder (its deepest values sit about 8 levels down); far below the
# recursion limit of the code that later walks, copies or serialises the document.
MAX_JSON_DEPTH = 64

_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_READ_CHUNK = 64 * 1024


def max_body_bytes() -> int:
    return int(getattr(settings, "INVOICE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def _too_large(limit: int, setting: str = "INVOICE_MAX_BODY_BYTES") -> HttpResponse:
    from core.http_errors import too_large_json  # imported late: the API modules need the app registry

    return too_large_json(limit, setting)


class RequestLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = max_body_bytes()
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                from core.http_errors import error_json

                return error_json(400, "Bad request.", "The Content-Length header is not a number.")
            if length > limit:
                return _too_large(limit)
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = self._read_chunked(request, limit)
            if body is None:
                return _too_large(limit)
            # Hand the body on with its length: Django reads exactly CONTENT_LENGTH bytes.
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[assignment]
        return self.get_response(request)

    @staticmethod
    def _read_chunked(request: HttpRequest, limit: int) -> bytes | None:
        """The whole body, or None as soon as it is longer than `limit`.

        The WSGI server (gunicorn) has already removed the chunk framing; `wsgi.input` ends
        with the body.
        """
        stream = request.META.get("wsgi.input")
        if stream is None:
            return b""
        parts: list[bytes] = []
        size = 0
        while True:
            part = stream.read(min(_READ_CHUNK, limit + 1 - size))
            if not part:
                return b"".join(parts)
            parts.append(part)
            size += len(part)
            if size > limit:
                return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE, form bodies such as POST /oauth/token)
        if isinstance(exception, RequestDataTooBig):
            return _too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "DATA_UPLOAD_MAX_MEMORY_SIZE")
        return None


def _path(parts: tuple[str | int, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def json_problems(value: Any, *, max_depth: int = MAX_JSON_DEPTH, limit: int = 20) -> list[dict[str, str]]:
    """What in a parsed JSON value cannot be stored or walked safely, as [{field, message}].

    Iterative, so a deep document cannot exhaust the stack here. Stops after `limit` problems.
    """
    problems: list[dict[str, str]] = []
    for path, message in _walk(value, max_depth):
        problems.append({"field": _path(path), "message": message})
        if len(problems) >= limit:
            break
    return problems


def _walk(value: Any, max_depth: int) -> Iterator[tuple[tuple[str | int, ...], str]]:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict | list) and len(path) >= max_depth:
            yield path, f"nested more than {max_depth} levels deep"
            continue
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and _BAD_CHARACTERS.search(key):
                    yield path, "has a key with a NUL character or an unpaired surrogate"
                stack.append((child, (*path, str(key))))
        elif isinstance(node, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(node))
        elif isinstance(node, str):
            if _BAD_CHARACTERS.search(node):
                yield path, "must not contain NUL characters or unpaired surrogates"
        elif isinstance(node, float) and not math.isfinite(node):
            yield path, "must be a finite number"
