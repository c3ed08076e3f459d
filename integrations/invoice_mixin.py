"""The order's `invoice` mixin: what the service writes back onto an order, on both backends.

    {"invoiceNo": "INV1001", "invoiceDocument": "https://…/document",
     "creditNotes": [{"creditNoteNo": "CN1001", "creditNoteDocument": "https://…/document",
                      "grossAmount": 23.8, "currency": "EUR", "issueDate": "2026-02-03",
                      "cancelsInvoice": false, "invoiceNo": "INV1001"}]}

Its JSON Schema is served at /static/schemas/invoice-mixin.v2.json (v1, without creditNotes,
stays served for orders written before). invoiceNo/invoiceDocument name the order's current
invoice: an order invoiced again after a cancellation gets the new invoice's. Each credit note
names the invoice it corrects (`invoiceNo`), so the cancelled invoice's credit notes stay listed
next to the new invoice's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from integrations.ports import CreditNoteRef

MIXIN = "invoice"
SCHEMA_FILE = "invoice-mixin.v2.json"  # under invoicing/static/schemas/
CREDIT_NOTES = "creditNotes"


def credit_note_entry(ref: CreditNoteRef, *, invoice_number: str) -> dict[str, Any]:
    """One mixins.invoice.creditNotes item (JSON: the amount a number, the date ISO 8601)."""
    entry: dict[str, Any] = {"creditNoteNo": ref.number}
    if ref.document_url:
        entry["creditNoteDocument"] = ref.document_url
    entry.update(
        {
            "grossAmount": float(ref.gross_amount),
            "currency": ref.currency,
            "issueDate": ref.issue_date.isoformat(),
            "cancelsInvoice": bool(ref.cancels_invoice),
            "invoiceNo": invoice_number,
        }
    )
    return entry


def _current(mixin: object) -> dict[str, Any]:
    return dict(mixin) if isinstance(mixin, Mapping) else {}


def invoiced_mixin(current: object, *, invoice_number: str, document_url: str) -> dict[str, Any]:
    """The mixin after an invoice was issued: invoiceNo/invoiceDocument replaced, the rest kept
    (the credit notes of an earlier, cancelled invoice of the order among it)."""
    mixin = _current(current)
    mixin["invoiceNo"] = invoice_number
    mixin["invoiceDocument"] = document_url
    return mixin


def credited_mixin(
    current: object, *, invoice_number: str, credit_notes: Sequence[CreditNoteRef]
) -> dict[str, Any]:
    """The mixin after the credit notes of `invoice_number` (its full list) were issued.

    The entries the mixin had for that invoice, or with one of these numbers, are replaced by
    the list given, in their place (new ones at the end); entries of other invoices are kept. invoiceNo/invoiceDocument
    stay as they are (the order may have been invoiced again meanwhile); a mixin without
    invoiceNo gets `invoice_number` (the schema requires one).
    """
    mixin = _current(current)
    mixin.setdefault("invoiceNo", invoice_number)
    numbers = {ref.number for ref in credit_notes}
    fresh = [credit_note_entry(ref, invoice_number=invoice_number) for ref in credit_notes]
    earlier = mixin.get(CREDIT_NOTES)
    entries: list[Any] = []
    placed = False
    for entry in earlier if isinstance(earlier, list) else []:
        if isinstance(entry, Mapping) and (
            entry.get("invoiceNo") == invoice_number or entry.get("creditNoteNo") in numbers
        ):
            if not placed:  # the invoice's list goes where its entries were: a repeat changes nothing
                entries.extend(fresh)
                placed = True
            continue
        entries.append(entry)
    if not placed:
        entries.extend(fresh)
    mixin[CREDIT_NOTES] = entries
    return mixin
