from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.emporix.checks import tenant_connection_checks
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Report on a tenant's Emporix connection; exits non-zero when something blocks invoicing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(code=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"Tenant '{options['tenant']}' not found.")
        if tenant.backend != Tenant.Backend.EMPORIX:
            self.stdout.write(
                f"tenant {tenant.code} uses the {tenant.backend} backend: nothing to connect to."
            )
            return
        self.stdout.write(
            f"tenant {tenant.code} -> {tenant.emporix_base_url} (client {tenant.emporix_client_id})"
        )
        problems = 0
        for check in tenant_connection_checks(tenant):
            mark = "ok  " if check.ok else ("FAIL" if check.blocking else "warn")
            problems += not check.ok and check.blocking
            self.stdout.write(f"  [{mark}] {check.name}: {check.detail}")
        if problems:
            raise CommandError(f"{problems} problem(s) block invoicing for tenant {tenant.code}.")
        self.stdout.write("ready to invoice")
