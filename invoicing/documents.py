"""The invoice as a document: everything the PDF and the email show, already rounded.

It is built by the recalculation step from an `integrations.ports.Order` and the tenant's
`Seller`, stored as JSON on the invoice (see `to_json`/`from_json`), and rendered by
`invoicing.pdf.render_invoice_pdf`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integrations.ports import Address, Seller

ROW_KINDS = ("item", "shipping", "fee", "discount")


@dataclass(frozen=True)
class InvoiceRow:
    kind: str  # one of ROW_KINDS; items first, then shipping, fees, discounts (negative amounts)
    description: str
    quantity: Decimal
    unit_net: Decimal
    tax_rate: Decimal  # percent
    net: Decimal  # rounded to the currency
    sku: str = ""


@dataclass(frozen=True)
class TaxBreakdownLine:
    rate: Decimal
    net: Decimal  # the taxable base at this rate
    tax: Decimal
    gross: Decimal


@dataclass(frozen=True)
class InvoiceDocument:
    number: str  # empty until the number is issued
    issue_date: dt.date | None
    order_id: str
    order_date: dt.date | None
    delivery_date: dt.date | None
    currency: str
    seller: Seller
    customer_id: str
    customer_name: str
    customer_email: str
    billing_address: Address
    shipping_address: Address | None
    rows: tuple[InvoiceRow, ...]
    tax_breakdown: tuple[TaxBreakdownLine, ...]
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    payment_note: str  # how it was or is to be paid, printed under the totals
    language: str = "en"

    def with_number(self, number: str, issue_date: dt.date) -> InvoiceDocument:
        return dataclasses.replace(self, number=number, issue_date=issue_date)


# --- JSON round trip (Decimal as string, dates ISO, logo bytes left out) ------------------------
def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def to_json(document: InvoiceDocument) -> dict[str, Any]:
    return _encode(document)


def _address(data: dict[str, Any] | None) -> Address | None:
    if data is None:
        return None
    return Address(**{**data, "extra_lines": tuple(data.get("extra_lines", ()))})


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def from_json(data: dict[str, Any], *, logo: bytes | None = None) -> InvoiceDocument:
    seller_data = dict(data["seller"])
    seller_data["address"] = _address(seller_data["address"])
    seller_data["logo"] = logo
    return InvoiceDocument(
        number=data["number"],
        issue_date=_date(data["issue_date"]),
        order_id=data["order_id"],
        order_date=_date(data["order_date"]),
        delivery_date=_date(data["delivery_date"]),
        currency=data["currency"],
        seller=Seller(**seller_data),
        customer_id=data["customer_id"],
        customer_name=data["customer_name"],
        customer_email=data["customer_email"],
        billing_address=_address(data["billing_address"]) or Address(),
        shipping_address=_address(data["shipping_address"]),
        rows=tuple(
            InvoiceRow(
                kind=r["kind"],
                description=r["description"],
                quantity=Decimal(r["quantity"]),
                unit_net=Decimal(r["unit_net"]),
                tax_rate=Decimal(r["tax_rate"]),
                net=Decimal(r["net"]),
                sku=r.get("sku", ""),
            )
            for r in data["rows"]
        ),
        tax_breakdown=tuple(
            TaxBreakdownLine(
                rate=Decimal(t["rate"]),
                net=Decimal(t["net"]),
                tax=Decimal(t["tax"]),
                gross=Decimal(t["gross"]),
            )
            for t in data["tax_breakdown"]
        ),
        net_total=Decimal(data["net_total"]),
        tax_total=Decimal(data["tax_total"]),
        gross_total=Decimal(data["gross_total"]),
        payment_note=data["payment_note"],
        language=data.get("language", "en"),
    )
