"""Money is Decimal, rounded half-up to the currency's minor unit (ISO 4217 exponent).

The currency table is ISO 4217 "list one" (current currency and funds codes) as published by
its maintenance agency, SIX Financial Information, on 2026-01-01:
https://www.six-group.com/dam/download/financial-information/data-center/iso-currrency/lists/list-one.xml
Codes withdrawn before that date (HRK, SLL, ZWL, BGN, ANG, CUC, ...) are not in it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def _codes(text: str) -> list[str]:
    return text.split()


# CcyMnrUnts per alphabetic code. Every active code is listed, so a code missing here is not an
# ISO 4217 currency (e.g. "XYZ").
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"), 0),
    **dict.fromkeys(
        _codes(
            "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
            "CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
            "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK "
            "LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO "
            "NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS "
            "SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST "
            "XAD XCD XCG YER ZAR ZMW ZWG"
        ),
        2,
    ),
    **dict.fromkeys(_codes("BHD IQD JOD KWD LYD OMR TND"), 3),
    **dict.fromkeys(_codes("CLF UYW"), 4),
}

# Codes in list one whose minor unit is "N.A.": precious metals, bond-market and other units of
# account, the testing code and "no currency". No amount can be invoiced or captured in them.
NO_MINOR_UNIT = frozenset(_codes("XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX"))

DEFAULT_EXPONENT = 2


def is_invoice_currency(currency: str) -> bool:
    """True for an active ISO 4217 code (upper case) that has a minor unit."""
    return currency in _EXPONENTS


def currency_exponent(currency: str) -> int:
    """The ISO 4217 minor unit of a code; 2 for a code that has none (orders refuse those)."""
    return _EXPONENTS.get(currency.upper(), DEFAULT_EXPONENT)


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def round_money(amount: Decimal | int | str, currency: str) -> Decimal:
    return Decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def to_decimal(value: object, default: Decimal | None = None) -> Decimal:
    """A JSON number (float, int or str) as an exact Decimal: floats go through repr, not binary."""
    if value is None or value == "":
        if default is None:
            raise ValueError("a number is missing")
        return default
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def money_text(amount: Decimal | int | str | None, currency: str, *, grouped: bool = False) -> str:
    """An amount as messages and the console show it: "1234.50 EUR" (grouped: "1,234.50 EUR").

    Rounded to the currency's minor unit; None (no amount yet) is "-". The PDF formats amounts
    for the customer's locale instead (invoicing.pdf).
    """
    if amount is None:
        return "-"
    rounded = round_money(amount, currency or "EUR")
    return f"{rounded:,} {currency}" if grouped else f"{rounded} {currency}"
