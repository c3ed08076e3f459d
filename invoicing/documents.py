"""The invoice as a document: everything the PDF and the email show, already rounded.

Stored documents written before a field existed read back with its default (from_json).

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

# InvoiceDocument.document_type
INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
# InvoiceDocument.refund (credit notes)
REFUNDED = "refunded"
PAY_BACK = "pay_back"


@dataclass(frozen=True)
class InvoiceRow:
    kind: str  # one of ROW_KINDS; items first, then shipping, fees, discounts (negative amounts)
    description: str
    quantity: Decimal
    unit_net: Decimal
    tax_rate: Decimal  # percent
    net: Decimal  # rounded to the currency
    sku: str = ""
    # Gross-priced (B2C) documents print these (prices_gross): the unit price incl. VAT as the
    # shop showed it, and the row's amount incl. VAT; quantity x unit price = amount as printed.
    unit_gross: Decimal | None = None
    gross: Decimal | None = None
    vat_category: str = "S"  # EN 16931 BT-151, UNCL5305: S, Z, E, AE, K, G, O (invoicing.vat)


@dataclass(frozen=True)
class TaxBreakdownLine:
    rate: Decimal
    net: Decimal  # the taxable base at this rate
    tax: Decimal
    gross: Decimal
    category: str = "S"  # EN 16931 BT-118 (UNCL5305); a rate can appear once per category
    # The provision the category's note cites when the tenant's VAT treatments give one for the
    # tax code (e.g. "Art. 132(1)(c) VAT Directive"); "" = the Directive article of
    # invoicing.vat.legal_note. Pass it on: vat.legal_note(category, language, reference).
    reference: str = ""


@dataclass(frozen=True)
class ForeignCurrencyVat:
    """Art. 230 VAT Directive: the VAT of an invoice in another currency, in the seller's own."""

    currency: str  # the seller's currency
    rate: Decimal  # 1 invoice currency = rate seller currency
    rate_date: dt.date
    tax_total: Decimal  # the invoice's VAT total in `currency`, rounded to it
    source: str = ""  # where the rate came from, e.g. "Emporix currency service"


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
    language: str = "en"  # the customer's (invoicing.i18n.resolve_language), e.g. "de" or "de-CH"
    # the buyer company (the order's legal entity), printed with its VAT ID (Art. 226 (4))
    buyer_legal_name: str = ""
    buyer_vat_id: str = ""
    buyer_country: str = ""
    # From the payment days: the issue date + payment_days (with_number sets it on issuing; until
    # then it counts from the day of the recalculation). None when nothing is due.
    due_date: dt.date | None = None
    paid: bool = False  # captured: nothing is due
    amount_due: Decimal | None = None
    prices_gross: bool = False  # B2C: rows show unit prices and amounts incl. VAT
    foreign_currency_vat: ForeignCurrencyVat | None = None
    payment_days: int | None = None  # the tenant's, for the due date; None when nothing is due
    # --- for the EN 16931 e-invoice (invoicing.einvoice) ---
    # How it is or was paid (BT-81, UNCL4461): "card" (captured card payment, 48), "cash" (10),
    # "transfer" (SEPA credit transfer of the amount due, 58).
    payment_means: str = "transfer"
    buyer_reference: str = ""  # BT-10: the legal entity's Leitweg-ID or PO reference ("" = the order id)
    # BT-49 and its scheme BT-49-1 (EAS): the legal entity's Peppol id, else the customer's email ("EM")
    buyer_electronic_address: str = ""
    buyer_electronic_scheme: str = ""
    einvoice_format: str = ""  # the buyer's wish: "xrechnung" attaches the XRechnung XML to the email
    # --- credit notes (invoicing.credit_notes): the same document, crediting an issued invoice ---
    document_type: str = INVOICE  # INVOICE (EN 16931 BT-3 code 380) or CREDIT_NOTE (code 381)
    preceding_invoice_number: str = ""  # BT-25: the invoice this credit note corrects
    preceding_invoice_date: dt.date | None = None  # BT-26
    credit_reason: str = ""  # why it was credited, as the merchant gave it
    # REFUNDED: paid back to the original payment by the gateway; PAY_BACK: paid back or offset
    # (a bank transfer, or the merchant kept the money for a corrected invoice). "" on invoices.
    refund: str = ""
    # a credit note that cancels the whole invoice (CreditNote.Kind.FULL): German "Stornorechnung",
    # where a partial one is a "Rechnungskorrektur"
    cancels_invoice: bool = False

    @property
    def is_credit_note(self) -> bool:
        return self.document_type == CREDIT_NOTE

    def with_number(self, number: str, issue_date: dt.date) -> InvoiceDocument:
        """The issued document: its number and date, and the due date counted from that date."""
        due_date = self.due_date
        if self.payment_days is not None and not self.paid:
            due_date = issue_date + dt.timedelta(days=self.payment_days)
        return dataclasses.replace(self, number=number, issue_date=issue_date, due_date=due_date)


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


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _foreign_currency_vat(data: dict[str, Any] | None) -> ForeignCurrencyVat | None:
    if not data:
        return None
    return ForeignCurrencyVat(
        currency=data["currency"],
        rate=Decimal(data["rate"]),
        rate_date=dt.date.fromisoformat(data["rate_date"]),
        tax_total=Decimal(data["tax_total"]),
        source=data.get("source", ""),
    )


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
                unit_gross=_decimal(r.get("unit_gross")),
                gross=_decimal(r.get("gross")),
                vat_category=r.get("vat_category", "S"),
            )
            for r in data["rows"]
        ),
        tax_breakdown=tuple(
            TaxBreakdownLine(
                rate=Decimal(t["rate"]),
                net=Decimal(t["net"]),
                tax=Decimal(t["tax"]),
                gross=Decimal(t["gross"]),
                category=t.get("category", "S"),
                reference=t.get("reference", ""),
            )
            for t in data["tax_breakdown"]
        ),
        net_total=Decimal(data["net_total"]),
        tax_total=Decimal(data["tax_total"]),
        gross_total=Decimal(data["gross_total"]),
        payment_note=data["payment_note"],
        language=data.get("language", "en"),
        buyer_legal_name=data.get("buyer_legal_name", ""),
        buyer_vat_id=data.get("buyer_vat_id", ""),
        buyer_country=data.get("buyer_country", ""),
        due_date=_date(data.get("due_date")),
        paid=bool(data.get("paid", False)),
        amount_due=_decimal(data.get("amount_due")),
        prices_gross=bool(data.get("prices_gross", False)),
        foreign_currency_vat=_foreign_currency_vat(data.get("foreign_currency_vat")),
        payment_days=data.get("payment_days"),
        payment_means=data.get("payment_means", "transfer"),
        buyer_reference=data.get("buyer_reference", ""),
        buyer_electronic_address=data.get("buyer_electronic_address", ""),
        buyer_electronic_scheme=data.get("buyer_electronic_scheme", ""),
        einvoice_format=data.get("einvoice_format", ""),
        document_type=data.get("document_type", INVOICE),
        preceding_invoice_number=data.get("preceding_invoice_number", ""),
        preceding_invoice_date=_date(data.get("preceding_invoice_date")),
        credit_reason=data.get("credit_reason", ""),
        refund=data.get("refund", ""),
        cancels_invoice=bool(data.get("cancels_invoice", False)),
    )
