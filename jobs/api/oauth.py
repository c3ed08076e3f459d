"""OAuth2 client credentials with django-oauth-toolkit, answering in the Emporix token shape.

Each client belongs to one tenant (jobs.ApiClient) and may only get the scopes it was created
with. Like Emporix, asking for a scope the client lacks does not fail: it is left out of the
granted set (only asking for nothing it has fails).

The endpoint is cheap and tells nothing: a client secret is checked with a keyed fast hash
(jobs/api/hashers.py), an unknown client id costs the same check, and failed attempts are
throttled per client id and per address (jobs/api/throttling.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any
from urllib.parse import unquote_plus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import TokenView

from core.client_ip import client_ip
from core.http_errors import error_body, error_json
from jobs.api.hashers import client_secret_check, client_secret_dummy_check
from jobs.api.throttling import token_failure_record, token_throttle_state
from jobs.clients import application_secret_rehash
from jobs.models import ApiClient


def _api_client(client: Any) -> ApiClient | None:
    try:
        api_client = client.api_client
    except ApiClient.DoesNotExist:
        return None
    return None if api_client.revoked_at else api_client


class TenantOAuth2Validator(OAuth2Validator):
    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if not super().authenticate_client(request, *args, **kwargs):
            if request.client is None:
                # No application was found, so no secret was compared: compare one anyway, or an
                # unknown client id would answer measurably faster than a wrong secret.
                client_secret_dummy_check(secret=str(getattr(request, "client_secret", "") or ""))
            return False
        api_client = _api_client(request.client)
        return api_client is not None and api_client.tenant.active

    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        verdict = client_secret_check(secret=provided_secret, stored=stored_secret)
        if verdict.rehash:
            # A PBKDF2 hash (the previous default) or one made with a rotated-out key: the secret
            # is known now, so store the current fast hash in its place.
            application_secret_rehash(stored=stored_secret, secret=provided_secret)
        return verdict.ok

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> list[str]:
        api_client = _api_client(request.client)
        return sorted(api_client.scope_set) if api_client else []

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        api_client = _api_client(client)
        if api_client is None:
            return False
        # oauthlib issues the token with this very list: narrowing it in place grants only
        # the scopes the client has (the tenant marker is added to the answer, not granted).
        granted = [scope for scope in scopes if scope in api_client.scope_set]
        scopes[:] = granted
        return bool(granted)


_OAUTH_ERROR_MESSAGES = {
    "invalid_client": "Client authentication failed: unknown client, wrong secret or revoked client.",
    "invalid_grant": "Invalid grant.",
    "unsupported_grant_type": "Unsupported grant_type: use client_credentials.",
    "invalid_scope": "None of the requested scopes is allowed for this client.",
    "invalid_request": "Invalid token request.",
    "unauthorized_client": "This client may not use this grant type.",
}


@method_decorator(csrf_exempt, name="dispatch")
class EmporixTokenView(TokenView):
    """POST /oauth/token: DOT issues the token; the answer gets the Emporix shape."""

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        answer = error_json(405, f"Method {request.method} is not allowed here.", "Use POST.")
        answer["Allow"] = "POST, OPTIONS"
        return answer

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client_ids, address = _client_ids_of(request), client_ip(request)
        throttled = token_throttle_state(client_ids=client_ids, address=address)
        if throttled is not None:
            refusal = error_json(
                429,
                "Too many failed token requests.",
                f"Too many failed attempts for this {throttled.what}; "
                f"try again in {throttled.retry_after} seconds.",
            )
            refusal["Retry-After"] = str(throttled.retry_after)  # RFC 9110 §10.2.3: delay-seconds
            return refusal
        if any("\x00" in client_id for client_id in client_ids):
            # No client id holds a NUL, and PostgreSQL cannot even compare one: refuse unlooked-up.
            answer: HttpResponse = _invalid_client_answer()
        else:
            answer = self._token_answer(request, *args, **kwargs)
        if answer.status_code == 401:
            token_failure_record(client_ids=client_ids, address=address)
        return answer

    def _token_answer(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        grant_type = request.POST.get("grant_type", "")
        if grant_type != "client_credentials":
            # Only client credentials are offered; without this, oauthlib would answer for its other
            # grant types with their own messages ("missing username"), as if they were supported.
            detail = (
                f"grant_type {grant_type!r} is not supported."
                if request.content_type == "application/x-www-form-urlencoded"
                else "Send the token request form-encoded (application/x-www-form-urlencoded)."
            )
            return JsonResponse(
                error_body(
                    400,
                    _OAUTH_ERROR_MESSAGES["unsupported_grant_type"],
                    detail,
                    error="unsupported_grant_type",
                ),
                status=400,
            )
        response = super().post(request, *args, **kwargs)
        try:
            body = json.loads(response.content or b"{}")
        except ValueError:
            body = {}
        if response.status_code == 200 and "access_token" in body:
            from oauth2_provider.models import get_access_token_model

            token = (
                get_access_token_model()
                .objects.select_related("application__api_client__tenant")
                # looked up by checksum: the token itself is not stored (RFC 9700 token storage)
                .get(token_checksum=hashlib.sha256(body["access_token"].encode()).hexdigest())
            )
            tenant = token.application.api_client.tenant.code
            body.update(
                {
                    "token_type": "Bearer",
                    "scope": f"{body.get('scope', '')} tenant={tenant}".strip(),
                    "refresh_token": "",
                    "refresh_token_expires_in": 0,
                }
            )
            return JsonResponse(body, status=200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
        error = str(body.get("error", "invalid_request"))
        message = _OAUTH_ERROR_MESSAGES.get(error, "Token request failed.")
        status_code = response.status_code if response.status_code >= 400 else 400
        answer = JsonResponse(
            error_body(status_code, message, str(body.get("error_description", "")), error=error),
            status=status_code,
        )
        if "WWW-Authenticate" in response:
            answer["WWW-Authenticate"] = response["WWW-Authenticate"]
        return answer


def _invalid_client_answer() -> JsonResponse:
    return JsonResponse(
        error_body(401, _OAUTH_ERROR_MESSAGES["invalid_client"], "", error="invalid_client"), status=401
    )


def _client_ids_of(request: HttpRequest) -> list[str]:
    """The client ids a token request names: in HTTP Basic credentials and in the form.

    The validator tries Basic first and then the form (RFC 6749 §2.3.1), so an attempt counts
    against both. Both parts of the Basic credentials are form-urlencoded (same section).
    """
    ids = []
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials.strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if ":" in decoded:
            ids.append(unquote_plus(decoded.split(":", 1)[0]))
    ids.append(str(request.POST.get("client_id", "")))
    return [client_id for client_id in dict.fromkeys(ids) if client_id]
