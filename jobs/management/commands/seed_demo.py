from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.local.demo import demo_sales_orders
from integrations.services import (
    OrderAlreadyInvoiced,
    configuration_entry,
    configuration_set,
    stored_order_upsert,
)
from invoicing.tenants import number_series_ensure, tenant_update_or_create
from jobs.clients import ALL_SCOPES, api_client_ensure
from jobs.schedules import automatic_schedule_ensure, periodic_tasks_sync

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
    help = "Seed (or refresh) the demo tenant with seller details, logo, series, API client, admin and 20 orders."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            tenant, created = tenant_update_or_create(
                code="demo",
                defaults={
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
                },
            )
            if not tenant.logo and DEMO_LOGO.exists():
                tenant.logo.save("nordlicht-logo.jpg", ContentFile(DEMO_LOGO.read_bytes()), save=True)
            number_series_ensure(tenant=tenant, pre_text="INV", number_of_digits=4, start_value=1000)
            api_client_ensure(
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
        loaded = 0
        for document in demo_sales_orders():
            try:
                stored_order_upsert(tenant=tenant, order_id=document["id"], document=document)
                loaded += 1
            except OrderAlreadyInvoiced:
                pass
        verb = "created" if created else "refreshed"
        self.stdout.write(f"demo tenant {verb}: {loaded} demo orders loaded (DEMO-1001 … DEMO-1020)")
