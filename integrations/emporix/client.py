"""HTTP access to the Emporix APIs for one tenant: tokens, timeouts, and what a fault means.

- Tokens (client credentials) are cached per tenant and client in the process until
  EMPORIX_TOKEN_MARGIN seconds before `expires_in`; a 401 fetches a new one once and retries.
- Every request has a connect and a read timeout. Timeouts, connection errors and 5xx raise
  TransientError (the pipeline retries with backoff); other 4xx raise PermanentError with the
  upstream message, unless the caller says it handles that status itself. Only the JSON
  `message` of an error body is quoted (shortened), never the raw body.
- Requests go through core.outbound: the base URL must be https, and non-public
  addresses (also after redirects, at most 3) are refused with a PermanentError.
- Each request is logged with its method, path, status, latency and request id; tokens,
  secrets and bodies never are.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from core.errors import PermanentError, TransientError
from core.outbound import OutboundError, base_url_problem, outbound_session
from tenants.models import Tenant

logger = logging.getLogger("integrations.emporix")

SERVICE_NAMES = {
    "oauth": "Emporix OAuth",
    "order-v2": "Emporix Order service",
    "sequential-id": "Emporix Sequential ID service",
    "site": "Emporix Site Settings service",
    "configuration": "Emporix Configuration service",
    "payment-gateway": "Emporix Payment Gateway",
    "customer-management": "Emporix Customer Management service",
    "customer": "Emporix Customer service",
    "currency": "Emporix Currency service",
}


class UpstreamError(PermanentError):
    """A 4xx answer the caller did not handle; `status` and the upstream message are kept."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Token:
    value: str
    expires_at: float
    scope: str


# Upstream text quoted in our messages is cut to this many characters.
MESSAGE_LIMIT = 200

_tokens: dict[str, _Token] = {}
_tokens_lock = threading.Lock()


def _service(path: str) -> str:
    return SERVICE_NAMES.get(path.strip("/").split("/", 1)[0], "Emporix")


def shorten_upstream_text(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """One line without control or format characters (no log or header injection), shortened."""
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def upstream_message(response: requests.Response) -> str:
    """The upstream's own JSON error message, cleaned and shortened; "" if it sent none.

    Only string fields of a JSON object are quoted (Emporix uses several shapes), never the raw
    body: an HTML error page or a stack trace from some proxy must not reach job messages.
    """
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    fault = body.get("fault")
    if isinstance(fault, dict) and isinstance(fault.get("faultstring"), str):
        return shorten_upstream_text(fault["faultstring"])
    message = next(
        (body[key] for key in ("message", "error_description", "error") if isinstance(body.get(key), str)), ""
    )
    details = body.get("details")
    detail_messages = [
        d["message"]
        for d in (details if isinstance(details, list) else [])
        if isinstance(d, dict) and isinstance(d.get("message"), str)
    ]
    return shorten_upstream_text("; ".join(part for part in [message, *detail_messages] if part.strip()))


def upstream_summary(response: requests.Response) -> str:
    """upstream_message, or a fixed text naming the status when there is no JSON message."""
    return upstream_message(response) or f"HTTP {response.status_code} without a JSON message"


def clear_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


class EmporixClient:
    def __init__(self, tenant: Tenant, *, session: requests.Session | None = None) -> None:
        self.tenant = tenant.code
        self.base_url = tenant.emporix_base_url.rstrip("/")
        self.client_id = tenant.emporix_client_id
        self._secret = tenant.decrypted_emporix_client_secret()
        self._cache_key = hashlib.sha256(
            f"{self.base_url}|{self.tenant}|{self.client_id}|{self._secret}".encode()
        ).hexdigest()
        self.session = session or outbound_session()
        self.timeout = (settings.EMPORIX_CONNECT_TIMEOUT, settings.EMPORIX_READ_TIMEOUT)

    def __repr__(self) -> str:  # never the secret
        return (
            f"EmporixClient(tenant={self.tenant!r}, base_url={self.base_url!r}, client_id={self.client_id!r})"
        )

    # --- tokens -----------------------------------------------------------------------------------
    def token(self, *, renew: bool = False) -> str:
        with _tokens_lock:
            cached = _tokens.get(self._cache_key)
            if cached and not renew and cached.expires_at > time.monotonic():
                return cached.value
        fresh = self._fetch_token()
        with _tokens_lock:
            _tokens[self._cache_key] = fresh
        return fresh.value

    def granted_scopes(self) -> set[str]:
        self.token()
        with _tokens_lock:
            cached = _tokens.get(self._cache_key)
        return set(cached.scope.split()) if cached else set()

    def _fetch_token(self) -> _Token:
        if not self.client_id or not self._secret:
            raise PermanentError(f"Tenant {self.tenant} has no Emporix client id or secret configured.")
        response = self._send(
            "POST",
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret,
            },
            authorize=False,
        )
        if response.status_code in (400, 401, 403):
            raise PermanentError(
                f"Emporix OAuth refused the client credentials of tenant {self.tenant} "
                f"({response.status_code}: {upstream_message(response) or 'no reason given'})."
            )
        self._raise_for_status(response, "/oauth/token", handled=())
        try:
            body = response.json()
            value = str(body["access_token"])
            expires_in = int(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientError("Emporix OAuth answered without a usable access token.") from exc
        # a token living less than the margin is used for this request only, never reused
        lifetime = max(0, expires_in - settings.EMPORIX_TOKEN_MARGIN)
        return _Token(value=value, expires_at=time.monotonic() + lifetime, scope=str(body.get("scope") or ""))

    # --- requests ---------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        handled: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send an authorised request; statuses in `handled` are returned for the caller to read."""
        response = self._send(method, path, params=params, json=json, authorize=True)
        if response.status_code == 401:
            # The token may have expired early or been revoked: one new token, one more try.
            self.token(renew=True)
            response = self._send(method, path, params=params, json=json, authorize=True)
            if response.status_code == 401:
                raise PermanentError(
                    f"{_service(path)} rejected a fresh access token of tenant {self.tenant}: "
                    f"{upstream_message(response) or 'unauthorized'}."
                )
        self._raise_for_status(response, path, handled=handled)
        return response

    def _send(self, method: str, path: str, *, authorize: bool, **kwargs: Any) -> requests.Response:
        request_id = uuid.uuid4().hex
        headers = {"Accept": "application/json", "X-Request-ID": request_id}
        if authorize:
            headers["Authorization"] = f"Bearer {self.token()}"
        # Checked again here, not only when the URL is saved: the rules may have tightened since.
        problem = base_url_problem(self.base_url)
        if problem:
            raise PermanentError(f"The Emporix base URL of tenant {self.tenant} {problem}; nothing was sent.")
        started = time.monotonic()
        try:
            response = self.session.request(
                method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs
            )
        except OutboundError as exc:
            self._log(method, path, "refused", started, request_id)
            raise PermanentError(f"{_service(path)} was not called: {exc}.") from exc
        except requests.TooManyRedirects as exc:
            self._log(method, path, "too many redirects", started, request_id)
            raise PermanentError(
                f"{_service(path)} redirected more than {self.session.max_redirects} times."
            ) from exc
        except requests.Timeout as exc:
            self._log(method, path, "timeout", started, request_id)
            raise TransientError(
                f"{_service(path)} did not answer within {self.timeout[1]:g} s ({method} {path})."
            ) from exc
        except requests.ConnectionError as exc:
            self._log(method, path, "connection error", started, request_id)
            raise TransientError(f"{_service(path)} could not be reached ({type(exc).__name__}).") from exc
        upstream_id = response.headers.get("X-Request-ID") or response.headers.get("X-Correlation-ID") or ""
        self._log(method, path, response.status_code, started, request_id, upstream_id)
        return response

    def _log(
        self, method: str, path: str, outcome: object, started: float, request_id: str, upstream_id: str = ""
    ) -> None:
        logger.info(
            "emporix %s %s -> %s in %.0f ms (tenant %s, request %s%s)",
            method,
            path,
            outcome,
            (time.monotonic() - started) * 1000,
            self.tenant,
            request_id,
            f", upstream {upstream_id}" if upstream_id else "",
        )

    def _raise_for_status(self, response: requests.Response, path: str, *, handled: tuple[int, ...]) -> None:
        status = response.status_code
        if status < 400 or status in handled:
            return
        message = upstream_summary(response)
        if status >= 500 or status == 429:
            raise TransientError(f"{_service(path)} answered {status}: {message}")
        raise UpstreamError(f"{_service(path)} answered {status}: {message}", status)
