"""Bytes of a local file to text: BOM first, then the HTML's own ``<meta charset>``, then strict
UTF-8 (or UTF-8 with a stray byte or two, replaced), then windows-1252 when the bytes look like
it, then detection (charset-normalizer).
Files that are empty or not text are refused with a reason, so they can be dead-lettered
instead of becoming articles with garbage titles."""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from newsflow.errors import BinaryFile, EmptyFile
from newsflow.fetcher.content import (
    another_latin_codec,
    declared_in_page_codec,
    looks_like_windows_1252,
    mostly_utf8,
    reads_as_another_latin,
)

BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
# Text has few control characters besides tab, newlines and form feed; binary data has many.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str  # a Python codec name
    how: str  # bom, meta, utf-8 or detected


def _meta_charset(data: bytes) -> str | None:
    match = META_CHARSET.search(data[:4096])
    if match is None:
        return None
    label = match.group(1).decode("ascii", "ignore").lower()
    # Browsers read pages labelled latin-1/ascii as windows-1252 (WHATWG Encoding); so do we.
    if label in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        label = "cp1252"
    return declared_in_page_codec(label)  # an unusable label (zip, utf-7) counts as none


def _detect(data: bytes) -> str | None:
    if looks_like_windows_1252(data):
        return "cp1252"
    results = from_bytes(data)
    best = results.best()
    if best is None:
        return None
    if reads_as_another_latin(data):  # Central European or Turkish text misread
        return another_latin_codec(data, (str(m.encoding) for m in results))
    # Short Western text scores the same in several single-byte code pages; prefer
    # windows-1252, by far the most common legacy encoding of the web, when it ties.
    for match in results:
        if (match.chaos, match.coherence) == (best.chaos, best.coherence) and \
                "cp1252" in match.could_be_from_charset:
            return "cp1252"
    return str(best.encoding)


def _mostly_utf8(data: bytes) -> Decoded | None:
    text = data.decode("utf-8", errors="replace")
    return Decoded(text, "utf-8", "utf-8") if mostly_utf8(text) else None


def decode_file_bytes(data: bytes, *, html: bool) -> Decoded:
    """Text of a file; raises EmptyFile or BinaryFile (both NotText)."""
    if not data.strip():
        raise EmptyFile("the file is empty")
    decoded: Decoded | None = None
    for bom, encoding in BOMS:
        if data.startswith(bom):
            decoded = Decoded(data[len(bom):].decode(encoding, errors="replace"), encoding, "bom")
            break
    if decoded is None and html and (meta := _meta_charset(data)) is not None:
        decoded = Decoded(data.decode(meta, errors="replace"), meta, "meta")
    if decoded is None and b"\x00" not in data:
        with contextlib.suppress(UnicodeDecodeError):
            decoded = Decoded(data.decode("utf-8"), "utf-8", "utf-8")
        if decoded is None:
            decoded = _mostly_utf8(data)
    if decoded is None:
        detected = _detect(data)
        if detected is None:
            raise BinaryFile("not text in any encoding charset-normalizer knows")
        decoded = Decoded(data.decode(detected, errors="replace"), detected, "detected")
    if not decoded.text.strip():
        raise EmptyFile("the file holds only white space")
    controls = len(CONTROL.findall(decoded.text))
    if controls > MAX_CONTROL_SHARE * len(decoded.text):
        raise BinaryFile(f"{controls} control characters in {len(decoded.text)}: "
                                f"binary data, not text")
    return decoded
