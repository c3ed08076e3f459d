"""The ports: what the pipeline needs from the services around it, as small typed interfaces.

Adapters live in `integrations.local` (database-backed, the embedded default) and
`integrations.emporix` (HTTP). The pipeline only ever sees these types, so a tenant can switch
backend without the pipeline changing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any, Protocol


# --- the order as the pipeline sees it ---------------------------------------------------------
@dataclass(frozen=True)
class Address:
    contact_name: str = ""
    company_name: str = ""
    street: str = ""
    street_number: str = ""
    street_appendix: str = ""
    extra_lines: tuple[str, ...] = ()
    zip_code: str = ""
    city: str = ""
    state: str = ""
    country: str = ""

    def lines(self) -> list[str]:
        """The address as printed on an invoice, one line a list item, blanks left out."""
        out = [self.company_name, self.contact_name]
        out.append(" ".join(p for p in (self.street, self.street_number) if p))
        out.append(self.street_appendix)
        out.extend(self.extra_lines)
        out.append(" ".join(p for p in (self.zip_code, self.city) if p))
        out.append(", ".join(p for p in (self.state, self.country) if p))
        return [line for line in out if line.strip()]


@dataclass(frozen=True)
class Customer:
    customer_id: str
    email: str
    name: str  # "First Last" for B2C, the company/contact name for B2B
    company: str = ""


@dataclass(frozen=True)
class OrderLine:
    """One order entry, amounts exactly as the order states them (not yet rounded)."""

    line_id: str
    description: str
    sku: str
    quantity: Decimal
    unit_net: Decimal
    unit_gross: Decimal
    tax_rate: Decimal  # percent, e.g. Decimal("19")
    tax_code: str
    net: Decimal  # unit price x quantity, before discounts
    gross: Decimal
    discount_net: Decimal = Decimal(0)  # what discounts took off this line (net, >= 0)
    discount_gross: Decimal = Decimal(0)
    fee_net: Decimal = Decimal(0)  # fees charged on this line
    fee_gross: Decimal = Decimal(0)
    # The product's name per language as the order has it ((language, name) pairs, e.g.
    # (("de", "Kaffeebecher"), ("en", "Coffee mug"))); `description` is the order's default.
    names: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Charge:
    """An order-level amount on its own invoice row: shipping, a fee, or a discount (negative)."""

    kind: str  # "shipping" | "fee" | "discount"
    description: str
    net: Decimal
    gross: Decimal
    tax_rate: Decimal
    tax_code: str = ""


@dataclass(frozen=True)
class TaxTotal:
    rate: Decimal
    net: Decimal
    tax: Decimal
    gross: Decimal
    code: str = ""


@dataclass(frozen=True)
class Payment:
    method: str
    provider: str
    status: str
    transaction_id: str
    authorized_amount: Decimal | None
    currency: str


@dataclass(frozen=True)
class Order:
    order_id: str
    status: str
    extended_status: str
    currency: str
    created_at: dt.datetime | None
    site_code: str
    customer: Customer
    billing_address: Address
    shipping_address: Address | None
    lines: tuple[OrderLine, ...]
    charges: tuple[Charge, ...]
    # The order's own totals (calculatedPrice.finalPrice), to reconcile the recalculation with.
    stated_net: Decimal
    stated_tax: Decimal
    stated_gross: Decimal
    stated_tax_totals: tuple[TaxTotal, ...]
    payments: tuple[Payment, ...] = ()
    delivery_date: dt.date | None = None  # printed on the invoice: the window's date, else the mixin's
    # Both delivery-date fields as the order has them; AUTOMATIC jobs use the tenant's choice.
    delivery_window_date: dt.date | None = None  # deliveryWindow.deliveryDate (a date)
    delivery_time: dt.datetime | None = None  # mixins.deliveryTime.deliveryDate (a date-time)
    existing_invoice_number: str = ""  # mixins.invoice.invoiceNo, if the order says it is invoiced
    legal_entity_id: str = ""  # legalEntityId: the buyer company the order was placed for (B2B)
    version: int | None = None  # metadata.version, for optimistic updates


# --- seller (site settings) --------------------------------------------------------------------
@dataclass(frozen=True)
class Seller:
    legal_name: str
    address: Address
    vat_id: str = ""
    tax_number: str = ""
    iban: str = ""
    bic: str = ""
    email: str = ""  # the sender of invoice emails
    phone: str = ""
    website: str = ""
    language: str = "en"
    time_zone: str = "UTC"
    logo: bytes | None = None  # PNG or JPEG bytes; the invoice renders without one
    prices_include_tax: bool = False
    payment_terms: str = ""  # e.g. "Payable within 14 days without deduction."
    currency: str = "EUR"  # the seller's own currency: VAT is also stated in it (Art. 230)
    contact_name: str = ""  # EN 16931 BG-6 seller contact point (BT-41), required by XRechnung


# --- buyers and exchange rates ------------------------------------------------------------------
@dataclass(frozen=True)
class LegalEntity:
    """The company an order was placed for (Emporix Customer Management legal entity)."""

    legal_entity_id: str
    legal_name: str  # legalInfo.legalName
    vat_id: str = ""  # legalInfo.taxRegistrationNumber
    country: str = ""  # legalInfo.countryOfRegistration (ISO 3166-1 alpha-2)
    # E-invoice routing, from the legal entity's mixins.eInvoicing (README "E-invoices"):
    buyer_reference: str = ""  # buyerReference: a Leitweg-ID (German public buyers) or PO reference
    peppol_id: str = ""  # peppolParticipantId, "<EAS scheme>:<id>", e.g. "0088:4035811991021"
    einvoice_format: str = ""  # format: "xrechnung" asks for the XRechnung XML with every invoice


@dataclass(frozen=True)
class CustomerProfile:
    customer_number: str
    preferred_language: str = ""  # as the customer has it: "de", "de_DE", "de-CH"


INVERSE_RATE_DIGITS = 6  # significant digits of a rate derived from its reverse (ECB: 5 or 6)


@dataclass(frozen=True)
class ExchangeRate:
    """1 `source` = `rate` `target`, as published for `as_of`."""

    source: str
    target: str
    rate: Decimal
    as_of: dt.date

    def inverted(self) -> ExchangeRate:
        """The rate the other way round: 1 / rate, to INVERSE_RATE_DIGITS significant digits.

        For a pair kept only one way (EUR -> USD asked as USD -> EUR); the date stays the same.
        """
        with localcontext() as context:
            context.prec = INVERSE_RATE_DIGITS
            inverse = Decimal(1) / self.rate
        return ExchangeRate(source=self.target, target=self.source, rate=inverse, as_of=self.as_of)


# --- payment gateway ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureResult:
    successful: bool
    capture_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class CaptureStatus:
    """What the gateway knows about earlier captures of a transaction (to resolve UNKNOWN)."""

    captured: bool
    capture_id: str = ""
    amount: Decimal | None = None


@dataclass(frozen=True)
class RefundResult:
    """The gateway's answer to a refund: performed (successful) or declined (with its message).

    `refund_id` is the gateway's id of the refund where it gives one (the local gateway does;
    Emporix answers commonPaymentResponse {successful, message}, without an id).
    """

    successful: bool
    refund_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class RefundEntry:
    """A SUCCESSFUL refund the gateway performed on a transaction (to resolve UNKNOWN refunds)."""

    refund_id: str
    amount: Decimal | None
    currency: str = ""
    created_at: dt.datetime | None = None


# --- credit notes written back onto the order --------------------------------------------------
@dataclass(frozen=True)
class CreditNoteRef:
    """An issued credit note as the order's invoice mixin lists it (mixins.invoice.creditNotes)."""

    number: str
    document_url: str
    gross_amount: Decimal  # positive: what the credit note takes off the invoice
    currency: str
    issue_date: dt.date
    cancels_invoice: bool  # True: with it the invoice is cancelled as a whole ("Storno")


# --- the ports ---------------------------------------------------------------------------------
DELIVERY_WINDOW_DATE = "deliveryWindow.deliveryDate"
DELIVERY_TIME_MIXIN = "mixins.deliveryTime.deliveryDate"


@dataclass(frozen=True)
class OrderQuery:
    """Which orders an AUTOMATIC job invoices (the tenant's invoiceSettings, made concrete)."""

    statuses: tuple[str, ...]
    extended_statuses: tuple[str, ...]  # empty: any extended status
    delivered_by: dt.datetime  # delivery date at or before this moment (now - threshold)
    delivery_field: str  # DELIVERY_WINDOW_DATE or DELIVERY_TIME_MIXIN
    time_zone: str  # a date-only delivery date counts from the start of that day here
    # Orders the caller holds back (AUTOMATIC runs: those waiting in jobs.attention), as a
    # callable (fingerprint=<the outer order's fingerprint expression>, now=...) -> an SQL
    # condition. A store that can filter in SQL (the local one) leaves them out of its pages;
    # the others ignore it and the caller checks their pages itself. Given by the layer above,
    # so this one need not know who holds an order back.
    held_back: Callable[..., Any] | None = field(default=None, compare=False, repr=False)


# What "the order changed" means to an AUTOMATIC run that remembers a failed order: these parts
# of the salesOrder document, by name. Anything an operator does to fix an order shows here:
# Emporix raises metadata.version on every update; a corrected total, a new status or a new
# authorisation shows even where the version is not kept (the local store takes documents as given).
FINGERPRINT_PATHS: dict[str, tuple[str, ...]] = {
    "version": ("metadata", "version"),
    "status": ("status",),
    "extendedStatus": ("mixins", "generalAttributes", "extendedOrderStatus"),
    "totals": ("calculatedPrice", "finalPrice"),
    "payments": ("payments",),
}


def order_fingerprint(document: Mapping[str, Any]) -> dict[str, Any]:
    """The FINGERPRINT_PATHS parts of a salesOrder document (None where missing).

    Kept as JSON, not hashed: equal fingerprints compare equal in Python and as PostgreSQL
    jsonb (numbers by value), so the local store can compare them in its search query.
    """
    fingerprint: dict[str, Any] = {}
    for name, path in FINGERPRINT_PATHS.items():
        value: Any = document
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        fingerprint[name] = value
    return fingerprint


@dataclass(frozen=True)
class OrderPage:
    order_ids: tuple[str, ...]
    cursor: dict[str, object] | None  # where the next page starts; None when this was the last
    total: int | None = None  # how many match, when the source says (X-Total-Count)
    # order id -> order_fingerprint() of the order as found, for the orders of this page
    fingerprints: Mapping[str, Any] = field(default_factory=dict)


class OrderSource(Protocol):
    def find_orders(
        self, query: OrderQuery, *, cursor: dict[str, object] | None, page_size: int
    ) -> OrderPage:
        """One page of orders matching the query and not invoiced, in a stable order.

        With the fingerprint of each order. A source may leave out the orders
        `query.held_back` names (the local store does, in its query); the caller checks the rest.
        """
        ...

    def get_order(self, order_id: str) -> Order:
        """Raises NotFound when there is no such order."""
        ...

    def mark_invoiced(self, order_id: str, *, invoice_number: str, document_url: str) -> None:
        """Write the invoice reference back onto the order (no-op where the source has no place).

        invoiceNo/invoiceDocument are replaced (an order invoiced again after a cancellation gets
        the new invoice's); the mixin's creditNotes stay.
        """
        ...

    def mark_credited(
        self, order_id: str, *, invoice_number: str, credit_notes: Sequence[CreditNoteRef]
    ) -> None:
        """Write the issued credit notes of invoice `invoice_number` onto the order.

        `credit_notes` is the invoice's full list each time (idempotent): it replaces what the
        mixin lists for that invoice; entries of an earlier, cancelled invoice of the order stay.
        """
        ...


class ConfigurationSource(Protocol):
    """Tenant configuration in the Emporix Configuration-service shape ({key, value, version}).

    Used for `invoiceSettings` (AUTOMATIC jobs) and `cust.notification.email.from`.
    """

    def get_configuration(self, key: str) -> object | None:
        """The value stored under `key`, or None when the tenant has none."""
        ...


# The number series a NumberSequence draws from (each backend names them its own way:
# integrations.numbering.LOCAL_SERIES_NAMES, settings.EMPORIX_CREDIT_NOTE_SEQUENCE).
INVOICE_SERIES = "invoice"
CREDIT_NOTE_SERIES = "credit_note"
SERIES_KINDS = (INVOICE_SERIES, CREDIT_NOTE_SERIES)


class NumberSequence(Protocol):
    # True: next_number runs inside the caller's transaction and rolls back with it (gapless).
    # False: it calls out (HTTP); the caller reserves the number before issuing.
    transactional: bool

    def next_number(self, *, site_code: str, at: dt.datetime, series: str = INVOICE_SERIES) -> str:
        """Allocate the next number of `series` (INVOICE_SERIES or CREDIT_NOTE_SERIES).

        PermanentError when the series is missing (naming it and how to create it);
        SeriesExhausted (a PermanentError) when it is used up.
        """
        ...


class SellerSettings(Protocol):
    def get_seller(self, *, site_code: str) -> Seller: ...


class PaymentGateway(Protocol):
    def capture(
        self, *, transaction_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> CaptureResult:
        """TransientError on timeout: the outcome is then UNKNOWN and must be resolved with status()."""
        ...

    def capture_status(self, *, transaction_id: str) -> CaptureStatus: ...

    def refund(
        self,
        *,
        transaction_id: str,
        amount: Decimal,
        currency: str,
        capture_id: str,
        idempotency_key: str,
    ) -> RefundResult:
        """Refund `amount` of a captured transaction ("" capture_id: the gateway picks the capture).

        A refusal (4xx, a decline) is RefundResult(successful=False, message=...). TransientError
        on timeout/5xx: the outcome is then UNKNOWN and must be resolved with refunds().
        """
        ...

    def refunds(self, *, transaction_id: str) -> tuple[RefundEntry, ...]:
        """The successful refunds of the transaction, oldest first."""
        ...


class CustomerDirectory(Protocol):
    def get_legal_entity(self, legal_entity_id: str) -> LegalEntity | None:
        """None when there is no such legal entity."""
        ...

    def get_customer(self, customer_number: str) -> CustomerProfile | None:
        """None when there is no such customer."""
        ...


class ExchangeRates(Protocol):
    def get_rate(self, *, source: str, target: str, on: dt.date) -> ExchangeRate | None:
        """The rate valid on `on` (the latest published on or before it); None if none is known."""
        ...


class NoCustomerDirectory:
    """Knows no buyers: the order's own data is all there is."""

    def get_legal_entity(self, legal_entity_id: str) -> LegalEntity | None:
        return None

    def get_customer(self, customer_number: str) -> CustomerProfile | None:
        return None


class NoExchangeRates:
    def get_rate(self, *, source: str, target: str, on: dt.date) -> ExchangeRate | None:
        return None


@dataclass(frozen=True)
class Backends:
    orders: OrderSource
    numbers: NumberSequence
    seller: SellerSettings
    payments: PaymentGateway
    configuration: ConfigurationSource
    customers: CustomerDirectory = field(default_factory=NoCustomerDirectory)
    rates: ExchangeRates = field(default_factory=NoExchangeRates)
