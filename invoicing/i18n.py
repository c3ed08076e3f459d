"""The customer's language: which one it is, its translations, and how it writes dates and amounts.

- `resolve_language(customer, site, tenant)` picks the first code whose language has catalogues
  (`SUPPORTED_LANGUAGES`), keeping its region ("de-CH"); nothing usable gives English.
- `language_override(language)` makes Django's gettext translate into it for a block. Texts are
  plain gettext with the English text as msgid (locale/<lang>/LC_MESSAGES/django.po); a missing
  catalogue or msgid gives the English text, never an error.
- `Formats(language)` writes dates, numbers, amounts and percentages as the language and region
  do, from CLDR data through Babel: "1.234,50 €" (de), "1 234,50 €" (fr, narrow no-break
  space), "CHF 1'234.50" (de-CH).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date
from babel.numbers import NumberPattern
from django.utils import translation

from core.money import currency_exponent

__all__ = [
    "FALLBACK_LANGUAGE",
    "HOME_REGIONS",
    "SUPPORTED_LANGUAGES",
    "Formats",
    "base_language",
    "language_override",
    "normalize_language",
    "resolve_language",
]

# The languages with catalogues under locale/ (settings.LANGUAGES lists the same).
SUPPORTED_LANGUAGES = ("en", "de", "fr", "it", "es", "nl", "pl", "pt", "sv", "cs", "da")
FALLBACK_LANGUAGE = "en"

# The region whose conventions a bare language code formats with. The catalogues are written
# for these (European Portuguese with "IVA" and "NIF", British English), so a code naming this
# region says nothing more and is shortened ("de-DE" -> "de", "pt-PT" -> "pt"), while another
# region is kept ("de-CH", "pt-BR", "en-US"). CLDR's own default would be Brazil for "pt" and
# the United States for "en"; other languages use CLDR's likely region.
HOME_REGIONS = {
    "en": "GB",
    "de": "DE",
    "fr": "FR",
    "it": "IT",
    "es": "ES",
    "nl": "NL",
    "pl": "PL",
    "pt": "PT",
    "sv": "SE",
    "cs": "CZ",
    "da": "DK",
}

# BCP 47 / POSIX shapes: language, optional script, optional region (two letters or a UN M.49
# number such as 419), anything after that (variants, extensions) ignored. Lower-cased first.
_TAG = re.compile(
    r"(?P<language>[a-z]{2,3})(?:-(?P<script>[a-z]{4}))?(?:-(?P<region>[a-z]{2}|\d{3}))?(?:-.*)?"
)


def _babel_locale(identifier: str) -> Locale | None:
    try:
        return Locale.parse(identifier)
    except (UnknownLocaleError, ValueError):
        return None


def _home_region(language: str) -> str:
    if language in HOME_REGIONS:
        return HOME_REGIONS[language]
    likely = get_global("likely_subtags").get(language, "")
    parts = likely.split("_")
    return parts[-1] if len(parts) > 1 and parts[-1].isupper() else ""


def normalize_language(code: str) -> str:
    """A language code as `ll`, `ll-CC` or `ll-Ssss-CC`; "" when it is empty or names no language.

    Understands "de", "DE", "de_DE", "de-de", "de_DE.UTF-8", "de-CH", "DE-ch" and "pt_BR". The
    region is kept when it changes something ("de-CH") and dropped when it is the language's home
    region (`HOME_REGIONS`: "de-DE" -> "de") or has no CLDR data ("de-XX" -> "de").
    """
    text = (code or "").strip().split(".")[0].split("@")[0].replace("_", "-").lower()
    match = _TAG.fullmatch(text)
    if match is None or match["language"] == "und":
        return ""
    base = _babel_locale(match["language"])
    if base is None:
        return ""
    parts = [base.language]  # Babel resolves old codes: "iw" -> "he"
    if match["script"] and _babel_locale(f"{base.language}_{match['script'].title()}") is not None:
        parts.append(match["script"].title())
    region = (match["region"] or "").upper()
    if region and region != _home_region(base.language) and _babel_locale("_".join([*parts, region])):
        parts.append(region)
    return "-".join(parts)


def base_language(code: str) -> str:
    """The language of a code without script or region: "de-CH" -> "de"; "" when none."""
    return normalize_language(code).split("-")[0]


def resolve_language(*candidates: str) -> str:
    """The first candidate whose language has catalogues, normalized with its region; else English.

    The invoice passes the customer's preferred language, the site's default and the tenant's.
    """
    for candidate in candidates:
        normalized = normalize_language(candidate)
        if normalized and normalized.split("-")[0] in SUPPORTED_LANGUAGES:
            return normalized
    return FALLBACK_LANGUAGE


@contextlib.contextmanager
def language_override(language: str) -> Iterator[None]:
    """Django's gettext translates into `language`'s catalogue inside the block.

    The base language is activated ("de-CH" uses the "de" catalogue); one without catalogues
    activates English. Django falls back to the msgid (the English text) for anything missing.
    """
    base = base_language(language)
    with translation.override(base if base in SUPPORTED_LANGUAGES else FALLBACK_LANGUAGE):
        yield


@functools.lru_cache(maxsize=64)
def _locale_for(language: str) -> Locale:
    """The CLDR locale a normalized code formats with: its region, else the language's home one."""
    parts = language.split("-")
    has_region = len(parts) > 1 and (parts[-1].isupper() or parts[-1].isdigit())
    candidates = [language] if has_region else [f"{language}-{_home_region(parts[0])}", language]
    for candidate in (*candidates, FALLBACK_LANGUAGE + "-" + HOME_REGIONS[FALLBACK_LANGUAGE]):
        locale = _babel_locale(candidate.replace("-", "_"))
        if locale is not None:
            return locale
    raise AssertionError("Babel has no English locale data")  # pragma: no cover


def _group(digits: str, grouping: tuple[int, int], symbol: str) -> str:
    """Digits with a separator every grouping[0] digits from the right, then every grouping[1]."""
    size, out = grouping[0], ""
    while len(digits) > size:
        out = symbol + digits[-size:] + out
        digits = digits[:-size]
        size = grouping[1]
    return digits + out


class Formats:
    """How one language (and region) writes dates, numbers, amounts and percentages (CLDR data).

    Numbers keep the digits they are given to the places asked for (rounded half up, as money is
    rounded everywhere else, core.money). Separators are the locale's own; amounts use CLDR's
    currency separators where a region has them (fr-CH writes CHF 1'234.50 with a point).
    """

    def __init__(self, language: str) -> None:
        self.language = normalize_language(language) or FALLBACK_LANGUAGE
        self.locale = _locale_for(self.language)
        self._symbols = self.locale.number_symbols["latn"]

    def __repr__(self) -> str:
        return f"Formats({self.language!r})"

    # --- dates -------------------------------------------------------------------------------
    def date(self, value: dt.date, format: str = "medium") -> str:
        """A date in CLDR's format of that length: "05.01.2025" (de), "5 Jan 2025" (en), "5 janv. 2025" (fr).

        "medium" is short enough for the invoice's header table and never ambiguous (month names
        where the locale writes day and month in either order).
        """
        return format_date(value, format=format, locale=self.locale)

    # --- numbers -----------------------------------------------------------------------------
    def number(self, value: Decimal, places: int) -> str:
        """A number with exactly `places` decimals: "1.234,50" (de), "1'234.50" (de-CH)."""
        return self._apply(self.locale.decimal_formats[None], value, (places, places))

    def money(self, value: Decimal, currency: str, places: int | None = None) -> str:
        """An amount with its currency as the locale writes it: "1.234,50 €" (de), "€1,234.50" (en).

        `places` defaults to the currency's minor unit (ISO 4217: 0 for JPY, 3 for KWD); unit
        prices that need more pass it.
        """
        digits = currency_exponent(currency) if places is None else places
        return self._apply(
            self.locale.currency_formats["standard"], value, (digits, digits), currency=currency
        )

    def percent(self, rate: Decimal) -> str:
        """A rate given in percent (19, 7.7) as the locale writes it: "19 %" (de), "19%" (en), "7,7 %" (de)."""
        rate = Decimal(rate)
        places = max(0, -int(rate.normalize().as_tuple().exponent)) if rate.is_finite() else 0
        return self._apply(self.locale.percent_formats[None], rate / 100, (0, places))

    # --- names -------------------------------------------------------------------------------
    def country(self, code: str) -> str:
        """A country's name in this language ("DE" -> "Deutschland" in de); the code when unknown."""
        return self.locale.territories.get((code or "").upper(), code)

    # --- the one place numbers are written ---------------------------------------------------
    def _apply(
        self, pattern: NumberPattern, value: Decimal, places: tuple[int, int], *, currency: str | None = None
    ) -> str:
        value = Decimal(value)
        if value.is_finite():
            value = value.quantize(Decimal(1).scaleb(-(places[1] + pattern.scale)), rounding=ROUND_HALF_UP)
        fixed = copy.copy(pattern)
        fixed.frac_prec = places
        # Babel is asked for the digits ungrouped and the groups are inserted here. Babel 2.19
        # (CLDR 48 made the Swiss group mark an ASCII apostrophe, CLDR-13542) removes apostrophes
        # in pairs as if they quoted pattern text: de-CH 1'234'567.50 came out as 1234567.50. It
        # also ignores CLDR's currencyDecimal/currencyGroup (fr-CH, de-AT), applied here too.
        text = fixed.apply(
            value, self.locale, currency=currency, currency_digits=False, group_separator=False
        )
        decimal_symbol = self._symbols["decimal"]
        group_symbol = self._symbols["group"]
        if currency:
            decimal_symbol = self._symbols.get("currencyDecimal", decimal_symbol)
            group_symbol = self._symbols.get("currencyGroup", group_symbol)
        number = re.compile(rf"(\d+)(?:{re.escape(self._symbols['decimal'])}(\d+))?")

        def regroup(match: re.Match[str]) -> str:
            integer = _group(match[1], pattern.grouping, group_symbol)
            return integer + (decimal_symbol + match[2] if match[2] else "")

        return number.sub(regroup, text, count=1)
