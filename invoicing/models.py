"""Invoices and what happens to them (captures, email deliveries, events).

The invariants of docs/design.md live here as database constraints, not only as Python checks:
one invoice per order, unique numbers, one capture record per order, one delivery per kind.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from tenants.models import Tenant


class Invoice(models.Model):
    """One per order, created as a DRAFT when a job takes the order, ISSUED when numbered.

    A draft holds the recalculated figures; its number is allocated only after capture
    succeeded. An issued invoice is never deleted or renumbered (admin and FK PROTECT).
    """

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        ISSUED = "ISSUED", "Issued"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="invoices")
    order_id = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # NULL until issued: UNIQUE(tenant, number) must not treat all drafts as one number.
    number = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    # A number fetched from a remote sequence (Emporix) before issuing: kept, so a retried
    # issue step uses it instead of drawing another one.
    reserved_number = models.CharField(max_length=100, blank=True)
    site_code = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    net_total = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    tax_total = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    gross_total = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    customer_name = models.CharField(max_length=300, blank=True)
    customer_email = models.EmailField(blank=True)
    order_date = models.DateField(null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    # The invoice as a document (invoicing.documents.InvoiceDocument as JSON), the PDF's source.
    document = models.JSONField(default=dict, blank=True)
    pdf = models.FileField(upload_to="invoices/%Y/%m/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    # The e-invoice validation of the issued document, per format: {"facturx": ValidationReport
    # .to_json(), "xrechnung-cii": ...} (invoicing.einvoice.validation). A draft holds the report of
    # the check before capture (with the placeholder number). {} when the tenant validates no
    # e-invoices (Tenant.einvoice_validation) or the invoice predates them.
    einvoice_report = models.JSONField(default=dict, blank=True)
    # Bookkeeping beside the issued document, which itself never changes: the gross of the credit
    # notes that stand or are being made for it (reserved when one is requested, given back when it
    # fails before issuing). CHECK credited_gross <= gross_total is the over-credit guard: two
    # concurrent requests cannot both pass it (invoicing.credit_notes).
    credited_gross = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    # Set when issued credit notes cover the whole gross: the invoice is cancelled, and the order
    # may be invoiced again (a new invoice, a new number).
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("resend_invoice_email", "Can resend an invoice email"),
            ("issue_credit_note", "Can cancel an invoice or credit part of it"),
        ]
        constraints = [
            # one invoice per order, but a cancelled one leaves room for the order's new invoice
            models.UniqueConstraint(
                fields=["tenant", "order_id"],
                condition=Q(cancelled_at__isnull=True),
                name="one_open_invoice_per_order",
            ),
            models.CheckConstraint(
                condition=Q(credited_gross__gte=0)
                & (Q(gross_total__isnull=True) | Q(credited_gross__lte=F("gross_total"))),
                name="invoice_credited_within_total",
            ),
            models.UniqueConstraint(fields=["tenant", "number"], name="unique_invoice_number"),
            models.CheckConstraint(
                condition=Q(status="DRAFT") | (Q(number__isnull=False) & Q(issue_date__isnull=False)),
                name="issued_invoice_has_number",
            ),
        ]
        indexes = [
            # the console: its search (exact number, order id or customer email) and its list order
            models.Index(fields=["number"], name="invoice_number_idx"),
            models.Index(fields=["order_id"], name="invoice_order_idx"),
            models.Index(fields=["customer_email"], name="invoice_customer_email_idx"),
            models.Index(fields=["-created_at", "-id"], name="invoice_created_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft for order {self.order_id}"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10)
    description = models.CharField(max_length=500)
    sku = models.CharField(max_length=100, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=3)
    unit_net = models.DecimalField(max_digits=18, decimal_places=3)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3)
    net = models.DecimalField(max_digits=18, decimal_places=3)
    # EN 16931 VAT category (UNCL5305, invoicing.vat.VatCategory): S, Z, E, AE, K, G, O
    vat_category = models.CharField(max_length=2, default="S")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="unique_invoice_line_position")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.description}"


class InvoiceTaxLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="tax_lines")
    rate = models.DecimalField(max_digits=6, decimal_places=3)
    net = models.DecimalField(max_digits=18, decimal_places=3)
    tax = models.DecimalField(max_digits=18, decimal_places=3)
    gross = models.DecimalField(max_digits=18, decimal_places=3)
    # one breakdown line per rate AND category (EN 16931 BG-23): 0 % can be exempt and zero rated
    category = models.CharField(max_length=2, default="S")

    class Meta:
        ordering = ["invoice", "rate", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "rate", "category"], name="unique_invoice_tax_rate_category"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rate}%: {self.tax}"


class PaymentCapture(models.Model):
    """Our record of capturing an order's payment, written before the gateway is called.

    The idempotency key is deterministic per (tenant, order, attempt); a new attempt only
    starts after a definite decline. UNKNOWN (timeout) is resolved by asking the gateway,
    never by capturing again.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        UNKNOWN = "UNKNOWN", "Unknown (asking the gateway)"
        CAPTURED = "CAPTURED", "Captured"
        DECLINED = "DECLINED", "Declined"
        NOT_REQUIRED = "NOT_REQUIRED", "Nothing to capture"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="captures")
    order_id = models.CharField(max_length=255)
    attempt = models.PositiveIntegerField(default=1)
    idempotency_key = models.CharField(max_length=400, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    transaction_id = models.CharField(max_length=200, blank=True)
    payment_method = models.CharField(max_length=50, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    capture_id = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    # what credit notes paid back of this capture (Refund rows REFUNDED); a re-invoiced order is
    # settled by what is still held (amount - refunded_amount)
    refunded_amount = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    # The invoice this capture settles. NULL on records from before credit notes: the order's first
    # invoice. After a cancellation the order's new invoice takes over what the capture still holds.
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="payment_captures"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "order_id"], name="one_capture_per_order"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & (Q(amount__isnull=True) | Q(refunded_amount__lte=F("amount"))),
                name="capture_refunded_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.status}"


class EmailDelivery(models.Model):
    """One row per (invoice, kind): PENDING -> SENDING -> SENT or FAILED. Never sent twice."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SENDING = "SENDING", "Sending"
        SENT = "SENT", "Sent"
        FAILED = "FAILED", "Failed"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="deliveries")
    # a credit note's delivery: kind "credit-note:<its id>", the invoice it credits as `invoice`
    credit_note = models.ForeignKey(
        "CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries"
    )
    kind = models.CharField(max_length=60, default="invoice")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    recipient = models.EmailField()
    attempts = models.PositiveIntegerField(default=0)
    message_id = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "email deliveries"
        constraints = [models.UniqueConstraint(fields=["invoice", "kind"], name="one_delivery_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient}: {self.status}"


class InvoiceEvent(models.Model):
    """Append-only audit trail: what happened to an order's invoice, and who did it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="events")
    order_id = models.CharField(max_length=255, blank=True)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    job_order_id = models.BigIntegerField(null=True, blank=True)
    type = models.CharField(max_length=40)
    message = models.TextField(blank=True)
    actor = models.CharField(max_length=200, blank=True, help_text="user, API client or 'system'")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "order_id"])]

    def __str__(self) -> str:
        return f"{self.type} {self.order_id}"


class CreditNote(models.Model):
    """A numbered correction of one issued invoice: a cancellation, chosen lines, or amounts per rate.

    The invoice itself never changes. Requested as a DRAFT (its amounts worked out and reserved on
    the invoice: Invoice.credited_gross), refunded, then ISSUED with a number from the tenant's
    credit-note series. FAILED: it never got a number (a declined refund, a rejected e-invoice);
    its reservation is given back. An issued credit note is never deleted or renumbered.
    """

    class Kind(models.TextChoices):
        FULL = "FULL", "Cancellation"
        LINES = "LINES", "Lines"
        AMOUNTS = "AMOUNTS", "Amounts per VAT rate"

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        ISSUED = "ISSUED", "Issued"
        FAILED = "FAILED", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    reason = models.TextField()
    number = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    reserved_number = models.CharField(max_length=100, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    net_total = models.DecimalField(max_digits=18, decimal_places=3)
    tax_total = models.DecimalField(max_digits=18, decimal_places=3)
    gross_total = models.DecimalField(max_digits=18, decimal_places=3)
    # the credit note as a document (invoicing.documents.InvoiceDocument, document_type credit_note)
    document = models.JSONField(default=dict)
    # what was asked for: {"lines": [{"position", "quantity"}]} or {"amounts": [{"taxRate",
    # "grossAmount"}]} or {} (a cancellation), and "refund"; a repeated Idempotency-Key must match it
    request = models.JSONField(default=dict)
    refund_requested = models.BooleanField(default=True)
    pdf = models.FileField(upload_to="credit-notes/%Y/%m/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    einvoice_report = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    requested_by = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)  # why it FAILED
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="unique_credit_note_number"),
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_credit_note_per_idempotency_key",
            ),
            models.CheckConstraint(
                condition=~Q(status="ISSUED") | (Q(number__isnull=False) & Q(issue_date__isnull=False)),
                name="issued_credit_note_has_number",
            ),
            models.CheckConstraint(condition=Q(gross_total__gt=0), name="credit_note_credits_something"),
        ]
        indexes = [
            models.Index(fields=["invoice", "status"], name="credit_note_invoice_idx"),
            models.Index(fields=["-created_at"], name="credit_note_created_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft credit note for {self.invoice}"

    @property
    def is_cancellation(self) -> bool:
        return self.kind == self.Kind.FULL


class Refund(models.Model):
    """Our record of paying a credit note back through the gateway, written before it is called.

    Like PaymentCapture: UNKNOWN (a timeout, a worker that died mid-call) is resolved by asking the
    gateway for its refunds, never by refunding again.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        UNKNOWN = "UNKNOWN", "Unknown (asking the gateway)"
        REFUNDED = "REFUNDED", "Refunded"
        DECLINED = "DECLINED", "Declined"
        NOT_REQUIRED = "NOT_REQUIRED", "Nothing to refund"

    credit_note = models.OneToOneField(CreditNote, on_delete=models.PROTECT, related_name="refund")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    transaction_id = models.CharField(max_length=200, blank=True)
    capture_id = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=3)
    currency = models.CharField(max_length=3)
    refund_id = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=400, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.credit_note}: {self.status}"
