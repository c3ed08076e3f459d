"""OAuth2 client credentials with django-oauth-toolkit, answering in the Emporix token shape.

Each client belongs to one tenant (jobs.ApiClient) and may only get the scopes it was created
with. Like Emporix, asking for a scope the client lacks does not fail: it is left out of the
granted set (only asking for nothing it has fails).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import TokenView

from jobs.api.errors import error_body, error_json
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
            return False
        api_client = _api_client(request.client)
        return api_client is not None and api_client.tenant.active

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
                .get(token=body["access_token"])
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
