"""Admin for the local backends: stored orders and buyers, exchange rates, number series, the
local payment gateway."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from console.admin.common import ReadOnlyAdmin
from integrations.models import (
    Configuration,
    CurrencyRate,
    GatewayCapture,
    GatewayRefund,
    GatewayTransaction,
    NumberSeries,
    StoredCustomer,
    StoredLegalEntity,
    StoredOrder,
)
from integrations.services import NumberSeriesLocked, number_series_update
from jobs.automatic import InvoiceSettingsError, invoice_settings_parse
from tenants.models import Tenant


@admin.register(StoredOrder)
class StoredOrderAdmin(admin.ModelAdmin):
    list_display = ("order_id", "tenant", "invoice_number", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("order_id", "invoice_number")
    list_select_related = ("tenant",)
    readonly_fields = ("tenant", "order_id", "invoice_number", "created_at", "updated_at")
    show_full_result_count = False


def _document_value(document: Any, *path: str) -> str:
    """A string inside a stored document, "" where the path leads nowhere."""
    value = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


@admin.register(StoredLegalEntity)
class StoredLegalEntityAdmin(ReadOnlyAdmin):
    """Buyer companies as stored by PUT …/legal-entities/{id} and import_orders: viewed here."""

    list_display = ("legal_entity_id", "tenant", "legal_name", "vat_id", "country", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("=legal_entity_id",)
    list_select_related = ("tenant",)
    fields = ("tenant", "legal_entity_id", "document", "created_at", "updated_at")
    show_full_result_count = False

    @admin.display(description="legal name")
    def legal_name(self, obj: StoredLegalEntity) -> str:
        return _document_value(obj.document, "legalInfo", "legalName")

    @admin.display(description="VAT ID")
    def vat_id(self, obj: StoredLegalEntity) -> str:
        return _document_value(obj.document, "legalInfo", "taxRegistrationNumber")

    @admin.display(description="country")
    def country(self, obj: StoredLegalEntity) -> str:
        return _document_value(obj.document, "legalInfo", "countryOfRegistration")


@admin.register(StoredCustomer)
class StoredCustomerAdmin(ReadOnlyAdmin):
    """Customer profiles as stored by PUT …/customers/{number} and import_orders: viewed here."""

    list_display = ("customer_number", "tenant", "preferred_language", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("=customer_number",)
    list_select_related = ("tenant",)
    fields = ("tenant", "customer_number", "document", "created_at", "updated_at")
    show_full_result_count = False

    @admin.display(description="preferred language")
    def preferred_language(self, obj: StoredCustomer) -> str:
        return _document_value(obj.document, "preferredLanguage")


class CurrencyRateForm(forms.ModelForm):
    class Meta:
        model = CurrencyRate
        fields = ("tenant", "source_currency", "target_currency", "rate", "valid_from")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tenant = self.fields.get("tenant")
        if isinstance(tenant, forms.ModelChoiceField):
            # Emporix tenants take their rates from Emporix's Currency service
            tenant.queryset = Tenant.objects.filter(backend=Tenant.Backend.LOCAL)
            tenant.help_text = "Local tenants only: Emporix tenants use the Currency service."


@admin.register(CurrencyRate)
class CurrencyRateAdmin(admin.ModelAdmin):
    """Exchange rates for local tenants: Administrators edit them, Operators view them
    (jobs.roles). A foreign-currency invoice states its VAT also in the seller's currency with
    the pair's latest rate on or before its supply date; a pair kept only the other way round is
    used inverted."""

    form = CurrencyRateForm
    list_display = ("tenant", "source_currency", "target_currency", "rate", "valid_from", "updated_at")
    list_filter = ("tenant", "source_currency", "target_currency")
    list_select_related = ("tenant",)
    date_hierarchy = "valid_from"
    ordering = ("tenant", "source_currency", "target_currency", "-valid_from")


class NumberSeriesForm(forms.ModelForm):
    class Meta:
        model = NumberSeries
        fields = ("tenant", "name", "pre_text", "post_text", "number_of_digits", "start_value", "max_value")

    def clean_max_value(self) -> int:
        value = self.cleaned_data["max_value"]
        counter = self.instance.counter if self.instance.pk else None
        if counter is not None and value < counter:
            raise forms.ValidationError(
                f"Numbers up to {counter} are issued already: maxValue cannot go below that."
            )
        return int(value)


@admin.register(NumberSeries)
class NumberSeriesAdmin(admin.ModelAdmin):
    """Guarded: once a number is issued, the format and start are fixed (an issued number is never
    renumbered); only maxValue can still be raised."""

    form = NumberSeriesForm
    list_display = (
        "tenant",
        "name",
        "pre_text",
        "number_of_digits",
        "post_text",
        "start_value",
        "max_value",
        "counter",
    )
    list_select_related = ("tenant",)

    def get_readonly_fields(self, request: HttpRequest, obj: NumberSeries | None = None) -> tuple[str, ...]:
        if obj is not None and obj.counter is not None:
            return ("tenant", "name", "pre_text", "post_text", "number_of_digits", "start_value", "counter")
        return ("counter",)

    def has_delete_permission(self, request: HttpRequest, obj: NumberSeries | None = None) -> bool:
        return obj is None or obj.counter is None

    def save_model(self, request: HttpRequest, obj: NumberSeries, form: Any, change: bool) -> None:
        if not change:
            obj.save()
            return
        try:
            number_series_update(series=obj, changes={name: getattr(obj, name) for name in form.changed_data})
        except NumberSeriesLocked as exc:
            raise PermissionDenied(exc.message) from exc
        obj.refresh_from_db()


class GatewayCaptureInline(admin.TabularInline):
    model = GatewayCapture
    fields = ("created_at", "amount", "successful", "message", "capture_id", "idempotency_key")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GatewayRefundInline(GatewayCaptureInline):
    """What the local gateway refunded for credit notes (read-only, like its captures)."""

    model = GatewayRefund  # type: ignore[assignment]
    fields = ("created_at", "amount", "successful", "message", "refund_id", "idempotency_key")
    readonly_fields = fields


@admin.register(GatewayTransaction)
class GatewayTransactionAdmin(admin.ModelAdmin):
    list_display = ("transaction_id", "tenant", "order_id", "authorized_amount", "currency", "decline_reason")
    list_filter = ("tenant",)
    search_fields = ("transaction_id", "order_id")
    readonly_fields = ("tenant", "transaction_id", "order_id", "authorized_amount", "currency", "created_at")
    fields = (*readonly_fields, "decline_reason", "refund_decline_reason")
    inlines = [GatewayCaptureInline, GatewayRefundInline]


class ConfigurationForm(forms.ModelForm):
    class Meta:
        model = Configuration
        fields = ("tenant", "key", "value")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("key") == "invoiceSettings" and "value" in data:
            try:
                invoice_settings_parse(data["value"])
            except InvoiceSettingsError as exc:
                self.add_error("value", exc.message)
        return data


@admin.register(Configuration)
class ConfigurationAdmin(admin.ModelAdmin):
    form = ConfigurationForm
    list_display = ("tenant", "key", "version", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("key",)
