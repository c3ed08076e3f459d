"""What jobs does when invoicing tells it something (invoicing.signals); connected in JobsConfig.ready."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from core.retrying import best_effort
from invoicing import signals
from invoicing.models import EmailDelivery
from jobs import services
from jobs.models import JobOrder


@receiver(signals.email_delivery_sent, dispatch_uid="jobs.email_delivery_sent")
def on_email_delivery_sent(sender: type, delivery: EmailDelivery, **kwargs: Any) -> None:
    # A resend reached the customer: the finished orders of its invoice say so now. The
    # pipeline's own email is summarised when its order finishes.
    if delivery.kind != "invoice" and delivery.credit_note_id is None:
        services.job_order_messages_refresh(invoice=delivery.invoice)


@receiver(signals.email_sent_recorded_late, dispatch_uid="jobs.email_sent_recorded_late")
def on_email_sent_recorded_late(
    sender: type, delivery: EmailDelivery, job_order_id: int | None, **kwargs: Any
) -> None:
    # The email step, run again, finds the delivery SENT and advances without sending. A
    # transient fault here reaches the recording task, which retries (only this part).
    if job_order_id is not None:
        services.step_run(job_order_id=job_order_id, step=JobOrder.Step.EMAIL)
    if delivery.credit_note_id is None:
        best_effort(
            lambda: services.job_order_messages_refresh(invoice=delivery.invoice), what="the order message"
        )
