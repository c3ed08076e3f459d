"""API client services: an OAuth2 application (django-oauth-toolkit) bound to one tenant."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_application_model

from core.errors import DomainError
from invoicing import events
from jobs.api.hashers import client_secret_hash
from jobs.models import ApiClient
from tenants.models import Tenant

ALL_SCOPES = (settings.SCOPE_INVOICE_MANAGE, settings.SCOPE_INVOICE_READ, settings.SCOPE_ORDER_MANAGE)


class UnknownScope(DomainError, ValueError):
    """Scopes asked for that do not exist. The console and create_api_client show the message;
    no API view creates clients today, one that did would answer 400."""

    http_status = 400


def scopes_parse(scopes: str) -> list[str]:
    wanted = scopes.split()
    unknown = [s for s in wanted if s not in ALL_SCOPES]
    if unknown or not wanted:
        raise UnknownScope(
            f"Unknown scope(s): {', '.join(unknown) or '(none given)'}. Known: {', '.join(ALL_SCOPES)}."
        )
    return wanted


def api_client_create(
    *,
    tenant: Tenant,
    scopes: str,
    name: str = "",
    client_id: str | None = None,
    client_secret: str | None = None,
) -> tuple[ApiClient, str]:
    """Returns the client and its secret in clear text: the only moment it is known (stored hashed).

    A generated secret has 256 random bits: that is what makes the fast keyed hash it is stored
    with (jobs/api/hashers.py) sufficient. A given secret (seeding) should be as random.
    """
    scope_list = scopes_parse(scopes)
    secret = client_secret or secrets.token_urlsafe(32)
    Application = get_application_model()
    with transaction.atomic():
        application = Application(
            name=name or f"{tenant.code} API client",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            # hashed on save (hash_client_secret) with OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]
            client_secret=secret,
            hash_client_secret=True,
        )
        if client_id:
            application.client_id = client_id
        application.save()
        api_client = ApiClient.objects.create(
            application=application, tenant=tenant, scopes=" ".join(scope_list)
        )
    return api_client, secret


def api_client_ensure(
    *, tenant: Tenant, scopes: str, client_id: str, client_secret: str, name: str = ""
) -> ApiClient:
    """For seeding: a client with this id and secret exists afterwards (the secret is re-set)."""
    Application = get_application_model()
    application = Application.objects.filter(client_id=client_id).first()
    if application is None:
        client, _ = api_client_create(
            tenant=tenant, scopes=scopes, name=name, client_id=client_id, client_secret=client_secret
        )
        return client
    application.client_secret = client_secret
    application.save()
    client, _ = ApiClient.objects.update_or_create(
        application=application,
        defaults={"tenant": tenant, "scopes": " ".join(scopes_parse(scopes)), "revoked_at": None},
    )
    return client


def application_secret_rehash(*, stored: str, secret: str) -> None:
    """Replace a verified client secret's stored hash (legacy PBKDF2, or an old key) by the current one.

    The row is found by its stored hash, which is salted and so unique. The UPDATE writes the hash
    itself: saving the model would let django-oauth-toolkit hash it again. Should two requests
    race, both write a valid hash of the same secret.
    """
    get_application_model().objects.filter(client_secret=stored, hash_client_secret=True).update(
        client_secret=client_secret_hash(secret)
    )


def api_client_revoke(*, api_client: ApiClient, actor: str = "system") -> None:
    """Its tokens stop working at once; the audit trail keeps who had access, and who revoked it."""
    from oauth2_provider.models import get_access_token_model

    with transaction.atomic():
        api_client.revoked_at = timezone.now()
        api_client.save(update_fields=["revoked_at"])
        get_access_token_model().objects.filter(application=api_client.application).delete()
        events.api_client_revoked(
            tenant_id=api_client.tenant_id, client_id=api_client.application.client_id, actor=actor
        )
