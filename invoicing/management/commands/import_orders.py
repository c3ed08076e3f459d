from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.mapper import OrderDocumentError
from invoicing.order_store import OrderAlreadyInvoiced, stored_order_upsert
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Import Emporix salesOrder documents (a JSON array, or one object) into a tenant's local order store."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", default="demo")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(code=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"Tenant '{options['tenant']}' not found.")
        try:
            data = json.loads(options["file"].read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
        documents = data if isinstance(data, list) else [data]
        created = updated = 0
        problems = []
        for index, document in enumerate(documents):
            order_id = str(document.get("id", "")) if isinstance(document, dict) else ""
            if not order_id:
                problems.append(f"#{index}: no id")
                continue
            try:
                _, was_created = stored_order_upsert(tenant=tenant, order_id=order_id, document=document)
            except (OrderDocumentError, OrderAlreadyInvoiced) as exc:
                problems.append(f"{order_id}: {exc}")
                continue
            created += was_created
            updated += not was_created
        self.stdout.write(f"{created} created, {updated} updated, {len(problems)} rejected")
        for problem in problems:
            self.stderr.write(f"  {problem}")
        if problems:
            raise CommandError(f"{len(problems)} order(s) rejected")
