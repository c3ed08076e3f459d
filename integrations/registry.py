"""Which adapters serve a tenant. The pipeline asks here and never names an adapter itself."""

from __future__ import annotations

from core.errors import PermanentError
from integrations.local.adapters import (
    LocalConfiguration,
    LocalCustomerDirectory,
    LocalExchangeRates,
    LocalNumberSequence,
    LocalOrderSource,
    LocalPaymentGateway,
    LocalSellerSettings,
)
from integrations.ports import Backends
from tenants.models import Tenant


def backends_for(tenant: Tenant) -> Backends:
    if tenant.backend == Tenant.Backend.LOCAL:
        return Backends(
            orders=LocalOrderSource(tenant),
            numbers=LocalNumberSequence(tenant),
            seller=LocalSellerSettings(tenant),
            payments=LocalPaymentGateway(tenant),
            configuration=LocalConfiguration(tenant),
            customers=LocalCustomerDirectory(tenant),
            rates=LocalExchangeRates(tenant),
        )
    if tenant.backend == Tenant.Backend.EMPORIX:
        from integrations.emporix.adapters import (
            EmporixConfiguration,
            EmporixCustomerDirectory,
            EmporixExchangeRates,
            EmporixNumberSequence,
            EmporixOrderSource,
            EmporixPaymentGateway,
            EmporixSellerSettings,
        )
        from integrations.emporix.client import EmporixClient

        client = EmporixClient(tenant)  # one token cache entry and session for all of them
        return Backends(
            orders=EmporixOrderSource(tenant, client),
            numbers=EmporixNumberSequence(tenant, client),
            seller=EmporixSellerSettings(tenant, client),
            payments=EmporixPaymentGateway(tenant, client),
            configuration=EmporixConfiguration(tenant, client),
            customers=EmporixCustomerDirectory(tenant, client),
            rates=EmporixExchangeRates(tenant, client),
        )
    raise PermanentError(f"Tenant {tenant.code} has an unknown backend '{tenant.backend}'.")
