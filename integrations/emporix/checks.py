"""What `manage.py check_tenant` reports about a tenant's Emporix connection."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import IntegrationError
from integrations.emporix.adapters import EmporixConfiguration, EmporixSellerSettings, _path, logo_bytes
from integrations.emporix.client import EmporixClient
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
}


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

    try:
        response = client.request(
            "GET",
            _path("sequential-id", tenant.code, "schemas", "types", "invoiceNoSequence"),
            handled=(404,),
        )
        schemas = response.json() if response.status_code == 200 else []
        active = [s for s in schemas if isinstance(s, dict) and s.get("active")]
        if active:
            schema = active[0]
            unfilled = [
                name
                for name, spec in (schema.get("placeholders") or {}).items()
                if isinstance(spec, dict)
                and spec.get("required")
                and not spec.get("default")
                and not spec.get("sitePath")
                and name not in (tenant.emporix_number_placeholders or {})
            ]
            if unfilled:
                checks.append(
                    Check(
                        "number placeholders",
                        False,
                        f"the schema requires {', '.join(unfilled)}, which the tenant does not send: every nextId "
                        f'would answer 400. Set the tenant\'s placeholders, e.g. {{"{unfilled[0]}": ""}}',
                    )
                )
            checks.append(
                Check(
                    "invoice numbers",
                    True,
                    f"active invoiceNoSequence schema {schema.get('name', '')!r}: preText {schema.get('preText', '')!r}, "
                    f"{schema.get('numberOfDigits')} digits, counter {schema.get('counter')}, maxValue {schema.get('maxValue')}",
                )
            )
        else:
            checks.append(Check("invoice numbers", False, "no active invoiceNoSequence schema"))
    except IntegrationError as exc:
        checks.append(Check("invoice numbers", False, exc.message))

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
