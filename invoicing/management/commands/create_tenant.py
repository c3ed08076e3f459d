from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from integrations.models import NumberSeries
from integrations.services import credit_note_series_ensure, number_series_ensure
from tenants.models import Tenant
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (local backend) with an invoice and a credit note number series."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="tenant code: 3-16 lowercase letters/digits, starting with a letter")
        parser.add_argument("--name", required=True)
        parser.add_argument("--legal-name", default="")
        parser.add_argument("--vat-id", default="")
        parser.add_argument("--email-sender", default="")
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--series-prefix", default="INV", help="preText of the invoice number series")
        parser.add_argument("--series-digits", type=int, default=4)
        parser.add_argument("--series-start", type=int, default=1000, help="the first number is start + 1")
        parser.add_argument(
            "--credit-note-prefix",
            default="CN",
            help="preText of the credit note number series (digits and start as the invoice series')",
        )
        parser.add_argument(
            "--backend", choices=[b.value for b in Tenant.Backend], default=Tenant.Backend.LOCAL
        )
        parser.add_argument(
            "--emporix-url", default="https://api.emporix.io", help="Emporix API base URL (https)"
        )
        parser.add_argument("--client-id", default="", help="Emporix API key client id")
        parser.add_argument(
            "--client-secret",
            default="",
            help="Emporix API key secret (or EMPORIX_CLIENT_SECRET in the environment)",
        )
        parser.add_argument(
            "--site-code", default="", help="Emporix site (default: the order's, else the default site)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if Tenant.objects.filter(code=options["code"]).exists():
            raise CommandError(f"Tenant '{options['code']}' exists already.")
        secret = options["client_secret"] or os.environ.get("EMPORIX_CLIENT_SECRET", "")
        if options["backend"] == Tenant.Backend.EMPORIX and not (options["client_id"] and secret):
            raise CommandError(
                "--backend emporix needs --client-id and --client-secret (or EMPORIX_CLIENT_SECRET)."
            )
        try:
            with transaction.atomic():
                tenant = tenant_create(
                    code=options["code"],
                    name=options["name"],
                    legal_name=options["legal_name"] or options["name"],
                    vat_id=options["vat_id"],
                    email_sender=options["email_sender"],
                    default_currency=options["currency"],
                    time_zone=options["time_zone"],
                    backend=options["backend"],
                    emporix_base_url=options["emporix_url"],
                    emporix_client_id=options["client_id"],
                    emporix_site_code=options["site_code"],
                    emporix_client_secret=secret,
                )
                if tenant.backend == Tenant.Backend.EMPORIX:
                    self.stdout.write(
                        f"tenant {tenant.code} created, connected to {tenant.emporix_base_url} as client "
                        f"{tenant.emporix_client_id} (secret stored encrypted); "
                        f"check the connection with: manage.py check_tenant {tenant.code}"
                    )
                    return
                series = number_series_ensure(
                    tenant=tenant,
                    pre_text=options["series_prefix"],
                    number_of_digits=options["series_digits"],
                    start_value=options["series_start"],
                )
                credit_notes = credit_note_series_ensure(
                    tenant=tenant, pre_text=options["credit_note_prefix"]
                )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(
            f"tenant {tenant.code} created; invoice numbers {first_number(series)} onwards, "
            f"credit notes {first_number(credit_notes)} onwards"
        )


def first_number(series: NumberSeries) -> str:
    """The series' first number as printed (placeholders left as they are)."""
    return f"{series.pre_text}{str(series.start_value + 1).zfill(series.number_of_digits)}{series.post_text}"
