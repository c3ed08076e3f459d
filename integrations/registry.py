"""Which adapters serve a tenant. The pipeline asks here and never names an adapter itself."""

from __future__ import annotations

from integrations.local.adapters import (
    LocalConfiguration,
    LocalNumberSequence,
    LocalOrderSource,
    LocalPaymentGateway,
    LocalSellerSettings,
)
from integrations.ports import Backends, PermanentError
from invoicing.models import Tenant


def backends_for(tenant: Tenant) -> Backends:
    if tenant.backend == Tenant.Backend.LOCAL:
        return Backends(
            orders=LocalOrderSource(tenant),
            numbers=LocalNumberSequence(tenant),
            seller=LocalSellerSettings(tenant),
            payments=LocalPaymentGateway(tenant),
            configuration=LocalConfiguration(tenant),
        )
    raise PermanentError(
        f"Backend '{tenant.backend}' of tenant {tenant.code} is not available in this version."
    )
