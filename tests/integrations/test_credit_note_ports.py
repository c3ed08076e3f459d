"""The ports credit notes need besides refunds (issue 13): their own number series on both
backends, the series created for tenants (migration, create_tenant, seed_demo), the credit notes
written back onto the order (mixins.invoice.creditNotes), and an order whose invoice was
cancelled being invoiced again (MANUAL only).
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from jsonschema import Draft7Validator

from core.errors import PermanentError, TransientError
from integrations.emporix.adapters import (
    EmporixNumberSequence,
    EmporixOrderSource,
    invoice_mixin_schema_url,
    order_query_q,
    site_cache,
)
from integrations.emporix.checks import tenant_connection_checks
from integrations.emporix.client import EmporixClient, clear_token_cache
from integrations.local.adapters import LocalNumberSequence, LocalOrderSource
from integrations.models import NumberSeries, StoredOrder
from integrations.numbering import (
    CREDIT_NOTE_SERIES_NAME,
    INVOICE_SERIES_NAME,
    SeriesExhausted,
    next_counter,
)
from integrations.ports import (
    CREDIT_NOTE_SERIES,
    DELIVERY_WINDOW_DATE,
    INVOICE_SERIES,
    CreditNoteRef,
    OrderQuery,
)
from integrations.services import credit_note_series_ensure, number_series_ensure
from tenants.models import Tenant
from tenants.services import tenant_create
from tests import factories
from tests.integrations import emporix_payloads as p

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 2, 3, 10, 0, tzinfo=dt.UTC)
SCHEMAS = Path(__file__).resolve().parents[2] / "invoicing" / "static" / "schemas"
CARD = "DEMO-1001"


def allocate(tenant: Tenant, series: str = CREDIT_NOTE_SERIES) -> str:
    with transaction.atomic():
        return LocalNumberSequence(tenant).next_number(site_code="", at=AT, series=series)


def credit_series(tenant: Tenant) -> NumberSeries:
    return NumberSeries.objects.get(tenant=tenant, name=CREDIT_NOTE_SERIES_NAME)


# --- local numbering ----------------------------------------------------------------------------------
def test_local_credit_notes_have_their_own_gapless_series(tenant):
    credit_note_series_ensure(tenant=tenant)

    assert allocate(tenant) == "CN1001"
    assert allocate(tenant, INVOICE_SERIES) == "INV1001"
    assert allocate(tenant) == "CN1002"
    with transaction.atomic():
        assert LocalNumberSequence(tenant).next_number(site_code="", at=AT) == "INV1002"  # the default
    assert credit_series(tenant).counter == 1002


def test_local_rolled_back_credit_note_number_goes_back(tenant):
    credit_note_series_ensure(tenant=tenant)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        LocalNumberSequence(tenant).next_number(site_code="", at=AT, series=CREDIT_NOTE_SERIES)
        raise ZeroDivisionError  # the credit note could not be stored
    assert allocate(tenant) == "CN1001"


def test_local_missing_credit_note_series_names_it_and_how_to_create_it(tenant):
    NumberSeries.objects.filter(tenant=tenant, name=CREDIT_NOTE_SERIES_NAME).delete()

    with pytest.raises(PermanentError) as caught:
        allocate(tenant)

    message = caught.value.message
    assert "Tenant acme has no credit note number series ('creditNoteNoSequence')" in message
    assert "console: Number series, name creditNoteNoSequence" in message
    assert "No number was issued" in message
    assert allocate(tenant, INVOICE_SERIES) == "INV1001"  # invoices are not affected


def test_local_exhausted_credit_note_series_says_which_series(tenant):
    credit_note_series_ensure(tenant=tenant)
    NumberSeries.objects.filter(tenant=tenant, name=CREDIT_NOTE_SERIES_NAME).update(max_value=1001)
    assert allocate(tenant) == "CN1001"

    with pytest.raises(SeriesExhausted) as caught:
        allocate(tenant)

    assert caught.value.message.startswith(
        "The credit note number series 'creditNoteNoSequence' is used up (maxValue 1001 reached)"
    )
    assert credit_series(tenant).counter == 1001
    assert allocate(tenant, INVOICE_SERIES) == "INV1001"


def test_series_exhausted_message_names_the_kind():
    with pytest.raises(SeriesExhausted, match=r"^The invoice number series 'invoiceNoSequence' is used up"):
        next_counter(current=5, start_value=1, max_value=5, series_name="invoiceNoSequence")
    with pytest.raises(SeriesExhausted, match=r"^The credit note number series 'x' is used up"):
        next_counter(current=5, start_value=1, max_value=5, series_name="x", series=CREDIT_NOTE_SERIES)


def test_unknown_series_kind_is_a_programming_error(tenant):
    with pytest.raises(ValueError, match="unknown number series kind 'delivery_note'"):
        allocate(tenant, "delivery_note")


@pytest.mark.django_db(transaction=True)
def test_concurrent_credit_note_and_invoice_numbers_are_distinct_and_consecutive():
    assert connection.vendor == "postgresql"
    tenant = factories.tenant_make("cnconc")
    credit_note_series_ensure(tenant=tenant)
    threads, per_thread = 8, 25
    results: list[list[str]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        series = CREDIT_NOTE_SERIES if index % 2 else INVOICE_SERIES
        try:
            start.wait()
            for _ in range(per_thread):
                results[index].append(allocate(tenant, series))
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
    credit = sorted(n for chunk in results[1::2] for n in chunk)
    invoices = sorted(n for chunk in results[0::2] for n in chunk)
    assert credit == [f"CN{n}" for n in range(1001, 1101)]  # 100 numbers, none twice, none skipped
    assert invoices == [f"INV{n}" for n in range(1001, 1101)]
    assert all(chunk == sorted(chunk) for chunk in results)


# --- Emporix numbering --------------------------------------------------------------------------------
SECRET = "s3cr3t-never-logged"


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_token_cache()
    site_cache.clear()
    yield
    clear_token_cache()
    site_cache.clear()


@pytest.fixture
def shop(db):
    return factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url=p.BASE_URL,
        emporix_client_id="invoice-service",
        emporix_client_secret=SECRET,
        emporix_number_placeholders={"__num__": ""},
    )


def emporix_client(shop) -> EmporixClient:
    return EmporixClient(Tenant.objects.get(pk=shop.pk))


def emporix_numbers(shop) -> EmporixNumberSequence:
    return EmporixNumberSequence(Tenant.objects.get(pk=shop.pk), emporix_client(shop))


def test_emporix_credit_note_number_comes_from_its_schema_type(shop, fake):
    numbers = emporix_numbers(shop)

    assert numbers.next_number(site_code="main", at=AT, series=CREDIT_NOTE_SERIES) == "CN1001"
    assert numbers.next_number(site_code="main", at=AT) == "INV1001"

    call = next(c for c in fake.mock.calls if "creditNoteNoSequence/nextId" in c.request.url)
    assert call.request.url == p.NEXT_ID.url(schemaType=p.CREDIT_NOTE_SCHEMA_TYPE) + "?siteCode=main"
    assert p.NEXT_ID.check_request(call.request.body) == p.next_id_request({"__num__": ""})
    assert fake.count("next_other_id") == 1 and fake.count("next_id") == 1


def test_emporix_credit_note_schema_type_is_a_setting(shop, fake, settings):
    settings.EMPORIX_CREDIT_NOTE_SEQUENCE = "gutschriftNoSequence"
    fake.sequences["gutschriftNoSequence"] = {"preText": "GS-", "counter": 41, "active": True}
    assert emporix_numbers(shop).next_number(site_code="", at=AT, series=CREDIT_NOTE_SERIES) == "GS-42"


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            404,
            p.sequence_not_found(p.CREDIT_NOTE_SCHEMA_TYPE),
            PermanentError,
            "No active creditNoteNoSequence schema in Emporix for tenant shop: create and activate one in the "
            "Sequential ID service (POST /sequential-id/shop/schemas with schemaType 'creditNoteNoSequence', e.g. "
            "preText 'CN', then setActive; the type is the setting EMPORIX_CREDIT_NOTE_SEQUENCE). "
            "No credit note number was issued.",
        ),
        (
            409,
            p.sequence_exhausted(),
            SeriesExhausted,
            "The Emporix creditNoteNoSequence of tenant shop is used up (Not enough free ids left in this schema. "
            "MaxValue is exceeded). No credit note number was issued.",
        ),
        (
            400,
            p.placeholder_missing(),
            PermanentError,
            "Emporix could not generate a credit note number: There are validation problems, see details section "
            "for more information (check the schema's placeholders: creditNoteNoSequence).",
        ),
    ],
)
def test_emporix_credit_note_number_failures_name_the_series(shop, status, body, error, message):
    with responses.RequestsMock() as mock:
        mock.post(p.TOKEN.url(), json=p.token())
        mock.post(p.NEXT_ID.url(schemaType=p.CREDIT_NOTE_SCHEMA_TYPE), status=status, json=body)
        with pytest.raises(error) as caught:
            emporix_numbers(shop).next_number(site_code="", at=AT, series=CREDIT_NOTE_SERIES)
    assert caught.value.message == message


def test_emporix_credit_note_schema_missing_in_the_fake_is_a_clear_error(shop, fake):
    fake.sequences[p.CREDIT_NOTE_SCHEMA_TYPE]["active"] = False
    with pytest.raises(PermanentError, match="No active creditNoteNoSequence schema"):
        emporix_numbers(shop).next_number(site_code="", at=AT, series=CREDIT_NOTE_SERIES)
    fake.fail("next_other_id", 503)
    fake.sequences[p.CREDIT_NOTE_SCHEMA_TYPE]["active"] = True
    with pytest.raises(TransientError):
        emporix_numbers(shop).next_number(site_code="", at=AT, series=CREDIT_NOTE_SERIES)


def test_check_tenant_reports_the_credit_note_schema_without_blocking(shop, fake):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        from tests.integrations.emporix_fake import FakeEmporix

        other = FakeEmporix(mock)
        mock.get(p.SCHEMAS_OF_TYPE.url(schemaType="invoiceNoSequence"), json=p.sequence_schemas(counter=1017))
        checks = {c.name: c for c in tenant_connection_checks(Tenant.objects.get(pk=shop.pk))}
        assert checks["credit note numbers"].ok
        assert "active creditNoteNoSequence schema 'creditNoteNoSequence': preText 'CN'" in (
            checks["credit note numbers"].detail
        )

        del other.sequences[p.CREDIT_NOTE_SCHEMA_TYPE]
        clear_token_cache()
        checks = {c.name: c for c in tenant_connection_checks(Tenant.objects.get(pk=shop.pk))}
    missing = checks["credit note numbers"]
    assert not missing.ok and not missing.blocking
    assert missing.detail.startswith("no active creditNoteNoSequence schema: credit notes cannot be numbered")
    assert checks["invoice numbers"].ok


def test_check_tenant_flags_a_schema_type_emporix_would_refuse(shop, fake, settings):
    settings.EMPORIX_CREDIT_NOTE_SEQUENCE = "credit-note"
    checks = {c.name: c for c in tenant_connection_checks(Tenant.objects.get(pk=shop.pk))}
    assert not checks["credit note numbers"].ok and not checks["credit note numbers"].blocking
    assert "letters and digits only" in checks["credit note numbers"].detail


# --- the series are created for tenants ---------------------------------------------------------------------
def test_credit_note_series_follows_the_invoice_series(db):
    tenant = tenant_create(code="follow", name="Follow")
    number_series_ensure(tenant=tenant, pre_text="R-", number_of_digits=6, start_value=5000, max_value=99999)

    series = credit_note_series_ensure(tenant=tenant)

    assert (series.name, series.pre_text, series.post_text) == ("creditNoteNoSequence", "CN", "")
    assert (series.number_of_digits, series.start_value, series.max_value) == (6, 5000, 99999)
    assert allocate(tenant) == "CN005001"


def test_credit_note_series_without_an_invoice_series_takes_the_defaults(db):
    tenant = tenant_create(code="bare", name="Bare")
    series = credit_note_series_ensure(tenant=tenant)
    assert (series.pre_text, series.number_of_digits, series.start_value, series.max_value) == (
        "CN",
        4,
        1000,
        999999999,
    )


def test_credit_note_series_that_exists_is_left_alone(tenant):
    credit_note_series_ensure(tenant=tenant)
    NumberSeries.objects.filter(tenant=tenant, name=CREDIT_NOTE_SERIES_NAME).update(
        pre_text="GS", counter=1007
    )
    series = credit_note_series_ensure(tenant=tenant, pre_text="XX", number_of_digits=9, start_value=1)
    assert (series.pre_text, series.counter, series.number_of_digits) == ("GS", 1007, 4)


def test_migration_gives_every_tenant_with_an_invoice_series_a_credit_note_series(db):
    module = importlib.import_module("integrations.migrations.0006_refunds_and_credit_note_series")
    wide = tenant_create(code="wide", name="Wide")
    number_series_ensure(tenant=wide, pre_text="W", number_of_digits=7, start_value=200, max_value=9999999)
    keeps = tenant_create(code="keeps", name="Keeps")
    number_series_ensure(tenant=keeps)
    number_series_ensure(tenant=keeps, name=CREDIT_NOTE_SERIES_NAME, pre_text="OWN", start_value=7)
    emporix = tenant_create(code="remote", name="Remote")  # no local invoice series: numbers from Emporix

    module.create_credit_note_series(apps, None)
    module.create_credit_note_series(apps, None)  # idempotent

    made = NumberSeries.objects.get(tenant=wide, name=CREDIT_NOTE_SERIES_NAME)
    assert (made.pre_text, made.number_of_digits, made.start_value, made.max_value, made.counter) == (
        "CN",
        7,
        200,
        9999999,
        None,
    )
    assert NumberSeries.objects.get(tenant=keeps, name=CREDIT_NOTE_SERIES_NAME).pre_text == "OWN"
    assert not NumberSeries.objects.filter(tenant=emporix).exists()
    assert allocate(wide) == "CN0000201"
    assert module.INVOICE_SERIES_NAME == INVOICE_SERIES_NAME
    assert module.CREDIT_NOTE_SERIES_NAME == CREDIT_NOTE_SERIES_NAME


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_tenant_creates_the_credit_note_series_like_the_invoice_series(db):
    output = run(
        "create_tenant", "acme", "--name", "ACME", "--series-prefix", "AC-", "--series-digits", "6",
        "--series-start", "5000",
    )  # fmt: skip

    tenant = Tenant.objects.get(code="acme")
    series = credit_series(tenant)
    assert (series.pre_text, series.number_of_digits, series.start_value) == ("CN", 6, 5000)
    assert "invoice numbers AC-005001 onwards, credit notes CN005001 onwards" in output


def test_create_tenant_takes_a_credit_note_prefix(db):
    output = run("create_tenant", "acme", "--name", "ACME", "--credit-note-prefix", "GS-")
    assert credit_series(Tenant.objects.get(code="acme")).pre_text == "GS-"
    assert "credit notes GS-1001 onwards" in output


def test_seed_demo_gives_the_demo_tenant_cn1001_onwards_and_stays_idempotent(db):
    run("seed_demo")
    tenant = Tenant.objects.get(code="demo")
    series = credit_series(tenant)
    assert (series.pre_text, series.number_of_digits, series.start_value) == ("CN", 4, 1000)
    assert allocate(tenant) == "CN1001"

    run("seed_demo")
    assert credit_series(tenant).counter == 1001  # not reset
    assert NumberSeries.objects.filter(tenant=tenant).count() == 2

    NumberSeries.objects.filter(
        tenant=tenant, name=CREDIT_NOTE_SERIES_NAME
    ).delete()  # seeded before issue 13
    run("seed_demo")
    assert credit_series(tenant).counter is None


# --- credit notes written back onto the order ------------------------------------------------------------
def _schema(version: int) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"invoice-mixin.v{version}.json").read_text(encoding="utf-8"))


def assert_valid_mixin(mixin: Any, version: int = 2) -> None:
    validator = Draft7Validator(_schema(version), format_checker=Draft7Validator.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(mixin)]
    assert errors == [], errors


def ref(
    number: str = "CN1001", gross: str = "23.80", *, cancels: bool = False, day: int = 3
) -> CreditNoteRef:
    return CreditNoteRef(
        number=number,
        document_url=f"https://invoices.example.com/invoice/acme/credit-notes/{number}/document",
        gross_amount=Decimal(gross),
        currency="EUR",
        issue_date=dt.date(2026, 2, day),
        cancels_invoice=cancels,
    )


def test_mixin_schema_v2_adds_credit_notes_and_v1_stays_served():
    v1, v2 = _schema(1), _schema(2)
    assert set(v1["properties"]) == {"invoiceNo", "invoiceDocument"}  # published: unchanged
    assert v2["properties"]["invoiceNo"]["type"] == v1["properties"]["invoiceNo"]["type"] == "string"
    assert (
        v2["properties"]["invoiceDocument"]["format"]
        == v1["properties"]["invoiceDocument"]["format"]
        == "uri"
    )
    assert v2["required"] == v1["required"] == ["invoiceNo"]
    assert v2["properties"]["creditNotes"]["type"] == "array"
    assert_valid_mixin(
        {"invoiceNo": "INV1001", "invoiceDocument": "https://x/1"}
    )  # a v1 document is valid v2
    bad = {
        "invoiceNo": "INV1",
        "creditNotes": [{"creditNoteNo": "CN1", "grossAmount": -1, "currency": "eur"}],
    }
    assert list(Draft7Validator(v2).iter_errors(bad))


def test_default_schema_url_is_the_v2_file_this_service_serves(settings):
    settings.EMPORIX_INVOICE_MIXIN_SCHEMA_URL = ""
    settings.PUBLIC_BASE_URL = "https://invoices.example.com"
    assert invoice_mixin_schema_url() == "https://invoices.example.com/static/schemas/invoice-mixin.v2.json"
    settings.EMPORIX_INVOICE_MIXIN_SCHEMA_URL = p.INVOICE_MIXIN_V2_SCHEMA_URL
    assert invoice_mixin_schema_url() == p.INVOICE_MIXIN_V2_SCHEMA_URL


@pytest.fixture
def stored(tenant) -> LocalOrderSource:
    factories.orders_store(tenant, CARD)
    return LocalOrderSource(tenant)


def mixin_of(tenant: Tenant, order_id: str = CARD) -> dict[str, Any]:
    return StoredOrder.objects.get(tenant=tenant, order_id=order_id).document["mixins"]["invoice"]


def test_local_mark_credited_lists_the_credit_notes_next_to_the_invoice(tenant, stored):
    stored.mark_invoiced(CARD, invoice_number="INV1001", document_url="https://x/inv")

    stored.mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref()])
    once = mixin_of(tenant)
    stored.mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref()])  # a repeated step

    assert (
        once
        == mixin_of(tenant)
        == {
            "invoiceNo": "INV1001",
            "invoiceDocument": "https://x/inv",
            "creditNotes": [
                p.credit_note_entry(
                    "CN1001",
                    invoice_no="INV1001",
                    document_url="https://invoices.example.com/invoice/acme/credit-notes/CN1001/document",
                    gross_amount=23.8,
                    issue_date="2026-02-03",
                )
            ],
        }
    )
    assert_valid_mixin(once)

    stored.mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref(), ref("CN1002", "10", day=4)])
    assert [e["creditNoteNo"] for e in mixin_of(tenant)["creditNotes"]] == ["CN1001", "CN1002"]
    assert StoredOrder.objects.get(tenant=tenant, order_id=CARD).invoice_number == "INV1001"


def test_local_mark_credited_of_an_unknown_order_does_nothing(tenant, stored):
    stored.mark_credited("NOPE", invoice_number="INV1", credit_notes=[ref()])
    assert not StoredOrder.objects.filter(order_id="NOPE").exists()


def automatic_query() -> OrderQuery:
    return OrderQuery(
        statuses=("CONFIRMED", "SHIPPED", "CREATED"),
        extended_statuses=(),
        delivered_by=timezone.now() + dt.timedelta(days=3650),
        delivery_field=DELIVERY_WINDOW_DATE,
        time_zone="Europe/Berlin",
    )


def test_local_cancelled_order_is_not_picked_again_and_a_new_invoice_keeps_its_credit_notes(tenant, stored):
    assert stored.find_orders(automatic_query(), cursor=None, page_size=10).order_ids == (CARD,)
    stored.mark_invoiced(CARD, invoice_number="INV1001", document_url="https://x/inv1")
    stored.mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref("CN1001", "179.88", cancels=True)])

    # cancelled: AUTOMATIC runs leave the order alone (invoicing it again is MANUAL only)
    assert stored.find_orders(automatic_query(), cursor=None, page_size=10).order_ids == ()

    stored.mark_invoiced(CARD, invoice_number="INV1002", document_url="https://x/inv2")  # invoiced again
    mixin = mixin_of(tenant)
    assert (mixin["invoiceNo"], mixin["invoiceDocument"]) == ("INV1002", "https://x/inv2")
    assert [(e["creditNoteNo"], e["invoiceNo"], e["cancelsInvoice"]) for e in mixin["creditNotes"]] == [
        ("CN1001", "INV1001", True)
    ]
    assert StoredOrder.objects.get(tenant=tenant, order_id=CARD).invoice_number == "INV1002"

    stored.mark_credited(CARD, invoice_number="INV1002", credit_notes=[ref("CN1002", "5")])
    mixin = mixin_of(tenant)
    assert [(e["creditNoteNo"], e["invoiceNo"]) for e in mixin["creditNotes"]] == [
        ("CN1001", "INV1001"),
        ("CN1002", "INV1002"),
    ]
    assert mixin["invoiceNo"] == "INV1002"
    assert_valid_mixin(mixin)
    assert stored.find_orders(automatic_query(), cursor=None, page_size=10).order_ids == ()

    # a late write-back for the cancelled invoice changes neither the current invoice nor the others
    stored.mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref("CN1001", "179.88", cancels=True)])
    assert mixin_of(tenant) == mixin


def test_local_mark_credited_before_any_write_back_marks_the_order_invoiced(tenant, stored):
    stored.mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref()])
    assert mixin_of(tenant)["invoiceNo"] == "INV1001"
    assert StoredOrder.objects.get(tenant=tenant, order_id=CARD).invoice_number == "INV1001"
    assert stored.find_orders(automatic_query(), cursor=None, page_size=10).order_ids == ()


def emporix_orders(shop) -> EmporixOrderSource:
    return EmporixOrderSource(Tenant.objects.get(pk=shop.pk), emporix_client(shop))


def test_emporix_mark_credited_patches_the_whole_mixin_once(shop, fake, settings):
    settings.EMPORIX_INVOICE_MIXIN_SCHEMA_URL = p.INVOICE_MIXIN_V2_SCHEMA_URL
    fake.orders[CARD] = p.sales_order(CARD, invoice_no="INV1001", invoice_document="https://x/inv", version=3)

    emporix_orders(shop).mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref()])
    emporix_orders(shop).mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref()])  # repeated

    entry = p.credit_note_entry(
        "CN1001",
        invoice_no="INV1001",
        document_url="https://invoices.example.com/invoice/acme/credit-notes/CN1001/document",
    )
    [patch] = fake.patches
    assert patch == {"orderId": CARD, **p.order_credit_patch("INV1001", "https://x/inv", [entry], version=3)}
    assert fake.orders[CARD]["mixins"]["invoice"]["creditNotes"] == [entry]
    assert fake.orders[CARD]["metadata"]["mixins"]["invoice"] == p.INVOICE_MIXIN_V2_SCHEMA_URL
    assert_valid_mixin(fake.orders[CARD]["mixins"]["invoice"])


def test_emporix_mark_credited_version_conflict_reads_again(shop, fake):
    fake.orders[CARD] = p.sales_order(CARD, invoice_no="INV1001")
    fake.concurrent_updates = 1
    emporix_orders(shop).mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref()])
    assert [patch["metadata"]["version"] for patch in fake.patches] == [1, 2]
    assert fake.orders[CARD]["mixins"]["invoice"]["creditNotes"][0]["creditNoteNo"] == "CN1001"


def test_emporix_mark_credited_that_keeps_conflicting_is_transient(shop, fake):
    fake.orders[CARD] = p.sales_order(CARD, invoice_no="INV1001")
    fake.concurrent_updates = 5
    with pytest.raises(TransientError, match="kept changing while the credit notes were written back"):
        emporix_orders(shop).mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref()])


def test_emporix_mark_credited_failures_are_the_clients(shop, fake):
    fake.fail("patch_order", 503)
    fake.orders[CARD] = p.sales_order(CARD, invoice_no="INV1001")
    with pytest.raises(TransientError, match="answered 503"):
        emporix_orders(shop).mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref()])
    with pytest.raises(PermanentError, match="Order NOPE not found"):
        emporix_orders(shop).mark_credited("NOPE", invoice_number="INV1001", credit_notes=[ref()])


def test_emporix_new_invoice_after_a_cancellation_keeps_the_credit_notes(shop, fake, settings):
    settings.EMPORIX_INVOICE_MIXIN_SCHEMA_URL = p.INVOICE_MIXIN_V2_SCHEMA_URL
    orders = emporix_orders(shop)
    orders.mark_invoiced(CARD, invoice_number="INV1001", document_url="https://x/inv1")
    orders.mark_credited(CARD, invoice_number="INV1001", credit_notes=[ref("CN1001", "179.88", cancels=True)])
    # AUTOMATIC runs ask for orders without the mixin: the cancelled order is not among them
    assert "mixins.invoice:missing" in order_query_q(automatic_query())

    orders.mark_invoiced(CARD, invoice_number="INV1002", document_url="https://x/inv2")

    cancelled = p.credit_note_entry(
        "CN1001",
        invoice_no="INV1001",
        document_url="https://invoices.example.com/invoice/acme/credit-notes/CN1001/document",
        gross_amount=179.88,
        cancels_invoice=True,
    )
    assert fake.patches[-1] == {
        "orderId": CARD,
        **p.order_credit_patch("INV1002", "https://x/inv2", [cancelled], version=3),
    }
    assert fake.orders[CARD]["mixins"]["invoice"]["invoiceNo"] == "INV1002"
    assert orders.get_order(CARD).existing_invoice_number == "INV1002"
