"""Credit notes: what a correction credits, worked out in Decimal per VAT rate, and reserved on
its invoice before anything else happens.

An issued invoice never changes. A correction is a new document, a credit note, that refers to
it (EN 16931 BT-25/BT-26) and credits one of:

- FULL: the whole remaining amount (a cancellation, "Storno");
- LINES: chosen positions of the invoice and quantities;
- AMOUNTS: a gross amount per VAT rate (a goodwill discount).

`credit_note_create` works the amounts out and reserves them on the invoice in one transaction,
with the invoice row locked: Invoice.credited_gross grows by the credit note's gross, and the
database's CHECK (credited_gross <= gross_total) refuses what would credit more than was
invoiced, whatever runs concurrently. A credit note that fails before it is issued gives its
reservation back (`credit_note_fail`).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import PermanentError
from core.money import money_text, round_money
from invoicing import events
from invoicing.documents import (
    CREDIT_NOTE,
    PAY_BACK,
    REFUNDED,
    InvoiceDocument,
    InvoiceRow,
    TaxBreakdownLine,
    from_json,
    to_json,
)
from invoicing.models import CreditNote, Invoice, PaymentCapture, Refund
from tenants.models import Tenant

MAX_REASON = 500


@dataclass(frozen=True)
class CreditLine:
    position: int  # the invoice's line position (1, 2, … as printed; InvoiceLine.position)
    quantity: Decimal


@dataclass(frozen=True)
class CreditAmount:
    tax_rate: Decimal  # percent, one of the invoice's rates
    gross_amount: Decimal


class CreditRefused(PermanentError):
    """A credit note that cannot be made as asked; nothing was created or reserved.

    404: no such issued invoice; 400: the request names what the invoice does not have;
    409: it conflicts with what the invoice allows now (beyond the remaining amount, not issued);
    422: an Idempotency-Key reused for another request.
    """

    def __init__(self, message: str, *, http_status: int = 409) -> None:
        super().__init__(message)
        self.http_status = http_status


# --- what is left to credit ---------------------------------------------------------------------
Group = tuple[Decimal, str]  # (VAT rate, category): one line of the tax breakdown


@dataclass
class _Left:
    net: Decimal
    tax: Decimal
    gross: Decimal


def _standing(invoice: Invoice) -> list[CreditNote]:
    """The credit notes that count against the invoice: issued, or on their way to it."""
    return list(invoice.credit_notes.exclude(status=CreditNote.Status.FAILED).order_by("created_at"))


def _left_per_group(document: InvoiceDocument, standing: Sequence[CreditNote]) -> dict[Group, _Left]:
    left = {(t.rate, t.category): _Left(t.net, t.tax, t.gross) for t in document.tax_breakdown}
    for credit in standing:
        for t in from_json(credit.document).tax_breakdown:
            entry = left.setdefault((t.rate, t.category), _Left(Decimal(0), Decimal(0), Decimal(0)))
            entry.net -= t.net
            entry.tax -= t.tax
            entry.gross -= t.gross
    return left


def _credited_per_position(standing: Sequence[CreditNote]) -> dict[int, dict[str, Decimal]]:
    """position -> {"quantity", "net", "gross"} credited so far (FULL and LINES credit notes)."""
    credited: dict[int, dict[str, Decimal]] = defaultdict(
        lambda: {"quantity": Decimal(0), "net": Decimal(0), "gross": Decimal(0)}
    )
    for credit in standing:
        for position, values in (credit.request.get("positions") or {}).items():
            for key in ("quantity", "net", "gross"):
                credited[int(position)][key] += Decimal(values.get(key) or 0)
    return credited


def _touched_by_amounts(standing: Sequence[CreditNote]) -> set[Group]:
    groups: set[Group] = set()
    for credit in standing:
        if credit.kind == CreditNote.Kind.AMOUNTS:
            groups |= {(t.rate, t.category) for t in from_json(credit.document).tax_breakdown}
    return groups


# --- working a credit out -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Credit:
    rows: tuple[InvoiceRow, ...]
    breakdown: tuple[TaxBreakdownLine, ...]
    positions: dict[str, dict[str, str]]  # position -> credited {"quantity", "net", "gross"}


def _rate_text(rate: Decimal) -> str:
    return f"{rate.normalize():f} %"


def _group_totals(
    rows: Sequence[InvoiceRow], document: InvoiceDocument, currency: str
) -> tuple[TaxBreakdownLine, ...]:
    """The tax breakdown of credited rows, per rate and category, as the invoice computes it:
    net prices: VAT = taxable amount x rate, rounded once (EN 16931 BR-CO-17); gross prices: the
    rows' gross amounts, VAT the part of them (so the customer gets back exactly what was paid)."""
    nets: dict[Group, Decimal] = defaultdict(Decimal)
    grosses: dict[Group, Decimal] = defaultdict(Decimal)
    for row in rows:
        nets[(row.tax_rate, row.vat_category)] += row.net
        grosses[(row.tax_rate, row.vat_category)] += row.gross if row.gross is not None else Decimal(0)
    lines = []
    references = {(t.rate, t.category): t.reference for t in document.tax_breakdown}
    for group, net in nets.items():
        rate, category = group
        if document.prices_gross:
            gross = grosses[group]
            tax = gross - net
        else:
            tax = round_money(net * rate / 100, currency)
            gross = net + tax
        lines.append(
            TaxBreakdownLine(
                rate=rate,
                net=net,
                tax=tax,
                gross=gross,
                category=category,
                reference=references.get(group, ""),
            )
        )
    return tuple(sorted(lines, key=lambda t: (t.rate, t.category)))


def _full(
    invoice: Invoice, document: InvoiceDocument, standing: Sequence[CreditNote], reason: str
) -> _Credit:
    if not standing:
        # A cancellation of an untouched invoice mirrors it: every line, the same breakdown.
        positions = {
            str(index): {
                "quantity": str(row.quantity),
                "net": str(row.net),
                "gross": str(row.gross if row.gross is not None else ""),
            }
            for index, row in enumerate(document.rows, start=1)
        }
        return _Credit(document.rows, document.tax_breakdown, positions)
    # After earlier credits: what is left, one row per rate and category.
    left = _left_per_group(document, standing)
    rows = []
    breakdown = []
    for t in document.tax_breakdown:
        rest = left[(t.rate, t.category)]
        if rest.gross == 0 and rest.net == 0:
            continue
        rows.append(
            InvoiceRow(
                kind="item",
                description=f"{reason[:200]} ({invoice.number}, {_rate_text(t.rate)})",
                quantity=Decimal(1),
                unit_net=rest.net,
                tax_rate=t.rate,
                net=rest.net,
                unit_gross=rest.gross if document.prices_gross else None,
                gross=rest.gross if document.prices_gross else None,
                vat_category=t.category,
            )
        )
        breakdown.append(dataclasses.replace(t, net=rest.net, tax=rest.tax, gross=rest.gross))
    credited = _credited_per_position(standing)
    positions = {
        str(index): {
            "quantity": str(row.quantity - credited[index]["quantity"]),
            "net": "0",
            "gross": "0",
        }
        for index, row in enumerate(document.rows, start=1)
        if row.quantity - credited[index]["quantity"] > 0
    }
    return _Credit(tuple(rows), tuple(breakdown), positions)


def _lines(
    document: InvoiceDocument, standing: Sequence[CreditNote], asked: Sequence[CreditLine], currency: str
) -> _Credit:
    credited = _credited_per_position(standing)
    by_position = dict(enumerate(document.rows, start=1))
    rows: list[InvoiceRow] = []
    positions: dict[str, dict[str, str]] = {}
    seen: set[int] = set()
    for line in asked:
        row = by_position.get(line.position)
        if row is None:
            raise CreditRefused(
                f"The invoice has no line {line.position} (it has lines 1 to {len(by_position)}).",
                http_status=400,
            )
        if line.position in seen:
            raise CreditRefused(f"Line {line.position} is named twice.", http_status=400)
        seen.add(line.position)
        if line.quantity <= 0:
            raise CreditRefused(f"Line {line.position}: the quantity must be above 0.", http_status=400)
        done = credited[line.position]
        left = row.quantity - done["quantity"]
        if line.quantity > left:
            raise CreditRefused(
                f"Line {line.position} ({row.description[:80]}): {line.quantity.normalize():f} asked, "
                f"but only {left.normalize():f} of {row.quantity.normalize():f} is left to credit."
            )
        if line.quantity == left:
            # the last of the line: what is left of its amount, so the credits add up to it exactly
            net = row.net - done["net"]
            gross = None if row.gross is None else row.gross - done["gross"]
        else:
            share = line.quantity / row.quantity
            net = round_money(row.net * share, currency)
            gross = None if row.gross is None else round_money(row.gross * share, currency)
        rows.append(
            dataclasses.replace(
                row,
                quantity=line.quantity,
                net=net,
                gross=gross,
                # quantity x unit price = amount, as printed: the unit price of the credited part
                unit_net=row.unit_net,
            )
        )
        positions[str(line.position)] = {
            "quantity": str(line.quantity),
            "net": str(net),
            "gross": str(gross if gross is not None else ""),
        }
    breakdown = list(_group_totals(rows, document, currency))
    # A rate whose lines are now all credited in full takes exactly what is left of it (no
    # rounding drift between the invoice and its credit notes), unless a goodwill credit took
    # some of that rate: then the sums are checked against what is left instead.
    left_of = _left_per_group(document, standing)
    amounts = _touched_by_amounts(standing)
    for index, group_line in enumerate(breakdown):
        group = (group_line.rate, group_line.category)
        members = [p for p, r in by_position.items() if (r.tax_rate, r.vat_category) == group]
        all_done = all(
            credited[p]["quantity"] + Decimal(positions.get(str(p), {}).get("quantity") or 0)
            >= by_position[p].quantity
            for p in members
        )
        if all_done and group not in amounts and left_of[group].net == group_line.net:
            breakdown[index] = dataclasses.replace(
                group_line, tax=left_of[group].tax, gross=left_of[group].gross
            )
    return _Credit(tuple(rows), tuple(breakdown), positions)


def _amounts(
    document: InvoiceDocument,
    standing: Sequence[CreditNote],
    asked: Sequence[CreditAmount],
    currency: str,
    reason: str,
) -> _Credit:
    left = _left_per_group(document, standing)
    rates = sorted({t.rate for t in document.tax_breakdown})
    rows = []
    breakdown = []
    seen: set[Decimal] = set()
    for amount in asked:
        candidates = [t for t in document.tax_breakdown if t.rate == amount.tax_rate]
        if not candidates:
            raise CreditRefused(
                f"The invoice has no VAT rate {_rate_text(amount.tax_rate)} "
                f"(its rates: {', '.join(_rate_text(r) for r in rates)}).",
                http_status=400,
            )
        if amount.tax_rate in seen:
            raise CreditRefused(
                f"The VAT rate {_rate_text(amount.tax_rate)} is named twice.", http_status=400
            )
        seen.add(amount.tax_rate)
        gross = round_money(amount.gross_amount, currency)
        if gross != amount.gross_amount or gross <= 0:
            raise CreditRefused(
                f"The amount {amount.gross_amount} at {_rate_text(amount.tax_rate)} must be above 0 and "
                f"have at most the decimals of {currency}.",
                http_status=400,
            )
        # the category at this rate with the most left (a rate is rarely in two categories)
        line = max(candidates, key=lambda t: left[(t.rate, t.category)].gross)
        rest = left[(line.rate, line.category)]
        if gross > rest.gross:
            raise CreditRefused(
                f"{money_text(gross, currency)} at {_rate_text(line.rate)} is more than the "
                f"{money_text(max(rest.gross, Decimal(0)), currency)} left to credit at that rate."
            )
        if gross == rest.gross:
            net, tax = rest.net, rest.tax
        else:
            tax = round_money(gross * line.rate / (100 + line.rate), currency)
            net = gross - tax
        rows.append(
            InvoiceRow(
                kind="item",
                description=reason[:300],
                quantity=Decimal(1),
                unit_net=net,
                tax_rate=line.rate,
                net=net,
                unit_gross=gross if document.prices_gross else None,
                gross=gross if document.prices_gross else None,
                vat_category=line.category,
            )
        )
        breakdown.append(dataclasses.replace(line, net=net, tax=tax, gross=gross))
    return _Credit(tuple(rows), tuple(sorted(breakdown, key=lambda t: (t.rate, t.category))), {})


def _check_within(
    document: InvoiceDocument, standing: Sequence[CreditNote], credit: _Credit, currency: str
) -> None:
    left = _left_per_group(document, standing)
    for line in credit.breakdown:
        rest = left.get((line.rate, line.category))
        if rest is None or line.gross > rest.gross:
            available = Decimal(0) if rest is None else max(rest.gross, Decimal(0))
            raise CreditRefused(
                f"This credits {money_text(line.gross, currency)} at {_rate_text(line.rate)}, "
                f"but only {money_text(available, currency)} is left to credit at that rate."
            )


def _foreign_vat(document: InvoiceDocument, tax_total: Decimal) -> Any:
    """Art. 230 VAT Directive: the credited VAT in the seller's currency, at the invoice's rate."""
    fx = document.foreign_currency_vat
    if fx is None:
        return None
    return dataclasses.replace(fx, tax_total=round_money(tax_total * fx.rate, fx.currency))


# --- requesting one ----------------------------------------------------------------------------------
def credit_request_data(
    *, lines: Sequence[CreditLine] | None, amounts: Sequence[CreditAmount] | None, refund: bool
) -> dict[str, Any]:
    """What was asked, in a canonical form: a repeated Idempotency-Key must ask the same."""
    data: dict[str, Any] = {"refund": refund}
    if lines:
        data["lines"] = [
            {"position": line.position, "quantity": f"{line.quantity.normalize():f}"} for line in lines
        ]
    if amounts:
        data["amounts"] = [
            {"taxRate": f"{a.tax_rate.normalize():f}", "grossAmount": f"{a.gross_amount.normalize():f}"}
            for a in amounts
        ]
    return data


def credit_note_same_request(credit_note: CreditNote, *, reason: str, asked: dict[str, Any]) -> bool:
    """Whether a repeated Idempotency-Key asks for what its first request asked."""
    kept = {key: value for key, value in credit_note.request.items() if key in ("refund", "lines", "amounts")}
    return kept == asked and credit_note.reason == reason.strip()


def credit_note_create(
    *,
    invoice: Invoice,
    reason: str,
    lines: Sequence[CreditLine] | None = None,
    amounts: Sequence[CreditAmount] | None = None,
    refund: bool = True,
    idempotency_key: str = "",
    actor: str,
) -> CreditNote:
    """Work out the credit note, reserve its gross on the invoice and plan its refund.

    Call inside a transaction (the caller adds the credit note's pipeline to it). Raises
    CreditRefused; an IntegrityError from the over-credit CHECK or the Idempotency-Key's UNIQUE is
    the caller's to read (a concurrent request won).
    """
    reason = reason.strip()
    if not reason:
        raise CreditRefused("A credit note needs a reason.", http_status=400)
    if len(reason) > MAX_REASON:
        raise CreditRefused(f"The reason is longer than {MAX_REASON} characters.", http_status=400)
    if lines and amounts:
        raise CreditRefused("Give either lines or amounts, not both.", http_status=400)
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != Invoice.Status.ISSUED:
        raise CreditRefused(
            f"The invoice of order {locked.order_id} is not issued; there is nothing to credit."
        )
    if locked.cancelled_at is not None:
        raise CreditRefused(f"Invoice {locked.number} is cancelled; there is nothing left to credit.")
    document = from_json(locked.document)
    currency = locked.currency or document.currency
    standing = _standing(locked)
    if lines:
        kind = CreditNote.Kind.LINES
        credit = _lines(document, standing, lines, currency)
    elif amounts:
        kind = CreditNote.Kind.AMOUNTS
        credit = _amounts(document, standing, amounts, currency, reason)
    else:
        kind = CreditNote.Kind.FULL
        credit = _full(locked, document, standing, reason)
    _check_within(document, standing, credit, currency)
    net = sum((t.net for t in credit.breakdown), Decimal(0))
    tax = sum((t.tax for t in credit.breakdown), Decimal(0))
    gross = sum((t.gross for t in credit.breakdown), Decimal(0))
    remaining = (locked.gross_total or Decimal(0)) - locked.credited_gross
    if gross <= 0:
        raise CreditRefused(
            "Nothing to credit: the invoice is credited in full already."
            if kind == CreditNote.Kind.FULL
            else "This credits nothing: the amounts add up to zero or less.",
            http_status=409 if kind == CreditNote.Kind.FULL else 400,
        )
    if gross > remaining:
        raise CreditRefused(
            f"This credits {money_text(gross, currency)}, but only {money_text(remaining, currency)} of "
            f"invoice {locked.number} is left to credit."
        )
    capture = PaymentCapture.objects.filter(tenant_id=locked.tenant_id, order_id=locked.order_id).first()
    refunds = refund and _refundable(capture, gross, currency, locked)
    credit_document = dataclasses.replace(
        document,
        number="",
        issue_date=None,
        rows=credit.rows,
        tax_breakdown=credit.breakdown,
        net_total=net,
        tax_total=tax,
        gross_total=gross,
        payment_note="",
        paid=False,
        amount_due=None,
        due_date=None,
        payment_days=None,
        foreign_currency_vat=_foreign_vat(document, tax),
        document_type=CREDIT_NOTE,
        preceding_invoice_number=locked.number or "",
        preceding_invoice_date=locked.issue_date,
        credit_reason=reason,
        refund=REFUNDED if refunds else PAY_BACK,
        cancels_invoice=kind == CreditNote.Kind.FULL,
    )
    asked = credit_request_data(lines=lines, amounts=amounts, refund=refund)
    credit_note = CreditNote.objects.create(
        tenant_id=locked.tenant_id,
        invoice=locked,
        kind=kind,
        reason=reason,
        currency=currency,
        net_total=net,
        tax_total=tax,
        gross_total=gross,
        document=to_json(credit_document),
        request={**asked, "positions": credit.positions},
        refund_requested=refund,
        idempotency_key=idempotency_key,
        requested_by=actor[:200],
    )
    # the database's guard: CHECK credited_gross <= gross_total
    Invoice.objects.filter(pk=locked.pk).update(credited_gross=F("credited_gross") + gross)
    assert capture is not None or not refunds
    Refund.objects.create(
        credit_note=credit_note,
        status=Refund.Status.PENDING if refunds else Refund.Status.NOT_REQUIRED,
        transaction_id=capture.transaction_id if refunds and capture else "",
        capture_id=capture.capture_id if refunds and capture else "",
        amount=gross,
        currency=currency,
        idempotency_key=f"credit-refund:{locked.tenant.code}:{credit_note.pk}",
    )
    events.credit_note_requested(credit_note=credit_note, actor=actor)
    return credit_note


def _refundable(capture: PaymentCapture | None, gross: Decimal, currency: str, invoice: Invoice) -> bool:
    """Whether the credit is paid back through the gateway: the invoice's payment was captured."""
    if capture is None or capture.status != PaymentCapture.Status.CAPTURED or not capture.transaction_id:
        return False  # a bank transfer, cash, nothing captured: paid back or offset by the merchant
    if capture.currency.upper() != currency.upper():
        return False
    pending = sum(
        (
            r.amount
            for r in Refund.objects.filter(
                credit_note__invoice__tenant_id=invoice.tenant_id,
                credit_note__invoice__order_id=invoice.order_id,
                status__in=[Refund.Status.PENDING, Refund.Status.UNKNOWN],
            )
        ),
        Decimal(0),
    )
    held = (capture.amount or Decimal(0)) - capture.refunded_amount - pending
    if gross > held:
        raise CreditRefused(
            f"The payment of order {invoice.order_id} holds {money_text(max(held, Decimal(0)), currency)} "
            f"that can still be refunded, less than the {money_text(gross, currency)} to credit. Credit less, "
            'or ask for no refund ("refund": false) and pay it back another way.'
        )
    return True


def credit_note_fail(*, credit_note_id: Any, message: str) -> bool:
    """A credit note that ends before it was issued: FAILED, and its reservation given back."""
    with transaction.atomic():
        locked = CreditNote.objects.select_for_update().filter(pk=credit_note_id).first()
        if locked is None or locked.status != CreditNote.Status.DRAFT:
            return False
        locked.status = CreditNote.Status.FAILED
        locked.message = message[:4000]
        locked.save(update_fields=["status", "message", "updated_at"])
        Invoice.objects.filter(pk=locked.invoice_id).update(
            credited_gross=F("credited_gross") - locked.gross_total, updated_at=timezone.now()
        )
    return True


def credit_notes_of(invoice: Invoice) -> list[CreditNote]:
    return list(invoice.credit_notes.order_by("created_at"))


@dataclass(frozen=True)
class CreditRoom:
    """What the standing credit notes (issued or on their way) left of an invoice: what a new
    request is checked against (the console's forms show it)."""

    credited_quantity: dict[int, Decimal]  # invoice line position -> quantity credited so far
    gross_left: dict[tuple[Decimal, str], Decimal]  # (VAT rate, category) -> gross left to credit


def credit_room(invoice: Invoice) -> CreditRoom:
    standing = _standing(invoice)
    document = from_json(invoice.document)
    credited = _credited_per_position(standing)
    return CreditRoom(
        credited_quantity={position: values["quantity"] for position, values in credited.items()},
        gross_left={group: left.gross for group, left in _left_per_group(document, standing).items()},
    )


@dataclass(frozen=True)
class Balance:
    invoiced: Decimal
    credited: Decimal  # issued credit notes
    pending: Decimal  # requested, not issued yet
    currency: str

    @property
    def remaining(self) -> Decimal:
        return self.invoiced - self.credited - self.pending


def invoice_balance(invoice: Invoice) -> Balance:
    issued = Decimal(0)
    pending = Decimal(0)
    for status, gross in invoice.credit_notes.exclude(status=CreditNote.Status.FAILED).values_list(
        "status", "gross_total"
    ):
        if status == CreditNote.Status.ISSUED:
            issued += gross
        else:
            pending += gross
    return Balance(invoice.gross_total or Decimal(0), issued, pending, invoice.currency)


def credit_note_find(*, tenant: Tenant, idempotency_key: str) -> CreditNote | None:
    if not idempotency_key:
        return None
    return CreditNote.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
