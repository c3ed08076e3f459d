"""Tasks of the invoicing app (the pipeline's steps are in jobs.tasks)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import Task, shared_task
from django.db import DatabaseError

from core.retrying import TRANSIENT, best_effort, persist, retry_later, retry_or_give_up
from invoicing import signals
from invoicing.deliveries import (
    EmailSentUnrecorded,
    email_deliveries_fail,
    email_delivery_record_sent,
    email_delivery_send,
    email_delivery_sent,
)
from invoicing.models import EmailDelivery

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="invoice.send_email_delivery", max_retries=None)
def send_email_delivery(self: Task, delivery_id: int) -> str:
    try:
        delivery = EmailDelivery.objects.select_related("invoice").filter(pk=delivery_id).first()
        if delivery is None:
            return "gone"
        return email_delivery_send(delivery=delivery)
    except EmailSentUnrecorded as exc:
        email_sent_record_later(exc)
        return "emailed; recording it when the database is back"
    except TRANSIENT as exc:
        return retry_or_give_up(
            self,
            exc,
            give_up=lambda reason: email_deliveries_fail(
                EmailDelivery.objects.filter(pk=delivery_id), error=f"Email {reason}"
            ),
        )


def email_sent_record_later(exc: EmailSentUnrecorded, *, job_order_id: int | None = None) -> None:
    """Hand an accepted-but-unrecorded mail to `record_email_sent` through the broker.

    The fact lives in the message, not in the database that is away: the task retries until it
    can write SENT, and never sends.
    """
    logger.warning(
        "email delivery %s was sent but could not be recorded; recording it later", exc.delivery_id
    )
    record_email_sent.delay(exc.delivery_id, exc.message_id, exc.sent_at, job_order_id)


@shared_task(bind=True, name="invoice.record_email_sent", max_retries=None)
def record_email_sent(
    self: Task, delivery_id: int, message_id: str, sent_at: str, job_order_id: int | None = None
) -> str:
    """Record a delivery the mail server accepted as SENT (retried until the database is back),
    then tell the pipeline (signals.email_sent_recorded_late): its email step, run again, finds
    the delivery SENT and advances without sending; a finished order's message is rebuilt to
    say it was emailed."""
    try:
        changed = persist(
            lambda: email_delivery_record_sent(
                delivery_id=delivery_id, message_id=message_id, sent_at=dt.datetime.fromisoformat(sent_at)
            ),
            what=f"recording email delivery {delivery_id} as sent",
            retry_on=(DatabaseError,),
        )
    except DatabaseError as exc:
        # Never given up: the mail has left, and only this message still knows it.
        raise retry_later(self, exc) from exc
    if changed:
        best_effort(
            lambda: email_delivery_sent(delivery_id=delivery_id, job_order_id=job_order_id),
            what="the email's event",
        )
    try:
        delivery = EmailDelivery.objects.select_related("invoice").get(pk=delivery_id)
        signals.email_sent_recorded_late.send(
            sender=EmailDelivery, delivery=delivery, job_order_id=job_order_id
        )
    except TRANSIENT as exc:  # the retry finds the delivery SENT and only does this part
        raise retry_later(self, exc) from exc
    return f"recorded email delivery {delivery_id} as sent"
