"""Writes to the local backends' own tables: configuration entries, number series, buyers."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.errors import PermanentError
from integrations.buyers import read_legal_entity, validate_customer
from integrations.models import Configuration, NumberSeries, StoredCustomer, StoredLegalEntity
from integrations.numbering import CREDIT_NOTE_SERIES_NAME, INVOICE_SERIES_NAME
from tenants.models import Tenant


def configuration_entry(*, tenant: Tenant, key: str) -> Configuration | None:
    return Configuration.objects.filter(tenant=tenant, key=key).first()


def configuration_set(*, tenant: Tenant, key: str, value: Any) -> Configuration:
    """Create or replace a configuration entry; its version goes up by one on every change."""
    with transaction.atomic():
        entry = Configuration.objects.select_for_update().filter(tenant=tenant, key=key).first()
        if entry is None:
            return Configuration.objects.create(tenant=tenant, key=key, value=value)
        entry.value = value
        entry.version += 1
        entry.save(update_fields=["value", "version", "updated_at"])
        return entry


def configuration_json(entry: Configuration) -> dict[str, Any]:
    """The Emporix Configuration shape."""
    return {"key": entry.key, "value": entry.value, "version": entry.version, "secured": False}


def number_series_ensure(
    *,
    tenant: Tenant,
    pre_text: str = "INV",
    post_text: str = "",
    number_of_digits: int = 4,
    start_value: int = 1000,
    max_value: int = 999999999,
    name: str = INVOICE_SERIES_NAME,
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


CREDIT_NOTE_PRE_TEXT = "CN"
SERIES_DEFAULTS = {"number_of_digits": 4, "start_value": 1000, "max_value": 999999999}


def credit_note_series_ensure(
    *,
    tenant: Tenant,
    pre_text: str = CREDIT_NOTE_PRE_TEXT,
    number_of_digits: int | None = None,
    start_value: int | None = None,
) -> NumberSeries:
    """Create the tenant's credit note series ("creditNoteNoSequence") if missing.

    Digits, startValue and maxValue default to the tenant's invoice series' (CN1001 next to
    INV1001), else to the series defaults. An existing series is left alone.
    """
    invoice = NumberSeries.objects.filter(tenant=tenant, name=INVOICE_SERIES_NAME).first()
    digits = number_of_digits or (
        invoice.number_of_digits if invoice else SERIES_DEFAULTS["number_of_digits"]
    )
    start = (
        start_value
        if start_value is not None
        else (invoice.start_value if invoice else SERIES_DEFAULTS["start_value"])
    )
    max_value = (
        invoice.max_value
        if invoice is not None and invoice.max_value > start
        else SERIES_DEFAULTS["max_value"]
    )
    return number_series_ensure(
        tenant=tenant,
        name=CREDIT_NOTE_SERIES_NAME,
        pre_text=pre_text,
        number_of_digits=digits,
        start_value=start,
        max_value=max(max_value, start + 1),
    )


class NumberSeriesLocked(PermanentError):
    """The change would touch what issued numbers depend on."""


def number_series_update(*, series: NumberSeries, changes: dict[str, Any]) -> None:
    """Write only the changed fields, under the row lock.

    A plain save would write back the counter as read when the form was loaded, undoing
    numbers issued meanwhile. Once a number is issued only maxValue may change, and not below
    the counter (NumberSeriesLocked says why).
    """
    changes = {name: value for name, value in changes.items() if name != "counter"}
    if not changes:
        return
    with transaction.atomic():
        locked = NumberSeries.objects.select_for_update().get(pk=series.pk)
        if locked.counter is not None and set(changes) - {"max_value"}:
            raise NumberSeriesLocked("Numbers were issued meanwhile: only maxValue can change now.")
        if locked.counter is not None and changes.get("max_value", locked.max_value) < locked.counter:
            raise NumberSeriesLocked(
                f"Numbers up to {locked.counter} are issued: maxValue cannot go below that."
            )
        NumberSeries.objects.filter(pk=series.pk).update(**changes)


def stored_legal_entity_upsert(
    *, tenant: Tenant, legal_entity_id: str, document: dict[str, Any]
) -> tuple[StoredLegalEntity, bool]:
    """Validate a legalEntity document and store it as given (created: True for a new one).

    Raises LegalEntityDocumentError naming every bad field. Issued invoices keep the buyer as it
    was when they were issued, so a legal entity can always be updated.
    """
    read_legal_entity(document, legal_entity_id, require_legal_name=True)
    document = {**document, "id": document.get("id") or legal_entity_id}
    return StoredLegalEntity.objects.update_or_create(
        tenant=tenant, legal_entity_id=legal_entity_id, defaults={"document": document}
    )


def stored_customer_upsert(
    *, tenant: Tenant, customer_number: str, document: dict[str, Any]
) -> tuple[StoredCustomer, bool]:
    """Validate a customer document and store it as given (created: True for a new one).

    Raises CustomerDocumentError naming every bad field.
    """
    validate_customer(document, customer_number)
    document = {**document, "customerNumber": document.get("customerNumber") or customer_number}
    return StoredCustomer.objects.update_or_create(
        tenant=tenant, customer_number=customer_number, defaults={"document": document}
    )
