"""The number series guard: once numbers are issued only max_value may change, never below the
counter, and the series cannot be deleted."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import NumberSeries
from tests.console.helpers import PAGES, Console, form_data

pytestmark = pytest.mark.django_db


def test_number_series_with_a_counter_is_read_only_except_max_value(
    console: Console, administrator: Client
) -> None:
    assert console.series.counter is not None
    url = PAGES["number series page"](console)

    form = administrator.get(url).context["adminform"].form

    assert set(form.fields) == {"max_value"}


def test_number_series_max_value_cannot_go_below_the_counter(console: Console, administrator: Client) -> None:
    url = PAGES["number series page"](console)
    counter = console.series.counter

    too_low = administrator.post(url, {"max_value": counter - 1, "pre_text": "X"})
    raised = administrator.post(url, {"max_value": counter + 5000, "pre_text": "X", "start_value": 0})

    assert too_low.status_code == 200
    assert "cannot go below" in str(too_low.context["adminform"].form.errors["max_value"])
    assert raised.status_code == 302
    series = NumberSeries.objects.get(pk=console.series.pk)
    assert series.max_value == counter + 5000
    assert (series.pre_text, series.start_value, series.counter) == ("INV", 1000, counter)


def test_number_series_without_a_counter_is_all_editable(console: Console, administrator: Client) -> None:
    url = reverse("admin:integrations_numberseries_change", args=[console.fresh_series.pk])
    response = administrator.get(url)
    data = {**form_data(response), "pre_text": "GX-", "number_of_digits": 6, "start_value": 5}

    saved = administrator.post(url, data)

    assert set(response.context["adminform"].form.fields) == {
        "tenant", "name", "pre_text", "post_text", "number_of_digits", "start_value", "max_value",
    }  # fmt: skip
    assert saved.status_code == 302
    series = NumberSeries.objects.get(pk=console.fresh_series.pk)
    assert (series.pre_text, series.number_of_digits, series.start_value, series.counter) == (
        "GX-",
        6,
        5,
        None,
    )


def test_number_series_with_a_counter_cannot_be_deleted(console: Console, administrator: Client) -> None:
    single = administrator.post(
        reverse("admin:integrations_numberseries_delete", args=[console.series.pk]), {"post": "yes"}
    )
    bulk = administrator.post(
        PAGES["number series"](console),
        {"action": "delete_selected", "_selected_action": [console.series.pk], "post": "yes", "index": 0},
    )

    assert single.status_code == 403
    assert bulk.status_code == 403  # delete_selected: "permission needed" for that series
    assert NumberSeries.objects.filter(pk=console.series.pk).exists()


def test_number_series_save_keeps_a_counter_moved_meanwhile(console: Console, administrator: Client) -> None:
    url = PAGES["number series page"](console)
    counter = console.series.counter

    def issue_meanwhile(self: Any) -> int:
        # what LocalNumberSequence.next_number does in another transaction while the form is saved
        NumberSeries.objects.filter(pk=console.series.pk).update(counter=counter + 1)
        return int(self.cleaned_data["max_value"])

    with mock.patch("console.admin.integrations.NumberSeriesForm.clean_max_value", issue_meanwhile):
        response = administrator.post(url, {"max_value": counter + 5000})

    assert response.status_code == 302
    assert NumberSeries.objects.get(pk=console.series.pk).counter == counter + 1
