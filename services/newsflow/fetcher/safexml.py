"""XML from strangers, parsed without entity expansion or external entities (defusedxml).

Feeds go through feedparser, which uses the stdlib SAX parser; ``refuse_unsafe_xml`` runs
first and rejects any document declaring entities or external references, so neither a
billion-laughs bomb nor an XXE file read can reach it.

Sitemaps in the wild are often not quite XML (a raw ``&`` or ``<`` inside ``<loc>``).
``parse_xml`` repairs those unambiguous cases and, failing that, lets lxml's recovering parser
rebuild the tree — but only after the same refusal of entities and DTD subsets, and with entity
resolution, network access and huge trees switched off. The recovered tree is serialised and
parsed strictly again, so callers always get a defusedxml-checked stdlib tree.
"""

from __future__ import annotations

import re
from html.entities import name2codepoint
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from lxml import etree

from newsflow.errors import UnsafeXML

# A DOCTYPE with an internal subset or an ENTITY declaration, in any of the encodings a
# malformed document might still be read in: UTF-8/latin-1, UTF-16 and UTF-32 in both byte
# orders, and the EBCDIC code pages feedparser knows (a UTF-32 feed's entity was expanded).
_ENTITY = [re.compile(re.escape("<!ENTITY".encode(enc)), re.I)
           for enc in ("latin-1", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be",
                       "cp037", "cp500", "cp273", "cp1026")]
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_SUBSET_OR_END = re.compile(rb"[\[>]")


def _internal_subset(document: bytes) -> bool:
    """Whether a ``<!DOCTYPE`` is followed by a ``[`` before any ``>``: what the pattern
    ``<!DOCTYPE[^>]*\\[`` finds, in one pass. That pattern took time quadratic in the number of
    unclosed DOCTYPEs (720 KB of them: 41 s, on every feed and sitemap). A DOCTYPE met before
    the ``>`` that ends an earlier one ends there too, so the search goes on past that ``>``."""
    position = 0
    while (doctype := _DOCTYPE.search(document, position)) is not None:
        stop = _SUBSET_OR_END.search(document, doctype.end())
        if stop is None:
            return False
        if stop.group() == b"[":
            return True
        position = stop.end()
    return False


def refuse_unsafe_xml(document: bytes) -> None:
    try:
        fromstring(document, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXML(f"refused unsafe XML: {type(exc).__name__}") from exc
    except (ParseError, ValueError, LookupError):
        pass  # not well-formed: feedparser's loose parser may still read it, but scan first
    if any(p.search(document) for p in _ENTITY) or _internal_subset(document):
        raise UnsafeXML("refused unsafe XML: entity declaration")


# "&" with what may follow it, and "<" that cannot start markup.
_AMPERSAND = re.compile(rb"&(#[0-9]+;|#x[0-9A-Fa-f]+;|[A-Za-z][A-Za-z0-9]*;)?")
_BARE_LESS_THAN = re.compile(rb"<(?![A-Za-z_:/!?])")
_XML_ENTITIES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
# Where "&" and "<" are literal already: CDATA sections, comments, processing instructions.
_LITERAL_START = re.compile(rb"<!\[CDATA\[|<!--|<\?")
_LITERAL_END = {b"<![CDATA[": b"]]>", b"<!--": b"-->", b"<?": b"?>"}
_LAST_END_TAG = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)\s*>\s*$")


def _strict(document: bytes) -> Element:
    try:
        root: Element = fromstring(document, forbid_dtd=False, forbid_entities=True,
                                   forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXML(f"refused unsafe XML: {type(exc).__name__}") from exc
    return root


def _reference(match: re.Match[bytes]) -> bytes:
    """A bare "&" becomes "&amp;"; an HTML named entity its character (by number, so nothing
    is declared or expanded); an unknown name stays literal text."""
    reference = match.group(1)
    if reference is None:
        return b"&amp;"
    name = reference[:-1]
    if reference[:1] == b"#" or name in _XML_ENTITIES:
        return match.group(0)
    codepoint = name2codepoint.get(name.decode("ascii"))
    return b"&#%d;" % codepoint if codepoint else b"&amp;" + reference


def _split_literals(document: bytes) -> list[bytes]:
    """``document`` cut around its literal sections (at odd places in the list), as
    ``re.split`` with ``(<!\\[CDATA\\[.*?\\]\\]>|<!--.*?-->|<\\?.*?\\?>)`` cuts it, in one pass:
    that pattern took time quadratic in the number of unclosed openers (80 KB of ``<!--``:
    10 s). An opener whose end is nowhere after it is text, as is every later one of its kind."""
    parts: list[bytes] = []
    cut = position = 0
    unclosed: set[bytes] = set()
    while (start := _LITERAL_START.search(document, position)) is not None:
        opener = start.group()
        end = -1 if opener in unclosed else document.find(_LITERAL_END[opener], start.end())
        if end < 0:
            unclosed.add(opener)
            position = start.start() + 1
            continue
        end += len(_LITERAL_END[opener])
        parts += [document[cut:start.start()], document[start.start():end]]
        cut = position = end
    parts.append(document[cut:])
    return parts


def _repaired(document: bytes) -> bytes:
    # Blank lines before the XML declaration (a PHP template's classic) are its only flaw.
    parts = _split_literals(document.lstrip())
    for n in range(0, len(parts), 2):  # the odd parts are the literal sections
        parts[n] = _BARE_LESS_THAN.sub(b"&lt;", _AMPERSAND.sub(_reference, parts[n]))
    return b"".join(parts)


def _recovered(document: bytes) -> bytes | None:
    """lxml's best reading of a broken but complete document, serialised as well-formed XML.
    A document that does not end with its root's end tag may be a cut download whose last URL
    is cut too: not recovered."""
    end = _LAST_END_TAG.search(document[-512:])
    if end is None:
        return None
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                             huge_tree=False, load_dtd=False, dtd_validation=False)
    try:
        root = etree.fromstring(document, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root is None or local(str(root.tag)).encode() != end.group(1):
        return None
    return bytes(etree.tostring(root, encoding="utf-8"))


def parse_xml(document: bytes) -> tuple[Element, str]:
    """A safe element tree and, when the document was not well-formed, how it was read
    ("" when it was). UnsafeXML for entity tricks, ValueError when it cannot be read."""
    try:
        return _strict(document), ""
    except ParseError as exc:
        error = exc
    refuse_unsafe_xml(document)  # never hand an entity declaration to the lenient parsers
    repaired = _repaired(document)
    try:
        return _strict(repaired), f"{error}; repaired: leading blanks, stray & or <, HTML entities"
    except ParseError:
        pass
    recovered = _recovered(repaired)
    if recovered is not None:
        try:
            return _strict(recovered), f"{error}; recovered by a lenient parser"
        except ParseError:
            pass
    raise ValueError(f"not well-formed XML: {error}")


def local(tag: str) -> str:
    """Tag name without its namespace."""
    return tag.rsplit("}", 1)[-1]
