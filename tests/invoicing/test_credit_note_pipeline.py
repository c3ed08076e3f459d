"""Credit notes through their pipeline (tests.pipeline.drive: the real step tasks, in process, on
PostgreSQL, local backend): validation -> refund -> number -> PDF -> email -> write-back.

What a merchant notices: the credit note's number from its own gapless series, the refund made
once (GatewayRefund rows of the local gateway), the invoice's balance, the order's mixin, the
customer's email, and that a cancelled order can be invoiced again.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from integrations.models import GatewayRefund, StoredOrder
from invoicing.credit_notes import CreditAmount, CreditLine, CreditRefused, invoice_balance
from invoicing.documents import PAY_BACK, REFUNDED, from_json
from invoicing.models import CreditNote, Invoice, PaymentCapture, Refund
from jobs.credit_notes import credit_note_request, credit_note_state
from jobs.models import InvoiceJob, JobOrder
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.pipeline import drive

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> Tenant:
    tenant = factories.tenant_make("shop")
    factories.orders_store(tenant, factories.CARD_ORDER, factories.INVOICE_ORDER)
    return tenant


def invoiced(tenant: Tenant, order_id: str) -> Invoice:
    drive(job_create_manual(tenant=tenant, order_ids=[order_id]))
    invoice = Invoice.objects.get(tenant=tenant, order_id=order_id, cancelled_at__isnull=True)
    assert invoice.status == Invoice.Status.ISSUED, JobOrder.objects.filter(invoice=invoice).first()
    return invoice


def credited(tenant: Tenant, invoice: Invoice, **asked) -> CreditNote:
    credit_note, created = credit_note_request(
        tenant=tenant,
        invoice_number=invoice.number or "",
        actor="test",
        **{"reason": "Wrong address", **asked},
    )
    assert created
    drive(JobOrder.objects.get(credit_note=credit_note).job)
    credit_note.refresh_from_db()
    return credit_note


def test_cancellation_refunds_numbers_renders_emails_and_writes_back(shop: Tenant) -> None:
    invoice = invoiced(shop, factories.CARD_ORDER)
    mail.outbox.clear()

    credit_note = credited(shop, invoice)

    state = credit_note_state(credit_note)
    assert state.status == "SUCCESS", state.message
    assert credit_note.status == CreditNote.Status.ISSUED
    assert credit_note.number == "CN1001"
    assert credit_note.kind == CreditNote.Kind.FULL
    assert credit_note.gross_total == invoice.gross_total
    assert credit_note.pdf and credit_note.pdf_sha256
    # refunded once, for the whole amount, through the gateway
    refund = Refund.objects.get(credit_note=credit_note)
    assert refund.status == Refund.Status.REFUNDED
    gateway_refunds = GatewayRefund.objects.filter(
        transaction__order_id=factories.CARD_ORDER, successful=True
    )
    assert [r.amount for r in gateway_refunds] == [invoice.gross_total]
    capture = PaymentCapture.objects.get(tenant=shop, order_id=factories.CARD_ORDER)
    assert capture.refunded_amount == invoice.gross_total
    # the document: a credit note for the invoice, refunded
    document = from_json(credit_note.document)
    assert document.is_credit_note and document.cancels_invoice
    assert document.preceding_invoice_number == invoice.number
    assert document.preceding_invoice_date == invoice.issue_date
    assert document.refund == REFUNDED
    assert document.number == "CN1001" and document.issue_date == credit_note.issue_date
    # the invoice: cancelled, nothing left
    invoice.refresh_from_db()
    assert invoice.cancelled_at is not None
    assert invoice.credited_gross == invoice.gross_total
    assert invoice_balance(invoice).remaining == 0
    # the customer's email, with the credit note's PDF
    assert len(mail.outbox) == 1
    assert "CN1001" in mail.outbox[0].subject
    assert mail.outbox[0].to == [invoice.customer_email]
    # the order's invoice mixin lists it
    mixin = StoredOrder.objects.get(tenant=shop, order_id=factories.CARD_ORDER).document["mixins"]["invoice"]
    assert mixin["invoiceNo"] == invoice.number
    assert [entry["creditNoteNo"] for entry in mixin["creditNotes"]] == ["CN1001"]
    # credit note e-invoices pass the official rules
    assert credit_note.einvoice_report and all(r["ok"] for r in credit_note.einvoice_report.values()), (
        credit_note.einvoice_report
    )
    # its pipeline is a CREDIT job, done
    job = JobOrder.objects.get(credit_note=credit_note).job
    assert job.job_type == InvoiceJob.Type.CREDIT and job.status == InvoiceJob.Status.DONE


def test_partial_credits_by_lines_and_amounts_leave_the_rest(shop: Tenant) -> None:
    invoice = invoiced(shop, factories.INVOICE_ORDER)  # pay by invoice: nothing to refund
    document = from_json(invoice.document)
    first = document.rows[0]

    by_line = credited(shop, invoice, reason="Returned", lines=[CreditLine(1, Decimal(1))])
    biggest = max(document.tax_breakdown, key=lambda t: t.gross)
    goodwill = credited(
        shop, invoice, reason="Goodwill", amounts=[CreditAmount(biggest.rate, Decimal("1.00"))]
    )

    assert [by_line.number, goodwill.number] == ["CN1001", "CN1002"]
    assert by_line.kind == CreditNote.Kind.LINES and goodwill.kind == CreditNote.Kind.AMOUNTS
    line_doc = from_json(by_line.document)
    assert line_doc.rows[0].description == first.description
    assert line_doc.rows[0].quantity == 1
    assert line_doc.refund == PAY_BACK and not line_doc.cancels_invoice
    assert Refund.objects.get(credit_note=by_line).status == Refund.Status.NOT_REQUIRED
    assert goodwill.gross_total == Decimal("1.00")
    invoice.refresh_from_db()
    balance = invoice_balance(invoice)
    assert balance.credited == by_line.gross_total + goodwill.gross_total
    assert balance.remaining == invoice.gross_total - balance.credited > 0
    assert invoice.cancelled_at is None
    for credit_note in (by_line, goodwill):
        assert all(r["ok"] for r in credit_note.einvoice_report.values()), credit_note.einvoice_report

    # the rest, cancelled: exactly what was left, and the invoice is cancelled
    rest = credited(shop, invoice, reason="Order cancelled")
    assert rest.gross_total == balance.remaining
    invoice.refresh_from_db()
    assert invoice.cancelled_at is not None and invoice.credited_gross == invoice.gross_total
    assert all(r["ok"] for r in rest.einvoice_report.values()), rest.einvoice_report


def test_a_credit_beyond_what_is_left_is_refused_and_reserves_nothing(shop: Tenant) -> None:
    invoice = invoiced(shop, factories.INVOICE_ORDER)
    rate = from_json(invoice.document).tax_breakdown[0]
    with pytest.raises(CreditRefused) as refused:
        credit_note_request(
            tenant=shop,
            invoice_number=invoice.number or "",
            reason="Too much",
            amounts=[CreditAmount(rate.rate, rate.gross + 1)],
            actor="test",
        )
    assert refused.value.http_status == 409
    assert "left to credit" in refused.value.message
    with pytest.raises(CreditRefused) as unknown_line:
        credit_note_request(
            tenant=shop,
            invoice_number=invoice.number or "",
            reason="x",
            lines=[CreditLine(99, Decimal(1))],
            actor="t",
        )
    assert unknown_line.value.http_status == 400
    with pytest.raises(CreditRefused) as missing:
        credit_note_request(tenant=shop, invoice_number="NOPE", reason="x", actor="t")
    assert missing.value.http_status == 404
    invoice.refresh_from_db()
    assert invoice.credited_gross == 0 and not CreditNote.objects.exists()

    credited(shop, invoice)  # cancelled in full
    with pytest.raises(CreditRefused) as cancelled:
        credit_note_request(tenant=shop, invoice_number=invoice.number or "", reason="again", actor="t")
    assert cancelled.value.http_status == 409


def test_a_declined_refund_fails_the_credit_note_without_a_number_and_gives_the_amount_back(
    shop: Tenant,
) -> None:
    invoice = invoiced(shop, factories.CARD_ORDER)
    from integrations.models import GatewayTransaction

    GatewayTransaction.objects.filter(tenant=shop, order_id=factories.CARD_ORDER).update(
        refund_decline_reason="Refunds are blocked for this card"
    )

    failed = credited(shop, invoice)

    state = credit_note_state(failed)
    assert state.status == "FAILURE"
    assert "Refund declined: Refunds are blocked for this card" in state.message
    assert failed.status == CreditNote.Status.FAILED and failed.number is None
    invoice.refresh_from_db()
    assert invoice.credited_gross == 0 and invoice.cancelled_at is None

    # the series has no gap: the next credit note that is issued is CN1001
    GatewayTransaction.objects.filter(tenant=shop, order_id=factories.CARD_ORDER).update(
        refund_decline_reason=""
    )
    assert credited(shop, invoice).number == "CN1001"


def test_the_same_idempotency_key_answers_the_same_credit_note(shop: Tenant) -> None:
    invoice = invoiced(shop, factories.INVOICE_ORDER)
    asked = {"tenant": shop, "invoice_number": invoice.number or "", "reason": "Damaged", "actor": "t"}
    first, created = credit_note_request(**asked, lines=[CreditLine(1, Decimal(1))], idempotency_key="k-1")
    again, created_again = credit_note_request(
        **asked, lines=[CreditLine(1, Decimal(1))], idempotency_key="k-1"
    )
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(CreditRefused) as reused:
        credit_note_request(**asked, lines=[CreditLine(1, Decimal(2))], idempotency_key="k-1")
    assert reused.value.http_status == 422
    assert CreditNote.objects.count() == 1


def test_cancel_without_refund_and_invoice_again_keeps_the_payment(shop: Tenant) -> None:
    """Wrong address: cancel (the money stays), correct the order, invoice it again: a new number,
    settled by the payment already captured, nothing captured or refunded at the gateway."""
    invoice = invoiced(shop, factories.CARD_ORDER)
    credit_note = credited(shop, invoice, refund=False)
    assert from_json(credit_note.document).refund == PAY_BACK
    assert not GatewayRefund.objects.exists()

    again = invoiced(shop, factories.CARD_ORDER)

    assert again.pk != invoice.pk and again.number == "INV1002"
    assert from_json(again.document).paid
    capture = PaymentCapture.objects.get(tenant=shop, order_id=factories.CARD_ORDER)
    assert capture.invoice_id == again.pk and capture.status == PaymentCapture.Status.CAPTURED
    from integrations.models import GatewayCapture

    assert GatewayCapture.objects.filter(transaction__order_id=factories.CARD_ORDER).count() == 1
    mixin = StoredOrder.objects.get(tenant=shop, order_id=factories.CARD_ORDER).document["mixins"]["invoice"]
    assert mixin["invoiceNo"] == "INV1002"
    assert [entry["creditNoteNo"] for entry in mixin["creditNotes"]] == ["CN1001"]
    # a third job finds the order invoiced (by the new invoice)
    drive(job_create_manual(tenant=shop, order_ids=[factories.CARD_ORDER]))
    last = JobOrder.objects.filter(order_id=factories.CARD_ORDER).order_by("-pk").first()
    assert last is not None and last.status == JobOrder.Status.FAILURE and "INV1002" in last.message


def test_invoice_again_after_a_refunded_cancellation_needs_a_new_authorisation(shop: Tenant) -> None:
    invoice = invoiced(shop, factories.CARD_ORDER)
    credited(shop, invoice)  # refunded in full

    drive(job_create_manual(tenant=shop, order_ids=[factories.CARD_ORDER]))

    row = (
        JobOrder.objects.filter(order_id=factories.CARD_ORDER, credit_note__isnull=True)
        .order_by("-pk")
        .first()
    )
    assert row is not None and row.status == JobOrder.Status.FAILURE
    assert "refunded when its invoice was cancelled" in row.message
    assert "new payment authorisation" in row.message


def test_invoice_again_after_cancelling_a_pay_by_invoice_order(shop: Tenant) -> None:
    invoice = invoiced(shop, factories.INVOICE_ORDER)
    credited(shop, invoice)
    again = invoiced(shop, factories.INVOICE_ORDER)
    assert again.number == "INV1002" and not from_json(again.document).paid


def test_a_number_that_fails_after_the_refund_keeps_the_credit_note_for_a_re_run(shop: Tenant) -> None:
    """The refund was made, then no number could be drawn (the series is missing): the credit
    note is not given up, its amount stays reserved, and a re-run issues it without refunding again."""
    from integrations.models import NumberSeries
    from integrations.services import credit_note_series_ensure
    from jobs.services import credit_note_resume_failed_steps

    invoice = invoiced(shop, factories.CARD_ORDER)
    NumberSeries.objects.filter(tenant=shop, name="creditNoteNoSequence").delete()

    held = credited(shop, invoice)

    state = credit_note_state(held)
    assert state.status == "FAILURE" and state.step == "issue"
    assert "re-runs the failed steps" in state.message and "never made twice" in state.message
    assert held.status == CreditNote.Status.DRAFT
    assert Refund.objects.get(credit_note=held).status == Refund.Status.REFUNDED
    invoice.refresh_from_db()
    assert invoice.credited_gross == invoice.gross_total  # still reserved: no second credit fits
    with pytest.raises(CreditRefused):
        credit_note_request(tenant=shop, invoice_number=invoice.number or "", reason="again", actor="t")

    credit_note_series_ensure(tenant=shop)
    assert credit_note_resume_failed_steps(credit_note=held, actor="admin")
    drive(JobOrder.objects.get(credit_note=held).job)

    held.refresh_from_db()
    assert credit_note_state(held).status == "SUCCESS"
    assert held.number == "CN1001"
    assert GatewayRefund.objects.filter(successful=True).count() == 1
