"""Buyer documents in the Emporix shapes: legal entities and customer profiles.

A legal entity is a Customer Management `legalEntity`
(`/customer-management/{tenant}/legal-entities/{legalEntityId}`), a customer a Customer
Service `CustomerForSellerDto` (`/customer/{tenant}/customers/{customerNumber}`). The local
backend stores them as given (like StoredOrder keeps a salesOrder) and the Emporix backend reads
them from those services; both go through the readers here, so a buyer means the same thing
whichever backend it comes from.

What the invoice uses, and its bounds:

- legal entity: `legalInfo.legalName` (else `name`; at most 200 characters),
  `legalInfo.taxRegistrationNumber` (the buyer's VAT ID, at most 40), and
  `legalInfo.countryOfRegistration` (an ISO 3166-1 alpha-2 code);
- legal entity, its e-invoice routing in `mixins.eInvoicing` (all optional):
  `buyerReference` (EN 16931 BT-10: a Leitweg-ID or PO reference, at most 100 characters),
  `peppolParticipantId` (the buyer's electronic address BT-49 with its scheme BT-49-1,
  "<4-digit EAS>:<id>", e.g. "0088:4035811991021") and `format` ("" or "xrechnung": the buyer
  wants the XRechnung XML with every invoice). A `buyerReference` that is a well-formed
  Leitweg-ID (with a correct check digit) implies "xrechnung" (see `einvoice_format_of`);
- customer: `preferredLanguage` (a language tag such as "de", "de_DE" or "de-CH", at most 35
  characters).

Invalid documents raise a DocumentError listing every field at fault, so an API client can fix a
document in one go; reaching a view it is a 400, in the pipeline it fails the order at once.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from core.errors import PermanentError
from core.limits import json_problems
from integrations.mapper import MAX_LANGUAGE_TAG, order_id_problem
from integrations.ports import CustomerProfile, LegalEntity

LEGAL_NAME = 200  # like an order's customer.company and customer.name
VAT_ID = 40  # Tenant.vat_id; the longest EU VAT numbers have 14 characters, Swiss ones 20 with "MWST"
# The officially assigned ISO 3166-1 alpha-2 codes (249; ISO 3166 Maintenance Agency). No
# exceptionally reserved codes (EU, UK, EL, XI): a country of registration is a country.
_COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES = frozenset(_COUNTRY_CODES.split())

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# --- e-invoice routing (mixins.eInvoicing) -----------------------------------------------------------
EINVOICING_MIXIN = "eInvoicing"
BUYER_REFERENCE = 100  # BT-10 has no length in EN 16931; a Leitweg-ID has at most 46 characters
# A Peppol participant identifier: the ISO 6523 ICD / EAS scheme (4 digits, e.g. 0088 GLN, 0192
# Norwegian org. number, 9930 German VAT ID) and the value, which the Peppol Policy for use of
# Identifiers bounds at 130 characters. Whether the scheme is on the EAS code list is checked by
# the EN 16931 rules (BR-CL-25) when the e-invoice is validated, before any capture.
PEPPOL_VALUE = 130
_PEPPOL_ID = re.compile(rf"^(?P<scheme>[0-9]{{4}}):(?P<value>[\x21-\x7e]{{1,{PEPPOL_VALUE}}})$")
EINVOICE_FORMATS = ("", "xrechnung")  # what a buyer can ask for on top of the Factur-X PDF
# Leitweg-ID (KoSIT, "Format-Spezifikation Leitweg-ID"): coarse address of 2 to 12 digits, an
# optional fine address of up to 30 letters and digits, and 2 check digits (ISO/IEC 7064
# MOD 97-10 over the parts without hyphens, letters counted A=10 .. Z=35), e.g.
# 04011000-1234512345-06. German public buyers (E-Rechnungsverordnung) are addressed by it.
_LEITWEG_ID = re.compile(r"^(?P<coarse>[0-9]{2,12})(?:-(?P<fine>[0-9A-Za-z]{1,30}))?-(?P<check>[0-9]{2})$")


def is_leitweg_id(value: str) -> bool:
    """Whether `value` is a well-formed Leitweg-ID with a correct check digit."""
    found = _LEITWEG_ID.fullmatch(value.strip())
    if not found:
        return False
    digits = "".join(
        str(int(c, 36)) for c in found["coarse"] + (found["fine"] or "").upper() + found["check"]
    )
    return int(digits) % 97 == 1


def peppol_id_problem(value: str) -> str | None:
    """Why `value` is not a Peppol participant id "<4-digit EAS>:<id>", or None."""
    if not _PEPPOL_ID.fullmatch(value):
        return (
            'must be "<scheme>:<id>" with a 4-digit EAS scheme, e.g. 0088:4035811991021 '
            f"(id: printable characters without spaces, at most {PEPPOL_VALUE})"
        )
    return None


def split_peppol_id(value: str) -> tuple[str, str]:
    """(scheme, id) of a Peppol participant id ("0088:4035811991021" -> ("0088", "4035811991021"))."""
    scheme, _, identifier = value.partition(":")
    return scheme, identifier


def einvoice_format_of(format_: str, buyer_reference: str) -> str:
    """The e-invoice format a legal entity gets besides the Factur-X PDF.

    Decision (issue 12: "a public buyer with a Leitweg-ID, or a setting"): `format` says so, or
    the buyer reference is a Leitweg-ID. A Leitweg-ID exists only for German public buyers, who
    must be able to receive XRechnung (E-Rechnungsverordnung), and its check digit keeps a
    PO reference from being taken for one (1 in 97 chance for a number of the right shape). The
    XML comes in addition to the PDF, so a mistaken guess costs one attachment, never the invoice.
    """
    if format_:
        return format_
    return "xrechnung" if buyer_reference and is_leitweg_id(buyer_reference) else ""


class DocumentError(PermanentError, ValueError):
    """A buyer document that cannot be used; `errors` lists [{field, message}] (400 in a view)."""

    http_status = 400
    kind: ClassVar[str] = "document"
    SHOWN = 5

    def __init__(self, errors: list[dict[str, str]], *, source: str = "") -> None:
        listed = "; ".join(f"{e['field'] or '(document)'}: {e['message']}" for e in errors[: self.SHOWN])
        more = f" (and {len(errors) - self.SHOWN} more)" if len(errors) > self.SHOWN else ""
        where = f" {source}" if source else ""
        super().__init__(f"The {self.kind} document{where} is invalid: {listed}{more}", errors=errors)


class LegalEntityDocumentError(DocumentError):
    kind = "legal entity"
    http_message = "The legal entity document is invalid."


class CustomerDocumentError(DocumentError):
    kind = "customer"
    http_message = "The customer document is invalid."


def country_problem(value: str) -> str | None:
    """Why `value` is not an ISO 3166-1 alpha-2 country code (either case), or None."""
    if value.upper() not in COUNTRY_CODES:
        return "must be an ISO 3166-1 alpha-2 country code such as DE"
    return None


def language_problem(value: str) -> str | None:
    """Why `value` cannot be a language tag ("de", "de_DE", "de-CH"), or None."""
    if len(value) > MAX_LANGUAGE_TAG:
        return f"must be at most {MAX_LANGUAGE_TAG} characters"
    if not value.strip() or _CONTROL.search(value) or any(c.isspace() for c in value):
        return "must be a language code such as de, de_DE or de-CH"
    return None


def _text(
    errors: list[dict[str, str]], parent: dict[str, Any], key: str, path: str, *, max_length: int
) -> str:
    value = parent.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append({"field": path, "message": "must be a string"})
        return ""
    if len(value) > max_length:
        errors.append({"field": path, "message": f"must be at most {max_length} characters"})
        return ""
    return value.strip()


def _object(errors: list[dict[str, str]], document: Any) -> dict[str, Any] | None:
    if not isinstance(document, dict):
        errors.append({"field": "", "message": "must be a JSON object"})
        return None
    problems = json_problems(document)
    if problems:
        errors.extend(problems)
        return None
    return document


def _path_id(errors: list[dict[str, str]], document: dict[str, Any], key: str, value: str, name: str) -> None:
    """The id in the path is usable and the document names no other."""
    problem = order_id_problem(value)
    if problem:
        errors.append({"field": key, "message": f"the {name} in the path {problem}"})
    elif document.get(key) not in (None, "", value):
        errors.append({"field": key, "message": f"does not match the {name} in the path ({value})"})


def read_legal_entity(
    document: Any, legal_entity_id: str, *, require_legal_name: bool = False, source: str = ""
) -> LegalEntity:
    """The LegalEntity of a legalEntity document; LegalEntityDocumentError names every bad field.

    `require_legal_name`: for documents stored here (PUT, import), `legalInfo.legalName` must be
    given; Emporix does not require it, so what it sends falls back to `name`. `source` says
    where the document came from, in the error's message ("in Emporix").
    """
    errors: list[dict[str, str]] = []
    doc = _object(errors, document)
    if doc is None:
        raise LegalEntityDocumentError(errors, source=source)
    _path_id(errors, doc, "id", legal_entity_id, "legalEntityId")
    info = doc.get("legalInfo")
    if not isinstance(info, dict):
        if info is not None:
            errors.append({"field": "legalInfo", "message": "must be an object"})
        elif require_legal_name:
            errors.append({"field": "legalInfo", "message": "is required"})
        info = {}
    before = len(errors)
    legal_name = _text(errors, info, "legalName", "legalInfo.legalName", max_length=LEGAL_NAME)
    if require_legal_name and info and not legal_name and len(errors) == before:
        errors.append({"field": "legalInfo.legalName", "message": "is required"})
    name = _text(errors, doc, "name", "name", max_length=LEGAL_NAME)
    vat_id = _text(
        errors, info, "taxRegistrationNumber", "legalInfo.taxRegistrationNumber", max_length=VAT_ID
    )
    if vat_id and _CONTROL.search(vat_id):
        errors.append(
            {"field": "legalInfo.taxRegistrationNumber", "message": "must not contain control characters"}
        )
    country = _text(errors, info, "countryOfRegistration", "legalInfo.countryOfRegistration", max_length=10)
    problem = country_problem(country) if country else None
    if problem:
        errors.append({"field": "legalInfo.countryOfRegistration", "message": problem})
    if not (legal_name or name) and not errors:
        errors.append({"field": "legalInfo.legalName", "message": "is required (or name)"})
    buyer_reference, peppol_id, format_ = _einvoicing(errors, doc)
    if errors:
        raise LegalEntityDocumentError(errors, source=source)
    return LegalEntity(
        legal_entity_id=legal_entity_id,
        legal_name=legal_name or name,
        vat_id=vat_id,
        country=country.upper(),
        buyer_reference=buyer_reference,
        peppol_id=peppol_id,
        einvoice_format=einvoice_format_of(format_, buyer_reference),
    )


def _einvoicing(errors: list[dict[str, str]], doc: dict[str, Any]) -> tuple[str, str, str]:
    """(buyer reference, Peppol id, format) of `mixins.eInvoicing`; problems go to `errors`."""
    mixins = doc.get("mixins")
    if mixins is None:
        return "", "", ""
    if not isinstance(mixins, dict):
        errors.append({"field": "mixins", "message": "must be an object"})
        return "", "", ""
    routing = mixins.get(EINVOICING_MIXIN)
    where = f"mixins.{EINVOICING_MIXIN}"
    if routing is None:
        return "", "", ""
    if not isinstance(routing, dict):
        errors.append({"field": where, "message": "must be an object"})
        return "", "", ""
    reference = _text(
        errors, routing, "buyerReference", f"{where}.buyerReference", max_length=BUYER_REFERENCE
    )
    if _CONTROL.search(reference):
        errors.append({"field": f"{where}.buyerReference", "message": "must not contain control characters"})
    peppol_id = _text(
        errors, routing, "peppolParticipantId", f"{where}.peppolParticipantId", max_length=5 + PEPPOL_VALUE
    )
    problem = peppol_id_problem(peppol_id) if peppol_id else None
    if problem:
        errors.append({"field": f"{where}.peppolParticipantId", "message": problem})
    format_ = _text(errors, routing, "format", f"{where}.format", max_length=20).lower()
    if format_ not in EINVOICE_FORMATS:
        errors.append({"field": f"{where}.format", "message": 'must be "xrechnung" or empty'})
    return reference, peppol_id, format_


def validate_customer(document: Any, customer_number: str) -> CustomerProfile:
    """The CustomerProfile of a customer document stored here; CustomerDocumentError names every
    bad field. Only what the invoice uses is checked; the rest is kept as given."""
    errors: list[dict[str, str]] = []
    doc = _object(errors, document)
    if doc is None:
        raise CustomerDocumentError(errors)
    _path_id(errors, doc, "customerNumber", customer_number, "customerNumber")
    language = _text(errors, doc, "preferredLanguage", "preferredLanguage", max_length=MAX_LANGUAGE_TAG)
    problem = language_problem(language) if language else None
    if problem:
        errors.append({"field": "preferredLanguage", "message": problem})
    if errors:
        raise CustomerDocumentError(errors)
    return CustomerProfile(customer_number=customer_number, preferred_language=language)


def read_customer(document: Any, customer_number: str) -> CustomerProfile:
    """The CustomerProfile of a customer document as a service sends it, leniently: a language
    that cannot be one is left out (the next candidate, the site's language, is used then)."""
    value = document.get("preferredLanguage") if isinstance(document, dict) else None
    language = value.strip() if isinstance(value, str) else ""
    if language and language_problem(language):
        language = ""
    return CustomerProfile(customer_number=customer_number, preferred_language=language)
