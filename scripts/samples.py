"""Renders the sample invoices to var/samples/: a PDF and a PNG per page, for people to look at.

Usage: make samples   (or: .venv/bin/python scripts/samples.py [name-filter])

A fixed set of cases, built as documents directly (no database, no orders): every language, every
script, every VAT treatment, huge amounts in 0-, 2- and 3-decimal currencies, a 66-line invoice
and overlong names; and credit notes (`credit-`): a German cancellation ("Stornorechnung"), a
partial one in English, a goodwill credit in French, one in every language and one with an
Arabic reason. The pictures are for reviewers; tests check the text layer and the numbers
(tests/invoicing/test_pdf*.py). Pages are rasterised with poppler's pdftoppm
(scripts/ensure-fonts installs it with the fonts).
"""

# ruff: noqa: RUF001 -- names, addresses and products in every script, by design

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.utils.translation import gettext as _  # noqa: E402
from django.utils.translation import ngettext  # noqa: E402

from core.money import currency_exponent  # noqa: E402
from integrations.ports import Address, Seller  # noqa: E402
from invoicing.documents import (  # noqa: E402
    CREDIT_NOTE,
    PAY_BACK,
    REFUNDED,
    ForeignCurrencyVat,
    InvoiceDocument,
    InvoiceRow,
    TaxBreakdownLine,
)
from invoicing.i18n import language_override  # noqa: E402
from invoicing.pdf import render_invoice_pdf  # noqa: E402

OUT = Path(os.environ.get("VAR_DIR", ROOT / "var")) / "samples"
DPI = "70"
D = Decimal
ISSUED = dt.date(2026, 3, 16)

SELLER = Seller(
    legal_name="Kaffeerösterei Nord GmbH",
    address=Address(
        street="Friedrichstraße", street_number="123", zip_code="10117", city="Berlin", country="DE"
    ),
    vat_id="DE123456789",
    tax_number="37/123/45678",
    iban="DE89370400440532013000",
    bic="COBADEFFXXX",
    email="billing@roesterei.example",
    phone="+49 30 1234567",
    website="roesterei.example",
    currency="EUR",
)

# (description, quantity, unit price, VAT rate, VAT category, SKU)
Item = tuple[str, str, str, str, str, str]
COFFEE: list[Item] = [
    ("Espresso machine Barista Pro", "1", "1099.00", "19", "S", "ESP-1"),
    ("Coffee beans, whole, 1 kg", "3", "14.50", "7", "S", "BEAN-1000"),
    ("Shipping (DHL parcel)", "1", "4.90", "19", "S", ""),
]


def _round(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-currency_exponent(currency)), rounding=ROUND_HALF_UP)


def build(
    items: list[Item],
    *,
    language: str = "en",
    currency: str = "EUR",
    seller: Seller = SELLER,
    billing: Address,
    customer_name: str = "",
    buyer_legal_name: str = "",
    buyer_vat_id: str = "",
    buyer_country: str = "",
    gross: bool = False,
    paid: bool = False,
    fx: tuple[str, str] | None = None,  # (rate, seller currency)
    shipping: Address | None = None,
    number: str = "RE-2026-000042",
) -> InvoiceDocument:
    """A document whose figures add up: rows, the breakdown per rate and category, the totals."""
    rows: list[InvoiceRow] = []
    bases: dict[tuple[Decimal, str], Decimal] = {}
    for description, quantity, price, rate, category, sku in items:
        q, p, r = D(quantity), D(price), D(rate)
        if gross:
            row_gross = _round(q * p, currency)
            net = _round(row_gross / (1 + r / 100), currency)
            rows.append(InvoiceRow("item", description, q, net / q, r, net, sku, p, row_gross, category))
            bases[(r, category)] = bases.get((r, category), D(0)) + row_gross
        else:
            net = _round(q * p, currency)
            rows.append(InvoiceRow("item", description, q, p, r, net, sku, vat_category=category))
            bases[(r, category)] = bases.get((r, category), D(0)) + net
    breakdown = []
    for (percent, category), base in bases.items():
        if gross:
            net = _round(base / (1 + percent / 100), currency)
            breakdown.append(TaxBreakdownLine(percent, net, base - net, base, category))
        else:
            tax = _round(base * percent / 100, currency)
            breakdown.append(TaxBreakdownLine(percent, base, tax, base + tax, category))
    net_total = sum((b.net for b in breakdown), D(0))
    tax_total = sum((b.tax for b in breakdown), D(0))
    gross_total = net_total + tax_total
    with language_override(language):
        if paid:
            note = _("Paid by card. The amount has been charged to your payment method; nothing left to pay.")
        else:
            note = " ".join(
                [
                    # the recalculation's own wording (invoicing.recalculation), as the catalogues hold it
                    ngettext(
                        "Payable within %(days)s day of the invoice date.",
                        "Payable within %(days)s days of the invoice date.",
                        14,
                    )
                    % {"days": 14},
                    _("Please quote the invoice number as the payment reference."),
                ]
            )
    foreign = None
    if fx is not None:
        exchange, own = D(fx[0]), fx[1]
        foreign = ForeignCurrencyVat(
            own, exchange, ISSUED - dt.timedelta(days=1), _round(tax_total * exchange, own), "ECB"
        )
    return InvoiceDocument(
        number=number,
        issue_date=ISSUED,
        order_id="ORD-98765",
        order_date=ISSUED - dt.timedelta(days=4),
        delivery_date=ISSUED - dt.timedelta(days=2),
        currency=currency,
        seller=seller,
        customer_id="C-4711",
        customer_name=customer_name,
        customer_email="buyer@example.com",
        billing_address=billing,
        shipping_address=shipping,
        rows=tuple(rows),
        tax_breakdown=tuple(breakdown),
        net_total=net_total,
        tax_total=tax_total,
        gross_total=gross_total,
        payment_note=note,
        language=language,
        buyer_legal_name=buyer_legal_name,
        buyer_vat_id=buyer_vat_id,
        buyer_country=buyer_country,
        due_date=None if paid else ISSUED + dt.timedelta(days=14),
        paid=paid,
        amount_due=_round(D(0), currency) if paid else gross_total,
        prices_gross=gross,
        foreign_currency_vat=foreign,
    )


def credit_note(
    invoice: InvoiceDocument,
    *,
    reason: str,
    refund: str,
    cancels: bool = False,
    number: str = "GS-2026-000007",
) -> InvoiceDocument:
    """The invoice's document credited as a whole (`invoice` is what is credited: for a partial
    credit note, build it from the credited rows only), as invoicing.credit_notes makes it."""
    return dataclasses.replace(
        invoice,
        document_type=CREDIT_NOTE,
        number=number,
        issue_date=ISSUED + dt.timedelta(days=9),
        preceding_invoice_number=invoice.number,
        preceding_invoice_date=invoice.issue_date,
        credit_reason=reason,
        refund=refund,
        cancels_invoice=cancels,
        paid=False,
        amount_due=None,
        due_date=None,
        payment_days=None,
        payment_note="",
    )


def munich(name: str = "Jürgen Müller") -> Address:
    return Address(
        contact_name=name,
        street="Hauptstraße",
        street_number="5",
        zip_code="80331",
        city="München",
        country="DE",
    )


# --- the cases ---------------------------------------------------------------------------------
LANGUAGE_BUYERS = {
    "de": ("Müller Kaffeehandel KG", munich("Jürgen Müller"), "DE811111111"),
    "fr": (
        "Café de la Gare SARL",
        Address(
            contact_name="Amélie Poulain",
            street="Rue Lepic",
            street_number="15",
            zip_code="75018",
            city="Paris",
            country="FR",
        ),
        "FR40303265045",
    ),
    "it": (
        "Torrefazione Rossi S.r.l.",
        Address(
            contact_name="Giulia Rossi",
            street="Via Roma",
            street_number="10",
            zip_code="00184",
            city="Roma",
            country="IT",
        ),
        "IT00743110157",
    ),
    "es": (
        "Cafés Tostados García S.L.",
        Address(
            contact_name="Lucía García",
            street="Calle Mayor",
            street_number="3",
            zip_code="28013",
            city="Madrid",
            country="ES",
        ),
        "ESB12345674",
    ),
    "nl": (
        "Koffiebranderij De Vries B.V.",
        Address(
            contact_name="Sanne de Vries",
            street="Damrak",
            street_number="1",
            zip_code="1012 LG",
            city="Amsterdam",
            country="NL",
        ),
        "NL004495445B01",
    ),
    "pl": (
        "Palarnia Kawy Kowalski sp. z o.o.",
        Address(
            contact_name="Zofia Kowalska",
            street="ul. Marszałkowska",
            street_number="84",
            zip_code="00-514",
            city="Warszawa",
            country="PL",
        ),
        "PL5260250995",
    ),
    "pt": (
        "Torrefação Silva Lda.",
        Address(
            contact_name="João Silva",
            street="Rua Augusta",
            street_number="27",
            zip_code="1100-048",
            city="Lisboa",
            country="PT",
        ),
        "PT501964843",
    ),
    "sv": (
        "Kafferosteriet Andersson AB",
        Address(
            contact_name="Åsa Andersson",
            street="Drottninggatan",
            street_number="7",
            zip_code="111 51",
            city="Stockholm",
            country="SE",
        ),
        "SE556677889901",
    ),
    "cs": (
        "Pražírna Novák s.r.o.",
        Address(
            contact_name="Jiří Novák",
            street="Václavské náměstí",
            street_number="1",
            zip_code="110 00",
            city="Praha",
            country="CZ",
        ),
        "CZ12345679",
    ),
    "da": (
        "Kafferisteriet Jensen ApS",
        Address(
            contact_name="Søren Jensen",
            street="Strøget",
            street_number="12",
            zip_code="1160",
            city="København K",
            country="DK",
        ),
        "DK13585628",
    ),
    "de-CH": (
        "Kaffeehaus Zürich AG",
        Address(
            contact_name="Urs Meier",
            street="Bahnhofstrasse",
            street_number="1",
            zip_code="8001",
            city="Zürich",
            country="CH",
        ),
        "CHE-123.456.788 MWST",
    ),
}

SCRIPTS: dict[str, tuple[str, str, Address, list[str]]] = {
    # name: (language of the labels, buyer company, address, product names)
    "greek": (
        "en",
        "Καφεκοπτεία Παπαδόπουλος Α.Ε.",
        Address(
            contact_name="Αλέξανδρος Παπαδόπουλος",
            street="Οδός Ερμού",
            street_number="25",
            zip_code="105 63",
            city="Αθήνα",
            country="GR",
        ),
        ["Κόκκοι καφέ, 1 κιλό", "Μηχανή εσπρέσο"],
    ),
    "cyrillic": (
        "en",
        "ООО «Кофейня Иванов»",
        Address(
            contact_name="Дмитрий Иванов",
            street="Тверская улица",
            street_number="7",
            zip_code="125009",
            city="Москва",
            country="BG",
        ),
        ["Кофе в зёрнах, 1 кг", "Эспрессо-машина"],
    ),
    "chinese": (
        "en",
        "北京咖啡贸易有限公司",
        Address(
            contact_name="王小明",
            street="朝阳区建国路",
            street_number="88号",
            zip_code="100022",
            city="北京市",
            country="CN",
        ),
        ["咖啡豆（整豆）1公斤", "意式浓缩咖啡机"],
    ),
    "japanese": (
        "en",
        "株式会社東京コーヒー",
        Address(
            contact_name="山田 太郎",
            street="渋谷区神南",
            street_number="1-2-3",
            zip_code="150-0041",
            city="東京都",
            country="JP",
        ),
        ["コーヒー豆（ホール）1キロ", "エスプレッソマシン"],
    ),
    "korean": (
        "en",
        "서울커피무역 주식회사",
        Address(
            contact_name="김민수",
            street="강남구 테헤란로",
            street_number="152",
            zip_code="06236",
            city="서울특별시",
            country="KR",
        ),
        ["원두 커피 1킬로그램", "에스프레소 머신"],
    ),
    "arabic": (
        "en",
        "شركة النور للتجارة ذ.م.م",
        Address(
            contact_name="محمد العلي",
            street="شارع الشيخ زايد",
            street_number="12",
            zip_code="00000",
            city="دبي",
            country="AE",
        ),
        ["حبوب البن الكاملة 1 كغ", "آلة إسبريسو Barista Pro 2000"],
    ),
    "hebrew": (
        "en",
        "קפה ירושלים בע״מ",
        Address(
            contact_name="דוד כהן",
            street="רחוב יפו",
            street_number="97",
            zip_code="9434001",
            city="ירושלים",
            country="IL",
        ),
        ["פולי קפה שלמים 1 ק״ג", "מכונת אספרסו Barista Pro"],
    ),
    "thai": (
        "en",
        "บริษัท กาแฟกรุงเทพ จำกัด",
        Address(
            contact_name="สมชาย ใจดี",
            street="ถนนสุขุมวิท",
            street_number="99",
            zip_code="10110",
            city="กรุงเทพมหานคร",
            country="TH",
        ),
        ["เมล็ดกาแฟคั่ว 1 กิโลกรัม", "เครื่องชงเอสเพรสโซ"],
    ),
    "devanagari": (
        "en",
        "मुंबई कॉफ़ी ट्रेडर्स प्राइवेट लिमिटेड",
        Address(
            contact_name="राहुल शर्मा",
            street="मरीन ड्राइव",
            street_number="21",
            zip_code="400020",
            city="मुंबई",
            country="IN",
        ),
        ["कॉफ़ी बीन्स 1 किलो", "एस्प्रेसो मशीन"],
    ),
    "mixed": (
        "de",
        "Müller & 北京 Trading GmbH",
        Address(
            contact_name="Zoë Ćwikła / שרה לוי / سارة",
            street="Königsallee",
            street_number="1",
            zip_code="40212",
            city="Düsseldorf",
            country="DE",
        ),
        [
            "Kaffee 咖啡 قهوة קפה кофе καφές 커피 コーヒー กาแฟ कॉफ़ी",
            "Tasse „Berlin“ – 12 × 0,25 l – مقاس 12 cm",
        ],
    ),
}


def cases() -> Iterator[tuple[str, Callable[[], InvoiceDocument]]]:
    yield "en-net-unpaid", functools.partial(build, COFFEE, billing=munich(), customer_name="Jürgen Müller")
    for language, (company, address, vat_id) in LANGUAGE_BUYERS.items():
        domestic = address.country == "DE"
        category, rate = ("S", "19") if domestic else (("K", "0") if address.country != "CH" else ("G", "0"))
        items = [(d, q, p, rate if category != "S" else r, category, s) for d, q, p, r, _c, s in COFFEE]
        currency = "CHF" if language == "de-CH" else "EUR"
        yield (
            f"lang-{language}",
            functools.partial(
                build,
                items,
                language=language,
                currency=currency,
                billing=dataclasses.replace(address, company_name=company),
                customer_name=address.contact_name,
                buyer_legal_name=company,
                buyer_vat_id=vat_id,
                buyer_country=address.country,
            ),
        )
    vat_cases = {
        "S": (
            "de",
            munich(),
            "",
            [("Kaffeemaschine", "1", "499.00", "19", "S", ""), ("Kaffee, 500 g", "2", "8.95", "7", "S", "")],
        ),
        "Z": (
            "en",
            Address(
                company_name="Sea Freight Ltd",
                street="Dock Road",
                street_number="4",
                zip_code="20457",
                city="Hamburg",
                country="DE",
            ),
            "DE811111111",
            [("Supplies for a seagoing vessel", "10", "45.00", "0", "Z", "")],
        ),
        "E": (
            "de",
            Address(
                company_name="Praxis Dr. Weiß",
                street="Lindenweg",
                street_number="2",
                zip_code="10115",
                city="Berlin",
                country="DE",
            ),
            "",
            [("Kaffeeseminar (Bildungsleistung)", "1", "350.00", "0", "E", "")],
        ),
        "AE": (
            "fr",
            LANGUAGE_BUYERS["fr"][1],
            "FR40303265045",
            [("Maintenance contract, espresso machines", "12", "80.00", "0", "AE", "")],
        ),
        "K": (
            "pl",
            LANGUAGE_BUYERS["pl"][1],
            "PL5260250995",
            [("Kawa ziarnista, 1 kg", "40", "13.20", "0", "K", "BEAN-1000")],
        ),
        "G": (
            "en",
            Address(
                company_name="Coffee Imports Inc.",
                street="5th Avenue",
                street_number="350",
                zip_code="NY 10118",
                city="New York",
                country="US",
            ),
            "",
            [("Roasting drum, stainless steel", "1", "2400.00", "0", "G", "RD-9")],
        ),
        "O": (
            "en",
            Address(
                company_name="Kaffee Zürich AG",
                street="Bahnhofstrasse",
                street_number="1",
                zip_code="8001",
                city="Zürich",
                country="CH",
            ),
            "CHE-123.456.788 MWST",
            [("Online barista course (services)", "3", "120.00", "0", "O", "")],
        ),
    }
    for category, (language, address, vat_id, items) in vat_cases.items():
        company = address.company_name or "Müller Kaffeehandel KG"
        yield (
            f"vat-{category}",
            functools.partial(
                build,
                items,
                language=language,
                billing=dataclasses.replace(address, company_name=company),
                buyer_legal_name=company,
                buyer_vat_id=vat_id,
                buyer_country=address.country,
            ),
        )
    for script, (language, company, address, products) in SCRIPTS.items():
        items = [
            (products[0], "3", "14.50", "19", "S", "BEAN-1000"),
            (products[1], "1", "1099.00", "19", "S", "ESP-1"),
        ]
        yield (
            f"script-{script}",
            functools.partial(
                build,
                items,
                language=language,
                billing=dataclasses.replace(address, company_name=company),
                customer_name=address.contact_name,
                buyer_legal_name=company,
            ),
        )
    for currency in ("JPY", "EUR", "KWD"):
        places = currency_exponent(currency)
        huge = str(D(10) ** 12 - D(1).scaleb(-places)) if places else str(D(10) ** 12 - 1)
        items = [
            ("Office building, Frankfurt", "1", huge, "19", "S", "B-1"),
            ("Screws", "999999", "0.0333" if places else "3", "19", "S", "S-1"),
        ]
        yield (
            f"amounts-{currency}",
            functools.partial(build, items, currency=currency, billing=munich()),
        )
    long_items = [
        (
            f"Catalogue article {i}: " + "roasted coffee, " * (i % 4),
            str(1 + i % 5),
            f"{3 + i % 7}.{i % 100:02d}",
            "19" if i % 3 else "7",
            "S",
            f"ART-{i:04d}",
        )
        for i in range(1, 67)
    ]
    yield "long-66-lines", functools.partial(build, long_items, billing=munich())
    yield (
        "long-66-lines-gross",
        functools.partial(build, long_items, billing=munich(), gross=True, paid=True, language="de"),
    )
    long_seller = dataclasses.replace(
        SELLER,
        legal_name="Internationale Kaffeerösterei, Teehandels- und Gastronomiebedarfsgesellschaft Nord-Ost mit beschränkter Haftung & Co. Kommanditgesellschaft auf Aktien",
        address=Address(
            street="Friedrich-Wilhelm-von-Steuben-Straße-und-Allee",
            street_number="123a-125c",
            zip_code="10117",
            city="Berlin-Mitte-Tiergarten",
            country="DE",
        ),
        email="rechnungswesen.buchhaltung.nord-ost@kaffeeroesterei-und-teehandel.example",
    )
    yield (
        "long-names",
        functools.partial(
            build,
            [
                (
                    "Vollautomatische Siebträger-Espressomaschine mit Doppelkesselsystem, PID-Temperaturregelung, Rotationspumpe, Festwasseranschluss und "
                    + "Dampflanze " * 12,
                    "1",
                    "3499.00",
                    "19",
                    "S",
                    "ESPRESSO-MASCHINE-DOPPELKESSEL-PID-2026-EDITION",
                )
            ],
            seller=long_seller,
            language="de",
            billing=Address(
                company_name="Gemeinnützige Stiftung zur Förderung der Kaffeekultur in Mittel-, Ost- und Südosteuropa",
                contact_name="Prof. Dr. Dr. h. c. mult. Maximiliane Wilhelmine von Hohenzollern-Sigmaringen",
                street="Wilhelmstraße",
                street_number="1",
                extra_lines=("Gebäude C, 4. Obergeschoss, Raum 4.117", "Postfach 12 34 56"),
                zip_code="10117",
                city="Berlin",
                country="AT",
            ),
            customer_name="Maximiliane von Hohenzollern-Sigmaringen",
            buyer_legal_name="Gemeinnützige Stiftung zur Förderung der Kaffeekultur in Mittel-, Ost- und Südosteuropa",
            shipping=Address(
                contact_name="Lager Ost",
                street="Hafenstraße",
                street_number="9",
                zip_code="1020",
                city="Wien",
                country="AT",
            ),
        ),
    )
    yield (
        "gross-b2c",
        functools.partial(
            build,
            [
                ("Filter coffee, 250 g", "7", "4.20", "7", "S", ""),
                ("Sample sachet", "33", "0.04", "7", "S", ""),
                ("Gift mug", "1", "19.99", "19", "S", ""),
            ],
            gross=True,
            paid=True,
            language="de",
            billing=munich("Erika Mustermann"),
            customer_name="Erika Mustermann",
        ),
    )
    yield "fx-usd", functools.partial(build, COFFEE, currency="USD", fx=("0.9234", "EUR"), billing=munich())
    yield "paid-card", functools.partial(build, COFFEE, paid=True, billing=munich())
    yield from credit_note_cases()


def credit_note_cases() -> Iterator[tuple[str, Callable[[], InvoiceDocument]]]:
    def case(
        invoice: Callable[[], InvoiceDocument], *, reason: str, refund: str, cancels: bool = False
    ) -> Callable[[], InvoiceDocument]:
        return lambda: credit_note(invoice(), reason=reason, refund=refund, cancels=cancels)

    german = LANGUAGE_BUYERS["de"]
    yield (
        "credit-de-cancellation",
        case(
            functools.partial(
                build,
                COFFEE,
                language="de",
                billing=dataclasses.replace(german[1], company_name=german[0]),
                customer_name=german[1].contact_name,
                buyer_legal_name=german[0],
                buyer_vat_id=german[2],
                buyer_country="DE",
            ),
            reason="Bestellung storniert: Rechnung an die falsche Gesellschaft gestellt",
            refund=PAY_BACK,
            cancels=True,
        ),
    )
    yield (
        "credit-en-partial",
        case(
            # what is credited: 2 of the invoice's 3 bags
            functools.partial(
                build,
                [("Coffee beans, whole, 1 kg", "2", "14.50", "7", "S", "BEAN-1000")],
                billing=munich(),
                customer_name="Jürgen Müller",
                paid=True,
            ),
            reason="2 of 3 bags returned: damaged in transit",
            refund=REFUNDED,
        ),
    )
    french = LANGUAGE_BUYERS["fr"]
    yield (
        "credit-fr-goodwill",
        case(
            functools.partial(
                build,
                [("Geste commercial (livraison en retard)", "1", "25.00", "19", "S", "")],
                language="fr",
                billing=french[1],
                customer_name=french[1].contact_name,
                paid=True,
            ),
            reason="Geste commercial : livraison avec cinq jours de retard",
            refund=REFUNDED,
        ),
    )
    for language, (company, address, vat_id) in LANGUAGE_BUYERS.items():
        yield (
            f"credit-lang-{language}",
            case(
                functools.partial(
                    build,
                    [COFFEE[0]],
                    language=language,
                    currency="CHF" if language == "de-CH" else "EUR",
                    billing=dataclasses.replace(address, company_name=company),
                    customer_name=address.contact_name,
                    buyer_legal_name=company,
                    buyer_vat_id=vat_id,
                    buyer_country=address.country,
                ),
                reason="Espresso machine returned within 14 days",
                refund=REFUNDED if language in {"de", "fr", "it", "es", "nl"} else PAY_BACK,
                cancels=language == "de-CH",
            ),
        )
    arabic = SCRIPTS["arabic"]
    yield (
        "credit-script-arabic",
        case(
            functools.partial(
                build,
                [(arabic[3][1], "1", "1099.00", "19", "S", "ESP-1")],
                billing=dataclasses.replace(arabic[2], company_name=arabic[1]),
                customer_name=arabic[2].contact_name,
                buyer_legal_name=arabic[1],
            ),
            reason="تم إرجاع آلة Barista Pro 2000 خلال 14 يومًا",
            refund=REFUNDED,
        ),
    )


def main() -> None:
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        sys.exit("samples: pdftoppm is missing (poppler-utils); run scripts/ensure-fonts")
    if not pattern and OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in cases():
        if pattern not in name:
            continue
        document = make()
        start = time.perf_counter()
        data = render_invoice_pdf(document)
        elapsed = time.perf_counter() - start
        pdf = OUT / f"{name}.pdf"
        pdf.write_bytes(data)
        for old in OUT.glob(f"{name}-*.png"):
            old.unlink()
        subprocess.run([pdftoppm, "-r", DPI, "-png", str(pdf), str(OUT / name)], check=True)
        pages = len(list(OUT.glob(f"{name}-*.png")))
        print(f"{name:24} {pages} page(s) {len(data) / 1024:6.1f} KiB {elapsed * 1000:6.0f} ms")
    print(f"samples: {OUT}")


if __name__ == "__main__":
    main()
