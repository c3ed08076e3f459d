"""Invoice numbers: the Emporix sequence-schema format, exhaustion, and concurrency on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.test import override_settings

from core.errors import PermanentError
from integrations.local.adapters import LocalNumberSequence
from integrations.models import NumberSeries
from integrations.numbering import SeriesExhausted, format_number, next_counter
from tests import factories

AT = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)  # already 2027 in Berlin


def allocate(tenant) -> str:
    with transaction.atomic():
        return LocalNumberSequence(tenant).next_number(site_code="", at=AT)


def test_format_pads_the_counter_between_pre_and_post_text():
    number = format_number(pre_text="INV-", post_text="-X", number_of_digits=6, counter=42, placeholders={})
    assert number == "INV-000042-X"


def test_format_counter_longer_than_digits_is_not_truncated():
    assert (
        format_number(pre_text="", post_text="", number_of_digits=2, counter=12345, placeholders={})
        == "12345"
    )


def test_first_number_is_start_value_plus_one():
    assert next_counter(current=None, start_value=1000, max_value=9999, series_name="s") == 1001
    assert next_counter(current=1001, start_value=1000, max_value=9999, series_name="s") == 1002


def test_counter_past_max_value_is_exhausted_with_a_clear_message():
    with pytest.raises(SeriesExhausted, match=r"is used up \(maxValue 1002 reached\)"):
        next_counter(current=1002, start_value=1000, max_value=1002, series_name="invoiceNoSequence")


@pytest.mark.django_db
def test_local_series_fills_date_placeholders_in_the_tenant_time_zone(tenant):
    NumberSeries.objects.filter(tenant=tenant, name="invoiceNoSequence").update(
        pre_text="R-__year__-__month__-", post_text="-__country__", number_of_digits=5
    )
    assert allocate(tenant) == "R-2027-01-01001-DE"
    assert allocate(tenant) == "R-2027-01-01002-DE"


@pytest.mark.django_db
def test_local_series_configured_placeholder_fills_the_tutorial_num(tenant):
    NumberSeries.objects.filter(tenant=tenant, name="invoiceNoSequence").update(pre_text="INV__num__")
    with override_settings(INVOICE_NUMBER_PLACEHOLDERS={"__num__": ""}):
        assert allocate(tenant) == "INV1001"


@pytest.mark.django_db
def test_local_series_unknown_placeholder_is_a_clear_error(tenant):
    NumberSeries.objects.filter(tenant=tenant, name="invoiceNoSequence").update(pre_text="__vendorName__-")
    with pytest.raises(PermanentError, match="__vendorName__, which has no value"):
        allocate(tenant)
    assert factories.invoice_series(tenant).counter is None


@pytest.mark.django_db
def test_local_series_exhausted_keeps_the_counter(tenant):
    NumberSeries.objects.filter(tenant=tenant, name="invoiceNoSequence").update(max_value=1002)
    assert [allocate(tenant), allocate(tenant)] == ["INV1001", "INV1002"]
    with pytest.raises(SeriesExhausted):
        allocate(tenant)
    assert factories.invoice_series(tenant).counter == 1002


@pytest.mark.django_db(transaction=True)
def test_local_series_refuses_to_allocate_outside_a_transaction():
    tenant = factories.tenant_make("autocommit")
    with pytest.raises(RuntimeError, match="inside the transaction"):
        LocalNumberSequence(tenant).next_number(site_code="", at=AT)


@pytest.mark.django_db
def test_series_per_tenant_are_independent(tenant, other_tenant):
    assert allocate(tenant) == "INV1001"
    assert allocate(other_tenant) == "INV1001"
    assert allocate(tenant) == "INV1002"


@pytest.mark.django_db
def test_rolled_back_allocation_leaves_no_gap(tenant):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        LocalNumberSequence(tenant).next_number(site_code="", at=AT)
        raise ZeroDivisionError  # the invoice could not be stored: the number goes back
    assert allocate(tenant) == "INV1001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_are_distinct_and_consecutive():
    assert connection.vendor == "postgresql"
    tenant = factories.tenant_make("concurrent")
    threads, per_thread = 8, 50
    results: list[list[str]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                results[index].append(allocate(tenant))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert not errors, errors
    numbers = [n for chunk in results for n in chunk]
    assert len(numbers) == 400
    assert len(set(numbers)) == 400
    assert sorted(numbers) == [f"INV{n}" for n in range(1001, 1401)]
    # each thread saw its own numbers rising: no number handed out twice, none skipped
    assert all(chunk == sorted(chunk) for chunk in results)
