"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from tests.integrations.emporix_fake import FakeEmporix


@pytest.fixture
def fake(shop) -> Iterator[FakeEmporix]:
    """The Emporix API, answered in process; `shop` is the test module's Emporix tenant."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeEmporix(mock)
