"""Every page of the console answers both roles, sends the anonymous to log in and refuses staff
without a role."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.console.helpers import PAGES, Console, login

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["operator", "administrator"])
@pytest.mark.parametrize("page", list(PAGES))
def test_console_page_answers_200_for_each_role(console: Console, page: str, role: str) -> None:
    response = login(getattr(console, role)).get(PAGES[page](console))

    assert response.status_code == 200, (page, role, response.status_code)
    if page.startswith("invoice pdf"):
        body = response.getvalue()  # consuming it closes the response
        assert body.startswith(b"%PDF")


@pytest.mark.parametrize("page", list(PAGES))
def test_console_page_redirects_anonymous_to_login(console: Console, page: str) -> None:
    url = PAGES[page](console)

    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login") + "?next=")


@pytest.mark.parametrize("page", ["jobs", "invoices", "tenant page", "invoice pdf"])
def test_console_page_refused_for_staff_without_a_role(console: Console, page: str) -> None:
    response = login(console.staff_without_role).get(PAGES[page](console))

    assert response.status_code == 403
