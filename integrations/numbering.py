"""Invoice and credit note numbers with the Emporix sequence-schema semantics.

number = preText + counter zero-padded to numberOfDigits + postText, where pre- and postText
may hold placeholders (`__year__`, `__month__`, `__day__`, `__hour__`, `__minute__`,
`__second__` in the seller's time zone, `__country__` from the seller's address, and any
configured in INVOICE_NUMBER_PLACEHOLDERS, e.g. the tutorial's `{"__num__": ""}`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from core.errors import PermanentError
from integrations.ports import CREDIT_NOTE_SERIES, INVOICE_SERIES

PLACEHOLDER = re.compile(r"__[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*__")

# The local backend's NumberSeries names (the Emporix schema types of the same role; Emporix
# itself knows no credit-note type, see settings.EMPORIX_CREDIT_NOTE_SEQUENCE).
INVOICE_SERIES_NAME = "invoiceNoSequence"
CREDIT_NOTE_SERIES_NAME = "creditNoteNoSequence"
LOCAL_SERIES_NAMES = {INVOICE_SERIES: INVOICE_SERIES_NAME, CREDIT_NOTE_SERIES: CREDIT_NOTE_SERIES_NAME}
# How messages name a series kind: "the invoice number series", "the credit note number series".
SERIES_LABELS = {INVOICE_SERIES: "invoice", CREDIT_NOTE_SERIES: "credit note"}


def series_label(series: str) -> str:
    """ "invoice" / "credit note"; a ValueError for a kind no backend knows (a programming error)."""
    try:
        return SERIES_LABELS[series]
    except KeyError:
        raise ValueError(
            f"unknown number series kind {series!r} (expected one of {sorted(SERIES_LABELS)})"
        ) from None


class SeriesExhausted(PermanentError):
    pass


def builtin_placeholders(at: dt.datetime, *, country: str = "") -> dict[str, str]:
    return {
        "__year__": f"{at.year:04d}",
        "__month__": f"{at.month:02d}",
        "__day__": f"{at.day:02d}",
        "__hour__": f"{at.hour:02d}",
        "__minute__": f"{at.minute:02d}",
        "__second__": f"{at.second:02d}",
        "__country__": country or "DE",
    }


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(0)
        if name not in values:
            raise PermanentError(f"The number series uses the placeholder {name}, which has no value.")
        return values[name][:100]  # Emporix truncates placeholder values at 100 characters

    return PLACEHOLDER.sub(replace, text)


def format_number(
    *, pre_text: str, post_text: str, number_of_digits: int, counter: int, placeholders: Mapping[str, str]
) -> str:
    return (
        fill_placeholders(pre_text, placeholders)
        + str(counter).zfill(number_of_digits)
        + fill_placeholders(post_text, placeholders)
    )


def next_counter(
    *, current: int | None, start_value: int, max_value: int, series_name: str, series: str = INVOICE_SERIES
) -> int:
    """The first number is startValue + 1 (as Emporix does); past maxValue the series is used up."""
    value = start_value + 1 if current is None else current + 1
    if value > max_value:
        raise SeriesExhausted(
            f"The {series_label(series)} number series '{series_name}' is used up (maxValue {max_value} reached); "
            "no number was issued. Raise maxValue or start a new series."
        )
    return value
