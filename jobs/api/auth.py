"""Bearer-token authentication and the tenant/scope checks of every API view.

Order of the checks, and why:

1. A token must come in the `Authorization: Bearer` header (RFC 6750 §2.1). One in the query
   (`?access_token=`, RFC 6750 §2.3) is refused with 401, even next to a valid header: URLs end
   up in access logs, proxies and browser histories (RFC 9700 §4.3.2).
2. No valid token: 401, whatever the path says.
3. The path's tenant must be the token's own. Any other code (another tenant, an unknown or
   malformed one) is the same 403 with no database lookup, so the answer cannot tell which
   tenant codes exist. Only the token's own tenant can then answer 404 (an unknown job).
4. The token must hold one of the scopes the view declares for the method. HEAD needs GET's
   scopes (it answers GET's headers: size and file name), any other method without own scopes
   (OPTIONS, and the ones the view answers 405) needs one of the view's scopes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.http_errors import ApiError
from jobs.models import ApiClient
from tenants.models import TENANT_CODE_PATTERN, Tenant

TENANT_RE = re.compile(TENANT_CODE_PATTERN)


@dataclass(frozen=True)
class ApiClientPrincipal:
    """request.user for a client-credentials token (which has no Django user)."""

    api_client: ApiClient
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def tenant(self) -> Tenant:
        return self.api_client.tenant

    def __str__(self) -> str:
        return f"api-client:{self.api_client.application.client_id}"


class TenantTokenAuthentication(OAuth2Authentication):
    def authenticate(self, request: Request) -> tuple[ApiClientPrincipal, Any] | None:
        if "access_token" in request.query_params:
            raise exceptions.AuthenticationFailed(
                "Access tokens are accepted only in the Authorization header (Authorization: Bearer …), "
                "never in the URL."
            )
        result = super().authenticate(request)
        if result is None:
            if request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer "):
                raise exceptions.AuthenticationFailed("The access token is invalid or expired.")
            return None
        _user, token = result
        try:
            api_client = ApiClient.objects.select_related("tenant", "application").get(
                application_id=token.application_id
            )
        except ApiClient.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed("The access token belongs to no API client.") from exc
        if api_client.revoked_at is not None:
            raise exceptions.AuthenticationFailed("The API client of this token has been revoked.")
        return ApiClientPrincipal(api_client), token


_TENANT_FORMAT = (
    "A tenant is 3 to 16 characters, lowercase letters and digits, starting with a letter (^[a-z][a-z0-9]+$)."
)


def tenant_code_valid(code: str) -> bool:
    return 3 <= len(code) <= 16 and TENANT_RE.match(code) is not None


def scopes_for_method(required_scopes: dict[str, set[str]], method: str) -> set[str]:
    """The scopes of which a token needs one for `method` on a view (see the module docstring)."""
    if method in required_scopes:
        return required_scopes[method]
    if method == "HEAD":
        return required_scopes.get("GET", set()) or _any_scope(required_scopes)
    return _any_scope(required_scopes)


def _any_scope(required_scopes: dict[str, set[str]]) -> set[str]:
    return set().union(*required_scopes.values())


class TenantScopePermission(BasePermission):
    """The path's tenant must be the token's (and active); the token must hold a scope of the view.

    Views declare `required_scopes = {"GET": {...}, "POST": {...}}`: any one scope suffices.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, ApiClientPrincipal):
            raise exceptions.NotAuthenticated()
        code = str(view.kwargs.get("tenant", ""))
        tenant = principal.tenant
        if code != tenant.code:
            shown = code if len(code) <= 40 else code[:40] + "…"
            raise ApiError(
                403,
                f"The access token is not valid for tenant '{shown}'.",
                "" if tenant_code_valid(code) else _TENANT_FORMAT,
            )
        if not tenant.active:
            raise ApiError(403, f"Tenant '{code}' is deactivated.")
        needed = scopes_for_method(view.required_scopes, request.method or "")
        granted = set((getattr(request.auth, "scope", "") or "").split())
        if needed and not (needed & granted):
            raise ApiError(
                403,
                "The access token does not have the required scope.",
                f"Needs one of: {', '.join(sorted(needed))}.",
            )
        request.tenant = tenant  # type: ignore[attr-defined]
        return True
