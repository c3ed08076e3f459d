"""Compile the gettext catalogues locale/<lang>/LC_MESSAGES/django.po into the .mo files Django reads.

Pure Python (Babel's compiler), so neither the machine nor the Docker image needs GNU gettext.
Both files are kept in the repo; a .mo is rewritten only when its messages changed.

    .venv/bin/python scripts/compile_messages.py           # compile (make compile)
    .venv/bin/python scripts/compile_messages.py --check   # only report; exit 1 if anything is off

Reported per language: the messages, the untranslated and fuzzy ones (both compile as English),
placeholders that do not match the msgid (an error: the text would fail or lose a value), and
whether the .mo is stale.
"""

from __future__ import annotations

import argparse
import gettext
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)  # a fuzzy guess is never shown to a customer
    return buffer.getvalue()


def messages_of(mo: bytes) -> dict[object, str]:
    """What a .mo says, to compare two compilations regardless of Babel's byte layout."""
    return dict(gettext.GNUTranslations(io.BytesIO(mo))._catalog)  # type: ignore[attr-defined]


def translated(message: Message) -> bool:
    """Every form has a text (a plural message has one per form of the language)."""
    string = message.string
    if string is None or isinstance(string, str):
        return bool(string)
    return all(string)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 on a stale .mo or bad placeholders"
    )
    args = parser.parse_args(argv)
    failed = False
    pos = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po"))
    if not pos:
        print(f"no catalogues under {LOCALE_DIR}", file=sys.stderr)
        return 1
    for po in pos:
        language = po.parent.parent.name
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        messages = [m for m in catalog if m.id]
        untranslated = [m for m in messages if not m.fuzzy and not translated(m)]
        fuzzy = [m for m in messages if m.fuzzy]
        problems = [(m, error) for m, errors in catalog.check() for error in errors]
        for message, error in problems:
            print(f"{po}: {message.id!r}: {error}", file=sys.stderr)
        mo = po.with_suffix(".mo")
        wanted = compiled(catalog)
        stale = not mo.exists() or messages_of(mo.read_bytes()) != messages_of(wanted)
        state = "stale" if stale and args.check else ("written" if stale else "up to date")
        print(
            f"{language}: {len(messages)} messages, {len(untranslated)} untranslated, {len(fuzzy)} fuzzy, "
            f"{len(problems)} placeholder errors; .mo {state}"
        )
        if stale and not args.check:
            mo.write_bytes(wanted)
        failed = failed or bool(problems) or (stale and args.check)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
