"""Tenant services: create or update a tenant and its invoice number series."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from integrations.models import NumberSeries
from invoicing.models import Tenant


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


def number_series_ensure(
    *,
    tenant: Tenant,
    pre_text: str = "INV",
    post_text: str = "",
    number_of_digits: int = 4,
    start_value: int = 1000,
    max_value: int = 999999999,
    name: str = "invoiceNoSequence",
) -> NumberSeries:
    """Create the series if missing. An existing series is left alone: its counter must not move."""
    series, _ = NumberSeries.objects.get_or_create(
        tenant=tenant,
        name=name,
        defaults={
            "pre_text": pre_text,
            "post_text": post_text,
            "number_of_digits": number_of_digits,
            "start_value": start_value,
            "max_value": max_value,
        },
    )
    series.full_clean()
    return series
