"""Signed, expiring PDF downloads (the API's downloadLink) and the health check."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponseBase, JsonResponse

from jobs.api.errors import error_json
from jobs.selectors import LinkExpired, LinkInvalid, invoice_from_download_token


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


@require_GET
def invoice_download(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        invoice = invoice_from_download_token(token)
    except LinkExpired:
        return error_json(410, "This download link has expired.", "Poll the job again for a fresh link.")
    except LinkInvalid:
        return error_json(403, "This download link is not valid.")
    return FileResponse(
        invoice.pdf.open("rb"),
        as_attachment=True,
        filename=f"invoice-{invoice.number}.pdf",
        content_type="application/pdf",
    )


def _database_state() -> dict[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}


def _broker_state() -> dict[str, str]:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = (
                conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type
            )
        return {"status": "ok", "transport": str(transport)}
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    database, broker = _database_state(), _broker_state()
    healthy = database["status"] == "ok" and broker["status"] == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "down", "database": database, "broker": broker},
        status=200 if healthy else 503,
    )
