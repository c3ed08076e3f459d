"""Tasks of the invoicing app (the pipeline's steps are in jobs.tasks)."""

from __future__ import annotations

from celery import Task, shared_task

from invoicing.models import EmailDelivery
from invoicing.services import email_delivery_send
from jobs.retrying import TRANSIENT, retry_or_give_up


@shared_task(bind=True, name="invoice.send_email_delivery", max_retries=None)
def send_email_delivery(self: Task, delivery_id: int) -> str:
    delivery = EmailDelivery.objects.select_related("invoice").filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    try:
        return email_delivery_send(delivery=delivery)
    except TRANSIENT as exc:
        return retry_or_give_up(self, exc, give_up=lambda reason: _delivery_failed(delivery_id, reason))


def _delivery_failed(delivery_id: int, reason: str) -> None:
    EmailDelivery.objects.filter(pk=delivery_id).exclude(status=EmailDelivery.Status.SENT).update(
        status=EmailDelivery.Status.FAILED, error=f"Email {reason}"[:2000]
    )
