from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from invoicing.models import Tenant
from invoicing.tenants import number_series_ensure, tenant_create


class Command(BaseCommand):
    help = "Create a tenant (local backend) with an invoice number series."

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

    def handle(self, *args: Any, **options: Any) -> None:
        if Tenant.objects.filter(code=options["code"]).exists():
            raise CommandError(f"Tenant '{options['code']}' exists already.")
        try:
            tenant = tenant_create(
                code=options["code"],
                name=options["name"],
                legal_name=options["legal_name"] or options["name"],
                vat_id=options["vat_id"],
                email_sender=options["email_sender"],
                default_currency=options["currency"],
                time_zone=options["time_zone"],
            )
            series = number_series_ensure(
                tenant=tenant,
                pre_text=options["series_prefix"],
                number_of_digits=options["series_digits"],
                start_value=options["series_start"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(
            f"tenant {tenant.code} created; invoice numbers {series.pre_text}{str(series.start_value + 1).zfill(series.number_of_digits)}{series.post_text} onwards"
        )
