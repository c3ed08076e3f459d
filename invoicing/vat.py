"""VAT treatment of invoice rows: the EN 16931 category, the buyer's VAT ID and the note it prints.

Every row gets a VAT category (EN 16931 BT-151/BT-118, code list UNCL5305), derived from the
order line's tax code and rate, the seller's country, the buyer's country and VAT ID, through a
mapping the tenant can adjust (`Tenant.vat_treatments`, validated by
`tenants.models.vat_treatments_problems`). The rules, in order (`treatment`):

1. A tax code the mapping fixes to a category (S, Z, E, AE or O) has it. E and O cover supplies
   the countries cannot tell: exemptions (Art. 132-137 VAT Directive 2006/112/EC, e.g. medical
   care Art. 132(1)(c), financial services Art. 135(1)) and supplies outside the scope of VAT;
   AE a domestic reverse charge (Art. 199, 199a). Built in: EXEMPT -> E, NOT_SUBJECT -> O.
   A fixed category must agree with the rate: S needs one above 0, the others 0 % (BR-S-05,
   BR-Z-05, BR-E-05, BR-AE-05, BR-O-05).
2. A rate above 0 is S ("standard rated", which EN 16931 uses for reduced rates too, BR-S-05).
3. At 0 % the countries decide, for goods by where they go (the shipping address, else the
   buyer's country) and for services by where the buyer is:
   - the seller's own country (or a country unknown): Z, zero rated;
   - another EU member state, buyer with a VAT ID: goods K, intra-Community supply exempt under
     Art. 138(1) (the buyer "identified for VAT purposes in a Member State other than that in
     which the dispatch or transport of the goods begins"); services AE, the customer is liable
     for the VAT (Art. 196, place of supply at the customer, Art. 44);
   - another EU member state, buyer without a VAT ID: K or AE would need it (Art. 226 (4),
     BR-IC-02, BR-AE-02), so the invoice is refused before capture (`treatment_problems`);
   - outside the EU: goods G, export exempt under Art. 146(1)(a); services O, not subject to
     VAT in the EU (B2B place of supply at the customer, Art. 44).

Goods or services: a web shop sells goods, so every tax code is goods unless the mapping says
`"supply": "services"` for it (or for the tenant as a whole). Charges (shipping, fees) are
treated like the goods they come with: incidental costs share the supply's treatment
(Art. 78(b)).

Invoice notes (Art. 226 (11) and (11a)): a row that is exempt or where the customer is liable
for the VAT must refer to the provision (of the Directive, or the national one, "or any other
reference indicating that the supply is exempt or subject to the reverse charge procedure"), and
a reverse charge must say "Reverse charge" in so many words (11a; its official language versions
are "Steuerschuldnerschaft des Leistungsempfängers", "Autoliquidation", "inversione contabile",
"inversión del sujeto pasivo", "Btw verlegd", "odwrotne obciążenie": BMF letter of 25 Oct 2013,
BStBl I 2013 p. 1305; CGI annexe II art. 242 nonies A 13°). `legal_note` writes them in the
document's language, citing the Directive's article: that is valid in every member state
(Art. 226 (11)), whereas a national provision depends on the seller's country, not on the
language. A tenant can give its own reference per tax code (e.g. "§ 4 Nr. 14 UStG").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat as eu_vat
from stdnum.util import clean, get_cc_module

from core.errors import PermanentError
from invoicing.i18n import language_override
from tenants.models import SUPPLY_KINDS, TAX_CODE_CATEGORIES, vat_treatments_problems

if TYPE_CHECKING:
    from invoicing.documents import InvoiceDocument


class VatCategory(models.TextChoices):
    """UNCL5305 VAT category codes as EN 16931 uses them (BT-118, BT-151)."""

    STANDARD = "S", gettext_lazy("Standard rate")
    ZERO_RATED = "Z", gettext_lazy("Zero rated")
    EXEMPT = "E", gettext_lazy("Exempt from VAT")
    REVERSE_CHARGE = "AE", gettext_lazy("Reverse charge")
    INTRA_COMMUNITY = "K", gettext_lazy("Intra-Community supply")
    EXPORT = "G", gettext_lazy("Export outside the EU")
    NOT_SUBJECT = "O", gettext_lazy("Not subject to VAT")


# For operators' messages, in English whatever the document's language.
CATEGORY_NAMES = {
    "S": "standard rate",
    "Z": "zero rated",
    "E": "exempt from VAT",
    "AE": "reverse charge",
    "K": "intra-Community supply",
    "G": "export outside the EU",
    "O": "not subject to VAT",
}

# The categories a tenant may fix per tax code (tenants.models validates against the same list).
assert set(TAX_CODE_CATEGORIES) <= set(VatCategory.values)

GOODS, SERVICES = SUPPLY_KINDS
ZERO = Decimal(0)

# Categories that need the buyer's VAT ID (Art. 226 (4); EN 16931 BR-IC-02, BR-AE-02) and the
# seller's (Art. 226 (3); BR-IC-02, BR-AE-02).
NEEDS_VAT_IDS = frozenset({VatCategory.INTRA_COMMUNITY.value, VatCategory.REVERSE_CHARGE.value})

# EU member states (ISO 3166-1 alpha-2). Greece's VAT IDs use the prefix EL (Art. 215);
# Northern Ireland (XI) belongs to the EU VAT area for goods only (Windsor Framework).
EU_MEMBER_STATES = frozenset(
    {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"}
    | {"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
)
_EU_VAT_PREFIXES = (EU_MEMBER_STATES - {"GR"}) | {"EL", "XI"}
# Non-EU VAT numbers with a format python-stdnum knows as a VAT number; others are not checked
# (a buyer outside the EU needs no VAT ID on the invoice, so none is refused for its form).
_OTHER_VAT_MODULES = {"CH": "vat", "GB": "vat", "NO": "mva"}


def country_code(code: str) -> str:
    """ISO 3166-1 alpha-2, upper case; the VAT prefixes EL and UK read as GR and GB."""
    code = (code or "").strip().upper()
    return {"EL": "GR", "UK": "GB"}.get(code, code)


def in_eu(country: str, *, goods: bool = True) -> bool:
    country = country_code(country)
    return country in EU_MEMBER_STATES or (goods and country == "XI")


# --- VAT IDs -------------------------------------------------------------------------------------
_STDNUM_PROBLEMS: dict[type[Exception], str] = {
    stdnum_errors.InvalidChecksum: "its check digit is wrong",
    stdnum_errors.InvalidLength: "it has the wrong number of characters",
    stdnum_errors.InvalidFormat: "it is not in the format of a VAT ID",
    stdnum_errors.InvalidComponent: "its country prefix or a part of it is unknown",
}


def _compact(vat_id: str) -> str:
    """Without separators, upper case (stdnum's compact refuses a prefix it does not know)."""
    return clean(vat_id, " -./,").upper().strip()


def _prefixed(vat_id: str, country: str) -> str:
    """The VAT ID compacted, with its country prefix (Art. 215) when it has none and one is known."""
    compact = _compact(vat_id)
    country = country_code(country)
    if compact[:2].isalpha():
        return compact
    if country in EU_MEMBER_STATES or country == "XI":
        return ("EL" if country == "GR" else country) + compact
    return compact


def vat_id_problem(vat_id: str, country: str) -> str:
    """What is wrong with a VAT ID's form, "" when nothing is (or it cannot be checked).

    Format and check digit only (python-stdnum, no network): whether the number is registered
    is the VIES question, which an invoice run does not ask. `country` is the buyer's, to read
    a number given without its prefix.
    """
    vat_id = (vat_id or "").strip()
    if not vat_id:
        return ""
    number = _prefixed(vat_id, country)
    prefix = number[:2]
    eu_number = prefix in _EU_VAT_PREFIXES or prefix == "GR"
    try:
        # an EU buyer's VAT ID must be an EU one (a foreign prefix fails as unknown here)
        if eu_number or in_eu(country):
            eu_vat.validate(number)
            if prefix == "GR":
                return f"the VAT ID {vat_id!r} must start with EL, the prefix of Greek VAT IDs (Art. 215)"
            return ""
        module_name = _OTHER_VAT_MODULES.get(country_code(country))
        if module_name is None:
            return ""
        module = get_cc_module(country_code(country).lower(), module_name)
        if module is not None:
            module.validate(vat_id)
        return ""
    except stdnum_errors.ValidationError as exc:
        reason = next(
            (text for kind, text in _STDNUM_PROBLEMS.items() if isinstance(exc, kind)), "it is not valid"
        )
        where = country_code(prefix) if eu_number else country_code(country)
        return f"the VAT ID {vat_id!r} is not a valid {where} VAT ID: {reason}"


def normalize_vat_id(vat_id: str, country: str) -> str:
    """The VAT ID as printed: compact, with its country prefix (e.g. "DE136695976")."""
    vat_id = (vat_id or "").strip()
    if not vat_id:
        return ""
    number = _prefixed(vat_id, country)
    return number if number[:2] in _EU_VAT_PREFIXES else vat_id


def vat_id_country(vat_id: str) -> str:
    """The member state that issued an EU VAT ID (its prefix), "" for any other."""
    prefix = _compact(vat_id or "")[:2]
    return country_code(prefix) if prefix in _EU_VAT_PREFIXES else ""


# --- the mapping --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaxCodeTreatment:
    category: str = ""  # "" = from the rate and the countries; else one of TAX_CODE_CATEGORIES
    supply: str = ""  # GOODS or SERVICES; "" = the mapping's default
    reference: str = ""  # the provision printed with the note, e.g. "Art. 132(1)(c) VAT Directive"


DEFAULT_TAX_CODES: dict[str, TaxCodeTreatment] = {
    "EXEMPT": TaxCodeTreatment(category=VatCategory.EXEMPT.value),
    "NOT_SUBJECT": TaxCodeTreatment(category=VatCategory.NOT_SUBJECT.value),
}


@dataclass(frozen=True)
class VatTreatments:
    """The mapping: the defaults above with the tenant's entries over them (by upper-case code)."""

    tax_codes: Mapping[str, TaxCodeTreatment] = field(default_factory=lambda: dict(DEFAULT_TAX_CODES))
    supply: str = GOODS

    @classmethod
    def from_json(cls, data: Any) -> VatTreatments:
        """From `Tenant.vat_treatments`; PermanentError for a value its validation would refuse."""
        problems = vat_treatments_problems(data)
        if problems:
            raise PermanentError(
                "The tenant's VAT treatments are not valid: " + "; ".join(problems) + ". Correct them "
                "in the console; no invoice was issued and nothing was captured."
            )
        data = data or {}
        codes = dict(DEFAULT_TAX_CODES)
        for code, entry in (data.get("tax_codes") or {}).items():
            codes[str(code).strip().upper()] = TaxCodeTreatment(
                category=entry.get("category", ""),
                supply=entry.get("supply", ""),
                reference=entry.get("reference", "").strip(),
            )
        return cls(tax_codes=codes, supply=data.get("supply", GOODS))

    def for_code(self, tax_code: str) -> TaxCodeTreatment:
        return self.tax_codes.get((tax_code or "").strip().upper(), TaxCodeTreatment())


@dataclass(frozen=True)
class Parties:
    """Who supplies whom, as far as VAT cares."""

    seller_country: str
    buyer_country: str  # the legal entity's country, else the billing address's
    buyer_vat_id: str = ""  # its form checked (vat_id_problem) before the treatment is asked
    destination_country: str = ""  # where goods go: the shipping address's country, else the buyer's


@dataclass(frozen=True)
class Treatment:
    category: str
    reference: str = ""  # the tenant's reference for the note ("" = the Directive's article)
    why: str = ""  # how it was derived, for error messages


class VatTreatmentError(ValueError):
    """A line whose treatment contradicts itself (a fixed category at the wrong rate)."""


def treatment(*, tax_code: str, rate: Decimal, parties: Parties, treatments: VatTreatments) -> Treatment:
    """The VAT category of one row (see the module docstring for the rules)."""
    entry = treatments.for_code(tax_code)
    code = f"tax code {tax_code!r}" if tax_code else "a row without a tax code"
    if entry.category:
        if entry.category == VatCategory.STANDARD and rate <= 0:
            raise VatTreatmentError(
                f"{code} is mapped to S (standard rate) but the order charges {rate}% VAT on it"
            )
        if entry.category != VatCategory.STANDARD and rate != 0:
            raise VatTreatmentError(
                f"{code} is mapped to {entry.category} ({CATEGORY_NAMES[entry.category]}) "
                f"but the order charges {rate}% VAT on it"
            )
        return Treatment(entry.category, entry.reference, f"{code} is mapped to {entry.category}")
    if rate != 0:
        return Treatment(VatCategory.STANDARD.value)
    supply = entry.supply or treatments.supply
    goods = supply == GOODS
    seller = country_code(parties.seller_country)
    where = country_code((parties.destination_country if goods else "") or parties.buyer_country)
    if not where or where == seller:
        return Treatment(
            VatCategory.ZERO_RATED.value, why=f"0% VAT for {supply} supplied in {seller or where}"
        )
    if not seller:
        raise VatTreatmentError(
            f"the seller's country is not set, so the VAT treatment of 0% VAT on {supply} for a buyer "
            f"in {where} cannot be told (intra-Community supply, reverse charge or export)"
        )
    if in_eu(where, goods=goods) and in_eu(seller, goods=goods):
        if goods:
            # Art. 138(1)(b): the buyer identified for VAT in a member state other than the
            # one where the transport begins.
            issued_by = vat_id_country(parties.buyer_vat_id)
            if issued_by == seller:
                raise VatTreatmentError(
                    f"0% VAT on goods to {where} is an intra-Community supply (Art. 138), which needs "
                    f"a buyer VAT ID from a member state other than {seller}; "
                    f"the buyer's {parties.buyer_vat_id} is from {seller}"
                )
            return Treatment(VatCategory.INTRA_COMMUNITY.value, why=f"0% VAT on goods to {where}")
        return Treatment(VatCategory.REVERSE_CHARGE.value, why=f"0% VAT on services to a buyer in {where}")
    if goods:
        return Treatment(VatCategory.EXPORT.value, why=f"0% VAT on goods exported to {where}")
    return Treatment(VatCategory.NOT_SUBJECT.value, why=f"0% VAT on services to a buyer in {where}")


def treatment_problems(
    categories: Mapping[str, str], *, buyer_vat_id: str, seller_vat_id: str, buyer_country: str
) -> list[str]:
    """What an invoice with these categories lacks (VAT IDs), each problem a sentence.

    `categories` maps each category used to why it was chosen.
    """
    problems = []
    for category, why in sorted(categories.items()):
        if category not in NEEDS_VAT_IDS:
            continue
        name = (
            "an intra-Community supply (K, Art. 138)"
            if category == VatCategory.INTRA_COMMUNITY
            else "a reverse charge (AE, Art. 196)"
        )
        because = f" ({why})" if why else ""
        if not buyer_vat_id:
            where = f" in {buyer_country}" if buyer_country else ""
            problems.append(
                f"the invoice is {name}{because} and must state the buyer's VAT ID (Art. 226 (4)), "
                f"but the buyer{where} has none: add it to the order's legal entity, or map the tax "
                "code to another category in the tenant's VAT treatments"
            )
        if not seller_vat_id:
            problems.append(
                f"the invoice is {name}{because} and must state the seller's VAT ID (Art. 226 (3)), "
                "but the seller has none"
            )
    return problems


# --- the notes ------------------------------------------------------------------------------------
# The Directive article each category's note refers to when the tenant gives no reference.
DIRECTIVE_ARTICLES = {
    VatCategory.INTRA_COMMUNITY.value: "138",
    VatCategory.EXPORT.value: "146",
    VatCategory.REVERSE_CHARGE.value: "196",
}


def _note_text(category: str) -> str:
    # Inside a function, so gettext runs with the caller's active language (language_override).
    texts = {
        VatCategory.ZERO_RATED.value: _("Zero-rated supply"),
        VatCategory.EXEMPT.value: _("Exempt from VAT"),
        # Art. 226 (11a): the mention "Reverse charge" itself, as each language version words it
        VatCategory.REVERSE_CHARGE.value: pgettext("VAT note", "Reverse charge"),
        VatCategory.INTRA_COMMUNITY.value: _("Tax-exempt intra-Community supply of goods"),
        VatCategory.EXPORT.value: _("Tax-exempt export of goods"),
        VatCategory.NOT_SUBJECT.value: _("Not subject to VAT"),
    }
    return texts.get(category, "")


def legal_note(category: str, language: str, reference: str = "") -> str:
    """The note an invoice prints for a VAT category, in `language`; "" for S.

    With the article of the VAT Directive it rests on (K: Art. 138, G: Art. 146, AE: Art. 196),
    or the tenant's `reference` for that tax code when it gave one (printed as written).
    """
    with language_override(language):
        note = _note_text(category)
        if not note:
            return ""
        if not reference and category in DIRECTIVE_ARTICLES:
            reference = _("Art. %(article)s VAT Directive") % {"article": DIRECTIVE_ARTICLES[category]}
        return f"{note} \N{EN DASH} {reference}" if reference else note


def document_notes(document: InvoiceDocument) -> list[str]:
    """The VAT notes a document prints, in its language: one per category (and reference) on
    its breakdown, in the breakdown's order, none for S."""
    notes: list[str] = []
    for line in document.tax_breakdown:
        note = legal_note(line.category, document.language, line.reference)
        if note and note not in notes:
            notes.append(note)
    return notes
