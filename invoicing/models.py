"""Tenants, invoices and what happens to them (captures, email deliveries, events).

The invariants of docs/design.md live here as database constraints, not only as Python checks:
one invoice per order, unique numbers, one capture record per order, one delivery per kind.
"""

from __future__ import annotations

from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length

TENANT_CODE_PATTERN = r"^[a-z][a-z0-9]+$"
tenant_code_validator = RegexValidator(
    TENANT_CODE_PATTERN, "A tenant code is lowercase letters and digits, starting with a letter."
)


class Tenant(models.Model):
    class Backend(models.TextChoices):
        LOCAL = "local", "Local (database-backed)"
        EMPORIX = "emporix", "Emporix APIs"

    code = models.CharField(
        max_length=16, unique=True, validators=[tenant_code_validator, MinLengthValidator(3)]
    )
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.LOCAL)

    # Connection to the Emporix APIs (backend "emporix"). The secret is stored encrypted
    # (integrations.credentials) and never shown again.
    emporix_base_url = models.URLField("Emporix API base URL", blank=True, default="https://api.emporix.io")
    emporix_client_id = models.CharField("Emporix client id", max_length=200, blank=True)
    emporix_client_secret_encrypted = models.TextField(blank=True, editable=False)
    emporix_site_code = models.CharField(
        "Emporix site code",
        max_length=100,
        blank=True,
        help_text="empty: the order's site, else the default site",
    )
    emporix_number_placeholders = models.JSONField(
        "invoice number placeholders",
        default=dict,
        blank=True,
        help_text='sent with every nextId call, e.g. {"__num__": ""} for the tutorial\'s INV__num__ schema',
    )

    # Seller details printed on every invoice (the local backend's "site settings").
    legal_name = models.CharField(max_length=200, blank=True)
    street = models.CharField(max_length=200, blank=True)
    street_number = models.CharField(max_length=20, blank=True)
    zip_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code, e.g. DE")
    vat_id = models.CharField("VAT ID", max_length=40, blank=True)
    tax_number = models.CharField(max_length=40, blank=True)
    iban = models.CharField("IBAN", max_length=40, blank=True)
    bic = models.CharField("BIC", max_length=11, blank=True)
    email_sender = models.EmailField(blank=True, help_text="From address of invoice emails")
    phone = models.CharField(max_length=40, blank=True)
    website = models.CharField(max_length=200, blank=True)
    default_language = models.CharField(max_length=8, default="en")
    default_currency = models.CharField(max_length=3, default="EUR")
    time_zone = models.CharField(max_length=64, default="UTC")
    logo = models.ImageField(upload_to="logos/", blank=True)
    prices_include_tax = models.BooleanField(
        default=False,
        help_text="Gross pricing (B2C): tax per rate is taken out of the gross sum instead of added to net.",
    )
    delivery_date_source = models.CharField(
        max_length=40,
        choices=[
            (
                "deliveryWindow.deliveryDate",
                "deliveryWindow.deliveryDate (a date: from the start of that day)",
            ),
            ("mixins.deliveryTime.deliveryDate", "mixins.deliveryTime.deliveryDate (a date-time)"),
        ],
        default="deliveryWindow.deliveryDate",
        help_text="The delivery date AUTOMATIC jobs count the threshold from; orders without it are not invoiced.",
    )
    payment_terms = models.CharField(
        max_length=300, blank=True, default="Payable within 14 days of the invoice date without deduction."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__length__gte=3) & Q(code__length__lte=16), name="tenant_code_length"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.backend == self.Backend.EMPORIX:
            missing = {
                name: "required for the Emporix backend"
                for name in ("emporix_base_url", "emporix_client_id")
                if not getattr(self, name)
            }
            if missing:
                raise ValidationError(missing)
            # https only, no internal addresses (SSRF); the client checks again per request
            from integrations.outbound import base_url_problem

            problem = base_url_problem(self.emporix_base_url)
            if problem:
                raise ValidationError({"emporix_base_url": f"The Emporix base URL {problem}."})

    def set_emporix_client_secret(self, secret: str) -> None:
        from integrations.credentials import encrypt_secret

        self.emporix_client_secret_encrypted = encrypt_secret(secret)

    # Not named emporix_client_secret: the admin form has a write-only field of that name, and on
    # a read-only page Django would render a same-named model attribute, i.e. the secret.
    def decrypted_emporix_client_secret(self) -> str:
        from integrations.credentials import decrypt_secret

        return decrypt_secret(self.emporix_client_secret_encrypted)


# Length() must be registered for the __length lookup used in the constraint above.
models.CharField.register_lookup(Length)


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

    class Meta:
        ordering = ["invoice", "rate"]
        constraints = [models.UniqueConstraint(fields=["invoice", "rate"], name="unique_invoice_tax_rate")]

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
        "jobs.JobOrder", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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

    job_order = models.OneToOneField(
        "jobs.JobOrder", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    fingerprint = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"job order {self.job_order_id}"
