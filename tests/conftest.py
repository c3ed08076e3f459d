"""Fixtures for every test package: PostgreSQL only, a tenant with an API client and token, the
pipeline run in process. Real worker processes come from the `tests.workers` plugin."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests import factories
from tests.pipeline import drive

# pytest reads pytest_plugins only in the top conftest: fixture modules are registered here, once.
pytest_plugins = ["tests.workers"]


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Remove the run's scratch directory (media, mails, worker logs) unless asked to keep it."""
    import shutil

    if os.environ.get("TEST_VAR_DIR_OWNER") == str(os.getpid()) and not os.environ.get("KEEP_TEST_FILES"):
        shutil.rmtree(os.environ["VAR_DIR"], ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def _require_postgres(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Locking and redelivery behave differently on SQLite: the suite runs on PostgreSQL only."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit("The tests need PostgreSQL and Redis: run them with `make test`.", returncode=2)


@pytest.fixture
def tenant(db: Any):
    return factories.tenant_make("acme")


@pytest.fixture
def other_tenant(db: Any):
    return factories.tenant_make("globex")


@pytest.fixture
def api_client_and_secret(tenant):
    return factories.api_client_make(tenant)


@pytest.fixture
def token(api_client_and_secret) -> str:
    return factories.token_make(api_client_and_secret[0])


@pytest.fixture
def api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def run_job():
    return drive


@pytest.fixture
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries of a database write happen at once instead of after their pauses."""
    monkeypatch.setattr("core.retrying.PERSIST_DELAYS", (0.0, 0.0), raising=False)
