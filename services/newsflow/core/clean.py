"""HTML or text in, article text and metadata out. Pure: no network, no clock."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from newsflow.core.boilerplate import strip_boilerplate

HTML_TYPES = ("text/html", "application/xhtml+xml")
TITLE_MAX_WORDS = 30
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“‘'A-Z0-9])")


@dataclass(slots=True)
class CleanedDocument:
    title: str
    text: str
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    language: str | None = None
    removals: Counter[str] = field(default_factory=Counter)

    @property
    def word_count(self) -> int:
        return len(self.text.split())


def normalise_text(text: str) -> str:
    """NFC, unified line breaks, no control characters, single spaces inside a line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return "\n".join(re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n"))


def split_title(text: str) -> tuple[str, str]:
    """Title and body of a plain-text article whose first line may be its headline.

    A short first line without a closing full stop is the headline and is taken out of the body.
    Otherwise the text has no headline line (it starts with a paragraph): the title is its first
    sentence and the body keeps every line.
    """
    lines = normalise_text(text).split("\n")
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return "", ""
    first = lines[0]
    if len(first.split()) <= TITLE_MAX_WORDS and not first.endswith("."):
        return first, "\n".join(lines[1:]).strip("\n")
    sentence = SENTENCE_END.split(first, maxsplit=1)[0]
    return sentence, "\n".join(lines)


def clean_lines(text: str) -> tuple[str, Counter[str]]:
    """Boilerplate-free text with one paragraph per non-empty line, separated by blank lines."""
    lines = [line for line in normalise_text(text).split("\n") if line]
    kept, removals = strip_boilerplate(lines)
    return "\n\n".join(kept), removals


def extract_html(html: str, url: str | None) -> CleanedDocument:
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, url=url, include_comments=False, with_metadata=True, favor_precision=False
    )
    if doc is None:
        return CleanedDocument(title="", text="")
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text, removals = clean_lines(data.get("text") or "")
    authors = [a.strip() for a in re.split(r";|\band\b", data.get("author") or "") if a.strip()]
    return CleanedDocument(
        title=normalise_text(data.get("title") or "").replace("\n", " "),
        text=text,
        authors=authors,
        published_at=data.get("date"),
        canonical_url=data.get("url") if data.get("url") != url else None,
        site_name=data.get("sitename"),
        removals=removals,
    )


def detect_language(text: str) -> str | None:
    if len(text.split()) < 3:
        return None
    import py3langid

    code, _ = py3langid.classify(text[:5000])
    return str(code)


def clean_document(
    body: str, content_type: str, url: str | None = None, title_hint: str | None = None
) -> CleanedDocument:
    """Article text and metadata from a raw body (HTML or plain text).

    ``title_hint`` is the title the source gave (feed entry, file's first line); it wins over a
    title found in the page only when the page has none.
    """
    if content_type.split(";")[0].strip().lower() in HTML_TYPES:
        doc = extract_html(body, url)
    else:
        if title_hint:
            title, text = title_hint, body
        else:
            title, text = split_title(body)
        cleaned, removals = clean_lines(text)
        doc = CleanedDocument(title=title, text=cleaned, removals=removals)
    if not doc.title and title_hint:
        doc.title = normalise_text(title_hint).replace("\n", " ")
    doc.language = detect_language(doc.text)
    return doc
