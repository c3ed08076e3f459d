"""The invariants every fault drill checks afterwards, by SQL over what the service wrote.

- one open invoice per order (a cancelled one leaves room for the order's new invoice);
- consecutive numbers: the local series' counter advanced exactly once per issued invoice, and
  no number appears twice;
- one successful capture per order at the (local) payment gateway;
- one email per delivery: no invoice was mailed more often than it has delivery rows, and
  every delivery recorded SENT left a mail;
- credit notes: never more credited than invoiced, their own gapless series, each refunded at
  most once, and never more refunded than captured.
"""

from __future__ import annotations

import email
from collections import Counter
from pathlib import Path

from django.db import connection

from integrations.models import NumberSeries
from invoicing.models import CreditNote, EmailDelivery, Invoice
from tenants.models import Tenant


def _rows(sql: str, params: list[object]) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def mailed_invoice_numbers(mail_dir: Path) -> Counter[str]:
    """How often each invoice number was mailed, from the .eml files (subject "Invoice N for …")."""
    counts: Counter[str] = Counter()
    for path in sorted(mail_dir.glob("*.eml")):
        subject = str(email.message_from_bytes(path.read_bytes())["Subject"] or "")
        if subject.startswith("Invoice "):
            counts[subject.split()[1]] += 1
    return counts


def assert_invariants(tenant: Tenant, *, mail_dir: Path | None = None) -> None:
    invoice_table = Invoice._meta.db_table
    doubles = _rows(
        f"SELECT order_id, count(*) FROM {invoice_table} WHERE tenant_id = %s AND cancelled_at IS NULL "
        "GROUP BY order_id HAVING count(*) > 1",
        [tenant.pk],
    )
    assert not doubles, f"orders with more than one invoice: {doubles}"

    issued = list(
        Invoice.objects.filter(tenant=tenant, status=Invoice.Status.ISSUED).values_list("number", flat=True)
    )
    assert len(issued) == len(set(issued)), f"a number was issued twice: {Counter(issued).most_common(3)}"
    series = NumberSeries.objects.filter(tenant=tenant, name="invoiceNoSequence").first()
    if series is not None:
        drawn = (series.counter or series.start_value) - series.start_value
        assert drawn == len(issued), f"{drawn} numbers drawn for {len(issued)} issued invoices (a gap)"

    credit_notes = list(
        CreditNote.objects.filter(tenant=tenant, status=CreditNote.Status.ISSUED).values_list(
            "number", flat=True
        )
    )
    assert len(credit_notes) == len(set(credit_notes)), "a credit note number was issued twice"
    credit_series = NumberSeries.objects.filter(tenant=tenant, name="creditNoteNoSequence").first()
    if credit_series is not None:
        drawn = (credit_series.counter or credit_series.start_value) - credit_series.start_value
        assert drawn == len(credit_notes), (
            f"{drawn} numbers drawn for {len(credit_notes)} credit notes (a gap)"
        )
    for invoice in Invoice.objects.filter(tenant=tenant, credit_notes__isnull=False).distinct():
        standing = sum(
            invoice.credit_notes.exclude(status=CreditNote.Status.FAILED).values_list(
                "gross_total", flat=True
            ),
            start=0,
        )
        assert standing == invoice.credited_gross <= (invoice.gross_total or 0), (
            f"{invoice.number} over-credited"
        )
    over_refunded = _rows(
        "SELECT t.transaction_id FROM integrations_gatewaytransaction t WHERE t.tenant_id = %s AND "
        "(SELECT coalesce(sum(r.amount), 0) FROM integrations_gatewayrefund r "
        " WHERE r.transaction_id = t.id AND r.successful) > "
        "(SELECT coalesce(sum(c.amount), 0) FROM integrations_gatewaycapture c "
        " WHERE c.transaction_id = t.id AND c.successful)",
        [tenant.pk],
    )
    assert not over_refunded, f"transactions refunded beyond their capture: {over_refunded}"
    refunds_per_key = _rows(
        "SELECT idempotency_key, count(*) FROM integrations_gatewayrefund r JOIN "
        "integrations_gatewaytransaction t ON t.id = r.transaction_id WHERE t.tenant_id = %s AND r.successful "
        "GROUP BY idempotency_key HAVING count(*) > 1",
        [tenant.pk],
    )
    assert not refunds_per_key, f"credit notes refunded more than once: {refunds_per_key}"

    multi_captured = _rows(
        "SELECT t.transaction_id, count(*) FROM integrations_gatewaycapture c "
        "JOIN integrations_gatewaytransaction t ON t.id = c.transaction_id "
        "WHERE c.successful AND t.tenant_id = %s GROUP BY t.transaction_id HAVING count(*) > 1",
        [tenant.pk],
    )
    assert not multi_captured, f"transactions captured more than once: {multi_captured}"

    if mail_dir is not None:
        mailed = mailed_invoice_numbers(mail_dir)
        deliveries = Counter(
            EmailDelivery.objects.filter(invoice__tenant=tenant, credit_note__isnull=True).values_list(
                "invoice__number", flat=True
            )
        )
        too_many = {number: n for number, n in mailed.items() if n > deliveries.get(number, 0)}
        assert not too_many, f"invoices mailed more often than they have deliveries: {too_many}"
        sent = EmailDelivery.objects.filter(
            invoice__tenant=tenant, status=EmailDelivery.Status.SENT, credit_note__isnull=True
        )
        unmailed = [
            d.invoice.number for d in sent.select_related("invoice") if not mailed.get(d.invoice.number)
        ]
        assert not unmailed, f"deliveries recorded SENT without a mail: {unmailed}"
