"""Bearer-token authentication and the tenant/scope checks of every API view."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from invoicing.models import TENANT_CODE_PATTERN, Tenant
from jobs.api.errors import ApiError
from jobs.models import ApiClient

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


def tenant_code_check(code: str) -> None:
    if not (3 <= len(code) <= 16 and TENANT_RE.match(code)):
        raise ApiError(
            400,
            f"Invalid tenant '{code}'.",
            "A tenant is 3 to 16 characters, lowercase letters and digits, starting with a letter (^[a-z][a-z0-9]+$).",
        )


class TenantScopePermission(BasePermission):
    """The path's tenant must exist and be the token's; the token must hold a scope of the view.

    Views declare `required_scopes = {"GET": {...}, "POST": {...}}`: any one scope suffices.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, ApiClientPrincipal):
            raise exceptions.NotAuthenticated()
        code = view.kwargs.get("tenant", "")
        tenant = Tenant.objects.filter(code=code, active=True).first()
        if tenant is None:
            raise ApiError(404, f"Tenant '{code}' not found.")
        if principal.tenant.pk != tenant.pk:
            raise ApiError(403, f"The access token is not valid for tenant '{code}'.")
        needed: set[str] = view.required_scopes.get(request.method, set())
        granted = set((getattr(request.auth, "scope", "") or "").split())
        if needed and not (needed & granted):
            raise ApiError(
                403,
                "The access token does not have the required scope.",
                f"Needs one of: {', '.join(sorted(needed))}.",
            )
        request.tenant = tenant  # type: ignore[attr-defined]
        return True
