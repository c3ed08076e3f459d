"""The console's two corrections of an issued invoice: cancelling it, and a partial credit note.

Both are forms in front of jobs.credit_notes.credit_note_request, which works the amounts out,
refuses what cannot be credited (CreditRefused, its message shown on the form), writes the audit
event and starts the credit note's pipeline. The forms only collect what the person asked for.

What the partial form shows next to each input (what was invoiced, what is left) comes from
invoicing.credit_notes.credit_room: the figures a request is checked against.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms

from core.money import money_text
from invoicing.credit_notes import MAX_REASON, CreditAmount, CreditLine
from invoicing.credit_notes import credit_room as room_of
from invoicing.documents import from_json
from invoicing.models import Invoice, PaymentCapture

ISSUE_CREDIT_NOTE_PERMISSION = "invoicing.issue_credit_note"  # Administrators (jobs.roles)
IDEMPOTENCY_PREFIX = "console:"  # + the form's token: a form sent twice makes one credit note
QUANTITY_PLACES = 3  # InvoiceRow quantities are stored with up to three decimals


def quantity_text(value: Decimal) -> str:
    return f"{value.normalize():f}"


@dataclass(frozen=True)
class LineRoom:
    """One line of the invoice (its position as printed) and how much of it is left to credit."""

    position: int
    kind: str
    description: str
    quantity: Decimal
    credited: Decimal
    unit_price: str  # as printed: gross for gross-priced invoices, else net
    amount: str

    @property
    def left(self) -> Decimal:
        return max(self.quantity - self.credited, Decimal(0))

    @property
    def figures(self) -> tuple[str, str, str]:
        """Invoiced, credited and left, as printed: 10, not 1E+1."""
        return (quantity_text(self.quantity), quantity_text(self.credited), quantity_text(self.left))

    @property
    def field(self) -> str:
        return f"line_{self.position}"


@dataclass(frozen=True)
class RateRoom:
    """One VAT rate of the invoice: its gross, and what is left of it to credit."""

    index: int
    rate: Decimal
    gross: str
    left: Decimal
    left_text: str

    @property
    def field(self) -> str:
        return f"rate_{self.index}"

    @property
    def rate_text(self) -> str:
        return f"{self.rate.normalize():f} %"


def credit_room(invoice: Invoice) -> tuple[list[LineRoom], list[RateRoom]]:
    """The invoice's lines and VAT rates with what the standing credit notes left of them."""
    document = from_json(invoice.document)
    currency = invoice.currency or document.currency
    # The same reading the request itself does (invoicing.credit_notes), so the figures shown are
    # the ones a request is checked against.
    room = room_of(invoice)
    credited = room.credited_quantity
    left = room.gross_left
    lines = [
        LineRoom(
            position=position,
            kind=row.kind,
            description=row.description,
            quantity=row.quantity,
            credited=credited.get(position, Decimal(0)),
            unit_price=money_text(
                row.unit_gross if document.prices_gross and row.unit_gross is not None else row.unit_net,
                currency,
                grouped=True,
            ),
            amount=money_text(
                row.gross if document.prices_gross and row.gross is not None else row.net,
                currency,
                grouped=True,
            ),
        )
        for position, row in enumerate(document.rows, start=1)
    ]
    by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for line in document.tax_breakdown:
        gross, rest = by_rate.get(line.rate, (Decimal(0), Decimal(0)))
        rest_here = left.get((line.rate, line.category), line.gross)
        by_rate[line.rate] = (gross + line.gross, rest + max(rest_here, Decimal(0)))
    rates = [
        RateRoom(
            index=index,
            rate=rate,
            gross=money_text(gross, currency, grouped=True),
            left=rest,
            left_text=money_text(rest, currency, grouped=True),
        )
        for index, (rate, (gross, rest)) in enumerate(sorted(by_rate.items()))
    ]
    return lines, rates


def refund_possible(invoice: Invoice) -> PaymentCapture | None:
    """The order's capture when its payment was taken through the gateway (a refund can be made)."""
    capture = PaymentCapture.objects.filter(tenant_id=invoice.tenant_id, order_id=invoice.order_id).first()
    if capture is None or capture.status != PaymentCapture.Status.CAPTURED or not capture.transaction_id:
        return None
    return capture


class _CreditForm(forms.Form):
    reason = forms.CharField(
        max_length=MAX_REASON,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Printed on the credit note and sent to the customer. Required.",
    )
    refund = forms.BooleanField(
        required=False,
        initial=True,
        label="Refund the payment",
        help_text="Pay the credited amount back to the customer's payment through the payment gateway.",
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, capture: PaymentCapture | None, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("token", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        if capture is None:
            # Nothing was taken through the gateway (paid by invoice, not captured): there is
            # nothing it could pay back. The credit note then says the amount is paid back or offset.
            field = self.fields["refund"]
            field.disabled = True
            field.initial = False
            field.help_text = (
                "Not possible: the payment of this order was not captured through the payment gateway. "
                "The credit note says the amount will be paid back or offset."
            )

    @property
    def idempotency_key(self) -> str:
        return IDEMPOTENCY_PREFIX + self.cleaned_data["token"]


class CancelForm(_CreditForm):
    """Cancel the invoice: a credit note for everything that is left to credit."""


class PartialCreditForm(_CreditForm):
    """Credit chosen quantities of the invoice's lines, or a gross amount per VAT rate."""

    def __init__(self, *args: Any, lines: list[LineRoom], rates: list[RateRoom], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = lines
        self.rates = rates
        for line in lines:
            self.fields[line.field] = forms.DecimalField(
                required=False,
                min_value=Decimal(0),
                max_digits=18,
                decimal_places=QUANTITY_PLACES,
                label=f"Line {line.position}",
                disabled=line.left <= 0,
                widget=forms.NumberInput(attrs={"step": "any", "min": "0", "style": "width:7em"}),
            )
        for rate in rates:
            self.fields[rate.field] = forms.DecimalField(
                required=False,
                min_value=Decimal(0),
                max_digits=18,
                decimal_places=3,
                label=f"Gross amount at {rate.rate_text}",
                disabled=rate.left <= 0,
                widget=forms.NumberInput(attrs={"step": "any", "min": "0", "style": "width:9em"}),
            )

    def line_rows(self) -> list[tuple[LineRoom, forms.BoundField]]:
        return [(line, self[line.field]) for line in self.lines]

    def rate_rows(self) -> list[tuple[RateRoom, forms.BoundField]]:
        return [(rate, self[rate.field]) for rate in self.rates]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        lines = [
            CreditLine(position=line.position, quantity=cleaned[line.field])
            for line in self.lines
            if cleaned.get(line.field)
        ]
        amounts = [
            CreditAmount(tax_rate=rate.rate, gross_amount=cleaned[rate.field])
            for rate in self.rates
            if cleaned.get(rate.field)
        ]
        if lines and amounts:
            raise forms.ValidationError(
                "Credit either quantities of lines or amounts per VAT rate, not both in one credit note."
            )
        if not lines and not amounts and not self.errors:
            raise forms.ValidationError(
                "Enter a quantity to credit for at least one line, or a gross amount for at least one VAT rate."
            )
        cleaned["lines"] = lines
        cleaned["amounts"] = amounts
        return cleaned
