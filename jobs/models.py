"""Invoice jobs and their per-order rows; API clients of the REST API."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from invoicing.models import CreditNote, Invoice
from tenants.models import Tenant


class InvoiceJob(models.Model):
    class Type(models.TextChoices):
        MANUAL = "MANUAL", "Manual"
        AUTOMATIC = "AUTOMATIC", "Automatic"
        # the pipeline of one credit note (jobs.credit_notes); not one of the API's invoice jobs
        CREDIT = "CREDIT", "Credit note"

    class Status(models.TextChoices):
        IN_PROGRESS = "IN_PROGRESS", "In progress"
        DONE = "DONE", "Done"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="jobs")
    job_type = models.CharField(max_length=10, choices=Type.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    # Completion is counted in the database (no chord): the last order to finish sets DONE.
    total_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    requested_by = models.CharField(max_length=200, blank=True)
    # a MANUAL job that retries the failed orders of another job (the console's retry)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries", editable=False
    )
    # AUTOMATIC jobs: True while the orders are still being found (the job is not DONE before),
    # the query they were found with (fixed at creation) and where the search goes on.
    resolving = models.BooleanField(default=False)
    query = models.JSONField(null=True, blank=True)
    resolution_cursor = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("retry_failed_orders", "Can retry the failed orders of a job"),
            ("run_automatic_job", "Can run an AUTOMATIC job now"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(success_count__lte=F("total_count") - F("failure_count")),
                name="job_counters_within_total",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def pending_count(self) -> int:
        return self.total_count - self.success_count - self.failure_count


class JobOrder(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SUCCESS = "SUCCESS", "Success"
        FAILURE = "FAILURE", "Failure"

    class Step(models.TextChoices):
        VALIDATE = "validate", "Validation"
        RECALCULATE = "recalculate", "Recalculation"
        CAPTURE = "capture", "Payment capture"
        REFUND = "refund", "Refund"
        ISSUE = "issue", "Invoice number"
        RENDER = "render", "PDF creation"
        EMAIL = "email", "Email"
        FINISH = "finish", "Finishing"
        DONE = "done", "Done"

    job = models.ForeignKey(InvoiceJob, on_delete=models.CASCADE, related_name="orders")
    position = models.PositiveIntegerField(default=0)
    order_id = models.CharField(max_length=255)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    step = models.CharField(max_length=12, choices=Step.choices, default=Step.VALIDATE)
    message = models.TextField(blank=True)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="job_orders"
    )
    # a credit note's pipeline (a job of type CREDIT): its steps run the credit note's services
    credit_note = models.ForeignKey(
        CreditNote,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="job_orders",
        db_index=False,  # the partial index below: only credit-note rows have one
    )
    attempts = models.PositiveIntegerField(default=0, help_text="tries of the current step")
    step_started_at = models.DateTimeField(null=True, blank=True)
    # Who holds the order's current step message (jobs.pipeline.step_enqueue): the id of the
    # one valid message (its Celery task id; an older copy that the broker redelivers is
    # stale and does nothing), the worker that received or runs it, and since when (database
    # clock). The reconciler re-sends the step of an order whose holder died.
    dispatch_id = models.UUIDField(null=True, blank=True, editable=False)
    held_by = models.CharField(max_length=255, blank=True, default="", editable=False)  # "": none
    held_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # job_id, not job: ordering by the relation would join InvoiceJob for its own ordering
        ordering = ["job_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "order_id"], name="unique_order_per_job"),
        ]
        indexes = [
            models.Index(fields=["job", "position"]),
            # the reconciler looks for pending rows whose step has not moved for a while
            models.Index(fields=["status", "step_started_at"], name="joborder_pending_idx"),
            # finding an order across jobs: "held by another unfinished job?" (AUTOMATIC jobs,
            # once per page) and the console's search by order id
            models.Index(fields=["order_id"], name="joborder_order_idx"),
            # the reconciler looks for pending rows held by a dead worker
            models.Index(fields=["held_by"], condition=Q(status="PENDING"), name="joborder_held_idx"),
            models.Index(
                fields=["credit_note"],
                condition=Q(credit_note__isnull=False),
                name="joborder_credit_note_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} ({self.status})"

    @property
    def tenant(self) -> Tenant:
        """The job's tenant (what the invoicing steps ask of an order: invoicing.steps.base.PipelineOrder)."""
        return self.job.tenant


class WorkerHeartbeat(models.Model):
    """A running Celery worker (its node name), written every WORKER_HEARTBEAT_INTERVAL seconds.

    A worker whose row has not been written for WORKER_DEAD_AFTER seconds is dead (kill -9, OOM,
    a lost machine): the reconciler re-sends the steps it held (jobs.services). Times are the
    database's clock, so the workers' and the reconciler's clocks never have to agree.
    """

    hostname = models.CharField(max_length=255, unique=True)
    started_at = models.DateTimeField(help_text="when this run of the worker started")
    seen_at = models.DateTimeField(help_text="its last heartbeat")

    class Meta:
        verbose_name = "worker heartbeat"

    def __str__(self) -> str:
        return self.hostname


class ApiClient(models.Model):
    """Ties an OAuth2 application (django-oauth-toolkit) to one tenant and its allowed scopes."""

    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="api_client"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_clients")
    scopes = models.CharField(max_length=500, help_text="space-separated scopes this client may request")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API client"

    def __str__(self) -> str:
        return f"{self.tenant.code}: {self.application.client_id}"

    @property
    def scope_set(self) -> set[str]:
        return set(self.scopes.split())


class TokenFailureCounter(models.Model):
    """Failed `POST /oauth/token` attempts of one client id or one address, in a fixed window.

    In the database, not a per-process cache: gunicorn runs several workers and each must see the
    others' counts. jobs/api/throttling.py updates a row with one atomic UPDATE.
    """

    key = models.CharField(max_length=160, unique=True, help_text='"client:<client id>" or "address:<ip>"')
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "token failure counter"

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"


class OrderAttention(models.Model):
    """An order that failed in an AUTOMATIC run, and when (or whether) a run may take it again.

    - PERMANENT (a decline, invalid data): not taken again while the order is unchanged, i.e.
      while its fingerprint (version, status, extended status, totals, payments) is the one
      recorded at the failure, until an operator retries it.
    - TRANSIENT (retries ran out): taken again after `next_attempt_after`, the delay doubling
      with every failed run; after INVOICE_AUTOMATIC_MAX_ATTEMPTS runs it waits like a
      permanent one. `next_attempt_after` is NULL exactly when the order waits for a change or
      an operator: it "needs attention".

    A successful invoice clears the row; so do "Retry now" and "Retry the failed orders".
    """

    class Kind(models.TextChoices):
        PERMANENT = "PERMANENT", "Permanent"
        TRANSIENT = "TRANSIENT", "Temporary (retries ran out)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="order_attentions")
    order_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1, help_text="AUTOMATIC runs in a row it failed in")
    next_attempt_after = models.DateTimeField(
        null=True, blank=True, help_text="empty: waits until the order changes or an operator retries it"
    )
    # the order's fingerprint as the failing run found it (integrations.ports.order_fingerprint);
    # NULL: unknown, which never counts as unchanged
    order_fingerprint = models.JSONField(null=True, blank=True)
    last_job_order = models.ForeignKey(
        JobOrder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # the table keeps the name it had in invoicing (migration jobs 0009)
        db_table = "invoicing_orderattention"
        ordering = ["-updated_at", "-id"]
        verbose_name = "order needing attention"
        verbose_name_plural = "orders needing attention"
        constraints = [models.UniqueConstraint(fields=["tenant", "order_id"], name="one_attention_per_order")]
        indexes = [models.Index(fields=["tenant", "-updated_at"], name="attention_tenant_updated_idx")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.kind}"

    @property
    def needs_attention(self) -> bool:
        return self.next_attempt_after is None


class AutomaticOrderPick(models.Model):
    """The fingerprint of an order as the AUTOMATIC search found it, while its job order runs.

    Written with the job order (same transaction), read and removed when the order finishes:
    a failure records it on OrderAttention, so "unchanged" means unchanged since that run saw
    the order, without reading the order again (an HTTP call for Emporix) when it fails.
    """

    job_order = models.OneToOneField(JobOrder, on_delete=models.CASCADE, primary_key=True, related_name="+")
    fingerprint = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "invoicing_automaticorderpick"  # its name in invoicing (migration jobs 0009)

    def __str__(self) -> str:
        return f"job order {self.job_order_id}"
