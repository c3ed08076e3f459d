"""Correcting an issued invoice in the console: "Cancel the invoice" and "Create a partial credit
note" (Administrators only), the invoice's credited and remaining balance, the credit notes' list
and read-only page, and the job list without the credit notes' pipelines.

The credit note's pipeline is driven in process (tests.pipeline.drive): a request leaves it a
DRAFT until then, as the workers would.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoicing.credit_notes import credit_note_fail
from invoicing.models import CreditNote, EmailDelivery, Invoice, InvoiceEvent, Refund
from jobs.credit_notes import CreditLine, credit_note_request
from jobs.models import InvoiceJob, JobOrder
from jobs.roles import ADMINISTRATORS, OPERATORS, roles_ensure
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.console.helpers import admin_request, has_save_button, login, messages_of, rows, user_make
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

PAID_BY_INVOICE = factories.INVOICE_ORDER  # 35.69 EUR: three books at 7 %, shipping at 19 %; nothing captured
CAPTURED = factories.CARD_ORDER  # 179.88 EUR at 19 %, captured by card


@dataclass
class Shop:
    tenant: Tenant
    invoice: Invoice  # PAID_BY_INVOICE's
    captured: Invoice  # CAPTURED's
    operator: User
    administrator: User
    superuser: User
    staff: User  # staff without a role


@pytest.fixture(scope="module")
def shop_data(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Shop]:
    """Built once per module; every test runs in a savepoint of this transaction."""
    with django_db_blocker.unblock(), transaction.atomic():
        tenant = factories.tenant_make("acme")
        factories.orders_store(tenant, CAPTURED, PAID_BY_INVOICE)
        job = drive(job_create_manual(tenant=tenant, order_ids=[CAPTURED, PAID_BY_INVOICE]))
        assert job.success_count == 2
        yield Shop(
            tenant=tenant,
            invoice=Invoice.objects.get(tenant=tenant, order_id=PAID_BY_INVOICE),
            captured=Invoice.objects.get(tenant=tenant, order_id=CAPTURED),
            operator=user_make("operator", OPERATORS),
            administrator=user_make("administrator", ADMINISTRATORS),
            superuser=user_make("root", is_superuser=True),
            staff=user_make("staff"),
        )
        transaction.set_rollback(True)


@pytest.fixture
def shop(shop_data: Shop, db: Any) -> Shop:
    shop_data.invoice.refresh_from_db()
    shop_data.captured.refresh_from_db()
    return shop_data


@pytest.fixture
def administrator(shop: Shop) -> Client:
    return login(shop.administrator)


@pytest.fixture
def operator(shop: Shop) -> Client:
    return login(shop.operator)


def invoice_page(invoice: Invoice) -> str:
    return reverse("admin:invoicing_invoice_change", args=[invoice.pk])


def cancel_url(invoice: Invoice) -> str:
    return reverse("admin:invoicing_invoice_cancel", args=[invoice.pk])


def credit_url(invoice: Invoice) -> str:
    return reverse("admin:invoicing_invoice_credit", args=[invoice.pk])


def credit_note_page(credit_note: CreditNote) -> str:
    return reverse("admin:invoicing_creditnote_change", args=[credit_note.pk])


CREDIT_NOTES = reverse("admin:invoicing_creditnote_changelist")


def sent(reason: str = "Order cancelled by the customer", **fields: str) -> dict[str, str]:
    """A form as the page sends it: its token, a reason, the refund box ticked."""
    return {"token": uuid.uuid4().hex, "reason": reason, "refund": "on", **fields}


def issued(credit_note: CreditNote) -> CreditNote:
    """Run the credit note's pipeline, as the workers would after the request commits."""
    drive(JobOrder.objects.get(credit_note=credit_note).job)
    credit_note.refresh_from_db()
    return credit_note


def text_of(response: Any) -> str:
    """The page's visible text, one space between words."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").replace("&amp;", "&")


# --- who may correct an invoice -----------------------------------------------------------------------
def test_only_administrators_hold_the_credit_note_permission(shop: Shop) -> None:
    roles_ensure()  # what every migrate does

    operators = Group.objects.get(name=OPERATORS).permissions.values_list("codename", flat=True)
    administrators = Group.objects.get(name=ADMINISTRATORS).permissions.values_list("codename", flat=True)

    assert "issue_credit_note" not in operators
    assert "issue_credit_note" in administrators
    assert not User.objects.get(pk=shop.operator.pk).has_perm("invoicing.issue_credit_note")
    assert User.objects.get(pk=shop.administrator.pk).has_perm("invoicing.issue_credit_note")
    assert shop.superuser.has_perm("invoicing.issue_credit_note")


@pytest.mark.parametrize("user", ["administrator", "superuser"])
def test_administrators_see_the_two_corrections(shop: Shop, user: str) -> None:
    html = login(getattr(shop, user)).get(invoice_page(shop.invoice)).content.decode()

    assert f'href="{cancel_url(shop.invoice)}" id="cancel-invoice"' in html
    assert f'href="{credit_url(shop.invoice)}" id="partial-credit"' in html
    assert "Cancel the invoice" in html and "Create a partial credit note" in html


@pytest.mark.parametrize("user", ["operator", "staff"])
def test_operators_see_the_balance_but_not_the_corrections(shop: Shop, user: str) -> None:
    client = login(getattr(shop, user))
    if user == "staff":
        shop.staff.user_permissions.set(Group.objects.get(name=OPERATORS).permissions.all())
        client = login(User.objects.get(pk=shop.staff.pk))

    response = client.get(invoice_page(shop.invoice))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="cancel-invoice"' not in html and 'id="partial-credit"' not in html
    text = text_of(response)
    assert "Credited: 0.00 EUR" in text and "Left to credit: 35.69 EUR" in text
    assert 'id="credit-notes"' in html


@pytest.mark.parametrize("user", ["operator", "staff"])
@pytest.mark.parametrize("action", ["cancel", "credit"])
def test_corrections_are_refused_without_the_permission_even_when_posted(
    shop: Shop, user: str, action: str
) -> None:
    client = login(getattr(shop, user))
    url = (cancel_url if action == "cancel" else credit_url)(shop.invoice)

    shown = client.get(url)
    posted = client.post(url, sent(line_1="1"))

    assert shown.status_code == 403 and posted.status_code == 403
    assert not CreditNote.objects.exists()
    assert not InvoiceEvent.objects.filter(type="credit_note_requested").exists()


@pytest.mark.parametrize("action", ["cancel", "credit"])
def test_corrections_need_the_csrf_token(shop: Shop, action: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop.administrator)
    url = (cancel_url if action == "cancel" else credit_url)(shop.invoice)

    response = client.post(url, sent(line_1="1"))

    assert response.status_code == 403
    assert not CreditNote.objects.exists()


def test_anonymous_is_sent_to_the_login(shop: Shop) -> None:
    response = Client().post(cancel_url(shop.invoice), sent())

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert not CreditNote.objects.exists()


# --- cancelling ---------------------------------------------------------------------------------------
def test_cancel_page_says_what_will_happen(shop: Shop, administrator: Client) -> None:
    captured = text_of(administrator.get(cancel_url(shop.captured)))
    by_invoice = administrator.get(cancel_url(shop.invoice))

    assert (
        "A credit note that cancels the invoice is issued for everything left to credit: 179.88 EUR"
        in captured
    )
    assert "179.88 EUR is paid back to the customer's payment" in captured
    assert f"emailed to the customer, {shop.captured.customer_email}" in captured
    assert "the invoice is shown as Cancelled" in captured
    assert re.search(
        r'name="refund"[^>]*checked', administrator.get(cancel_url(shop.captured)).content.decode()
    )
    text = text_of(by_invoice)
    assert "everything left to credit: 35.69 EUR" in text
    assert "Nothing is refunded through the payment gateway" in text
    assert by_invoice.context["form"].fields["refund"].disabled


def test_administrator_cancels_a_captured_invoice_refund_and_email_included(
    shop: Shop, administrator: Client
) -> None:
    invoice = shop.captured

    response = administrator.post(cancel_url(invoice), sent())

    credit_note = CreditNote.objects.get(invoice=invoice)
    assert response.status_code == 302 and response["Location"] == credit_note_page(credit_note)
    assert messages_of(response) == [
        f"Cancellation of invoice {invoice.number} requested: 179.88 EUR. "
        "It is being issued; reload this page to follow it."
    ]
    assert (credit_note.kind, credit_note.status) == (CreditNote.Kind.FULL, CreditNote.Status.DRAFT)
    assert credit_note.gross_total == invoice.gross_total == Decimal("179.88")
    assert credit_note.reason == "Order cancelled by the customer"
    event = InvoiceEvent.objects.get(type="credit_note_requested")
    assert event.actor == "admin:administrator" and event.invoice_id == invoice.pk
    # while it is issued: reserved, the corrections gone
    pending = administrator.get(invoice_page(invoice))
    assert "Left to credit: 0.00 EUR" in text_of(pending)
    assert 'id="cancel-invoice"' not in pending.content.decode()

    credit_note = issued(credit_note)

    assert credit_note.status == CreditNote.Status.ISSUED and credit_note.number == "CN1001"
    refund = Refund.objects.get(credit_note=credit_note)
    assert refund.status == Refund.Status.REFUNDED and refund.amount == Decimal("179.88")
    page = administrator.get(invoice_page(invoice))
    text = text_of(page)
    assert "Status: Cancelled" in text
    assert "Credited: 179.88 EUR" in text and "Left to credit: 0.00 EUR" in text
    html = page.content.decode()
    assert f'<a href="{credit_note_page(credit_note)}">CN1001</a>' in html
    assert reverse("admin:invoicing_creditnote_pdf", args=[credit_note.pk]) + "?download=1" in html
    assert 'id="cancel-invoice"' not in html and 'id="partial-credit"' not in html
    # the credit note's page: the refund and the email
    cn_text = text_of(administrator.get(credit_note_page(credit_note)))
    assert "Refund: Refunded" in cn_text and "Refund amount: 179.88 EUR" in cn_text
    assert f"Sent {invoice.customer_email} 1" in cn_text
    # the form again: nothing left
    again = administrator.get(cancel_url(invoice))
    assert again.status_code == 302 and again["Location"] == invoice_page(invoice)
    assert messages_of(again) == [f"Invoice {invoice.number} is cancelled; there is nothing left to credit."]


def test_cancel_without_refund_pays_nothing_back(shop: Shop, administrator: Client) -> None:
    data = sent()
    del data["refund"]

    administrator.post(cancel_url(shop.captured), data)

    credit_note = issued(CreditNote.objects.get(invoice=shop.captured))
    assert Refund.objects.get(credit_note=credit_note).status == Refund.Status.NOT_REQUIRED
    text = text_of(administrator.get(credit_note_page(credit_note)))
    assert "Nothing refunded through the payment gateway" in text
    assert "(no refund was asked for)" in text


def test_cancel_needs_a_reason_and_keeps_the_input(shop: Shop, administrator: Client) -> None:
    response = administrator.post(cancel_url(shop.invoice), sent(reason="   "))

    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    assert not CreditNote.objects.exists()


def test_a_form_sent_twice_makes_one_credit_note(shop: Shop, administrator: Client) -> None:
    data = sent()

    first = administrator.post(cancel_url(shop.invoice), data)
    second = administrator.post(cancel_url(shop.invoice), data)

    credit_note = CreditNote.objects.get()
    assert first["Location"] == second["Location"] == credit_note_page(credit_note)
    assert messages_of(second)[-1] == "This form was sent already; this is the credit note it requested."


def test_a_second_cancellation_is_refused_with_the_services_message(
    shop: Shop, administrator: Client
) -> None:
    administrator.post(cancel_url(shop.invoice), sent())

    response = administrator.post(cancel_url(shop.invoice), sent(reason="Twice"))

    assert response.status_code == 200
    refused = response.context["errors"]
    assert refused == ["Nothing to credit: the invoice is credited in full already."]
    assert 'id="credit-refused"' in response.content.decode()
    assert "Twice" in response.content.decode()  # the input stays
    assert CreditNote.objects.count() == 1


# --- partial credit notes -------------------------------------------------------------------------------
def test_partial_form_lists_lines_and_rates_with_what_is_left(shop: Shop, administrator: Client) -> None:
    credit_note, _ = credit_note_request(
        tenant=shop.tenant,
        invoice_number=shop.invoice.number or "",
        reason="Returned",
        lines=[CreditLine(2, Decimal(1))],
        actor="test",
    )

    response = administrator.get(credit_url(shop.invoice))

    form = response.context["form"]
    assert [(line.position, line.quantity, line.credited, line.left) for line in form.lines] == [
        (1, 1, 0, 1),
        (2, 2, 1, 1),
        (3, 1, 0, 1),
        (4, 1, 0, 1),
    ]
    assert [(rate.rate, rate.left_text) for rate in form.rates] == [
        (Decimal(7), f"{Decimal('30.99') - credit_note.gross_total} EUR"),
        (Decimal(19), "4.70 EUR"),
    ]
    text = text_of(response)
    assert (
        "invoiced 35.69 EUR" in text
        and f"left to credit {Decimal('35.69') - credit_note.gross_total} EUR" in text
    )
    assert "Faust. Der Tragödie erster Teil (Reclam) 2 1 1 4.67 EUR 9.34 EUR" in text


def test_administrator_credits_a_line(shop: Shop, administrator: Client) -> None:
    response = administrator.post(credit_url(shop.invoice), sent("Damaged in transit", line_1="1"))

    credit_note = CreditNote.objects.get()
    assert response["Location"] == credit_note_page(credit_note)
    assert messages_of(response) == [
        f"Credit note of invoice {shop.invoice.number} requested: 14.00 EUR. "
        "It is being issued; reload this page to follow it."
    ]
    assert credit_note.kind == CreditNote.Kind.LINES and credit_note.gross_total == Decimal("14.00")
    assert credit_note.request["lines"] == [{"position": 1, "quantity": "1"}]
    assert InvoiceEvent.objects.get(type="credit_note_requested").actor == "admin:administrator"

    issued(credit_note)

    text = text_of(administrator.get(invoice_page(shop.invoice)))
    assert "Status: Issued, partly credited" in text
    assert "Credited: 14.00 EUR" in text and "Left to credit: 21.69 EUR" in text
    assert "CN1001 Lines Issued 14.00 EUR Damaged in transit" in text


def test_administrator_credits_an_amount_per_rate(shop: Shop, administrator: Client) -> None:
    form = administrator.get(credit_url(shop.invoice)).context["form"]
    seven = next(rate for rate in form.rates if rate.rate == 7)

    administrator.post(credit_url(shop.invoice), sent("Goodwill: late delivery", **{seven.field: "5.00"}))

    credit_note = issued(CreditNote.objects.get())
    assert credit_note.kind == CreditNote.Kind.AMOUNTS and credit_note.gross_total == Decimal("5.00")
    text = text_of(administrator.get(invoice_page(shop.invoice)))
    assert "Credited: 5.00 EUR" in text and "Left to credit: 30.69 EUR" in text


def test_a_pending_credit_note_counts_as_being_issued(shop: Shop, administrator: Client) -> None:
    administrator.post(credit_url(shop.invoice), sent("Damaged", line_1="1"))

    text = text_of(administrator.get(invoice_page(shop.invoice)))

    assert "Credited: 0.00 EUR issued, and 14.00 EUR being issued" in text
    assert "Left to credit: 21.69 EUR" in text
    assert "number follows Lines Being issued 14.00 EUR Damaged" in text


def test_a_refused_credit_shows_the_services_message_and_keeps_the_input(
    shop: Shop, administrator: Client
) -> None:
    response = administrator.post(credit_url(shop.invoice), sent("Too many", line_2="5"))

    assert response.status_code == 200
    html = response.content.decode()
    message = "Line 2 (Faust. Der Tragödie erster Teil (Reclam)): 5 asked, but only 2 of 2 is left to credit."
    assert response.context["errors"] == [message]
    assert 'id="credit-refused"' in html and "only 2 of 2 is left to credit" in html
    assert re.search(r'name="line_2" value="5"', html)
    assert "Too many</textarea>" in html
    assert not CreditNote.objects.exists()
    assert Invoice.objects.get(pk=shop.invoice.pk).credited_gross == 0


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {},
            "Enter a quantity to credit for at least one line, or a gross amount for at least one VAT rate.",
        ),
        (
            {"line_1": "1", "rate_0": "2"},
            "Credit either quantities of lines or amounts per VAT rate, not both in one credit note.",
        ),
    ],
    ids=["nothing", "both"],
)
def test_partial_form_needs_lines_or_amounts(
    shop: Shop, administrator: Client, fields: dict[str, str], error: str
) -> None:
    response = administrator.post(credit_url(shop.invoice), sent("Something", **fields))

    assert response.status_code == 200
    assert response.context["errors"] == [error]
    assert not CreditNote.objects.exists()


def test_a_draft_invoice_cannot_be_credited(shop: Shop, administrator: Client) -> None:
    draft = Invoice.objects.create(tenant=shop.tenant, order_id="DRAFT-1", currency="EUR")

    response = administrator.post(cancel_url(draft), sent())

    assert response.status_code == 302 and response["Location"] == invoice_page(draft)
    assert messages_of(response) == [
        "The invoice of order DRAFT-1 is not issued; there is nothing to credit."
    ]
    assert 'id="cancel-invoice"' not in administrator.get(invoice_page(draft)).content.decode()


# --- the credit notes' pages ------------------------------------------------------------------------------
@pytest.fixture
def credit_note(shop: Shop, administrator: Client) -> CreditNote:
    """An issued partial credit note of the invoice paid by invoice (line 1: 14.00 EUR)."""
    administrator.post(credit_url(shop.invoice), sent("Damaged in transit", line_1="1"))
    return issued(CreditNote.objects.get())


def test_credit_note_page_shows_the_pdf_amounts_refund_email_and_pipeline(
    shop: Shop, operator: Client, credit_note: CreditNote
) -> None:
    response = operator.get(credit_note_page(credit_note))

    html = response.content.decode()
    pdf_url = reverse("admin:invoicing_creditnote_pdf", args=[credit_note.pk])
    assert re.search(rf'<iframe id="credit-note-pdf"[^>]*src="{re.escape(pdf_url)}"', html)
    assert f'href="{pdf_url}?download=1" id="download-pdf"' in html
    text = text_of(response)
    for shown in (
        "Credit note: CN1001",
        "Status: Issued",
        "Kind: Lines",
        f"Invoice: {shop.invoice.number}",
        f"Order: {PAID_BY_INVOICE}",
        "Reason: Damaged in transit",
        "Gross: 14.00 EUR",
        "7 % (S) 13.08 EUR 0.92 EUR 14.00 EUR",
        "Thomas Mann: Der Zauberberg (Taschenbuch) 1 7 % 13.08 EUR",
        "Refund: Nothing refunded through the payment gateway",
        f"Sent {shop.invoice.customer_email} 1",
        "Pipeline: Done",
        f"Message: Credit note CN1001 issued for invoice {shop.invoice.number} (14.00 EUR).",
        "valid: no fatal rule broken",
    ):
        assert shown in text, shown
    assert not has_save_button(response)
    assert 'id="rerun-failed-steps"' not in html


def test_credit_note_pdf_and_einvoice_download(shop: Shop, operator: Client, credit_note: CreditNote) -> None:
    url = reverse("admin:invoicing_creditnote_pdf", args=[credit_note.pk])

    inline = operator.get(url)
    download = operator.get(url + "?download=1")
    xml = operator.get(reverse("admin:invoicing_creditnote_einvoice", args=[credit_note.pk, "xrechnung-ubl"]))

    assert inline["Content-Type"] == "application/pdf"
    assert inline["Content-Disposition"] == 'inline; filename="credit-note-CN1001.pdf"'
    assert download["Content-Disposition"] == 'attachment; filename="credit-note-CN1001.pdf"'
    assert download.getvalue().startswith(b"%PDF")
    assert xml["Content-Disposition"] == 'attachment; filename="CN1001-xrechnung-ubl.xml"'
    assert b"CreditNote" in xml.content and b"CN1001" in xml.content


@pytest.mark.parametrize("user", ["operator", "administrator", "superuser"])
def test_nobody_adds_changes_or_deletes_a_credit_note(shop: Shop, credit_note: CreditNote, user: str) -> None:
    person = getattr(shop, user)
    model_admin = site.get_model_admin(CreditNote)
    request = admin_request(person)
    client = login(person)

    changed = client.post(credit_note_page(credit_note), {"reason": "Changed", "number": "X"})
    deleted = client.post(
        reverse("admin:invoicing_creditnote_delete", args=[credit_note.pk]), {"post": "yes"}
    )
    added = client.get(reverse("admin:invoicing_creditnote_add"))

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, credit_note)
    assert not model_admin.has_delete_permission(request, credit_note)
    assert (changed.status_code, deleted.status_code, added.status_code) == (403, 403, 403)
    assert "delete_selected" not in model_admin.get_actions(request)
    credit_note.refresh_from_db()
    assert (credit_note.reason, credit_note.number) == ("Damaged in transit", "CN1001")


def test_credit_note_list_columns_search_and_filters(
    shop: Shop, operator: Client, credit_note: CreditNote
) -> None:
    goodwill, _ = credit_note_request(
        tenant=shop.tenant,
        invoice_number=shop.captured.number or "",
        reason="Goodwill",
        lines=[CreditLine(2, Decimal(1))],
        refund=False,
        actor="test",
    )

    listed = operator.get(CREDIT_NOTES)
    text = text_of(listed)

    assert [row.pk for row in rows(listed)] == [goodwill.pk, credit_note.pk]  # newest first
    assert f"CN1001 {shop.invoice.number} {PAID_BY_INVOICE} Lines Issued done 14.00 EUR none" in (text)
    assert f"number follows {shop.captured.number} {CAPTURED} Lines Being issued running" in text

    def found(**query: str) -> list[Any]:
        return [row.pk for row in rows(operator.get(CREDIT_NOTES, query))]

    assert found(q="CN1001") == [credit_note.pk]
    assert found(q=shop.captured.number or "") == [goodwill.pk]
    assert found(q=PAID_BY_INVOICE) == [credit_note.pk]
    assert found(q=str(goodwill.pk)) == [goodwill.pk]
    assert found(q="CN") == []
    assert found(status__exact="DRAFT") == [goodwill.pk]
    assert found(kind__exact="FULL") == []
    assert found(tenant__id__exact=str(shop.tenant.pk)) == [goodwill.pk, credit_note.pk]


def test_invoice_list_filters_cancelled_and_partly_credited(
    shop: Shop, operator: Client, credit_note: CreditNote
) -> None:
    url = reverse("admin:invoicing_invoice_changelist")

    partly = rows(operator.get(url, {"credited": "partly"}))
    cancelled = rows(operator.get(url, {"credited": "cancelled"}))

    assert [invoice.pk for invoice in partly] == [shop.invoice.pk]
    assert cancelled == []


def more_credit_notes(shop: Shop, n: int, tag: str) -> None:
    today = timezone.localdate()
    created = CreditNote.objects.bulk_create(
        CreditNote(
            tenant=shop.tenant,
            invoice=shop.captured,
            kind=CreditNote.Kind.AMOUNTS,
            status=CreditNote.Status.ISSUED,
            number=f"Q-{tag}-{i}",
            issue_date=today,
            reason="goodwill",
            currency="EUR",
            net_total=Decimal("1"),
            tax_total=Decimal("0.19"),
            gross_total=Decimal("1.19"),
        )
        for i in range(n)
    )
    Refund.objects.bulk_create(
        Refund(
            credit_note=credit_note,
            status=Refund.Status.REFUNDED,
            amount=Decimal("1.19"),
            currency="EUR",
            refund_id=f"r-{credit_note.pk}",
            idempotency_key=f"q:{credit_note.pk}",
        )
        for credit_note in created
    )
    job = InvoiceJob.objects.create(tenant=shop.tenant, job_type=InvoiceJob.Type.CREDIT, total_count=n)
    JobOrder.objects.bulk_create(
        JobOrder(job=job, position=i, order_id=f"Q-{tag}-{i}", credit_note=credit_note, status="SUCCESS")
        for i, credit_note in enumerate(created)
    )


def test_credit_note_list_query_count_does_not_grow_with_rows(shop: Shop, administrator: Client) -> None:
    more_credit_notes(shop, 5, "a")
    administrator.get(CREDIT_NOTES)  # warm caches (content types, site) once

    with CaptureQueriesContext(connection) as few:
        shown_few = len(rows(administrator.get(CREDIT_NOTES)))
    more_credit_notes(shop, 10, "b")
    with CaptureQueriesContext(connection) as many:
        shown_many = len(rows(administrator.get(CREDIT_NOTES)))

    assert (shown_few, shown_many) == (5, 15)
    assert len(many) == len(few), f"{len(few)} queries with 5 rows, {len(many)} with 15"


def test_invoice_page_query_count_does_not_grow_with_credit_notes(shop: Shop, administrator: Client) -> None:
    url = invoice_page(shop.captured)
    more_credit_notes(shop, 3, "a")
    administrator.get(url)

    with CaptureQueriesContext(connection) as few:
        administrator.get(url)
    more_credit_notes(shop, 9, "b")
    with CaptureQueriesContext(connection) as many:
        administrator.get(url)

    assert len(many) == len(few)


def test_a_failed_credit_note_says_why_and_gives_its_amount_back(shop: Shop, operator: Client) -> None:
    credit_note, _ = credit_note_request(
        tenant=shop.tenant,
        invoice_number=shop.invoice.number or "",
        reason="Returned",
        lines=[CreditLine(1, Decimal(1))],
        actor="test",
    )
    assert credit_note_fail(credit_note_id=credit_note.pk, message="Refund declined: card closed")

    invoice = operator.get(invoice_page(shop.invoice))
    page = operator.get(credit_note_page(credit_note))

    assert "not issued Lines Failed (not issued) 14.00 EUR Returned" in text_of(invoice)
    assert "Left to credit: 35.69 EUR" in text_of(invoice)
    text = text_of(page)
    assert "Status: Failed (not issued)" in text and "Why it failed: Refund declined: card closed" in text
    assert 'id="credit-note-pdf"' not in page.content.decode()


# --- re-running a credit note's failed steps -----------------------------------------------------------------
@pytest.fixture
def without_pdf(shop: Shop, administrator: Client) -> CreditNote:
    """Issued with its number, but its PDF could not be written: the disk was full."""
    administrator.post(credit_url(shop.invoice), sent("Damaged in transit", line_1="1"))
    with mock.patch("invoicing.pdf.render_invoice_pdf", side_effect=OSError(28, "No space left on device")):
        credit_note = issued(CreditNote.objects.get())
    row = JobOrder.objects.get(credit_note=credit_note)
    assert (row.status, row.step, credit_note.status) == ("FAILURE", "render", "ISSUED"), row.message
    assert not credit_note.pdf
    return credit_note


def test_administrator_reruns_the_failed_steps_of_a_credit_note(
    shop: Shop, administrator: Client, without_pdf: CreditNote
) -> None:
    page = administrator.get(credit_note_page(without_pdf))
    assert 'id="rerun-failed-steps"' in page.content.decode()
    assert "Re-run the failed steps (from PDF creation)" in page.content.decode()
    text = text_of(page)
    assert "Pipeline: Failed" in text and "Step: PDF creation" in text, text
    assert "Credit note CN1001 was issued, but the PDF could not be created" in text, text

    response = administrator.post(reverse("admin:invoicing_creditnote_rerun", args=[without_pdf.pk]))

    assert response.status_code == 302 and response["Location"] == credit_note_page(without_pdf)
    assert messages_of(response) == [
        "The failed steps of credit note CN1001 are being run again. Reload this page to follow it."
    ]
    credit_note = issued(without_pdf)
    assert credit_note.number == "CN1001" and credit_note.pdf
    assert JobOrder.objects.get(credit_note=credit_note).status == "SUCCESS"
    assert 'id="rerun-failed-steps"' not in administrator.get(credit_note_page(credit_note)).content.decode()


def test_operators_cannot_rerun_a_credit_note(shop: Shop, operator: Client, without_pdf: CreditNote) -> None:
    page = operator.get(credit_note_page(without_pdf))
    posted = operator.post(reverse("admin:invoicing_creditnote_rerun", args=[without_pdf.pk]))

    assert page.status_code == 200 and 'id="rerun-failed-steps"' not in page.content.decode()
    assert posted.status_code == 403
    assert JobOrder.objects.get(credit_note=without_pdf).status == "FAILURE"


# --- the job list ------------------------------------------------------------------------------------------------
def test_job_list_leaves_out_the_credit_notes_pipelines(shop: Shop, operator: Client) -> None:
    credit_note, _ = credit_note_request(
        tenant=shop.tenant, invoice_number=shop.invoice.number or "", reason="Returned", actor="test"
    )
    pipeline = JobOrder.objects.get(credit_note=credit_note).job
    jobs = reverse("admin:jobs_invoicejob_changelist")

    listed = rows(operator.get(jobs))
    by_order = rows(operator.get(jobs, {"q": PAID_BY_INVOICE}))
    by_type = rows(operator.get(jobs, {"job_type__exact": "CREDIT"}))

    assert listed and all(job.job_type != InvoiceJob.Type.CREDIT for job in listed)
    assert pipeline.pk not in [job.pk for job in listed]
    assert [job.job_type for job in by_order] == ["MANUAL"]
    assert by_type == []
    assert "Credit note" not in text_of(operator.get(jobs)).split("By job type")[1].split("By tenant")[0]
    # its page is still there, reached from the credit note's page
    page = operator.get(credit_note_page(credit_note))
    assert reverse("admin:jobs_invoicejob_change", args=[pipeline.pk]) in page.content.decode()
    job_page = operator.get(reverse("admin:jobs_invoicejob_change", args=[pipeline.pk]))
    assert job_page.status_code == 200
    assert credit_note_page(credit_note) in job_page.content.decode()


def test_a_credit_notes_pipeline_is_not_retried_as_an_invoice_job(shop: Shop, administrator: Client) -> None:
    credit_note, _ = credit_note_request(
        tenant=shop.tenant, invoice_number=shop.invoice.number or "", reason="Returned", actor="test"
    )
    row = JobOrder.objects.get(credit_note=credit_note)
    JobOrder.objects.filter(pk=row.pk).update(status="FAILURE", step="refund", message="Refund declined")
    InvoiceJob.objects.filter(pk=row.job_id).update(failure_count=1, status="DONE")
    jobs_before = InvoiceJob.objects.count()

    page = administrator.get(reverse("admin:jobs_invoicejob_change", args=[row.job_id]))
    response = administrator.post(reverse("admin:jobs_invoicejob_retry_failed", args=[row.job_id]))

    assert 'id="retry-failed"' not in page.content.decode()
    assert response.status_code == 302
    assert messages_of(response) == [
        "A credit note's pipeline is not retried as a job; request a new credit note."
    ]
    assert InvoiceJob.objects.count() == jobs_before


def test_invoice_list_email_column_follows_the_invoices_own_email(
    shop: Shop, operator: Client, credit_note: CreditNote
) -> None:
    EmailDelivery.objects.filter(credit_note=credit_note).update(status=EmailDelivery.Status.FAILED)

    listed = {row.pk: row for row in rows(operator.get(reverse("admin:invoicing_invoice_changelist")))}

    assert listed[shop.invoice.pk].email_status == "SENT"


def test_unfiltered_job_list_keeps_the_row_estimate_without_the_credit_jobs(
    shop: Shop, operator: Client
) -> None:
    """Leaving the CREDIT jobs out must not turn the unfiltered list into a count of 10,000 rows."""
    InvoiceJob.objects.bulk_create(
        InvoiceJob(tenant=shop.tenant, job_type=InvoiceJob.Type.MANUAL, total_count=1) for _ in range(10_050)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_invoicejob")
    jobs = reverse("admin:jobs_invoicejob_changelist")

    with CaptureQueriesContext(connection) as unfiltered:
        operator.get(jobs)
    with CaptureQueriesContext(connection) as filtered:
        operator.get(jobs, {"status__exact": "DONE"})

    def counted(queries: Any) -> bool:
        return any("COUNT(" in q["sql"] and "jobs_invoicejob" in q["sql"] for q in queries.captured_queries)

    assert any("reltuples" in q["sql"] for q in unfiltered.captured_queries)
    assert not counted(unfiltered)
    assert counted(filtered)
