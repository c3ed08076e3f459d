"""What invoicing tells the layers above it, without knowing them (jobs listens: jobs.receivers).

Receivers run in the sender's process and transaction; an exception they raise reaches the
sender (Signal.send), so a transient fault there retries the task that sent the signal.
"""

from __future__ import annotations

from django.dispatch import Signal

# A delivery's mail was accepted by the mail server and is recorded SENT (kwarg: delivery).
email_delivery_sent = Signal()

# A mail the server had accepted while the database was away is now recorded SENT
# (invoicing.tasks.record_email_sent; kwargs: delivery, job_order_id — the order whose email
# step sent it, None for a resend). The pipeline moves that order on.
email_sent_recorded_late = Signal()
