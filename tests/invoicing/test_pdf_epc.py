"""The EPC QR code ("GiroCode", EPC069-12): its payload, and what a scanner reads off the page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from invoicing.documents import InvoiceDocument
from invoicing.pdf import render_invoice_pdf
from invoicing.pdf.epc import epc_payload, qr_modules
from tests.invoicing.test_pdf import make_document, make_seller, page_image, pages_text

D = Decimal

EXPECTED = "\n".join(
    [
        "BCD",
        "002",
        "1",
        "SCT",
        "COBADEFFXXX",
        "Kaffeerösterei Nord GmbH",
        "DE89370400440532013000",
        "EUR1336.39",
        "",
        "",
        "RE-2024-000123",
    ]
)


def unpaid(**overrides: Any) -> InvoiceDocument:
    fields: dict[str, Any] = {"amount_due": D("1336.39"), "due_date": None, "paid": False}
    return make_document(**{**fields, **overrides})


def test_payload_has_the_eleven_lines_of_version_002() -> None:
    assert epc_payload(unpaid()) == EXPECTED


def test_qr_code_on_the_page_decodes_to_the_payload_at_level_m() -> None:
    # What a scanner reads off the printed page: rasterised at 150 dpi, decoded by ZXing.
    image = page_image(render_invoice_pdf(unpaid()), dpi=150)

    (result,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)

    assert result.text == EXPECTED
    assert result.ec_level == "M"


def modules_image(modules: list[list[bool]], pixels_per_module: int = 3) -> Image.Image:
    quiet = 4
    side = (len(modules) + 2 * quiet) * pixels_per_module
    image = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                x, y = (c + quiet) * pixels_per_module, (r + quiet) * pixels_per_module
                draw.rectangle((x, y, x + pixels_per_module - 1, y + pixels_per_module - 1), fill=0)
    return image


@pytest.mark.parametrize("seed", range(40))
def test_fixed_mask_codes_decode_for_any_payload(seed: int) -> None:
    # The codes use one mask pattern instead of scoring all eight (see MASK_PATTERN): a reader
    # must still read every payload, whatever runs of modules it happens to produce.
    names = ["Kaffeerösterei Nord GmbH", "Ø" * 70, "a b c", "Société Générale Équipement SARL & Co. KG"]
    payload = epc_payload(
        unpaid(
            amount_due=D(seed * 7919 + 1) / 100,
            number=f"RE-{2024 + seed % 3}-{seed * 104729:09d}" + "/X" * (seed % 20),
            seller=make_seller(legal_name=names[seed % len(names)]),
        )
    )

    (result,) = zxingcpp.read_barcodes(
        modules_image(qr_modules(payload)), formats=zxingcpp.BarcodeFormat.QRCode
    )

    assert result.text == payload


def test_payment_block_names_holder_iban_amount_and_reference() -> None:
    text = " ".join(pages_text(render_invoice_pdf(unpaid())))

    assert "Bank details" in text
    assert "Account holder: Kaffeerösterei Nord GmbH" in text
    assert "IBAN: DE89 3704 0044 0532 0130 00" in text
    assert "Amount due: €1,336.39" in text
    assert "Payment reference: RE-2024-000123" in text
    assert "Scan to pay with your banking app" in text


def test_payload_keeps_the_bic_optional_and_compacts_the_iban() -> None:
    document = unpaid(seller=make_seller(bic="", iban="de89 3704 0044 0532 0130 00"))

    lines = epc_payload(document).split("\n")

    assert lines[4] == ""
    assert lines[6] == "DE89370400440532013000"


def test_payload_cuts_the_name_to_70_characters() -> None:
    document = unpaid(seller=make_seller(legal_name="Ä" * 100))

    assert epc_payload(document).split("\n")[5] == "Ä" * 70


@pytest.mark.parametrize(
    "overrides",
    [
        {"paid": True, "amount_due": D(0)},  # nothing to pay
        {"amount_due": None},  # an old document without the field
        {"amount_due": D("0.00")},
        {"amount_due": D("1000000000.00")},  # above what a SEPA QR code may ask for
        {"currency": "USD"},  # SEPA credit transfers are in euro
        {"number": ""},  # a draft: no reference to quote
        {"seller": make_seller(iban="")},
    ],
)
def test_no_code_where_there_is_no_euro_amount_due_by_transfer(overrides: dict[str, Any]) -> None:
    document = unpaid(**overrides)

    assert epc_payload(document) == ""
    assert "Scan to pay" not in " ".join(pages_text(render_invoice_pdf(document)))
