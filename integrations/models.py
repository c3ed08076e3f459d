"""Storage of the local, database-backed backends (the embedded default).

Orders as Emporix salesOrder documents, buyers as Emporix legal entity and customer documents,
exchange rates kept in the console, the invoice and credit note number series, and a payment
gateway that records authorisations, captures and refunds and can be told to decline.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.money import is_invoice_currency
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


class StoredLegalEntity(models.Model):
    """A buyer company: an Emporix Customer Management legalEntity document, kept as given.

    Orders name it in `legalEntityId`; the invoice takes the buyer's legal name, VAT ID and
    country from `legalInfo` (integrations.buyers).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="stored_legal_entities")
    legal_entity_id = models.CharField(max_length=255)
    document = models.JSONField(help_text="the Emporix Customer Management legalEntity document")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "stored legal entities"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "legal_entity_id"], name="unique_stored_legal_entity")
        ]

    def __str__(self) -> str:
        return self.legal_entity_id


class StoredCustomer(models.Model):
    """A customer profile: an Emporix Customer Service customer document, kept as given.

    Orders name it in `customer.id`; the invoice takes the customer's `preferredLanguage`.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="stored_customers")
    customer_number = models.CharField(max_length=255)
    document = models.JSONField(help_text="the Emporix Customer Service customer document")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer_number"], name="unique_stored_customer")
        ]

    def __str__(self) -> str:
        return self.customer_number


class CurrencyRate(models.Model):
    """1 `source_currency` = `rate` `target_currency`, valid from `valid_from` until the pair's
    next rate. Kept in the console for local tenants (Emporix tenants use its Currency service).

    The invoice states its VAT also in the seller's currency with the rate of the supply date
    (EU VAT Directive Art. 230 and 91(2)); a rate is looked up as the latest on or before it.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="currency_rates")
    source_currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. USD")
    target_currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR")
    rate = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        help_text="how many target units one source unit is worth, e.g. 0.91",
    )
    valid_from = models.DateField(help_text="the first day the rate applies")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "exchange rate"
        ordering = ["source_currency", "target_currency", "-valid_from"]
        constraints = [
            # also the index of the lookup: the pair's latest rate on or before a date
            models.UniqueConstraint(
                fields=["tenant", "source_currency", "target_currency", "valid_from"],
                name="unique_currency_rate_per_day",
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="currency_rate_positive"),
            models.CheckConstraint(
                condition=~Q(source_currency=F("target_currency")), name="currency_rate_two_currencies"
            ),
        ]

    def __str__(self) -> str:
        rate = f"{self.rate.normalize():f}" if isinstance(self.rate, Decimal) else self.rate
        return f"1 {self.source_currency} = {rate} {self.target_currency} from {self.valid_from}"

    def clean(self) -> None:
        self.source_currency = (self.source_currency or "").upper()
        self.target_currency = (self.target_currency or "").upper()
        errors = {
            name: "must be an ISO 4217 currency code such as EUR"
            for name in ("source_currency", "target_currency")
            if getattr(self, name) and not is_invoice_currency(getattr(self, name))
        }
        if self.source_currency and self.source_currency == self.target_currency:
            errors["target_currency"] = "must differ from the source currency"
        if self.rate is not None and self.rate <= Decimal(0):
            errors["rate"] = "must be greater than 0"
        if errors:
            raise ValidationError(errors)


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

    Series by name: "invoiceNoSequence" (invoices) and "creditNoteNoSequence" (credit notes,
    integrations.numbering.LOCAL_SERIES_NAMES).

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
    refund_decline_reason = models.CharField(
        max_length=300,
        blank=True,
        help_text="when set, every refund of this transaction is declined with it",
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


class GatewayRefund(models.Model):
    """A refund the local gateway performed or declined; the idempotency key makes a repeat a no-op."""

    transaction = models.ForeignKey(GatewayTransaction, on_delete=models.CASCADE, related_name="refunds")
    idempotency_key = models.CharField(max_length=400, unique=True)
    refund_id = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=18, decimal_places=3)
    successful = models.BooleanField()
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.refund_id} ({'ok' if self.successful else 'declined'})"
