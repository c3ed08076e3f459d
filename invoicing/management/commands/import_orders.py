from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from integrations.services import stored_customer_upsert, stored_legal_entity_upsert
from invoicing.order_store import stored_order_upsert
from tenants.models import Tenant

# The file's keys when it holds more than orders; each an array of Emporix documents.
BUNDLE_KEYS = ("orders", "legalEntities", "customers")


class Command(BaseCommand):
    help = (
        "Import Emporix documents into a tenant's local stores: salesOrders (a JSON array, or one "
        'object), or an object {"orders": [salesOrder…], "legalEntities": [legalEntity…], '
        '"customers": [customer…]} (each key optional).'
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
        if isinstance(data, dict) and set(BUNDLE_KEYS) & data.keys():
            unknown = sorted(set(data) - set(BUNDLE_KEYS))
            if unknown:
                raise CommandError(
                    f"Unknown key(s) {', '.join(unknown)}: the file has {', '.join(BUNDLE_KEYS)}."
                )
            for key in BUNDLE_KEYS:
                if not isinstance(data.get(key, []), list):
                    raise CommandError(f'"{key}" must be an array of documents.')
            bundle = {key: data[key] for key in BUNDLE_KEYS if key in data}
        else:
            bundle = {"orders": data if isinstance(data, list) else [data]}

        def store_legal_entity(key: str, document: dict[str, Any]) -> bool:
            return stored_legal_entity_upsert(tenant=tenant, legal_entity_id=key, document=document)[1]

        def store_customer(key: str, document: dict[str, Any]) -> bool:
            return stored_customer_upsert(tenant=tenant, customer_number=key, document=document)[1]

        def store_order(key: str, document: dict[str, Any]) -> bool:
            return stored_order_upsert(tenant=tenant, order_id=key, document=document)[1]

        # buyers first: the orders name them
        kinds: list[tuple[str, str, tuple[str, ...], Callable[[str, dict[str, Any]], bool]]] = [
            ("legalEntities", "legal entit(y/ies)", ("id",), store_legal_entity),
            ("customers", "customer(s)", ("customerNumber", "id"), store_customer),
            ("orders", "order(s)", ("id",), store_order),
        ]
        rejected = []
        for key, noun, id_keys, store in kinds:
            if key not in bundle:
                continue
            created, updated, problems = self._import(bundle[key], id_keys, store)
            self.stdout.write(f"{key}: {created} created, {updated} updated, {len(problems)} rejected")
            for problem in problems:
                self.stderr.write(f"  {problem}")
            if problems:
                rejected.append(f"{len(problems)} {noun}")
        if rejected:
            raise CommandError(f"{', '.join(rejected)} rejected")

    @staticmethod
    def _import(
        documents: list[Any], id_keys: tuple[str, ...], store: Callable[[str, dict[str, Any]], bool]
    ) -> tuple[int, int, list[str]]:
        created = updated = 0
        problems = []
        for index, document in enumerate(documents):
            ids = [document.get(name) for name in id_keys] if isinstance(document, dict) else []
            key = next((str(value) for value in ids if value not in (None, "")), "")
            if not key:
                problems.append(f"#{index}: no {' or '.join(id_keys)}")
                continue
            try:
                was_created = store(key, document)
            except DomainError as exc:  # an invalid document, or an invoiced order it would change
                problems.append(f"{key}: {exc}")
                continue
            created += was_created
            updated += not was_created
        return created, updated, problems
