from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from oauth2_provider.models import get_application_model

from integrations.local.demo import demo_sales_orders
from integrations.models import StoredOrder
from integrations.services import (
    configuration_entry,
    configuration_set,
    credit_note_series_ensure,
    number_series_ensure,
)
from invoicing.order_store import stored_order_upsert
from jobs.clients import ALL_SCOPES, api_client_create
from jobs.schedules import automatic_schedule_ensure, periodic_tasks_sync
from tenants.models import Tenant
from tenants.services import tenant_create

DEMO_TENANT = {
    "name": "Nordlicht Demo Shop",
    "legal_name": "Nordlicht Handels GmbH",
    "street": "Hafenstraße",
    "street_number": "12",
    "zip_code": "20457",
    "city": "Hamburg",
    "country": "DE",
    "vat_id": "DE123456789",
    "tax_number": "27/123/45678",
    "iban": "DE89370400440532013000",
    "bic": "COBADEFFXXX",
    "email_sender": "invoices@nordlicht.example",
    "phone": "+49 40 1234567",
    "website": "www.nordlicht.example",
    "default_language": "en",
    "default_currency": "EUR",
    "time_zone": "Europe/Berlin",
}
DEMO_LOGO = Path(__file__).resolve().parents[3] / "integrations" / "local" / "demo_logo.jpg"
# Shipped or confirmed orders with extended status 70/75/76, a day after delivery.
DEMO_INVOICE_SETTINGS = {"threshold": "24", "status": "CONFIRMED,SHIPPED", "extendedOrderStatus": "70,75,76"}
DEFAULTS = {
    "DEMO_CLIENT_ID": "demo-client",
    "DEMO_CLIENT_SECRET": "demo-secret",
    "DEMO_ADMIN_USER": "admin",
    "DEMO_ADMIN_PASSWORD": "admin",
}


def setting(name: str) -> str:
    return os.environ.get(name) or DEFAULTS[name]


class Command(BaseCommand):
    help = (
        "Seed the demo tenant with seller details, logo, invoice and credit note series, API client, "
        "admin and 20 orders. "
        "Creates what is missing and changes nothing that exists (every `make run` calls it)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            # Operators may have edited, revoked or re-keyed any of this since the first run:
            # nothing that exists is overwritten, so a revoked client stays revoked.
            tenant = Tenant.objects.filter(code="demo").first()
            created = tenant is None
            if tenant is None:
                tenant = tenant_create(code="demo", **DEMO_TENANT)
                if DEMO_LOGO.exists():
                    tenant.logo.save("nordlicht-logo.jpg", ContentFile(DEMO_LOGO.read_bytes()), save=True)
            number_series_ensure(tenant=tenant, pre_text="INV", number_of_digits=4, start_value=1000)
            # CN1001 onwards; a demo tenant seeded before credit notes existed gets it on the next run
            credit_note_series_ensure(tenant=tenant, pre_text="CN", number_of_digits=4, start_value=1000)
            if not get_application_model().objects.filter(client_id=setting("DEMO_CLIENT_ID")).exists():
                api_client_create(
                    tenant=tenant,
                    scopes=" ".join(ALL_SCOPES),
                    client_id=setting("DEMO_CLIENT_ID"),
                    client_secret=setting("DEMO_CLIENT_SECRET"),
                    name="demo API client",
                )
            User = get_user_model()
            admin = User.objects.filter(username=setting("DEMO_ADMIN_USER")).first()
            if admin is None:
                User.objects.create_superuser(setting("DEMO_ADMIN_USER"), "", setting("DEMO_ADMIN_PASSWORD"))
            if configuration_entry(tenant=tenant, key="invoiceSettings") is None:
                configuration_set(tenant=tenant, key="invoiceSettings", value=DEMO_INVOICE_SETTINGS)
            periodic_tasks_sync()
            if created:  # later runs leave the schedule as the operators set it
                automatic_schedule_ensure(tenant, enabled=True)
        present = set(StoredOrder.objects.filter(tenant=tenant).values_list("order_id", flat=True))
        added = 0
        for document in demo_sales_orders():
            if document["id"] not in present:  # an existing order may have been edited or invoiced
                stored_order_upsert(tenant=tenant, order_id=document["id"], document=document)
                added += 1
        state = "created" if created else "exists, left as it is"
        self.stdout.write(f"demo tenant {state}: {added} demo orders added (DEMO-1001 … DEMO-1020)")
