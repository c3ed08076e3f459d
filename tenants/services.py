"""Tenant services: create or update a tenant."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tenants.models import Tenant


def tenant_create(*, code: str, name: str, emporix_client_secret: str = "", **fields: Any) -> Tenant:
    tenant = Tenant(code=code, name=name, **fields)
    if emporix_client_secret:
        tenant.set_emporix_client_secret(emporix_client_secret)
    tenant.full_clean()
    tenant.save()
    return tenant


def tenant_update_or_create(*, code: str, defaults: dict[str, Any]) -> tuple[Tenant, bool]:
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().filter(code=code).first()
        if tenant is None:
            return tenant_create(code=code, **defaults), True
        for key, value in defaults.items():
            setattr(tenant, key, value)
        tenant.full_clean()
        tenant.save()
        return tenant, False
