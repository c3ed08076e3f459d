"""VAT treatment per row, buyer VAT IDs and the notes an invoice prints (invoicing.vat).

VAT IDs are the examples of python-stdnum's documentation (valid check digits, no network).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.errors import PermanentError
from invoicing.vat import (
    Parties,
    TaxCodeTreatment,
    VatCategory,
    VatTreatmentError,
    VatTreatments,
    legal_note,
    normalize_vat_id,
    treatment,
    treatment_problems,
    vat_id_problem,
)
from tenants.models import Tenant

D = Decimal
DE_VAT, FR_VAT, AT_VAT, NL_VAT, EL_VAT = (
    "DE136695976",
    "FR40303265045",
    "ATU13585627",
    "NL004495445B01",
    "EL094259216",
)
DEFAULTS = VatTreatments()
SERVICES = VatTreatments.from_json({"supply": "services"})


def category(
    rate: str, buyer: str, *, vat_id: str = "", code: str = "STANDARD", to: str = "", mapping=DEFAULTS
):
    parties = Parties(
        seller_country="DE", buyer_country=buyer, buyer_vat_id=vat_id, destination_country=to or buyer
    )
    return treatment(tax_code=code, rate=D(rate), parties=parties, treatments=mapping).category


# --- the mapping table ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "buyer", "vat_id", "code", "mapping", "expected"),
    [
        # rate above 0: standard or reduced rate, wherever the buyer is
        ("19", "DE", "", "STANDARD", DEFAULTS, "S"),
        ("7", "DE", DE_VAT, "REDUCED", DEFAULTS, "S"),
        ("20", "FR", FR_VAT, "STANDARD", DEFAULTS, "S"),  # the shop charged VAT: it is charged
        # 0 % at home: zero rated
        ("0", "DE", "", "ZERO", DEFAULTS, "Z"),
        ("0", "", "", "ZERO", DEFAULTS, "Z"),  # no buyer country: nothing cross-border to state
        # exempt and not subject come from the tax code
        ("0", "DE", "", "EXEMPT", DEFAULTS, "E"),
        ("0", "FR", FR_VAT, "exempt", DEFAULTS, "E"),
        ("0", "DE", "", "NOT_SUBJECT", DEFAULTS, "O"),
        # B2B to another member state: goods K (Art. 138), services AE (Art. 196)
        ("0", "FR", FR_VAT, "ZERO", DEFAULTS, "K"),
        ("0", "AT", AT_VAT, "ZERO", DEFAULTS, "K"),
        ("0", "GR", EL_VAT, "ZERO", DEFAULTS, "K"),
        ("0", "FR", FR_VAT, "ZERO", SERVICES, "AE"),
        ("0", "NL", NL_VAT, "ZERO", SERVICES, "AE"),
        # outside the EU: goods G (Art. 146), services O (place of supply there, Art. 44)
        ("0", "CH", "", "ZERO", DEFAULTS, "G"),
        ("0", "US", "", "ZERO", DEFAULTS, "G"),
        ("0", "GB", "", "ZERO", DEFAULTS, "G"),
        ("0", "US", "", "ZERO", SERVICES, "O"),
        ("0", "CH", "", "ZERO", SERVICES, "O"),
    ],
)
def test_treatment_mapping_table(rate, buyer, vat_id, code, mapping, expected):
    assert category(rate, buyer, vat_id=vat_id, code=code, mapping=mapping) == expected


def test_treatment_goods_go_by_the_destination_services_by_the_buyer():
    # a French company has the goods shipped to Switzerland: an export
    assert category("0", "FR", vat_id=FR_VAT, to="CH") == "G"
    # a Swiss company has them shipped to Austria: an intra-Community supply needs an EU VAT ID
    assert category("0", "CH", vat_id=AT_VAT, to="AT") == "K"
    # services follow the buyer, not the delivery address
    assert category("0", "FR", vat_id=FR_VAT, to="CH", mapping=SERVICES) == "AE"
    # Northern Ireland is in the EU VAT area for goods only
    assert category("0", "XI", vat_id="XI980780684") == "K"
    assert category("0", "XI", vat_id="XI980780684", mapping=SERVICES) == "O"


def test_treatment_intra_community_supply_needs_a_vat_id_of_another_member_state():
    with pytest.raises(VatTreatmentError, match="member state other than DE"):
        category("0", "FR", vat_id=DE_VAT)


def test_treatment_a_fixed_category_must_agree_with_the_rate():
    with pytest.raises(VatTreatmentError, match=r"'EXEMPT' is mapped to E \(exempt from VAT\).*19% VAT"):
        category("19", "DE", code="EXEMPT")
    mapping = VatTreatments.from_json({"tax_codes": {"GIFT": {"category": "S"}}})
    with pytest.raises(VatTreatmentError, match="mapped to S"):
        category("0", "DE", code="GIFT", mapping=mapping)


def test_treatment_without_seller_country_refuses_cross_border_zero_rate():
    parties = Parties(seller_country="", buyer_country="FR", buyer_vat_id=FR_VAT)
    with pytest.raises(VatTreatmentError, match="seller's country is not set"):
        treatment(tax_code="ZERO", rate=D(0), parties=parties, treatments=DEFAULTS)


def test_treatment_problems_k_and_ae_need_both_vat_ids():
    problems = treatment_problems(
        {"K": "0% VAT on goods to FR", "S": ""}, buyer_vat_id="", seller_vat_id="", buyer_country="FR"
    )
    assert len(problems) == 2
    assert "intra-Community supply (K, Art. 138) (0% VAT on goods to FR)" in problems[0]
    assert "buyer's VAT ID (Art. 226 (4)), but the buyer in FR has none" in problems[0]
    assert "seller's VAT ID (Art. 226 (3))" in problems[1]
    assert treatment_problems({"AE": ""}, buyer_vat_id=FR_VAT, seller_vat_id=DE_VAT, buyer_country="FR") == []
    assert (
        treatment_problems({"S": "", "G": "", "Z": ""}, buyer_vat_id="", seller_vat_id="", buyer_country="")
        == []
    )


# --- the tenant's mapping ------------------------------------------------------------------------------
def test_tenant_override_fixes_a_code_with_its_reference_and_supply():
    mapping = VatTreatments.from_json(
        {
            "tax_codes": {
                "medical": {"category": "E", "reference": "Art. 132(1)(c) VAT Directive"},
                "CONSULTING": {"supply": "services"},
                "EXEMPT": {"category": "Z"},  # the tenant's word for zero rated
            }
        }
    )
    parties = Parties(seller_country="DE", buyer_country="DE")
    medical = treatment(tax_code="MEDICAL", rate=D(0), parties=parties, treatments=mapping)
    assert (medical.category, medical.reference) == ("E", "Art. 132(1)(c) VAT Directive")
    assert category("0", "FR", vat_id=FR_VAT, code="CONSULTING", mapping=mapping) == "AE"
    assert category("0", "FR", vat_id=FR_VAT, code="OTHER", mapping=mapping) == "K"
    assert category("0", "DE", code="EXEMPT", mapping=mapping) == "Z"
    assert mapping.for_code("not_subject") == TaxCodeTreatment(category="O")  # defaults stay


def test_tenant_mapping_errors_are_named():
    tenant = Tenant(
        code="acme",
        name="Acme",
        vat_treatments={"tax_codes": {"X": {"category": "K", "colour": "red"}, "Y": "E"}, "supply": "food"},
    )
    with pytest.raises(ValidationError) as caught:
        tenant.clean()
    message = caught.value.message_dict["vat_treatments"][0]
    assert "supply must be goods or services, not 'food'" in message
    assert "tax code 'X': unknown key(s) colour" in message
    assert "tax code 'X': category must be one of S, Z, E, AE, O, not 'K' (K and G follow from" in message
    assert "tax code 'Y': the treatment must be an object" in message
    with pytest.raises(PermanentError, match="The tenant's VAT treatments are not valid"):
        VatTreatments.from_json(["E"])


def test_tenant_payment_terms_must_agree_with_payment_days():
    tenant = Tenant(code="acme", name="Acme", payment_terms="Payable within 30 days net.", payment_days=14)
    with pytest.raises(ValidationError) as caught:
        tenant.clean()
    assert "say 30 days" in caught.value.message_dict["payment_terms"][0]
    Tenant(code="acme", name="Acme", payment_days=14).clean()  # the default terms say 14


# --- VAT IDs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vat_id", "country"),
    [
        ("DE136695976", "DE"),
        ("DE 136 695 976", "DE"),
        ("136695976", "DE"),  # without its prefix: read with the buyer's country
        ("FR 61 954 506 077", "FR"),
        ("ATU13585627", "AT"),
        ("NL004495445B01", "NL"),
        ("PL 8567346215", "PL"),
        ("IT00743110157", "IT"),
        ("ESB64717838", "ES"),
        ("EL094259216", "GR"),
        ("BE 428759497", "BE"),
        ("XI980780684", "GB"),
        ("CHE-107.787.577 MWST", "CH"),
        ("GB 980 7806 84", "GB"),
        ("12-3456789", "US"),  # not checked: no VAT ID needed outside the EU
        ("", "DE"),
    ],
)
def test_vat_id_problem_accepts_valid_ids(vat_id, country):
    assert vat_id_problem(vat_id, country) == ""


@pytest.mark.parametrize(
    ("vat_id", "country", "problem"),
    [
        ("DE136695978", "DE", "not a valid DE VAT ID: its check digit is wrong"),
        ("DE13669597", "DE", "wrong number of characters"),
        ("FR ABC", "FR", "not in the format"),
        ("GR094259216", "GR", "must start with EL"),
        ("ATU13585626", "AT", "check digit"),
        ("CHE-107.787.578 MWST", "CH", "check digit"),
        ("XX123456789", "FR", "not a valid FR VAT ID: its country prefix"),  # an EU buyer needs an EU one
        ("FR40303265046", "DE", "not a valid FR VAT ID"),  # named by its own prefix
    ],
)
def test_vat_id_problem_names_the_problem(vat_id, country, problem):
    assert problem in vat_id_problem(vat_id, country)
    assert repr(vat_id) in vat_id_problem(vat_id, country)


def test_normalize_vat_id_prints_compact_with_prefix():
    assert normalize_vat_id("de 136.695.976", "DE") == "DE136695976"
    assert normalize_vat_id("136695976", "DE") == "DE136695976"
    assert normalize_vat_id("094259216", "GR") == "EL094259216"
    assert normalize_vat_id("CHE-107.787.577 MWST", "CH") == "CHE-107.787.577 MWST"


# --- notes ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "de", "fr", "it", "es", "nl", "pl", "de-CH", "xx"])
def test_legal_note_for_every_category_but_standard(language):
    for code in VatCategory.values:
        note = legal_note(code, language)
        assert bool(note) == (code != "S"), (code, language)


def test_legal_note_cites_the_directive_or_the_tenants_reference():
    assert legal_note("AE", "en") == "Reverse charge \N{EN DASH} Art. 196 VAT Directive"
    assert (
        legal_note("K", "en")
        == "Tax-exempt intra-Community supply of goods \N{EN DASH} Art. 138 VAT Directive"
    )
    assert legal_note("G", "en") == "Tax-exempt export of goods \N{EN DASH} Art. 146 VAT Directive"
    assert legal_note("E", "en") == "Exempt from VAT"
    assert legal_note("E", "en", "§ 4 Nr. 14 UStG") == "Exempt from VAT \N{EN DASH} § 4 Nr. 14 UStG"
    assert legal_note("S", "en", "anything") == ""
