"""XML from strangers, parsed without entity expansion or external entities (defusedxml).

Feeds go through feedparser, which uses the stdlib SAX parser; ``refuse_unsafe_xml`` runs
first and rejects any document declaring entities or external references, so neither a
billion-laughs bomb nor an XXE file read can reach it.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

# A DOCTYPE with an internal subset or an ENTITY declaration, in any of the encodings a
# malformed document might still be read in (UTF-8/latin-1 and both UTF-16 byte orders).
_DANGEROUS = [re.compile(p, re.I) for p in (rb"<!ENTITY", rb"<!DOCTYPE[^>]*\[")]
_DANGEROUS16 = [re.compile(re.escape("<!ENTITY".encode(enc)), re.I)
                for enc in ("utf-16-le", "utf-16-be")]


class UnsafeXML(ValueError):
    """The document declares entities or external references; it is refused, not parsed."""


def refuse_unsafe_xml(document: bytes) -> None:
    try:
        fromstring(document, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXML(f"refused unsafe XML: {type(exc).__name__}") from exc
    except (ParseError, ValueError, LookupError):
        pass  # not well-formed: feedparser's loose parser may still read it, but scan first
    if any(p.search(document) for p in _DANGEROUS + _DANGEROUS16):
        raise UnsafeXML("refused unsafe XML: entity declaration")


def parse_xml(document: bytes) -> Element:
    """A safe element tree; UnsafeXML for entity tricks, ValueError when not well-formed."""
    try:
        root: Element = fromstring(document, forbid_dtd=False, forbid_entities=True,
                                   forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXML(f"refused unsafe XML: {type(exc).__name__}") from exc
    except ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from exc
    return root


def local(tag: str) -> str:
    """Tag name without its namespace."""
    return tag.rsplit("}", 1)[-1]
