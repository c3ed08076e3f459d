"""Storage of the local, database-backed backends (the embedded default).

Orders as Emporix salesOrder documents, the invoice number series, and a payment gateway that
records authorisations and captures and can be told to decline.
"""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from tenants.models import Tenant


class StoredOrder(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="stored_orders")
    order_id = models.CharField(max_length=255)
    document = models.JSONField(help_text="the Emporix order-v2 salesOrder document")
    # written back after invoicing, like Emporix's mixins.invoice {invoiceNo, invoiceDocument}
    invoice_number = models.CharField(max_length=100, blank=True)
    # What AUTOMATIC jobs select on, copied out of the document when it is stored (indexed).
    status = models.CharField(max_length=20, blank=True)
    extended_status = models.CharField(max_length=20, blank=True)
    delivery_window_date = models.DateField(null=True, blank=True)  # deliveryWindow.deliveryDate
    delivery_time = models.DateTimeField(null=True, blank=True)  # mixins.deliveryTime.deliveryDate
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "order_id"], name="unique_stored_order")]
        indexes = [
            # keyset pages of not-yet-invoiced orders of a tenant, in id order
            models.Index(
                fields=["tenant", "id"], name="storedorder_open_idx", condition=models.Q(invoice_number="")
            ),
        ]

    def __str__(self) -> str:
        return self.order_id


class Configuration(models.Model):
    """A tenant configuration entry, as the Emporix Configuration service keeps them."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="configurations")
    key = models.CharField(max_length=200)
    value = models.JSONField()
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="unique_configuration_key")]

    def __str__(self) -> str:
        return f"{self.tenant.code}/{self.key}"


class NumberSeries(models.Model):
    """A counter row per tenant and series, with the Emporix sequence-schema semantics.

    number = preText + counter zero-padded to numberOfDigits + postText, placeholders such as
    __year__ replaced; the first number is startValue + 1; past maxValue the series is used up.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="number_series")
    name = models.CharField(max_length=100, default="invoiceNoSequence")
    pre_text = models.CharField(max_length=100, blank=True)
    post_text = models.CharField(max_length=100, blank=True)
    number_of_digits = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1)])
    start_value = models.BigIntegerField(default=1000)
    max_value = models.BigIntegerField(default=999999999)
    # the last value handed out; None until the first number
    counter = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "number series"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_series_per_tenant"),
            models.CheckConstraint(
                condition=Q(max_value__gt=F("start_value")), name="series_max_above_start"
            ),
            models.CheckConstraint(
                condition=Q(counter__isnull=True) | Q(counter__lte=F("max_value")),
                name="series_counter_le_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.code}/{self.name}"


class GatewayTransaction(models.Model):
    """An authorised payment in the local gateway, created when an order with one is stored."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="gateway_transactions")
    transaction_id = models.CharField(max_length=200)
    order_id = models.CharField(max_length=255, blank=True)
    authorized_amount = models.DecimalField(max_digits=18, decimal_places=3)
    currency = models.CharField(max_length=3)
    decline_reason = models.CharField(
        max_length=300,
        blank=True,
        help_text="when set, every capture of this transaction is declined with it",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "transaction_id"], name="unique_gateway_transaction")
        ]

    def __str__(self) -> str:
        return self.transaction_id


class GatewayCapture(models.Model):
    """A capture the local gateway performed; the idempotency key makes a repeat a no-op."""

    transaction = models.ForeignKey(GatewayTransaction, on_delete=models.CASCADE, related_name="captures")
    idempotency_key = models.CharField(max_length=400, unique=True)
    capture_id = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=18, decimal_places=3)
    successful = models.BooleanField()
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.capture_id} ({'ok' if self.successful else 'declined'})"
