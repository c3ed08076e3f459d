"""Builders for test data: tenants, API clients with tokens, stored orders, jobs.

Plain functions over the services (tenant_create, api_client_create, stored_order_upsert), not
model factories: data built here is validated and stored the way the API and the console store
it (full_clean, the encrypted Emporix secret, the hashed client secret, the number series).
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from integrations.local.demo import demo_sales_orders
from integrations.models import GatewayTransaction, NumberSeries
from integrations.services import credit_note_series_ensure, number_series_ensure
from invoicing.order_store import stored_order_upsert
from jobs.clients import ALL_SCOPES, api_client_create
from jobs.models import ApiClient
from tenants.models import Tenant
from tenants.services import tenant_create

DEMO_ORDERS = {order["id"]: order for order in demo_sales_orders()}
DEMO_LOGO_BYTES = (
    Path(__file__).resolve().parent.parent / "integrations" / "local" / "demo_logo.jpg"
).read_bytes()
CARD_ORDER = "DEMO-1001"  # card payment, 19 %, shipping
INVOICE_ORDER = "DEMO-1002"  # pay by invoice, 19 % + 7 %


def tenant_make(code: str = "acme", **fields: Any) -> Tenant:
    defaults = {
        "name": f"{code.title()} Shop",
        "legal_name": f"{code.title()} GmbH",
        "street": "Hauptstraße",
        "street_number": "1",
        "zip_code": "10115",
        "city": "Berlin",
        "country": "DE",
        "vat_id": "DE999999999",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "email_sender": f"billing@{code}.example",
        "time_zone": "Europe/Berlin",
    }
    tenant = tenant_create(code=code, **{**defaults, **fields})
    number_series_ensure(tenant=tenant, pre_text="INV", number_of_digits=4, start_value=1000)
    credit_note_series_ensure(tenant=tenant)  # CN + the invoice series' digits and start: CN1001
    return tenant


def invoice_series(tenant: Tenant) -> NumberSeries:
    """The tenant's invoice number series (it also has a credit-note series)."""
    return NumberSeries.objects.get(tenant=tenant, name="invoiceNoSequence")


def api_client_make(tenant: Tenant, scopes: str = " ".join(ALL_SCOPES)) -> tuple[ApiClient, str]:
    return api_client_create(tenant=tenant, scopes=scopes)


def token_make(api_client: ApiClient, *, scopes: str | None = None, expires_in: int = 3600) -> str:
    """An access token as the token endpoint would issue it (without the HTTP round trip)."""
    token = get_access_token_model().objects.create(
        application=api_client.application,
        token=f"test-{uuid.uuid4().hex}",
        expires=timezone.now() + dt.timedelta(seconds=expires_in),
        scope=scopes if scopes is not None else api_client.scopes,
    )
    return str(token.token)


def demo_order(order_id: str, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(DEMO_ORDERS[order_id])
    document.update(changes)
    return document


def orders_store(tenant: Tenant, *order_ids: str, rename: dict[str, str] | None = None) -> None:
    """Store demo orders for a tenant (optionally under other ids)."""
    for order_id in order_ids or tuple(DEMO_ORDERS):
        document = demo_order(order_id)
        new_id = (rename or {}).get(order_id, order_id)
        document["id"] = new_id
        for payment in document.get("payments", []):
            if payment.get("transactionId"):
                payment["transactionId"] = f"{tenant.code}-{new_id}-{payment['transactionId']}"
        stored_order_upsert(tenant=tenant, order_id=new_id, document=document)


def gateway_decline(tenant: Tenant, order_id: str, reason: str = "Card expired") -> None:
    GatewayTransaction.objects.filter(tenant=tenant, order_id=order_id).update(decline_reason=reason)
