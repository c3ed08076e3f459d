"""Fixtures of the console tests: the console's data and logged-in operator/administrator clients.

The data (a tenant, a job in which one order is declined and one does not exist, issued invoices
with PDFs and email deliveries) is built once for each test module inside an outer transaction
that is rolled back at the end; every test runs in a savepoint of it, so the tests stay independent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from tests.console.helpers import Console, console_build, login


@pytest.fixture(scope="module")
def console_data(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Console]:
    """Built once; each test's own transaction is a savepoint inside this one."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield console_build()
        transaction.set_rollback(True)


@pytest.fixture
def console(console_data: Console, db: Any) -> Console:
    for name in (
        "job",
        "clean_job",
        "automatic_job",
        "invoice",
        "captured_invoice",
        "series",
        "fresh_series",
    ):
        getattr(console_data, name).refresh_from_db()
    return console_data


@pytest.fixture
def operator(console: Console) -> Client:
    return login(console.operator)


@pytest.fixture
def administrator(console: Console) -> Client:
    return login(console.administrator)
