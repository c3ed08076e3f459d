"""A buyer's e-invoice routing: the legal entity's `mixins.eInvoicing` on both backends.

`buyerReference` (BT-10: Leitweg-ID or PO reference), `peppolParticipantId` (BT-49 with its
scheme BT-49-1) and `format` ("xrechnung": the XRechnung XML with every invoice), read by the one
reader of legal entities (integrations.buyers) from the local store (PUT, import) and from Emporix
Customer Management (`responses`, payloads checked against the published spec).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from core.errors import PermanentError
from integrations.buyers import einvoice_format_of, is_leitweg_id, peppol_id_problem, split_peppol_id
from integrations.emporix.adapters import EmporixCustomerDirectory, site_cache
from integrations.emporix.client import EmporixClient, clear_token_cache
from integrations.local.adapters import LocalCustomerDirectory
from integrations.models import StoredLegalEntity
from integrations.ports import LegalEntity
from tenants.models import Tenant
from tests import factories
from tests.api_helpers import assert_error
from tests.integrations import emporix_payloads as p

pytestmark = pytest.mark.django_db

GET_LEGAL_ENTITY = p.Endpoint(
    "emporix/companies-and-customers/client-management/api-reference/api.yml",
    "GET",
    "/customer-management/{tenant}/legal-entities/{legalEntityId}",
)
LEGAL_ENTITY = "BUND-1"
LEITWEG_ID = "04011000-1234512345-06"  # the KoSIT format specification's example, check digit 06
PEPPOL_ID = "0088:4035811991021"


def legal_entity(einvoicing: Any = None, **extra: Any) -> dict[str, Any]:
    """A legalEntity (200 of GET …/legal-entities/{legalEntityId}), a German public buyer."""
    body: dict[str, Any] = {
        "id": LEGAL_ENTITY,
        "name": "Beschaffungsamt",
        "type": "COMPANY",
        "legalInfo": {
            "legalName": "Beschaffungsamt des Bundesministeriums des Innern",
            "taxRegistrationNumber": "DE136695976",
            "countryOfRegistration": "DE",
        },
        "metadata": {
            "version": 3,
            "mixins": {"eInvoicing": "https://res.cloudinary.com/shop/raw/upload/eInvoicing.v1.json"},
        },
        **extra,
    }
    if einvoicing is not None:
        body["mixins"] = {"eInvoicing": einvoicing}
    GET_LEGAL_ENTITY.check_response(200, body)
    return body


def put(api, document: Any, legal_entity_id: str = LEGAL_ENTITY):
    return api.put(f"/invoice/acme/legal-entities/{legal_entity_id}", document, format="json")


# --- the reader's rules -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (LEITWEG_ID, True),
        ("04011000-1234512345-07", False),  # wrong check digit
        ("991-33333TEST-33", True),  # the XRechnung test Leitweg-ID: letters count A=10 … Z=35
        ("991-33333test-33", True),
        ("99112345-73", True),  # coarse + check digits only
        ("991-12345-67", False),
        ("PO-4711", False),
        ("1-12", False),  # coarse address of at least 2 digits
        ("", False),
    ],
)
def test_leitweg_id_is_recognised_by_form_and_check_digit(value, expected):
    assert is_leitweg_id(value) is expected


def test_a_leitweg_id_implies_xrechnung_a_po_reference_does_not():
    assert einvoice_format_of("", LEITWEG_ID) == "xrechnung"
    assert einvoice_format_of("", "PO-2026-0042") == ""
    assert einvoice_format_of("xrechnung", "PO-2026-0042") == "xrechnung"  # the setting
    assert einvoice_format_of("", "") == ""


@pytest.mark.parametrize(
    "value", ["0088:4035811991021", "9930:DE136695976", "0192:991825827", "0088:" + "9" * 130]
)
def test_peppol_ids_of_the_right_shape_pass(value):
    assert peppol_id_problem(value) is None


@pytest.mark.parametrize(
    "value", ["4035811991021", "88:4035811991021", "0088:", "0088:40 35", "ABCD:1", "0088:" + "9" * 131]
)
def test_peppol_ids_of_the_wrong_shape_are_named(value):
    assert "4-digit EAS scheme" in (peppol_id_problem(value) or "")


def test_peppol_id_splits_into_scheme_and_id():
    assert split_peppol_id(PEPPOL_ID) == ("0088", "4035811991021")


# --- the local store: PUT and import ---------------------------------------------------------------
def test_put_legal_entity_with_einvoicing_routing_is_read_by_the_local_directory(api, tenant):
    document = legal_entity(
        {"buyerReference": " 991-12345-67 ", "peppolParticipantId": PEPPOL_ID, "format": "XRechnung"}
    )

    response = put(api, document)

    assert response.status_code == 201, response.json()
    stored = StoredLegalEntity.objects.get(tenant=tenant, legal_entity_id=LEGAL_ENTITY)
    assert stored.document["mixins"]["eInvoicing"]["format"] == "XRechnung"  # kept as given
    assert LocalCustomerDirectory(tenant).get_legal_entity(LEGAL_ENTITY) == LegalEntity(
        LEGAL_ENTITY,
        "Beschaffungsamt des Bundesministeriums des Innern",
        "DE136695976",
        "DE",
        buyer_reference="991-12345-67",
        peppol_id=PEPPOL_ID,
        einvoice_format="xrechnung",
    )


def test_put_legal_entity_with_a_leitweg_id_only_asks_for_xrechnung(api, tenant):
    assert put(api, legal_entity({"buyerReference": LEITWEG_ID})).status_code == 201

    found = LocalCustomerDirectory(tenant).get_legal_entity(LEGAL_ENTITY)

    assert (found.buyer_reference, found.peppol_id, found.einvoice_format) == (LEITWEG_ID, "", "xrechnung")


def test_legal_entity_without_einvoicing_mixin_has_no_routing(api, tenant):
    assert put(api, legal_entity(None, mixins={"other": {"x": 1}})).status_code == 201

    found = LocalCustomerDirectory(tenant).get_legal_entity(LEGAL_ENTITY)

    assert (found.buyer_reference, found.peppol_id, found.einvoice_format) == ("", "", "")


def test_put_legal_entity_with_bad_routing_is_400_naming_every_field(api, tenant):
    document = legal_entity(
        {"buyerReference": "x" * 101, "peppolParticipantId": "4035811991021", "format": "zugferd"}
    )

    body = assert_error(put(api, document), 400, "The legal entity document is invalid.")

    assert body["errors"] == [
        {"field": "mixins.eInvoicing.buyerReference", "message": "must be at most 100 characters"},
        {
            "field": "mixins.eInvoicing.peppolParticipantId",
            "message": 'must be "<scheme>:<id>" with a 4-digit EAS scheme, e.g. 0088:4035811991021 '
            "(id: printable characters without spaces, at most 130)",
        },
        {"field": "mixins.eInvoicing.format", "message": 'must be "xrechnung" or empty'},
    ]
    assert not StoredLegalEntity.objects.exists()


@pytest.mark.parametrize(
    ("mixins", "field", "message"),
    [
        ("eInvoicing", "mixins", "must be an object"),
        ({"eInvoicing": ["xrechnung"]}, "mixins.eInvoicing", "must be an object"),
        ({"eInvoicing": {"buyerReference": 991}}, "mixins.eInvoicing.buyerReference", "must be a string"),
        (
            {"eInvoicing": {"buyerReference": "991\n12345"}},
            "mixins.eInvoicing.buyerReference",
            "must not contain control characters",
        ),
        ({"eInvoicing": {"format": True}}, "mixins.eInvoicing.format", "must be a string"),
    ],
)
def test_put_legal_entity_with_malformed_mixins_is_400(api, tenant, mixins, field, message):
    document = {**legal_entity(), "mixins": mixins}

    body = assert_error(put(api, document), 400, "The legal entity document is invalid.")

    assert body["errors"] == [{"field": field, "message": message}]


def test_import_rejects_bad_routing_and_keeps_good(tenant, tmp_path):
    good = legal_entity({"buyerReference": LEITWEG_ID, "peppolParticipantId": "9930:DE136695976"})
    bad = {**legal_entity({"format": "ubl"}), "id": "LE-BAD"}
    path = tmp_path / "buyers.json"
    path.write_text(json.dumps({"legalEntities": [good, bad]}), encoding="utf-8")
    out, errors = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match=r"^1 legal entit\(y/ies\) rejected$"):
        call_command("import_orders", str(path), "--tenant", "acme", stdout=out, stderr=errors)

    assert "LE-BAD: " in errors.getvalue() and "mixins.eInvoicing.format" in errors.getvalue()
    found = LocalCustomerDirectory(tenant).get_legal_entity(LEGAL_ENTITY)
    assert (found.peppol_id, found.einvoice_format) == ("9930:DE136695976", "xrechnung")
    assert LocalCustomerDirectory(tenant).get_legal_entity("LE-BAD") is None


# --- Emporix Customer Management ---------------------------------------------------------------------
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


def test_emporix_legal_entity_gives_its_einvoicing_routing(shop, mock):
    routing = {"buyerReference": LEITWEG_ID, "peppolParticipantId": PEPPOL_ID, "format": "xrechnung"}
    mock.get(GET_LEGAL_ENTITY.url(legalEntityId=LEGAL_ENTITY), json=legal_entity(routing))

    found = directory(shop).get_legal_entity(LEGAL_ENTITY)

    assert found is not None
    assert (found.buyer_reference, found.peppol_id, found.einvoice_format) == (
        LEITWEG_ID,
        PEPPOL_ID,
        "xrechnung",
    )
    assert found.vat_id == "DE136695976"


def test_emporix_legal_entity_without_mixins_has_no_routing(shop, mock):
    mock.get(GET_LEGAL_ENTITY.url(legalEntityId=LEGAL_ENTITY), json=legal_entity())

    found = directory(shop).get_legal_entity(LEGAL_ENTITY)

    assert found is not None and (found.buyer_reference, found.peppol_id, found.einvoice_format) == (
        "",
        "",
        "",
    )


def test_emporix_legal_entity_with_unusable_routing_fails_naming_the_field(shop, mock):
    mock.get(
        GET_LEGAL_ENTITY.url(legalEntityId=LEGAL_ENTITY),
        json=legal_entity({"peppolParticipantId": "GLN 4035811991021"}),
    )

    with pytest.raises(PermanentError, match=r"in Emporix is invalid: mixins.eInvoicing.peppolParticipantId"):
        directory(shop).get_legal_entity(LEGAL_ENTITY)
