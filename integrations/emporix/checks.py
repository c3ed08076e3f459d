"""What `manage.py check_tenant` reports about a tenant's Emporix connection."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import IntegrationError
from integrations.emporix.adapters import (
    EmporixConfiguration,
    EmporixSellerSettings,
    _path,
    logo_bytes,
    sequence_schema_type,
)
from integrations.emporix.client import EmporixClient
from integrations.ports import CREDIT_NOTE_SERIES, INVOICE_SERIES
from tenants.models import Tenant

# What the service's API key needs, and for what.
NEEDED_SCOPES = {
    "order.order_read": "read orders",
    "order.order_update": "write the invoice number back onto orders",
    "sequentialid.schema_view": "draw invoice numbers (nextId)",
    "payment-gateway.capture_manage": "capture payments",
    "payment-gateway.paymenttransactions_read": "resolve captures that timed out",
    "configuration.configuration_view": "read invoiceSettings and the sender address",
}
# Needed for some orders only: check_tenant warns when they are missing.
OPTIONAL_SCOPES = {
    "order.order_update_completed": "write back onto COMPLETED orders",
    "customermanagement.legalentity_read": "the buyer's legal name and VAT ID of orders with a legalEntityId",
    "customer.customer_read": "the customer's preferredLanguage (else the site's language)",
    "currency.currency_read": "exchange rates for invoices not in the site's currency",
    "payment-gateway.refund_manage": "refund card payments when a credit note is issued",
}
SCHEMA_TYPE = re.compile(r"^[a-zA-Z0-9]+$")  # SequenceSchemaCreate.schemaType (the Sequential ID spec)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    blocking: bool = True  # a failed non-blocking check is a warning


def tenant_connection_checks(tenant: Tenant) -> list[Check]:
    checks: list[Check] = []
    try:
        client = EmporixClient(tenant)
        client.token(renew=True)
    except IntegrationError as exc:
        return [Check("token", False, exc.message)]
    except Exception as exc:  # e.g. the secret cannot be decrypted
        return [Check("token", False, str(exc))]
    checks.append(Check("token", True, f"obtained from {client.base_url}/oauth/token as {client.client_id}"))

    granted = client.granted_scopes()
    missing = [f"{s} ({why})" for s, why in NEEDED_SCOPES.items() if s not in granted]
    checks.append(
        Check(
            "scopes",
            not missing,
            "all needed scopes granted" if not missing else "missing: " + ", ".join(missing),
        )
    )
    optional = [f"{s} ({why})" for s, why in OPTIONAL_SCOPES.items() if s not in granted]
    if optional:
        checks.append(Check("optional scopes", False, "missing: " + ", ".join(optional), blocking=False))

    seller = EmporixSellerSettings(tenant, client)
    try:
        code = tenant.emporix_site_code or seller.default_site_code()
        site = seller.site(code)
        checks.append(
            Check(
                "site",
                True,
                f"{code} ({site.get('name', '')}), time zone {(site.get('homeBase') or {}).get('timezone') or 'UTC'}",
            )
        )
        mixins = site.get("mixins") or {}
        if not (mixins.get("merchantInfo") or {}).get("merchantName"):
            checks.append(
                Check(
                    "merchant info",
                    False,
                    "mixins.merchantInfo.merchantName is not set: invoices show the site name",
                    blocking=False,
                )
            )
        logo_url = (mixins.get("generalShopSettings") or {}).get("logoUrl")
        if not logo_url:
            checks.append(
                Check(
                    "logo",
                    False,
                    "no mixins.generalShopSettings.logoUrl: invoices have no logo",
                    blocking=False,
                )
            )
        else:
            reachable = logo_bytes(logo_url) is not None
            checks.append(
                Check(
                    "logo",
                    reachable,
                    f"{logo_url} {'reachable' if reachable else 'NOT reachable'}",
                    blocking=False,
                )
            )
    except IntegrationError as exc:
        checks.append(Check("site", False, exc.message))

    checks += sequence_checks(client, tenant, INVOICE_SERIES)
    checks += sequence_checks(client, tenant, CREDIT_NOTE_SERIES)

    try:
        settings_value = EmporixConfiguration(tenant, client).get_configuration("invoiceSettings")
        checks.append(
            Check(
                "invoiceSettings",
                settings_value is not None,
                f"{settings_value}"
                if settings_value is not None
                else "not configured (needed for AUTOMATIC jobs)",
                blocking=False,
            )
        )
    except IntegrationError as exc:
        checks.append(Check("invoiceSettings", False, exc.message, blocking=False))
    return checks


def sequence_checks(client: EmporixClient, tenant: Tenant, series: str) -> list[Check]:
    """The active schema of the series' type and the placeholders it needs.

    Invoice numbers block invoicing; credit note numbers (EMPORIX_CREDIT_NOTE_SEQUENCE) are
    needed only to issue credit notes, so their problems are warnings.
    """
    invoice = series == INVOICE_SERIES
    name = "invoice numbers" if invoice else "credit note numbers"
    schema_type = sequence_schema_type(series)
    if not SCHEMA_TYPE.match(schema_type):
        return [
            Check(
                name,
                False,
                f"EMPORIX_CREDIT_NOTE_SEQUENCE {schema_type!r} is no Emporix schema type (letters and digits only)",
                blocking=invoice,
            )
        ]
    checks: list[Check] = []
    try:
        response = client.request(
            "GET", _path("sequential-id", tenant.code, "schemas", "types", schema_type), handled=(404,)
        )
        schemas = response.json() if response.status_code == 200 else []
        active = (
            [s for s in schemas if isinstance(s, dict) and s.get("active")]
            if isinstance(schemas, list)
            else []
        )
        if active:
            schema = active[0]
            unfilled = [
                placeholder
                for placeholder, spec in (schema.get("placeholders") or {}).items()
                if isinstance(spec, dict)
                and spec.get("required")
                and not spec.get("default")
                and not spec.get("sitePath")
                and placeholder not in (tenant.emporix_number_placeholders or {})
            ]
            if unfilled:
                checks.append(
                    Check(
                        "number placeholders" if invoice else "credit note number placeholders",
                        False,
                        f"the schema requires {', '.join(unfilled)}, which the tenant does not send: "
                        f"every nextId would answer 400. Set the tenant's placeholders, "
                        f'e.g. {{"{unfilled[0]}": ""}}',
                        blocking=invoice,
                    )
                )
            checks.append(
                Check(
                    name,
                    True,
                    f"active {schema_type} schema {schema.get('name', '')!r}: preText {schema.get('preText', '')!r}, "
                    f"{schema.get('numberOfDigits')} digits, counter {schema.get('counter')}, maxValue {schema.get('maxValue')}",
                )
            )
        else:
            missing = f"no active {schema_type} schema"
            if not invoice:
                missing += (
                    f": credit notes cannot be numbered; create one (POST /sequential-id/{tenant.code}/schemas, "
                    f"schemaType {schema_type}, e.g. preText 'CN') and activate it"
                )
            checks.append(Check(name, False, missing, blocking=invoice))
    except IntegrationError as exc:
        checks.append(Check(name, False, exc.message, blocking=invoice))
    return checks
