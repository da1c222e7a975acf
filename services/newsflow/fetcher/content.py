"""Response bodies: bounded decompression and charset detection. Pure functions, no I/O.

Decompression is done here, not by httpx, so the size cap applies to the *decompressed* bytes
as they are produced: a 100 KB gzip bomb that inflates to gigabytes is cut at the cap without
ever holding more than the cap in memory.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Iterable

import charset_normalizer

from newsflow.errors import BodyTooLarge

GZIP_MAGIC = b"\x1f\x8b"
RAW_MARGIN = 65536  # compressed bytes allowed beyond the cap (headers of incompressible data)


class Inflater:
    """Incremental decoder for one Content-Encoding, refusing to produce more than ``limit``.

    With ``truncate`` the body is cut at ``limit`` instead (``truncated`` says so): for documents
    where the first part is still useful, such as robots.txt.
    """

    def __init__(self, encoding: str, limit: int, *, truncate: bool = False) -> None:
        encoding = encoding.strip().lower()
        self.limit = limit
        self.truncate = truncate
        self.truncated = False
        self.size = 0
        self.raw_size = 0
        self.chunks: list[bytes] = []
        self._zlib: zlib._Decompress | None = None
        self._gzip = False
        self._trailing = False  # bytes after the last gzip member that are not another member
        self._raw_deflate = False
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._gzip = True
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_deflate = True  # some servers send raw deflate; detected on first chunk
        elif encoding not in ("", "identity"):
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes) -> None:
        if self.truncated or self._trailing:
            return
        # Compressed input is never much larger than its output, except in an attack that
        # sends endless empty gzip members: the input is capped too.
        self.raw_size += len(data)
        if self._zlib is not None and self.raw_size > self.limit + RAW_MARGIN:
            if not self.truncate:
                raise BodyTooLarge(f"compressed body larger than {self.limit} bytes")
            self.truncated = True
            return
        if self._zlib is None:
            self._append(data)
            return
        if self._raw_deflate and self.size == 0 and data and not self._zlib.unused_data:
            self._raw_deflate = False
            if (data[0] & 0x0F) != 8:  # no zlib header: raw deflate stream
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        while data and not self.truncated:
            if self._zlib.eof:
                # A gzip file may hold several members (`cat a.gz b.gz`); each inflates in turn
                # and the cap counts them all. Anything else after the end (padding) is ignored.
                if not (self._gzip and GZIP_MAGIC.startswith(data[:2])):
                    self._trailing = True
                    return
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                # max_length bounds the output of this one call, so a bomb never inflates
                # past the cap in memory.
                out = self._zlib.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                raise ValueError(f"corrupt compressed body: {exc}") from exc
            self._append(out)
            data = self._zlib.unconsumed_tail or (self._zlib.unused_data if self._zlib.eof
                                                  else b"")

    def _append(self, data: bytes) -> None:
        if self.size + len(data) > self.limit:
            if not self.truncate:
                raise BodyTooLarge(f"body larger than {self.limit} bytes")
            data, self.truncated = data[:self.limit - self.size], True
        self.size += len(data)
        self.chunks.append(data)

    def body(self) -> bytes:
        """The body; ``BodyCut`` when a compressed stream stopped before its end (a transfer
        cut short and not noticed by the connection: the end of a gzip member holds its
        check): half an article or feed was taken for the whole, and a cut robots.txt lost
        its rules."""
        if (self._zlib is not None and self.raw_size and not self.truncated
                and not self._zlib.eof):
            raise BodyCut("compressed body ends before its end: the transfer was cut short")
        return b"".join(self.chunks)


class BodyCut(ValueError):
    """A compressed body that stops before its end."""


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    inflater = Inflater(encoding, limit)
    inflater.feed(data)
    return inflater.body()


BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:-]+)""",
    re.I)


# Codecs Python calls text encodings that no web page is in: UTF-7 and HZ can smuggle markup
# past filters (WHATWG maps them to "replacement"), EBCDIC code pages are not web encodings at
# all (a label read from ASCII bytes shows they are not EBCDIC, and decoding them as it gives
# garbage), the rest are Python-only transforms.
NOT_PAGE_CODECS = frozenset({"utf-7", "hz", "idna", "punycode", "undefined", "unicode-escape",
                             "raw-unicode-escape", "cp037", "cp273", "cp424", "cp500", "cp875",
                             "cp1026", "cp1140"})


def text_codec(name: str | bytes | None) -> str | None:
    """The Python codec for a declared charset label, or None when the label names nothing
    usable: unknown, a bytes-to-bytes codec (``zip``, ``hex``, ``base64``, ``rot13``, which
    ``codecs.lookup`` knows but ``bytes.decode`` refuses) or one of ``NOT_PAGE_CODECS``. A
    label that gives None counts as no label at all."""
    if not name:
        return None
    text = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
    try:
        info = codecs.lookup(text.strip())
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in NOT_PAGE_CODECS:
        return None
    return info.name


def declared_in_page_codec(label: str | bytes | None) -> str | None:
    """``text_codec`` of a charset that a meta tag or XML declaration in the bytes declares.
    A UTF-16 or UTF-32 label there is read as UTF-8 (WHATWG's prescan does the same): a
    declaration that could be found by reading the bytes as ASCII shows they are not UTF-16,
    and decoding them as UTF-16 turns the whole page into CJK-looking garbage."""
    codec = text_codec(label)
    if codec is not None and codec.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return codec


# Western text in windows-1252: few non-ASCII characters, and never a long run of them. Text in
# another script read as windows-1252 (Cyrillic, Greek, Hebrew, Arabic, Thai, CJK) fails both.
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{4,}")
_C0_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_NON_ASCII_SHARE = 0.3


def count_non_ascii(text: str) -> int:
    """Characters above U+007F, counted in C (a loop over a 5 MB page in Python takes a third
    of a second)."""
    return len(text) - len(text.encode("ascii", "ignore"))


# UTF-8 with a stray byte or two (a windows-1252 quote pasted into a UTF-8 page) is still
# UTF-8: detection read such a page as windows-1252 ("cafÃ©" throughout) or refused it as
# binary. It counts as UTF-8 when its valid non-ASCII characters outnumber the bad bytes by
# this much and the bad bytes are this small a share; legacy text has few valid multi-byte
# sequences (a windows-1252 page with curly quotes has none), so it still goes to detection.
MOSTLY_UTF8_GOOD_PER_BAD = 4
MOSTLY_UTF8_MAX_BAD_SHARE = 0.01


def mostly_utf8(text: str) -> bool:
    """Whether bytes that ``text`` is the UTF-8 decoding of (bad bytes replaced by U+FFFD) are
    UTF-8 with a few stray bytes, not text in another encoding."""
    bad = text.count("\ufffd")
    good = count_non_ascii(text) - bad
    return good >= MOSTLY_UTF8_GOOD_PER_BAD * bad and bad <= MOSTLY_UTF8_MAX_BAD_SHARE * len(text)


def looks_like_windows_1252(content: bytes) -> bool:
    """Whether undeclared, non-UTF-8 bytes are best read as windows-1252, by far the most
    common legacy encoding of Western pages and files: they decode with no undefined byte
    (0x81, 0x8D, 0x8F, 0x90, 0x9D) and no control character, at most 30 % of the non-space
    characters are non-ASCII, and no four come in a row. Statistical detection guesses wildly
    on short Western text (cp775 for "Café", HP Roman-8 for "Björk", cp1250 for "Señor"), so
    this is asked first; text in another script fails it and is left to detection."""
    try:
        text = content.decode("cp1252")
    except UnicodeDecodeError:
        return False
    visible = len(text) - sum(map(str.isspace, text))
    non_ascii = count_non_ascii(text)
    return (non_ascii > 0 and non_ascii <= MAX_NON_ASCII_SHARE * visible
            and not _NON_ASCII_RUN.search(text) and not _C0_CONTROL.search(text)
            and not _reads_as_another_latin(text))


# Central European and Turkish text (cp1250, cp1254, ISO-8859-2) decodes as windows-1252 too,
# into signs no Western word holds: a symbol inside a word ("Rz¹d", "mo¿e" for "Rząd",
# "może"), Icelandic letters (ð, þ for Turkish ğ, ş), ø beside a grave accent ("øeè" for
# Czech "řeč"), õ or û beside ö or ü (Hungarian ő, ű). Such text is left to detection.
# The signs are listed: Python counts ¹ and ³ (Polish ą, ł) as word characters, so a class of
# "not \w" caught only ¿ (ż) and missed "Rz¹d"; and ’ or · between letters is Western text.
_SYMBOL_IN_WORD = re.compile(r"[^\W\d_][¹³¿¥£¯¼¾][^\W\d_]|[a-zß-ÿ]Ÿ[a-zß-ÿ]")
_ICELANDIC = re.compile("[ðþÐÞ]")


def reads_as_another_latin(content: bytes) -> bool:
    """Whether ``content`` decodes as windows-1252 into what is another Latin code page's text
    misread (``_reads_as_another_latin``): no tie may then go to windows-1252."""
    try:
        return _reads_as_another_latin(content.decode("cp1252"))
    except UnicodeDecodeError:
        return False


def another_latin_codec(content: bytes, guesses: Iterable[str]) -> str:
    """The code page of text that ``reads_as_another_latin``: detection's best guess (of
    ``guesses``, best first), unless that is a multi-byte CJK one for text that is mostly
    ASCII, as it may be on a few words ("Rząd zapowiada" as Big5); then the first single-byte
    Latin guess, else the one whose letters the signs betray (Icelandic signs: Turkish cp1254;
    the others: Central European cp1250)."""
    ranked = list(guesses)
    visible = len(content) - sum(chr(b).isspace() for b in content)
    mostly_ascii = sum(b > 0x7F for b in content) <= MAX_NON_ASCII_SHARE * visible
    if ranked and not (mostly_ascii and ranked[0].startswith(_MULTI_BYTE_CJK)):
        return ranked[0]
    for guess in ranked:
        if guess != "cp1252" and guess.startswith(("cp125", "iso8859", "mac_", "cp85")):
            return guess
    return "cp1254" if _ICELANDIC.search(content.decode("cp1252", "replace")) else "cp1250"


_MULTI_BYTE_CJK = ("big5", "cp950", "gb", "cp949", "euc", "johab", "shift_jis", "cp932",
                   "iso2022", "hz")


def _reads_as_another_latin(text: str) -> bool:
    if _SYMBOL_IN_WORD.search(text) or _ICELANDIC.search(text):
        return True
    letters = set(text)
    return bool((letters & set("øØ") and letters & set("èìùòÈÌÙÒ"))
                or (letters & set("õûÕÛ") and letters & set("öüÖÜ")))


def detect_charset(content: bytes, content_type: str | None) -> str:
    """The body's charset: Content-Type header, then BOM, then a meta tag / XML declaration,
    then UTF-8 if it is valid or nearly (``mostly_utf8``), windows-1252 if it looks like it,
    then statistical detection; utf-8 when nothing decides."""
    match = HEADER_CHARSET.search(content_type or "")
    if match and (codec := text_codec(match.group(1))):
        return codec
    for bom, name in BOMS:
        if content.startswith(bom):
            return name
    meta = META_CHARSET.search(content[:4096])
    if meta and (codec := declared_in_page_codec(meta.group(1) or meta.group(2))):
        return codec
    if not content:
        return "utf-8"
    try:
        content[:65536].decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= min(len(content), 65536) - 3:  # only a character cut at the slice end
            return "utf-8"
    if mostly_utf8(content[:65536].decode("utf-8", errors="replace")):
        return "utf-8"
    if looks_like_windows_1252(content[:65536]):
        return "cp1252"
    results = charset_normalizer.from_bytes(content[:65536])
    if reads_as_another_latin(content[:65536]):
        return text_codec(another_latin_codec(content[:65536], (m.encoding for m in results))) or "utf-8"
    best = results.best()
    return text_codec(best.encoding if best else None) or "utf-8"


def decode(content: bytes, charset: str) -> str:
    text = content.decode(charset, errors="replace")
    return text.removeprefix("\ufeff")
