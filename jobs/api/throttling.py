"""Throttling of failed `POST /oauth/token` attempts, per client id and per address.

A failure is an answer 401 (unknown client, wrong secret, revoked client). After
`TOKEN_FAILURE_LIMIT_PER_CLIENT` failures for one client id, or `TOKEN_FAILURE_LIMIT_PER_ADDRESS`
from one address, within `TOKEN_FAILURE_WINDOW` seconds, every token request for that client id
or from that address is answered 429 with `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3) until the
window that counted them ends. Successful requests are not counted.

The counts live in the database (jobs.TokenFailureCounter): the web server runs several worker
processes, and a per-process cache would multiply the limits by their number.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from jobs.models import TokenFailureCounter

_CLIENT_ID_CHARS = 100  # longer ids exist nowhere (the column's length); the key fits its column
_ADDRESS_CHARS = 50  # an IPv6 address with zone fits


def _printable(value: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL, and these values come from the request as sent.
    return value.replace("\x00", "\N{REPLACEMENT CHARACTER}")[:limit]


@dataclass(frozen=True)
class TokenThrottled:
    what: str  # "client id" or "address"
    retry_after: int  # whole seconds


def _keys(*, client_ids: Sequence[str], address: str) -> dict[str, tuple[str, int]]:
    """key -> (what it counts, its limit)."""
    keys = {}
    for client_id in client_ids:
        if client_id:
            key = f"client:{_printable(client_id, _CLIENT_ID_CHARS)}"
            keys[key] = ("client id", settings.TOKEN_FAILURE_LIMIT_PER_CLIENT)
    if address:
        keys[f"address:{_printable(address, _ADDRESS_CHARS)}"] = (
            "address",
            settings.TOKEN_FAILURE_LIMIT_PER_ADDRESS,
        )
    return keys


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.TOKEN_FAILURE_WINDOW)


def token_throttle_state(*, client_ids: Sequence[str], address: str) -> TokenThrottled | None:
    """Whether a token request naming these client ids, from this address, must be refused now.

    A request can name two client ids (HTTP Basic and the form); the server tries both, so both count.
    """
    keys = _keys(client_ids=client_ids, address=address)
    if not keys:
        return None
    now = timezone.now()
    throttled = None
    rows = TokenFailureCounter.objects.filter(key__in=keys, window_started_at__gt=now - _window())
    for row in rows:
        what, limit = keys[row.key]
        if row.failures >= limit:
            seconds = max(1, math.ceil((row.window_started_at + _window() - now).total_seconds()))
            if throttled is None or seconds > throttled.retry_after:
                throttled = TokenThrottled(what=what, retry_after=seconds)
    return throttled


def token_failure_record(*, client_ids: Sequence[str], address: str) -> None:
    """Count one failed token request for each client id it named and for the address."""
    now = timezone.now()
    expired = now - _window()
    counters = TokenFailureCounter.objects
    for key in _keys(client_ids=client_ids, address=address):
        # One UPDATE per key: concurrent failures in other processes are all counted (the row
        # lock serialises them); an expired window starts again at 1.
        def count(key: str = key) -> int:
            return counters.filter(key=key).update(
                failures=Case(When(window_started_at__lte=expired, then=Value(1)), default=F("failures") + 1),
                window_started_at=Case(
                    When(window_started_at__lte=expired, then=Value(now)), default=F("window_started_at")
                ),
            )

        if count():
            continue
        try:
            with transaction.atomic():
                counters.create(key=key, failures=1, window_started_at=now)
        except IntegrityError:  # another process created it in between
            count()
    # Rows of ended windows count nothing any more; failures are rare, so clean up here.
    counters.filter(window_started_at__lte=expired).delete()
