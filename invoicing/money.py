"""Money is Decimal, rounded half-up to the currency's minor unit (ISO 4217 exponent)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Currencies whose minor unit is not 1/100. Everything else has two decimals.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


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
