"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from integrations.ports import Address, Seller
from tests import factories


def bench_seller(**fields: Any) -> Seller:
    """The seller of the benchmarks' invoices: logo, bank details (an address in Berlin)."""
    return Seller(
        legal_name="Bench GmbH",
        address=Address(city="Berlin"),
        logo=factories.DEMO_LOGO_BYTES,
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        **fields,
    )


def samples_ms(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock milliseconds of `repeat` calls of fn, one sample per call."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples
