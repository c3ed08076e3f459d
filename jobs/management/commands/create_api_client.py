from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.clients import ALL_SCOPES, UnknownScope, api_client_create
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Create an OAuth2 client (client credentials) for a tenant. The secret is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant")
        parser.add_argument(
            "--scope", default=" ".join(ALL_SCOPES), help=f"space-separated, of: {' '.join(ALL_SCOPES)}"
        )
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(code=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"Tenant '{options['tenant']}' not found.")
        try:
            client, secret = api_client_create(tenant=tenant, scopes=options["scope"], name=options["name"])
        except UnknownScope as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"client_id: {client.application.client_id}")
        self.stdout.write(f"client_secret: {secret}")
        self.stdout.write(f"scopes: {client.scopes}")
        self.stderr.write("The secret is stored hashed and cannot be shown again; keep it now.")
