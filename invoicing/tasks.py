"""Tasks of the invoicing app (the pipeline's steps are in jobs.tasks)."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from integrations.ports import TransientError
from invoicing.models import EmailDelivery
from invoicing.services import email_delivery_send


@shared_task(bind=True, name="invoice.send_email_delivery", max_retries=None)
def send_email_delivery(self: Task, delivery_id: int) -> str:
    from jobs.tasks import retry_delay

    delivery = EmailDelivery.objects.select_related("invoice").filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    try:
        return email_delivery_send(delivery=delivery)
    except TransientError as exc:
        if self.request.retries >= settings.INVOICE_STEP_MAX_RETRIES:
            EmailDelivery.objects.filter(pk=delivery_id).exclude(status=EmailDelivery.Status.SENT).update(
                status=EmailDelivery.Status.FAILED, error=exc.message[:2000]
            )
            return f"failed: {exc.message}"
        raise self.retry(countdown=retry_delay(self.request.retries), exc=exc) from exc
