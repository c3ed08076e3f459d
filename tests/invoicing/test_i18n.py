"""The customer's language (issue 11): which one, its catalogues, its formats, and the email in it."""

from __future__ import annotations

import ast
import datetime as dt
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from django.utils import translation
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation.template import templatize

from integrations.ports import Address, Seller
from invoicing.deliveries import invoice_email_message
from invoicing.documents import InvoiceDocument, InvoiceRow, TaxBreakdownLine, to_json
from invoicing.i18n import (
    SUPPORTED_LANGUAGES,
    Formats,
    base_language,
    language_override,
    normalize_language,
    resolve_language,
)
from invoicing.models import Invoice

D = Decimal
ROOT = Path(settings.BASE_DIR)
LOCALE = ROOT / "locale"
TRANSLATED = [language for language in SUPPORTED_LANGUAGES if language != "en"]
NBSP, NNBSP = "\u00a0", "\u202f"  # no-break space; narrow no-break space (French grouping)


# --- which language ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("de_DE", "de"),
        ("de-de", "de"),  # the home region adds nothing
        ("de_DE.UTF-8", "de"),  # a POSIX locale name
        ("de-CH", "de-CH"),
        ("de_CH", "de-CH"),
        ("DE-ch", "de-CH"),
        ("de-AT", "de-AT"),
        ("de-CH-1996", "de-CH"),  # variants are ignored
        ("de-XX", "de"),  # a region CLDR does not know
        ("fr_ch", "fr-CH"),
        ("pt_BR", "pt-BR"),  # the catalogue is European Portuguese; Brazil keeps its formats
        ("pt-PT", "pt"),
        ("en-GB", "en"),
        ("en_US", "en-US"),
        ("es-419", "es-419"),
        (" it ", "it"),
        ("ja", "ja"),  # a language, though without catalogues: resolve_language skips it
        ("iw", "he"),  # an old code Babel knows
        ("xx", ""),
        ("und", ""),
        ("klingon", ""),
        ("e", ""),
        ("", ""),
    ],
)
def test_normalize_language(code: str, expected: str) -> None:
    assert normalize_language(code) == expected


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("de_DE", "fr", "en"), "de"),  # the customer's preferred language first
        (("", "fr-CH", "de"), "fr-CH"),  # none: the site's, with its region
        (("xx", "", "it"), "it"),  # neither usable: the tenant's
        (("ja", "zh-TW", ""), "en"),  # no catalogue for any: English
        ((), "en"),
        (("pt_BR",), "pt-BR"),
    ],
)
def test_resolve_language_takes_the_first_supported(candidates: tuple[str, ...], expected: str) -> None:
    assert resolve_language(*candidates) == expected


def test_base_language() -> None:
    assert base_language("DE-ch") == "de"
    assert base_language("xx") == ""


def test_settings_list_the_supported_languages() -> None:
    assert [code for code, _name in settings.LANGUAGES] == list(SUPPORTED_LANGUAGES)
    assert LOCALE in [Path(path) for path in settings.LOCALE_PATHS]
    assert settings.USE_I18N


# --- translations --------------------------------------------------------------------------------
def test_override_translates_and_restores_the_active_language() -> None:
    before = translation.get_language()
    with language_override("de-CH"):  # the region's base catalogue
        assert translation.get_language() == "de"
        assert gettext("Invoice %(number)s") % {"number": "7"} == "Rechnung 7"
    with language_override("fr"):
        assert gettext("Invoice %(number)s") % {"number": "7"} == "Facture 7"
        assert pgettext("VAT note", "Reverse charge") == "Autoliquidation"
    assert translation.get_language() == before


@pytest.mark.parametrize("language", ["", "xx", "ja", "zh-TW", "en", "en-US"])
def test_language_without_catalogue_is_english(language: str) -> None:
    with language_override(language):
        assert translation.get_language() == "en"
        assert gettext("Invoice (draft)") == "Invoice (draft)"


def test_missing_msgid_is_the_english_text() -> None:
    with language_override("pl"):
        assert gettext("A sentence no catalogue has") == "A sentence no catalogue has"


def test_missing_catalogue_falls_back_to_english(tmp_path: Path) -> None:
    """A supported language whose catalogue is gone (not shipped, deleted) is English, not an error."""
    with override_settings(LOCALE_PATHS=[tmp_path]), language_override("de"):
        assert gettext("Paid in cash on delivery.") == "Paid in cash on delivery."


@pytest.mark.parametrize(
    ("language", "days", "expected"),
    [
        ("de", 1, "Zahlbar innerhalb von 1 Tag ab Rechnungsdatum."),
        ("de", 30, "Zahlbar innerhalb von 30 Tagen ab Rechnungsdatum."),
        ("pl", 3, "Płatne w terminie 3 dni od daty wystawienia faktury."),
        ("cs", 1, "Splatné do 1 dne od data vystavení faktury."),
        ("cs", 14, "Splatné do 14 dnů od data vystavení faktury."),
        ("fr", 0, "Payable sous 0 jour à compter de la date de facture."),
    ],
)
def test_plural_forms_follow_the_language(language: str, days: int, expected: str) -> None:
    singular = "Payable within %(days)s day of the invoice date."
    plural = "Payable within %(days)s days of the invoice date."
    with language_override(language):
        assert ngettext(singular, plural, days) % {"days": days} == expected


# --- the catalogues ------------------------------------------------------------------------------
def catalogue(language: str) -> Any:
    with (LOCALE / language / "LC_MESSAGES" / "django.po").open("rb") as handle:
        return read_po(handle, locale=language)


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogue_is_complete_and_its_placeholders_match(language: str) -> None:
    messages = [m for m in catalogue(language) if m.id]
    assert messages
    fuzzy = [m.id for m in messages if m.fuzzy]
    empty = [m.id for m in messages if not all(m.string if isinstance(m.string, tuple) else [m.string])]
    assert fuzzy == []  # a fuzzy guess compiles as English
    assert empty == []
    assert [(m.id, errors) for m, errors in catalogue(language).check()] == []


def test_compiled_catalogues_match_their_sources() -> None:
    """The .mo files are committed with the .po files: `make compile` must have run after an edit."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile_messages.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Where the extraction (make messages) looks, and the calls it reads.
_SOURCE_DIRS = ("config", "console", "jobs", "invoicing", "integrations", "tenants", "core")
_GETTEXT = {"gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}
_PGETTEXT = {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}


def _python_msgids(path: Path) -> set[tuple[str | None, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
            names.update({alias.asname or alias.name: alias.name for alias in node.names})
    found: set[tuple[str | None, str]] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names):
            continue
        function = names[node.func.id]
        strings = [
            a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args
        ]
        if function in _GETTEXT and strings and strings[0]:
            found.add((None, strings[0]))
        elif function in _PGETTEXT and len(strings) > 1 and strings[0] and strings[1]:
            found.add((strings[0], strings[1]))
    return found


def _template_msgids(path: Path) -> set[tuple[str | None, str]]:
    found: set[tuple[str | None, str]] = set()
    literal = r"u?'(?:[^'\\]|\\.)*'"
    for function, args in re.findall(
        rf"\b(n?p?gettext)\(((?:{literal}(?:,\s*)?)+)\)", templatize(path.read_text())
    ):
        strings = [ast.literal_eval(s.lstrip("u")) for s in re.findall(literal, args)]
        found.add(
            (strings[0], strings[1]) if function.startswith(("pgettext", "npgettext")) else (None, strings[0])
        )
    return found


def code_msgids() -> set[tuple[str | None, str]]:
    found: set[tuple[str | None, str]] = set()
    for directory in _SOURCE_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            if "migrations" not in path.parts:
                found |= _python_msgids(path)
    for path in (ROOT / "templates").rglob("*"):
        if path.suffix in {".txt", ".html"}:
            found |= _template_msgids(path)
    return found


def test_every_text_in_the_code_is_in_every_catalogue() -> None:
    """A string marked for translation but missing from a catalogue prints in English: run
    `make messages`, translate, `make compile` (README, "Languages")."""
    wanted = code_msgids()
    assert (None, "Invoice %(number)s for your order %(order)s") in wanted  # the scan finds them
    assert (None, "Kind regards") in wanted
    for language in TRANSLATED:
        have = {
            (m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in catalogue(language) if m.id
        }
        assert sorted(wanted - have, key=str) == [], language


@pytest.mark.parametrize("language", TRANSLATED)
def test_labels_are_translated(language: str) -> None:
    """The invoice's own words read in the language, not in English (a few shared words aside)."""
    with language_override(language):
        assert gettext("Invoice %(number)s") % {"number": "7"} != "Invoice 7"
        assert gettext("Invoice date") != "Invoice date"
        assert gettext("Unit price") != "Unit price"
        assert gettext("Page %(page)s of %(pages)s") % {"page": 1, "pages": 2} not in {"", "Page 1 of 2"}


# --- formats -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "5 Jan 2025"),
        ("en-US", "Jan 5, 2025"),
        ("de", "05.01.2025"),
        ("de-CH", "05.01.2025"),
        ("fr", "5 janv. 2025"),
        ("it", "5 gen 2025"),
        ("es", "5 ene 2025"),
        ("nl", "5 jan 2025"),
        ("pl", "5 sty 2025"),
        ("pt", "05/01/2025"),
        ("pt-BR", "5 de jan. de 2025"),
        ("sv", "5 jan. 2025"),
        ("cs", "5. 1. 2025"),
        ("da", "5. jan. 2025"),
        ("xx", "5 Jan 2025"),  # unknown: English
    ],
)
def test_dates(language: str, expected: str) -> None:
    assert Formats(language).date(dt.date(2025, 1, 5)) == expected


@pytest.mark.parametrize(
    ("language", "number", "money"),
    [
        ("en", "1,234,567.50", "€1,234,567.50"),
        ("de", "1.234.567,50", f"1.234.567,50{NBSP}€"),
        ("de-AT", "1.234.567,50", f"€{NBSP}1.234.567,50"),
        # Swiss grouping (CLDR 48: an ASCII apostrophe), also with more than one group
        ("de-CH", "1'234'567.50", f"EUR{NBSP}1'234'567.50"),
        ("it-CH", "1'234'567.50", f"€{NBSP}1'234'567.50"),
        ("fr-CH", "1'234'567,50", f"1'234'567.50{NBSP}€"),  # amounts take CLDR's currencyDecimal "."
        ("fr", f"1{NNBSP}234{NNBSP}567,50", f"1{NNBSP}234{NNBSP}567,50{NBSP}€"),
        ("it", "1.234.567,50", f"1.234.567,50{NBSP}€"),
        ("es", "1.234.567,50", f"1.234.567,50{NBSP}€"),
        ("nl", "1.234.567,50", f"€{NBSP}1.234.567,50"),
        ("pl", f"1{NBSP}234{NBSP}567,50", f"1{NBSP}234{NBSP}567,50{NBSP}€"),
        ("pt", f"1{NBSP}234{NBSP}567,50", f"1{NBSP}234{NBSP}567,50{NBSP}€"),
        ("sv", f"1{NBSP}234{NBSP}567,50", f"1{NBSP}234{NBSP}567,50{NBSP}€"),
        ("cs", f"1{NBSP}234{NBSP}567,50", f"1{NBSP}234{NBSP}567,50{NBSP}€"),
        ("da", "1.234.567,50", f"1.234.567,50{NBSP}€"),
    ],
)
def test_numbers_and_amounts(language: str, number: str, money: str) -> None:
    formats = Formats(language)
    assert formats.number(D("1234567.5"), 2) == number
    assert formats.money(D("1234567.5"), "EUR") == money


def test_swiss_francs() -> None:
    assert Formats("de-CH").money(D("1234.5"), "CHF") == f"CHF{NBSP}1'234.50"
    assert Formats("de-CH").money(D("1234567.5"), "CHF") == f"CHF{NBSP}1'234'567.50"
    assert Formats("fr-CH").money(D("1234567.5"), "CHF") == f"1'234'567.50{NBSP}CHF"
    assert Formats("de-CH").money(D("-1234.5"), "CHF") == "CHF-1'234.50"


@pytest.mark.parametrize(
    ("currency", "de", "en"),
    [
        ("JPY", f"1.234.568{NBSP}¥", "JP¥1,234,568"),  # 0 decimals, rounded half up
        ("EUR", f"1.234.567,50{NBSP}€", "€1,234,567.50"),
        ("KWD", f"1.234.567,500{NBSP}KWD", "KWD1,234,567.500"),  # 3 decimals
    ],
)
def test_amounts_take_the_currency_minor_unit(currency: str, de: str, en: str) -> None:
    assert Formats("de").money(D("1234567.5"), currency) == de
    assert Formats("en").money(D("1234567.5"), currency) == en


def test_amount_places_rounding_and_size() -> None:
    de = Formats("de")
    assert de.money(D("0.0425"), "EUR", places=4) == f"0,0425{NBSP}€"  # unit prices keep precision
    assert de.money(D("0.125"), "EUR") == f"0,13{NBSP}€"  # half up, as money is rounded elsewhere
    assert de.number(D("2.5"), 0) == "3"
    assert de.money(D("-20"), "EUR") == f"-20,00{NBSP}€"
    assert de.money(D("1000000000000"), "EUR") == f"1.000.000.000.000,00{NBSP}€"
    assert Formats("de-CH").number(D("1000000000000"), 3) == "1'000'000'000'000.000"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("value", [D("0"), D("7.5"), D("-1234.56"), D("987654321.01")])
def test_amounts_agree_with_babel_where_babel_is_right(language: str, value: Decimal) -> None:
    """Formats groups the digits itself (the Swiss workaround); elsewhere that is Babel's text."""
    formats = Formats(language)
    assert formats.money(value, "EUR") == format_currency(value, "EUR", locale=formats.locale)
    assert formats.number(value, 2) == format_decimal(value, "#,##0.00", locale=formats.locale)


@pytest.mark.parametrize(
    ("language", "rate", "expected"),
    [
        ("en", D("19"), "19%"),
        ("de", D("19"), f"19{NBSP}%"),
        ("de", D("7.0"), f"7{NBSP}%"),
        ("de", D("7.7"), f"7,7{NBSP}%"),
        ("de-CH", D("8.1"), "8.1%"),
        ("fr", D("5.5"), f"5,5{NBSP}%"),
        ("it", D("22"), "22%"),
        ("cs", D("21"), f"21{NBSP}%"),
        ("en", D("0"), "0%"),
    ],
)
def test_percent(language: str, rate: Decimal, expected: str) -> None:
    assert Formats(language).percent(rate) == expected


def test_country_names_in_the_language() -> None:
    assert Formats("de").country("FR") == "Frankreich"
    assert Formats("fr").country("de") == "Allemagne"
    assert Formats("en").country("ZZZ") == "ZZZ"


# --- the email -----------------------------------------------------------------------------------
def make_document(language: str, customer_name: str = "Jürgen Müller") -> InvoiceDocument:
    seller = Seller(
        legal_name="Kaffeerösterei Nord GmbH",
        address=Address(street="Friedrichstraße", street_number="123", zip_code="10117", city="Berlin"),
        email="billing@roesterei.example",
    )
    return InvoiceDocument(
        number="RE-2025-000123",
        issue_date=dt.date(2025, 1, 5),
        order_id="ORD-98765",
        order_date=dt.date(2025, 1, 3),
        delivery_date=None,
        currency="EUR",
        seller=seller,
        customer_id="C-4711",
        customer_name=customer_name,
        customer_email="juergen@example.com",
        billing_address=Address(contact_name=customer_name, city="München"),
        shipping_address=None,
        rows=(InvoiceRow("item", "Espresso", D(1), D("1037.00"), D(19), D("1037.00")),),
        tax_breakdown=(TaxBreakdownLine(D(19), D("1037.00"), D("197.03"), D("1234.03")),),
        net_total=D("1037.00"),
        tax_total=D("197.03"),
        gross_total=D("1234.03"),
        payment_note="",
        language=language,
    )


def email_for(document: InvoiceDocument) -> Any:
    name = default_storage.save("invoices/test-i18n.pdf", ContentFile(b"%PDF-1.4\n"))
    invoice = Invoice(
        order_id=document.order_id,
        number=document.number,
        issue_date=document.issue_date,
        customer_email=document.customer_email,
        document=to_json(document),
        pdf=name,
    )
    try:
        return invoice_email_message(invoice)
    finally:
        default_storage.delete(name)


@pytest.mark.parametrize(
    ("language", "subject", "phrases"),
    [
        (
            "en",
            "Invoice RE-2025-000123 for your order ORD-98765",
            [
                "Hello Jürgen Müller,",
                "invoice RE-2025-000123 of 5 Jan 2025",
                "Total: €1,234.03",
                "Kind regards",
            ],
        ),
        (
            "de",
            "Rechnung RE-2025-000123 zu Ihrer Bestellung ORD-98765",
            [
                "Guten Tag Jürgen Müller,",
                "Rechnung RE-2025-000123 vom 05.01.2025",
                f"1.234,03{NBSP}€",
                "Grüßen",
            ],
        ),
        (
            "de-CH",
            "Rechnung RE-2025-000123 zu Ihrer Bestellung ORD-98765",
            [f"EUR{NBSP}1'234.03"],
        ),
        (
            "fr",
            "Facture RE-2025-000123 pour votre commande ORD-98765",
            [
                "Bonjour Jürgen Müller,",
                "facture RE-2025-000123 du 5 janv. 2025",
                f"1{NNBSP}234,03{NBSP}€",
                "Cordialement",
            ],
        ),
        (
            "it",
            "Fattura RE-2025-000123 per il vostro ordine ORD-98765",
            ["Gentile Jürgen Müller,", "Cordiali saluti"],
        ),
        (
            "es",
            "Factura RE-2025-000123 de su pedido ORD-98765",
            ["Hola, Jürgen Müller:", "Saludos cordiales"],
        ),
        (
            "nl",
            "Factuur RE-2025-000123 voor uw bestelling ORD-98765",
            ["Beste Jürgen Müller,", "Met vriendelijke groet"],
        ),
        (
            "pl",
            "Faktura RE-2025-000123 do zamówienia ORD-98765",
            ["Dzień dobry, Jürgen Müller!", "Z poważaniem"],
        ),
        ("pt", "Fatura RE-2025-000123 da sua encomenda ORD-98765", ["Olá, Jürgen Müller,", "de 05/01/2025"]),
        (
            "sv",
            "Faktura RE-2025-000123 för din beställning ORD-98765",
            ["Hej Jürgen Müller,", "Med vänliga hälsningar"],
        ),
        (
            "cs",
            "Faktura RE-2025-000123 k vaší objednávce ORD-98765",
            ["Dobrý den, Jürgen Müller,", "S pozdravem"],
        ),
        (
            "da",
            "Faktura RE-2025-000123 for din ordre ORD-98765",
            ["Kære Jürgen Müller,", "Med venlig hilsen"],
        ),
        ("xx", "Invoice RE-2025-000123 for your order ORD-98765", ["Hello Jürgen Müller,"]),
    ],
)
def test_email_in_the_documents_language(language: str, subject: str, phrases: list[str]) -> None:
    message = email_for(make_document(language))
    assert message.subject == subject
    for phrase in phrases:
        assert phrase in message.body
    if base_language(language) not in {"en", ""}:
        assert "Thank you" not in message.body and "Kind regards" not in message.body
    assert message.attachments[0][0] == "invoice-RE-2025-000123.pdf"
    assert translation.get_language() == "en"  # the block did not leak its language


def test_email_without_customer_name_greets_neutrally() -> None:
    assert email_for(make_document("de", customer_name="")).body.startswith("Guten Tag,\n")
    assert email_for(make_document("en", customer_name="")).body.startswith("Hello,\n")
