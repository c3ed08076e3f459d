"""Writing the e-invoice XML with lxml: children named "prefix:Tag", nested paths, and optional
elements. One writer per syntax (CII, UBL), so both spell their trees the same way."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree


@dataclass(frozen=True)
class ElementWriter:
    namespaces: dict[str, str]  # prefix -> namespace URI
    default_prefix: str  # for a tag written without a prefix

    def el(
        self, parent: etree._Element, tag: str, text: str | None = None, **attributes: str
    ) -> etree._Element:
        """A child "prefix:Tag" of `parent`, with text and attributes when given."""
        prefix, _, name = tag.rpartition(":")
        element = etree.SubElement(
            parent, f"{{{self.namespaces[prefix or self.default_prefix]}}}{name}", attributes
        )
        if text is not None:
            element.text = text
        return element

    def path(self, parent: etree._Element, path: str, text: str, **attributes: str) -> etree._Element:
        """Nested children along "A/B/C", the last one with text and attributes."""
        *outer, last = path.split("/")
        for tag in outer:
            parent = self.el(parent, tag)
        return self.el(parent, last, text, **attributes)

    def opt(self, parent: etree._Element, tag: str, text: str, **attributes: str) -> None:
        """The element only when it has a value: empty elements are errors in several rule sets
        (e.g. PEPPOL-EN16931-R008)."""
        if text:
            self.el(parent, tag, text, **attributes)
