"""The health check: can this deployment reach its database and its broker?"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse

from core.http_errors import require_GET


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
