"""Credit notes end to end: real Celery worker processes, Redis and PostgreSQL.

Full and partial credit notes go through the broker and a worker on both backends (Emporix's HTTP
boundary mocked inside the worker, shaped like the published Payment Gateway spec), and a worker
killed right after the gateway refunded, before the step recorded it, refunds once.
"""

from __future__ import annotations

import email
import json
import time
from decimal import Decimal
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from integrations.models import GatewayRefund
from invoicing.credit_notes import CreditLine
from invoicing.models import CreditNote, Invoice, Refund
from jobs.credit_notes import credit_note_request, credit_note_state
from jobs.models import JobOrder
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.invariants import assert_invariants
from tests.spec_utils import validate_request_body
from tests.workers import wait_for_job

PAYMENT_GATEWAY_SPEC = "emporix/checkout/payment-gateway/api-reference/api.yml"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def mails(directory: Path) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]


def invoice_of(tenant: Tenant, order_id: str) -> Invoice:
    job = job_create_manual(tenant=tenant, order_ids=[order_id])
    wait_for_job(job.pk, timeout=120)
    row = JobOrder.objects.select_related("invoice").get(job=job)
    assert row.status == "SUCCESS", row.message
    assert row.invoice is not None
    return row.invoice


def credit(tenant: Tenant, invoice: Invoice, **asked: Any) -> CreditNote:
    credit_note, _ = credit_note_request(
        tenant=tenant, invoice_number=invoice.number or "", actor="e2e", **{"reason": "Returned", **asked}
    )
    return credit_note


def finished(credit_note: CreditNote, *, timeout: float = 120) -> CreditNote:
    wait_for_job(JobOrder.objects.get(credit_note=credit_note).job_id, timeout=timeout)
    state = credit_note_state(credit_note)
    assert state.status == "SUCCESS", state.message
    credit_note.refresh_from_db()
    return credit_note


def test_e2e_partial_and_full_credit_notes_on_the_local_backend(celery_worker_factory, tmp_path):
    tenant = factories.tenant_make("shop")
    factories.orders_store(tenant, factories.CARD_ORDER)
    mail_dir = tmp_path / "mail"
    celery_worker_factory(extra_env={"EMAIL_FILE_PATH": str(mail_dir)})
    invoice = invoice_of(tenant, factories.CARD_ORDER)

    partial = finished(credit(tenant, invoice, lines=[CreditLine(1, Decimal(1))]))
    rest = finished(credit(tenant, invoice, reason="Order cancelled"))

    assert [partial.number, rest.number] == ["CN1001", "CN1002"]
    assert partial.gross_total + rest.gross_total == invoice.gross_total
    refunds = GatewayRefund.objects.filter(successful=True).order_by("created_at")
    assert [r.amount for r in refunds] == [partial.gross_total, rest.gross_total]  # each once
    invoice.refresh_from_db()
    assert invoice.cancelled_at is not None and invoice.credited_gross == invoice.gross_total
    subjects = [m["Subject"] for m in mails(mail_dir)]
    assert (
        len(subjects) == 3 and any("CN1001" in s for s in subjects) and any("CN1002" in s for s in subjects)
    )
    for credit_note in (partial, rest):
        assert credit_note.pdf.read(5) == b"%PDF-"
    assert_invariants(tenant, mail_dir=mail_dir)


def test_e2e_worker_killed_mid_refund_refunds_once(celery_worker_factory, tmp_path):
    tenant = factories.tenant_make("shop")
    factories.orders_store(tenant, factories.CARD_ORDER)
    mail_dir = tmp_path / "mail"
    redelivery = {
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    first = celery_worker_factory("invoicer", extra_env=redelivery)
    invoice = invoice_of(tenant, factories.CARD_ORDER)
    first.stop()
    doomed = celery_worker_factory(
        "doomed",
        extra_env={**redelivery, "INVOICE_TEST_SLOW_REFUND": "60", "INVOICE_TEST_MARKER_DIR": str(tmp_path)},
    )

    credit_note = credit(tenant, invoice)
    marker = tmp_path / "refund-done"
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, doomed.log()
        time.sleep(0.2)
    doomed.kill()  # the gateway has refunded; the step has not recorded it
    assert Refund.objects.get(credit_note=credit_note).status == Refund.Status.UNKNOWN

    celery_worker_factory("rescuer", extra_env=redelivery)
    credit_note = finished(credit_note, timeout=120)

    refund = Refund.objects.get(credit_note=credit_note)
    assert refund.status == Refund.Status.REFUNDED
    assert refund.message == "resolved: the gateway had refunded it"
    assert GatewayRefund.objects.filter(successful=True).count() == 1
    assert credit_note.number == "CN1001"
    assert sum(1 for m in mails(mail_dir) if "CN1001" in (m["Subject"] or "")) == 1


def test_e2e_emporix_credit_notes_refund_through_the_payment_gateway(celery_worker_factory, tmp_path):
    """Invoice, partial credit, then cancel the rest, all inside one worker talking to the fake
    Emporix; the refund calls are checked against the published Payment Gateway spec."""
    from integrations.emporix.client import clear_token_cache
    from tests.integrations import emporix_payloads as payloads

    clear_token_cache()
    tenant = factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url=payloads.BASE_URL,
        emporix_client_id="invoice-service",
        emporix_client_secret="s3cr3t",
        emporix_number_placeholders={"__num__": ""},
    )
    calls_log = tmp_path / "emporix-calls.jsonl"
    mail_dir = tmp_path / "mail"
    celery_worker_factory(
        "emporix",
        concurrency=1,
        extra_env={"INVOICE_TEST_FAKE_EMPORIX": str(calls_log), "EMAIL_FILE_PATH": str(mail_dir)},
    )
    order_id = next(oid for oid in payloads.demo_order_ids() if payloads.card_transaction_id(oid))
    invoice = invoice_of(tenant, order_id)

    partial = finished(credit(tenant, invoice, lines=[CreditLine(1, Decimal(1))]))
    rest = finished(credit(tenant, invoice, reason="Order cancelled"))

    calls = [json.loads(line) for line in calls_log.read_text().splitlines()]
    refunds = [c for c in calls if c["op"] == "refund"]
    assert len(refunds) == 2  # once per credit note
    for call, credit_note in zip(refunds, (partial, rest), strict=True):
        assert call["url"].rsplit("/", 2)[-2] == payloads.card_transaction_id(order_id)
        body = validate_request_body(
            PAYMENT_GATEWAY_SPEC,
            "POST",
            "/payment-gateway/{tenant}/payment/{transactionId}/refund",
            call["body"],
        )
        assert (
            Decimal(str(body["amount"])) == credit_note.gross_total
            and body["currency"] == credit_note.currency
        )
    assert {partial.number, rest.number} == {c.number for c in CreditNote.objects.all()}
    patches = [json.loads(c["body"]) for c in calls if c["op"] == "patch_order"]
    last = patches[-1]["mixins"]["invoice"]
    assert last["invoiceNo"] == invoice.number
    assert [entry["creditNoteNo"] for entry in last["creditNotes"]] == [partial.number, rest.number]
    invoice.refresh_from_db()
    assert invoice.cancelled_at is not None
    assert len(mails(mail_dir)) == 3
