"""Email deliveries of an issued invoice: sent at most once each, recorded even when the database is away."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import PermanentError, TransientError
from core.retrying import best_effort, persist
from invoicing import events, signals
from invoicing.documents import from_json
from invoicing.i18n import Formats, language_override
from invoicing.models import EmailDelivery, Invoice


def invoice_email_message(invoice: Invoice, *, to: str = "") -> EmailMessage:
    """The invoice's email, subject and body in the document's language (the customer's).

    Attached: the stored PDF (the Factur-X PDF/A-3 with its CII), and for a buyer who asks for
    XRechnung also the XRechnung CII XML as "<invoice number>.xml".
    """
    document = from_json(invoice.document)
    formats = Formats(document.language)
    context = {
        "invoice": invoice,
        "document": document,
        "seller": document.seller,
        "issue_date": formats.date(invoice.issue_date) if invoice.issue_date else "",
        "total": formats.money(document.gross_total, document.currency),
    }
    with language_override(document.language):
        subject = _("Invoice %(number)s for your order %(order)s") % {
            "number": invoice.number,
            "order": invoice.order_id,
        }
        body = render_to_string("invoicing/email/invoice.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=document.seller.email or settings.DEFAULT_FROM_EMAIL,
        to=[to or invoice.customer_email],
    )
    # the stored Factur-X PDF/A-3, the file of the download link (never rendered again)
    with invoice.pdf.open("rb") as handle:
        message.attach(f"invoice-{invoice.number}.pdf", handle.read(), "application/pdf")
    if document.einvoice_format == "xrechnung":
        # The buyer asks for XRechnung (a setting or a Leitweg-ID on its legal entity): the
        # XRechnung CII of the issued document as well, built from the stored document (the
        # builder is deterministic; the check at issue validated the same XML).
        from invoicing.einvoice import einvoice_xml

        message.attach(f"{invoice.number}.xml", einvoice_xml(document, "xrechnung-cii"), "application/xml")
    return message


def email_outcome(delivery: EmailDelivery | None) -> str:
    """What a job order's message says about its document's email."""
    if delivery is None:
        return "No email sent: the order has no customer email address."
    if delivery.status == EmailDelivery.Status.SENT:
        return f"Emailed to {delivery.recipient}."
    return f"Email to {delivery.recipient} FAILED: {delivery.error}"


class EmailSentUnrecorded(TransientError):
    """The mail server accepted the mail, but the database would not record it (it is away).

    Carries what is needed to record it later without sending again
    (invoicing.tasks.email_sent_record_later).
    """

    def __init__(self, *, delivery_id: int, message_id: str, sent_at: str) -> None:
        super().__init__(f"Email of delivery {delivery_id} was sent, but recording it failed.")
        self.delivery_id = delivery_id
        self.message_id = message_id
        self.sent_at = sent_at


def email_delivery_record_sent(*, delivery_id: int, message_id: str, sent_at: dt.datetime) -> bool:
    """Record that the mail server accepted the delivery's mail.

    From SENDING, and also from FAILED: the reconciler or a redelivered step may have called the
    outcome unknown meanwhile, but acceptance is a fact and this record is what an operator
    trusts before resending. False when there was nothing to change (already SENT, or gone).
    """
    return bool(
        EmailDelivery.objects.filter(
            pk=delivery_id, status__in=[EmailDelivery.Status.SENDING, EmailDelivery.Status.FAILED]
        ).update(
            status=EmailDelivery.Status.SENT,
            sent_at=sent_at,
            error="",
            message_id=message_id[:300],
            updated_at=timezone.now(),
        )
    )


def email_delivery_sent(*, delivery_id: int, job_order_id: int | None = None, actor: str = "system") -> None:
    """After the SENT record: the audit event, and the signal that tells the layers above.

    Both are bookkeeping (best effort): the mail has left and its record is written.
    """
    delivery = EmailDelivery.objects.select_related("invoice").get(pk=delivery_id)
    events.invoice_emailed(delivery=delivery, job_order_id=job_order_id, actor=actor)
    # e.g. the orders of a resent invoice say it was emailed now (jobs.receivers)
    best_effort(
        lambda: signals.email_delivery_sent.send(sender=EmailDelivery, delivery=delivery),
        what="the email's followers",
    )


def email_deliveries_fail(deliveries: QuerySet[EmailDelivery], *, error: str) -> int:
    """The one way a delivery is marked FAILED, with why: retries ran out, or whether the mail
    left is unknown. One that reached the mail server (SENT) stays SENT: acceptance is a fact."""
    return deliveries.exclude(status=EmailDelivery.Status.SENT).update(
        status=EmailDelivery.Status.FAILED, error=error[:2000], updated_at=timezone.now()
    )


def email_delivery_send(
    *, delivery: EmailDelivery, job_order_id: int | None = None, actor: str = "system"
) -> str:
    """Send one delivery's mail with the stored PDF, at most once.

    The row is claimed (PENDING -> SENDING) before sending. A row found in SENDING means an
    earlier run stopped mid-send: whether the mail left is unknown, and sending again could
    email the customer twice, so it is marked failed for a person to check.

    Once the mail server has accepted the mail, the SENT record is written with retries and a
    fresh connection (core.retrying.persist), so a dropped connection does not leave the row
    SENDING for the next run to call "unknown". If the database stays away, EmailSentUnrecorded
    carries the fact to a task that records it later and never sends again.
    """
    invoice = delivery.invoice
    if delivery.status == EmailDelivery.Status.SENT:
        return f"emailed to {delivery.recipient}"
    if delivery.status == EmailDelivery.Status.FAILED:
        return f"email to {delivery.recipient} failed: {delivery.error}"
    claimed = EmailDelivery.objects.filter(pk=delivery.pk, status=EmailDelivery.Status.PENDING).update(
        status=EmailDelivery.Status.SENDING, attempts=delivery.attempts + 1, updated_at=timezone.now()
    )
    if not claimed:
        error = (
            "delivery outcome unknown (the worker stopped while sending); check the mail log before resending"
        )
        email_deliveries_fail(
            EmailDelivery.objects.filter(pk=delivery.pk, status=EmailDelivery.Status.SENDING), error=error
        )
        return f"email to {delivery.recipient} failed: {error}"
    try:
        if delivery.credit_note is not None:
            from invoicing.credit_note_mail import credit_note_email_message

            message = credit_note_email_message(delivery.credit_note, to=delivery.recipient)
        else:
            message = invoice_email_message(invoice, to=delivery.recipient)
        message.send(fail_silently=False)
    except Exception as exc:  # the ESP or SMTP refused or was unreachable: nothing was sent
        error = f"{type(exc).__name__}: {exc}"[:2000]
        # Back to PENDING, so the retry sends (a row left SENDING would count as "unknown").
        persist(
            lambda: EmailDelivery.objects.filter(pk=delivery.pk).update(
                status=EmailDelivery.Status.PENDING, error=error, updated_at=timezone.now()
            ),
            what=f"releasing email delivery {delivery.pk}",
        )
        raise TransientError(
            f"Email to {delivery.recipient} could not be sent: {type(exc).__name__}: {exc}"
        ) from exc
    message_id = str(
        message.extra_headers.get("Message-ID", "") or getattr(message, "anymail_status", "") or ""
    )
    sent_at = timezone.now()
    try:
        # Any database error, not only a lost connection: the mail has left whatever the
        # database says, and writing the record again is harmless.
        persist(
            lambda: email_delivery_record_sent(
                delivery_id=delivery.pk, message_id=message_id, sent_at=sent_at
            ),
            what=f"recording email delivery {delivery.pk} as sent",
            retry_on=(DatabaseError,),
        )
    except DatabaseError as exc:
        raise EmailSentUnrecorded(
            delivery_id=delivery.pk, message_id=message_id, sent_at=sent_at.isoformat()
        ) from exc
    best_effort(
        lambda: email_delivery_sent(delivery_id=delivery.pk, job_order_id=job_order_id, actor=actor),
        what="the email's event",
    )
    return f"emailed to {delivery.recipient}"


def invoice_email_resend(*, invoice: Invoice, actor: str, recipient: str = "") -> EmailDelivery:
    """A new delivery row for an issued invoice (the stored PDF, never re-rendered), sent by a task."""
    from invoicing.tasks import send_email_delivery

    if invoice.status != Invoice.Status.ISSUED or not invoice.pdf:
        raise PermanentError(f"Invoice of order {invoice.order_id} is not issued: there is nothing to send.")
    to = recipient or invoice.customer_email
    if not to:
        raise PermanentError(f"Invoice {invoice.number} has no customer email address.")
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(pk=invoice.pk).first()  # numbers the resends in order
        count = EmailDelivery.objects.filter(invoice=invoice, kind__startswith="resend-").count()
        delivery = EmailDelivery.objects.create(invoice=invoice, kind=f"resend-{count + 1}", recipient=to)
        events.email_resend_requested(delivery=delivery, actor=actor)
        delivery_id = delivery.pk
        transaction.on_commit(lambda: send_email_delivery.delay(delivery_id), robust=True)
    return delivery
