"""The invoice's inputs beyond the order: the buyer company, the customer's language, exchange rates.

Through the ports on both backends: the mapper's new fields, the Emporix adapters against
`responses` (payloads shaped and validated like the published specs), the local adapters, the
two PUT endpoints of the local buyer store, the import file and the exchange-rate screen.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from core.errors import PermanentError, TransientError
from integrations.emporix.adapters import (
    EmporixCustomerDirectory,
    EmporixExchangeRates,
    EmporixSellerSettings,
    site_cache,
)
from integrations.emporix.client import EmporixClient, clear_token_cache
from integrations.local.adapters import LocalCustomerDirectory, LocalExchangeRates, LocalSellerSettings
from integrations.mapper import OrderDocumentError, sales_order_to_order
from integrations.models import CurrencyRate, StoredCustomer, StoredLegalEntity, StoredOrder
from integrations.ports import CustomerProfile, ExchangeRate, LegalEntity
from integrations.registry import backends_for
from jobs.roles import ADMINISTRATORS, OPERATORS
from tenants.models import Tenant
from tests import factories
from tests.api_helpers import assert_error
from tests.console.helpers import login, user_make
from tests.integrations import emporix_payloads as p
from tests.spec_utils import validate_against_spec

pytestmark = pytest.mark.django_db

LEGAL_ENTITY_SPEC = "emporix/companies-and-customers/client-management/api-reference/api.yml"
CUSTOMER_SPEC = "emporix/companies-and-customers/customer-service/api-reference/api.yml"
CURRENCY_SPEC = "emporix/configuration/currency-service/api-reference/api.yml"
GET_LEGAL_ENTITY = p.Endpoint(
    LEGAL_ENTITY_SPEC, "GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}"
)
GET_CUSTOMER = p.Endpoint(CUSTOMER_SPEC, "GET", "/customer/{tenant}/customers/{customerNumber}")
GET_EXCHANGE = p.Endpoint(CURRENCY_SPEC, "GET", "/currency/{tenant}/exchanges/{code}")

LEGAL_ENTITY = "D165356"
CUSTOMER = "13869000"


# --- spec-shaped payloads (the specs' own examples, trimmed) ------------------------------------
def legal_entity(legal_entity_id: str = LEGAL_ENTITY, **legal_info: Any) -> dict[str, Any]:
    """200 of GET …/legal-entities/{legalEntityId} (legalEntity), a French buyer by default."""
    info = {
        "legalName": "Dupont Industries SAS",
        "taxRegistrationNumber": "FR40303265045",
        "countryOfRegistration": "FR",
        "registrationDate": "2022-03-31T13:18:02.379Z",
        **legal_info,
    }
    body = {
        "id": legal_entity_id,
        "name": "Dupont Industries",
        "type": "COMPANY",
        "legalInfo": {key: value for key, value in info.items() if value is not None},
        "metadata": {"createdAt": "2022-03-31T13:18:02.379Z", "version": 1},
    }
    GET_LEGAL_ENTITY.check_response(200, body)
    return body


def customer(number: str = CUSTOMER, language: str | None = "de_DE") -> dict[str, Any]:
    """200 of GET …/customers/{customerNumber} (CustomerForSellerDto)."""
    body: dict[str, Any] = {
        "customerNumber": number,
        "id": number,
        "firstName": "Jürgen",
        "lastName": "Müller",
        "contactEmail": "juergen.mueller@example.com",
        "active": True,
        "businessModel": "B2C",
        "metadata": {"version": 6},
    }
    if language is not None:
        body["preferredLanguage"] = language
    GET_CUSTOMER.check_response(200, body)
    return body


def exchange(source: str, target: str, rate: str, modified_at: str | None = "2025-03-03T08:00:00.000Z"):
    """200 of GET /currency/{tenant}/exchanges/{code} (exchangeRateRetrieval)."""
    body: dict[str, Any] = {
        "code": f"{source}_{target}",
        "sourceCurrency": source,
        "targetCurrency": target,
        "rate": rate,
    }
    if modified_at is not None:
        body["metadata"] = {"createdAt": "2024-01-01T00:00:00.000Z", "modifiedAt": modified_at, "version": 2}
    GET_EXCHANGE.check_response(200, body)
    return body


def not_found(endpoint: p.Endpoint, message: str) -> dict[str, Any]:
    """404 of the three services (their errorMessage / ErrorMessage schemas)."""
    if endpoint is GET_CUSTOMER:
        body: dict[str, Any] = {"status": 404, "type": "application/json", "message": message}
    else:
        body = {"code": 404, "status": "Not Found", "message": message}
    endpoint.check_response(404, body)
    return body


# --- the mapper -----------------------------------------------------------------------------------
def test_mapper_reads_the_legal_entity_and_the_product_names():
    document = factories.demo_order(factories.CARD_ORDER, legalEntityId=LEGAL_ENTITY)
    product = document["entries"][0]["product"]
    product["localizedName"] = {"de": product["name"], "en": "Wireless ANC headphones, black"}
    validate_against_spec(document, p.ORDER_SPEC, "salesOrder")

    order = sales_order_to_order(document)

    assert order.legal_entity_id == LEGAL_ENTITY
    line = order.lines[0]
    assert line.description == "Kabellose Kopfhörer mit ANC, schwarz"  # `name`, as before
    assert line.names == (
        ("de", "Kabellose Kopfhörer mit ANC, schwarz"),
        ("en", "Wireless ANC headphones, black"),
    )
    assert order.lines[1].names == ()  # no translations: none


def test_mapper_takes_a_name_map_too_and_localized_name_wins():
    document = factories.demo_order(factories.CARD_ORDER)
    product = document["entries"][0]["product"]
    product["name"] = {"fr": "Casque", "en": "Headphones"}  # a localizedValue read without Content-Language
    product["localizedName"] = {"fr": "Casque sans fil", "": "no language", "it": ""}

    line = sales_order_to_order(document).lines[0]

    assert line.description == "Headphones"
    assert dict(line.names) == {"fr": "Casque sans fil", "en": "Headphones"}


def test_mapper_bounds_the_new_fields():
    document = factories.demo_order(factories.CARD_ORDER, legalEntityId="x" * 256)
    document["entries"][0]["product"]["localizedName"] = {"de": 5, "en": "y" * 501}

    with pytest.raises(OrderDocumentError) as caught:
        sales_order_to_order(document)

    fields = {error["field"] for error in caught.value.errors}
    assert fields == {
        "legalEntityId",
        "entries[0].product.localizedName.de",
        "entries[0].product.localizedName.en",
    }


# --- Emporix ----------------------------------------------------------------------------------------
@pytest.fixture
def shop(db):
    clear_token_cache()
    site_cache.clear()
    yield factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url=p.BASE_URL,
        emporix_client_id="invoice-service",
        emporix_client_secret="s3cr3t",
        default_currency="EUR",
    )
    clear_token_cache()
    site_cache.clear()


@pytest.fixture
def mock():
    with responses.RequestsMock() as mocked:
        mocked.post(p.TOKEN.url(), json=p.token())
        yield mocked


def directory(shop) -> EmporixCustomerDirectory:
    return EmporixCustomerDirectory(shop, EmporixClient(shop))


def rates(shop) -> EmporixExchangeRates:
    return EmporixExchangeRates(shop, EmporixClient(shop))


def test_emporix_legal_entity_is_read_from_customer_management(shop, mock):
    mock.get(GET_LEGAL_ENTITY.url(legalEntityId=LEGAL_ENTITY), json=legal_entity())

    found = directory(shop).get_legal_entity(LEGAL_ENTITY)

    assert found == LegalEntity(LEGAL_ENTITY, "Dupont Industries SAS", "FR40303265045", "FR")
    assert mock.calls[1].request.headers["Authorization"] == "Bearer tok-1"


def test_emporix_legal_entity_without_legal_name_is_named_by_its_name(shop, mock):
    mock.get(GET_LEGAL_ENTITY.url(legalEntityId=LEGAL_ENTITY), json=legal_entity(legalName=None))

    assert directory(shop).get_legal_entity(LEGAL_ENTITY).legal_name == "Dupont Industries"


def test_emporix_legal_entity_that_cannot_be_used_fails_naming_the_field(shop, mock):
    mock.get(
        GET_LEGAL_ENTITY.url(legalEntityId=LEGAL_ENTITY), json=legal_entity(countryOfRegistration="France")
    )

    with pytest.raises(PermanentError, match=r"in Emporix is invalid: legalInfo.countryOfRegistration"):
        directory(shop).get_legal_entity(LEGAL_ENTITY)


def test_emporix_customer_gives_the_preferred_language(shop, mock):
    mock.get(GET_CUSTOMER.url(customerNumber=CUSTOMER), json=customer())

    assert directory(shop).get_customer(CUSTOMER) == CustomerProfile(CUSTOMER, "de_DE")
    assert directory(shop).get_customer("ANONYMOUS") is None  # no account: not asked
    assert len(mock.calls) == 2


@pytest.mark.parametrize(
    ("endpoint", "params", "call"),
    [
        (
            GET_LEGAL_ENTITY,
            {"legalEntityId": LEGAL_ENTITY},
            lambda s: directory(s).get_legal_entity(LEGAL_ENTITY),
        ),
        (GET_CUSTOMER, {"customerNumber": CUSTOMER}, lambda s: directory(s).get_customer(CUSTOMER)),
    ],
    ids=["legal entity", "customer"],
)
def test_emporix_buyer_faults(shop, endpoint, params, call):
    url = endpoint.url(**params)
    with responses.RequestsMock() as mock:
        mock.post(p.TOKEN.url(), json=p.token())
        mock.get(url, status=404, json=not_found(endpoint, "not found"))
        mock.get(url, status=503, json={"code": 503, "status": "Service Unavailable", "message": "down"})
        mock.get(url, body=requests.exceptions.ReadTimeout("slow"))

        assert call(shop) is None  # 404: no such buyer
        with pytest.raises(TransientError, match="answered 503: down"):
            call(shop)
        with pytest.raises(TransientError, match="did not answer within"):
            call(shop)


def test_emporix_forbidden_legal_entity_fails_but_forbidden_customer_only_loses_the_language(shop, mock):
    forbidden = {"code": 403, "status": "Forbidden", "message": "insufficient scopes"}
    mock.get(GET_LEGAL_ENTITY.url(legalEntityId=LEGAL_ENTITY), status=403, json=forbidden)
    mock.get(
        GET_CUSTOMER.url(customerNumber=CUSTOMER), status=403, json={"status": 403, "message": "no scope"}
    )

    with pytest.raises(PermanentError, match="Customer Management service answered 403"):
        directory(shop).get_legal_entity(LEGAL_ENTITY)
    assert directory(shop).get_customer(CUSTOMER) is None


def test_emporix_rate_is_the_pair_as_asked(shop, mock):
    mock.get(GET_EXCHANGE.url(code="USD_EUR"), json=exchange("USD", "EUR", "0.91"))

    found = rates(shop).get_rate(source="usd", target="EUR", on=dt.date(2025, 3, 10))

    assert found == ExchangeRate("USD", "EUR", Decimal("0.91"), dt.date(2025, 3, 3))  # dated when set


def test_emporix_rate_kept_the_other_way_round_is_inverted(shop, mock):
    mock.get(GET_EXCHANGE.url(code="USD_EUR"), status=404, json=not_found(GET_EXCHANGE, "no such rate"))
    mock.get(GET_EXCHANGE.url(code="EUR_USD"), json=exchange("EUR", "USD", "1.1", modified_at=None))

    found = rates(shop).get_rate(source="USD", target="EUR", on=dt.date(2025, 3, 10))

    assert found == ExchangeRate("USD", "EUR", Decimal("0.909091"), dt.date(2025, 3, 10))


def test_emporix_rate_faults(shop, mock):
    on = dt.date(2025, 3, 10)
    mock.get(GET_EXCHANGE.url(code="CHF_EUR"), status=404, json=not_found(GET_EXCHANGE, "no"))
    mock.get(GET_EXCHANGE.url(code="EUR_CHF"), status=404, json=not_found(GET_EXCHANGE, "no"))
    mock.get(GET_EXCHANGE.url(code="GBP_EUR"), json=exchange("GBP", "EUR", "n/a"))
    mock.get(
        GET_EXCHANGE.url(code="SEK_EUR"), status=500, json={"code": 500, "status": "Error", "message": "x"}
    )
    mock.get(GET_EXCHANGE.url(code="DKK_EUR"), body=requests.exceptions.ConnectTimeout("slow"))

    assert rates(shop).get_rate(source="CHF", target="EUR", on=on) is None
    with pytest.raises(PermanentError, match="no usable rate for GBP_EUR"):
        rates(shop).get_rate(source="GBP", target="EUR", on=on)
    with pytest.raises(TransientError, match="Currency service answered 500"):
        rates(shop).get_rate(source="SEK", target="EUR", on=on)
    with pytest.raises(TransientError):
        rates(shop).get_rate(source="DKK", target="EUR", on=on)


def test_emporix_seller_currency_is_the_sites(shop, mock):
    mock.get(p.GET_SITE.url(siteCode="main"), json=p.site(logo_url=None, currency="CHF"))
    mock.get(p.GET_CONFIGURATION.url(propertyKey=p.SENDER_KEY), json=p.configuration())

    assert EmporixSellerSettings(shop, EmporixClient(shop)).get_seller(site_code="main").currency == "CHF"


def test_registry_plugs_buyers_and_rates_into_both_backends(shop, tenant):
    assert isinstance(backends_for(shop).customers, EmporixCustomerDirectory)
    assert isinstance(backends_for(shop).rates, EmporixExchangeRates)
    assert isinstance(backends_for(tenant).customers, LocalCustomerDirectory)
    assert isinstance(backends_for(tenant).rates, LocalExchangeRates)


# --- local --------------------------------------------------------------------------------------------
def rate_make(tenant, source: str, target: str, rate: str, valid_from: dt.date) -> CurrencyRate:
    return CurrencyRate.objects.create(
        tenant=tenant,
        source_currency=source,
        target_currency=target,
        rate=Decimal(rate),
        valid_from=valid_from,
    )


def test_local_rate_is_the_latest_on_or_before_the_day(tenant, other_tenant):
    rate_make(tenant, "USD", "EUR", "0.90", dt.date(2025, 1, 1))
    rate_make(tenant, "USD", "EUR", "0.92", dt.date(2025, 2, 1))
    rate_make(other_tenant, "USD", "EUR", "0.50", dt.date(2025, 1, 10))
    local = LocalExchangeRates(tenant)

    def asked(day: dt.date) -> ExchangeRate | None:
        return local.get_rate(source="USD", target="EUR", on=day)

    assert asked(dt.date(2025, 1, 15)) == ExchangeRate("USD", "EUR", Decimal("0.90"), dt.date(2025, 1, 1))
    assert asked(dt.date(2025, 2, 1)) == ExchangeRate("USD", "EUR", Decimal("0.92"), dt.date(2025, 2, 1))
    assert asked(dt.date(2024, 12, 31)) is None
    assert local.get_rate(source="EUR", target="EUR", on=dt.date(2025, 1, 1)).rate == 1


def test_local_rate_kept_the_other_way_round_is_inverted_and_the_newer_direction_wins(tenant):
    rate_make(tenant, "USD", "EUR", "0.90", dt.date(2025, 1, 1))
    rate_make(tenant, "EUR", "USD", "1.20", dt.date(2025, 1, 20))
    local = LocalExchangeRates(tenant)

    assert local.get_rate(source="EUR", target="USD", on=dt.date(2025, 1, 15)) == ExchangeRate(
        "EUR", "USD", Decimal("1.11111"), dt.date(2025, 1, 1)
    )
    assert local.get_rate(source="USD", target="EUR", on=dt.date(2025, 1, 25)) == ExchangeRate(
        "USD", "EUR", Decimal("0.833333"), dt.date(2025, 1, 20)
    )


def test_rate_checks_its_currencies_and_value(tenant):
    with pytest.raises(ValidationError) as caught:
        CurrencyRate(
            tenant=tenant,
            source_currency="usd",
            target_currency="USD",
            rate=Decimal(0),
            valid_from=dt.date.today(),
        ).full_clean()
    assert set(caught.value.message_dict) == {"target_currency", "rate"}
    with pytest.raises(ValidationError, match="ISO 4217"):
        CurrencyRate(
            tenant=tenant,
            source_currency="XYZ",
            target_currency="EUR",
            rate=Decimal(1),
            valid_from=dt.date.today(),
        ).full_clean()


def test_local_seller_currency_is_the_tenants(tenant):
    Tenant.objects.filter(pk=tenant.pk).update(default_currency="CHF")

    assert LocalSellerSettings(Tenant.objects.get(pk=tenant.pk)).get_seller(site_code="").currency == "CHF"


# --- the PUT endpoints ---------------------------------------------------------------------------------
def put_legal_entity(
    api: APIClient, document: Any, legal_entity_id: str = LEGAL_ENTITY, tenant: str = "acme"
):
    return api.put(f"/invoice/{tenant}/legal-entities/{legal_entity_id}", document, format="json")


def put_customer(api: APIClient, document: Any, number: str = CUSTOMER, tenant: str = "acme"):
    return api.put(f"/invoice/{tenant}/customers/{number}", document, format="json")


def test_put_legal_entity_stores_it_for_the_local_directory(api, tenant):
    document = legal_entity()
    del document["id"]

    created = put_legal_entity(api, document)
    updated = put_legal_entity(api, legal_entity(taxRegistrationNumber="FR83404833048"))

    assert (created.status_code, created.json()) == (201, {"legalEntityId": LEGAL_ENTITY, "created": True})
    assert (updated.status_code, updated.json()) == (200, {"legalEntityId": LEGAL_ENTITY, "created": False})
    stored = StoredLegalEntity.objects.get(tenant=tenant, legal_entity_id=LEGAL_ENTITY)
    assert stored.document["type"] == "COMPANY" and stored.document["id"] == LEGAL_ENTITY  # kept as given
    assert LocalCustomerDirectory(tenant).get_legal_entity(LEGAL_ENTITY) == LegalEntity(
        LEGAL_ENTITY, "Dupont Industries SAS", "FR83404833048", "FR"
    )
    assert LocalCustomerDirectory(tenant).get_legal_entity("other") is None


def test_put_invalid_legal_entity_is_400_naming_every_field(api, tenant):
    document = {
        "id": "someone-else",
        "legalInfo": {"taxRegistrationNumber": 123, "countryOfRegistration": "DEU"},
    }

    body = assert_error(put_legal_entity(api, document), 400, "The legal entity document is invalid.")

    assert body["errors"] == [
        {"field": "id", "message": f"does not match the legalEntityId in the path ({LEGAL_ENTITY})"},
        {"field": "legalInfo.legalName", "message": "is required"},
        {"field": "legalInfo.taxRegistrationNumber", "message": "must be a string"},
        {
            "field": "legalInfo.countryOfRegistration",
            "message": "must be an ISO 3166-1 alpha-2 country code such as DE",
        },
    ]
    assert "legalInfo.legalName: is required" in body["detailInfo"]
    assert_error(put_legal_entity(api, {"name": "x"}), 400, "The legal entity document is invalid.")
    assert_error(put_legal_entity(api, ["not", "an", "object"]), 400, "must be a JSON object")
    assert not StoredLegalEntity.objects.exists()


def test_put_customer_stores_it_for_the_local_directory(api, tenant):
    created = put_customer(api, customer(language="de-CH"))
    updated = put_customer(api, {"firstName": "Jürgen"})  # no language at all is fine

    assert (created.status_code, created.json()) == (201, {"customerNumber": CUSTOMER, "created": True})
    assert (updated.status_code, updated.json()) == (200, {"customerNumber": CUSTOMER, "created": False})
    assert StoredCustomer.objects.get(tenant=tenant).document["customerNumber"] == CUSTOMER
    assert LocalCustomerDirectory(tenant).get_customer(CUSTOMER) == CustomerProfile(CUSTOMER, "")
    put_customer(api, customer(language="de-CH"))
    assert LocalCustomerDirectory(tenant).get_customer(CUSTOMER) == CustomerProfile(CUSTOMER, "de-CH")


@pytest.mark.parametrize(
    ("language", "message"),
    [
        (42, "must be a string"),
        ("de DE", "must be a language code such as de, de_DE or de-CH"),
        ("x" * 36, "at most 35"),
    ],
)
def test_put_customer_with_an_unusable_language_is_400(api, tenant, language, message):
    body = assert_error(
        put_customer(api, {"preferredLanguage": language}), 400, "The customer document is invalid."
    )

    assert body["errors"][0]["field"] == "preferredLanguage" and message in body["errors"][0]["message"]


@pytest.mark.parametrize("put", [put_legal_entity, put_customer], ids=["legal entity", "customer"])
def test_put_buyer_for_an_emporix_tenant_is_409(api, tenant, put):
    Tenant.objects.filter(pk=tenant.pk).update(backend=Tenant.Backend.EMPORIX)

    assert_error(put(api, legal_entity()), 409, "reads its buyers from emporix")


@pytest.mark.parametrize("put", [put_legal_entity, put_customer], ids=["legal entity", "customer"])
def test_put_buyer_needs_the_order_manage_scope(tenant, put):
    jobs_client, _ = factories.api_client_make(tenant, scopes="invoice.invoice_manage invoice.invoice_read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(jobs_client)}")

    assert_error(put(client, legal_entity()), 403, "required scope")
    assert_error(put(APIClient(), legal_entity()), 401, "Authentication required")


def test_put_buyer_with_an_unusable_id_in_the_path_is_400(api, tenant):
    assert_error(
        put_legal_entity(api, legal_entity("x" * 256), "x" * 256), 400, "The legalEntityId in the path"
    )


# --- the import file -----------------------------------------------------------------------------------
def test_import_takes_orders_legal_entities_and_customers(tenant, tmp_path):
    path = tmp_path / "bundle.json"
    bad = legal_entity("LE-BAD", countryOfRegistration="Germany")
    path.write_text(
        json.dumps(
            {
                "orders": [factories.demo_order(factories.CARD_ORDER, legalEntityId=LEGAL_ENTITY)],
                "legalEntities": [legal_entity(), bad],
                "customers": [customer()],
            }
        ),
        encoding="utf-8",
    )
    out, errors = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match=r"^1 legal entit\(y/ies\) rejected$"):
        call_command("import_orders", str(path), "--tenant", "acme", stdout=out, stderr=errors)

    assert StoredOrder.objects.filter(tenant=tenant, order_id=factories.CARD_ORDER).exists()
    assert list(StoredLegalEntity.objects.values_list("legal_entity_id", flat=True)) == [LEGAL_ENTITY]
    assert StoredCustomer.objects.filter(customer_number=CUSTOMER).exists()
    assert "legalEntities: 1 created, 0 updated, 1 rejected" in out.getvalue()
    assert "LE-BAD: " in errors.getvalue() and "countryOfRegistration" in errors.getvalue()


def test_import_refuses_unknown_keys(tenant, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"orders": [], "buyers": []}), encoding="utf-8")

    with pytest.raises(CommandError, match="Unknown key"):
        call_command("import_orders", str(path), "--tenant", "acme", stdout=io.StringIO())


# --- the console -------------------------------------------------------------------------------------
def test_exchange_rates_are_edited_by_administrators_and_viewed_by_operators(tenant):
    rate = rate_make(tenant, "USD", "EUR", "0.90", dt.date(2025, 1, 1))
    add_url = reverse("admin:integrations_currencyrate_add")
    data = {
        "tenant": tenant.pk,
        "source_currency": "gbp",
        "target_currency": "EUR",
        "rate": "1.17",
        "valid_from": "2025-01-01",
    }
    operator = login(user_make("olga", OPERATORS))
    administrator = login(user_make("ada", ADMINISTRATORS))

    assert operator.get(reverse("admin:integrations_currencyrate_changelist")).status_code == 200
    assert operator.get(reverse("admin:integrations_currencyrate_change", args=[rate.pk])).status_code == 200
    assert operator.post(add_url, data).status_code == 403
    assert administrator.post(add_url, data).status_code == 302
    assert CurrencyRate.objects.filter(source_currency="GBP", rate=Decimal("1.17")).exists()
    again = administrator.post(add_url, data)  # the same pair and day once more
    assert again.status_code == 200 and "already exists" in again.content.decode()


def test_stored_buyers_are_shown_read_only(api, tenant):
    put_legal_entity(api, legal_entity())
    put_customer(api, customer())
    administrator = login(user_make("ada", ADMINISTRATORS))

    listed = administrator.get(reverse("admin:integrations_storedlegalentity_changelist"))
    customers = administrator.get(reverse("admin:integrations_storedcustomer_changelist"))
    page = administrator.get(
        reverse("admin:integrations_storedlegalentity_change", args=[StoredLegalEntity.objects.get().pk])
    )

    assert listed.status_code == 200 and "FR40303265045" in listed.content.decode()
    assert customers.status_code == 200 and "de_DE" in customers.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert administrator.get(reverse("admin:integrations_storedcustomer_add")).status_code == 403
