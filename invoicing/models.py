"""Invoices and what happens to them (captures, email deliveries, events).

The invariants of docs/design.md live here as database constraints, not only as Python checks:
one invoice per order, unique numbers, one capture record per order, one delivery per kind.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("resend_invoice_email", "Can resend an invoice email")]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "order_id"], name="one_invoice_per_order"),
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "order_id"], name="one_capture_per_order")]

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
    kind = models.CharField(max_length=40, default="invoice")
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
