"""HTML or text in, article text and metadata out. Pure: no I/O, no clock, no signals.

Bad input policy (the pipeline relies on it):

* empty, whitespace-only, binary or tag-soup pages with no article yield a document with an
  empty ``text`` and ``empty_reason`` set; the pipeline flags it ``empty_body``;
* pages above ``CleanLimits.max_html_chars`` raise ``PageTooLarge`` (a ``CleaningError``), which
  the pipeline turns into a dead letter with the class name as reason. A page that is merely
  slow is stopped by the adapter running the core (``processor/prepare_pool.py``), which owns
  the clock: it answers with a ``PrepareTimeout`` dead letter.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from newsflow.core.boilerplate import strip_boilerplate
from newsflow.core.languages import UNSPACED_SCRIPTS, iso_639_1
from newsflow.core.params import CleanLimits
from newsflow.errors import PageTooLarge

if TYPE_CHECKING:
    from lxml.html import HtmlElement, HTMLParser

HTML_TYPES = ("text/html", "application/xhtml+xml")
TITLE_MAX_WORDS = 30
TITLE_MAX_CHARS = 200  # Thai and other scripts without spaces have few "words" in a paragraph
# Where a sentence may end: a stop (Latin, Devanagari, Urdu), any closing quotes or brackets,
# then space before the next character, which ``_first_sentence`` judges; or a CJK stop.
SENTENCE_BREAK = re.compile(r"(?<=[.!?।۔])[\"”’'»)\]]*\s+(?=\S)|(?<=[。！？])")
OPENING_MARKS = frozenset("\"“‘'«(¿¡")
# A line ending a sentence: a full stop (Latin, CJK, Devanagari, Urdu) before any closing
# quotes or brackets. A headline may end in "?" or "!", a paragraph's last sentence rarely does
# anything else.
CLOSING_STOP = re.compile(r"[.。．｡।۔][\"”’'»)\]]*$")
# Share of replacement/control characters above which a body is binary junk, not text.
JUNK_CHAR_SHARE = 0.1
# Language detection needs some words to be better than the page's own declaration.
MIN_WORDS_FOR_DETECTION = 20
# Below that, the probability share the best language needs for a verdict (else: unknown).
SHORT_TEXT_CONFIDENCE = 0.5
LANGUAGE_SAMPLE_CHARS = 2000  # plenty for a confident guess; cost grows with length
# Chinese and Japanese are written without spaces: each of their characters counts as a word
# when judging whether a text is long enough to tell its language (a page of Japanese is one
# space-separated "word", and was read as English, so tagged).
_UNSPACED_SCRIPT_CHAR = re.compile(f"[{UNSPACED_SCRIPTS}]")
# Between such characters, their punctuation (。，「」！？) separates words and is not one.
_UNSPACED_SEPARATORS = re.compile(
    f"[\u3000-\u303f{UNSPACED_SCRIPTS}\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]")
# Control and format characters that only get in the way of text (not \t/\n, not ZWNJ/ZWJ).
INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e"
                       "\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")
LINE_SEPARATORS = re.compile("[\u2028\u2029\x85]")
# Decoding debris: replacement, control and surrogate characters; private-use ones too, except
# in HTML (see junk_share).
_DEBRIS = "\ufffd\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff"
JUNK_CHARS = re.compile(f"[{_DEBRIS}\ue000-\uf8ff]")
JUNK_CHARS_BUT_PRIVATE_USE = re.compile(f"[{_DEBRIS}]")
DOCUMENT_TAG = re.compile(r"<\s*(html|body|head)[\s>]", re.IGNORECASE)
# Text that starts with markup (after white space): a saved page or an HTML body opens with a
# doctype, a comment, an XML declaration or a tag, not with words.
STARTS_WITH_MARKUP = re.compile(r"\A\ufeff?\s*<[!?A-Za-z]")


def is_html_document(text: str) -> bool:
    """Whether untyped text is an HTML document: it starts with markup and has an <html>,
    <head> or <body> tag in its first 10,000 characters. Plain text that names a tag ("keep
    scripts out of the <head> section") was taken for a page, and all its text was lost."""
    return STARTS_WITH_MARKUP.match(text) is not None and DOCUMENT_TAG.search(
        text[:10_000]) is not None
BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
              "pre", "section", "article", "table", "ul", "ol", "dd", "dt", "figcaption")
TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^<>]*>")




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
    empty_reason: str | None = None  # why ``text`` is empty: "empty", "binary", "no_article"
    # ``count_words(text)``, counted once by ``clean_document`` for the text it returns (the
    # language detection needs it too); None: counted when asked.
    words: int | None = None

    @property
    def word_count(self) -> int:
        return count_words(self.text) if self.words is None else self.words


def normalise_text(text: str) -> str:
    """NFC, unified line breaks, no control characters, single spaces inside a line.

    Quotes, dashes and apostrophes stay as published: only spacing and invisible characters are
    touched (zero-width joiners stay: Persian words and emoji sequences need them).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\u2028" in text or "\u2029" in text or "\x85" in text:  # rare; a scan costs as much
        text = LINE_SEPARATORS.sub("\n", text)
    # NFC after the invisible characters go: one between a letter and its accent would
    # otherwise keep them apart. So a second pass changes nothing, and none is made.
    text = unicodedata.normalize("NFC", INVISIBLE.sub("", text))
    # What str.split() splits on is, by now, only the spaces of a line (space, tab, no-break
    # and the typographic spaces): a run of them becomes one space and the ends go, at half
    # the cost of a regex (tests/unit/test_clean.py holds that definition as the reference).
    return "\n".join([" ".join(line.split()) for line in text.split("\n")])


def split_title(text: str) -> tuple[str, str]:
    """Title and body of a plain-text article whose first line may be its headline.

    A short first line (in words, a CJK character counting as one, and in characters) without
    a closing full stop, followed by more text, is the headline and is taken out of the body.
    Otherwise the text has no headline line (it starts with a paragraph, or is one line): the
    title is its first sentence and the body keeps every line, so no text is lost to the title.
    """
    lines = normalise_text(text).split("\n")
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return "", ""
    first, rest = lines[0], "\n".join(lines[1:]).strip("\n")
    if (rest and count_words(first) <= TITLE_MAX_WORDS and len(first) <= TITLE_MAX_CHARS
            and not CLOSING_STOP.search(first)):
        return first, rest
    return _first_sentence(first), "\n".join(lines)


def _first_sentence(line: str) -> str:
    """The line's first sentence, at most ``TITLE_MAX_CHARS`` (cut at a word; a 5,000-word
    line without a stop was a 25,000-character title). A
    sentence ends at a stop followed by a capital, a digit, an opening mark, or a letter of a
    script without capitals; it used to need A-Z, so a Russian, Greek or Hindi paragraph,
    or an English one whose next sentence began after a closing quote, was all title."""
    for found in SENTENCE_BREAK.finditer(line):
        after = line[found.end():found.end() + 1]
        if not after or (after.isupper() or after.isdigit() or after in OPENING_MARKS
                         or (after.isalpha() and after.lower() == after.upper())):
            line = line[:found.end()].rstrip()  # the closing quotes stay, the space goes
            break
    if len(line) <= TITLE_MAX_CHARS:
        return line
    head = line[:TITLE_MAX_CHARS]  # a prefix of the text, cut at a word where there is one
    return head.rsplit(" ", 1)[0] if " " in head else head


def clean_lines(text: str, authors: tuple[str, ...] = ()) -> tuple[str, Counter[str]]:
    """Boilerplate-free text with one paragraph per non-empty line, separated by blank lines."""
    return _join_kept([line for line in normalise_text(text).split("\n") if line], authors)


def _join_kept(lines: list[str], authors: tuple[str, ...]) -> tuple[str, Counter[str]]:
    """``clean_lines`` on lines already normalised, none empty."""
    kept, removals = strip_boilerplate(lines, authors=authors)
    return "\n\n".join(kept), removals


def _fold(text: str | None) -> str:
    return " ".join(re.findall(r"\w+", (text or "").lower()))


def drop_leading_title(lines: list[str], titles: list[str | None]) -> tuple[list[str], int]:
    """Remove headline lines repeated at the top of the text (the title is a field of its own).

    A line goes when it equals a known title (case, punctuation folded), or when one is a prefix
    of the other and they are about the same length (a headline with a kicker or site suffix).
    """
    folded = [t for t in (_fold(title) for title in titles) if t]
    removed = 0
    while lines and folded:
        line = _fold(lines[0])
        if not line or not any(
            line == t or (len(line) > 10 and len(line) < 1.3 * len(t) and len(t) < 1.3 * len(line)
                          and (t.startswith(line) or line.startswith(t)))
            for t in folded
        ):
            break
        lines.pop(0)
        removed += 1
    return lines, removed


def junk_share(text: str, private_use: bool = True) -> float:
    """Share of characters that are replacement, control, private-use or surrogate characters.
    ``private_use=False`` leaves private-use characters out: in HTML they are icon fonts'
    glyphs (a menu of 1,100 icons marked a whole article as binary), not decoding debris."""
    sample = text[:20_000]
    pattern = JUNK_CHARS if private_use else JUNK_CHARS_BUT_PRIVATE_USE
    return len(pattern.findall(sample)) / len(sample) if sample else 0.0


def is_fragment(html: str) -> bool:
    """A snippet (a feed's content:encoded, a stored body) rather than a whole document."""
    return DOCUMENT_TAG.search(html[:20_000]) is None


def _parse_html(body: str) -> HtmlElement | None:
    """The lxml tree trafilatura and htmldate read (see ``_parse_whole``)."""
    return _parse_whole(body)[0]


def _parse_whole(body: str) -> tuple[HtmlElement | None, bool]:
    """The page's lxml tree, and whether it holds the whole page: False when libxml2 stopped
    building it at its depth limit, even with the huge option (2048 levels). Lexbor, which the
    block scorer reads, builds any depth."""
    from trafilatura import utils

    if is_fragment(body):
        # trafilatura rejects bare fragments as "dubious HTML"; a wrapper makes them a page.
        body = f"<html><body><div>{body}</div></body></html>"
    try:
        tree = utils.load_html(body)
    except (ValueError, TypeError):
        return None, True
    if tree is not None and _cut_by_depth(utils.HTML_PARSER):
        deeper = _parse_deep(body)
        return (tree, False) if deeper is None else (deeper, True)
    return tree, True


def _cut_by_depth(parser: HTMLParser) -> bool:
    """Whether libxml2 stopped building the tree at its depth limit (the last parse)."""
    return any(e.type_name == "ERR_RESOURCE_LIMIT" and "depth" in e.message
               for e in parser.error_log)


def _parse_deep(body: str) -> HtmlElement | None:
    """The page parsed again with libxml2's huge option (depth up to 2048 instead of 255).

    libxml2 stops building a tree 255 elements deep and drops the rest of the page without an
    error: old markup that never closes its ``<font>`` tags gets there before the article. A
    page cut even at 2048 keeps its first tree: the deeper one would only cost time (justext's
    fallback is quadratic in the depth) and still lack the text.
    """
    from lxml import etree
    from lxml.html import HtmlElement, HTMLParser, fromstring
    from trafilatura.utils import repair_faulty_html

    parser = HTMLParser(huge_tree=True, collect_ids=False, default_doctype=False,
                        encoding="utf-8", remove_comments=True, remove_pis=True)
    html = repair_faulty_html(body, body[:50].lower())
    try:
        tree = fromstring(html.encode("utf-8", "surrogatepass"), parser=parser)
    except (ValueError, TypeError, etree.ParserError):
        return None
    if not isinstance(tree, HtmlElement) or _cut_by_depth(parser):
        return None
    return tree


def fragment_text(html: str) -> str:
    """Plain text of an HTML snippet, one line per block: for fragments no extractor keeps."""
    from lxml import html as lxml_html
    from lxml.etree import ParserError

    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (ParserError, ValueError):
        return ""
    for node in list(root.iter("script", "style", "noscript", "template")):
        node.drop_tree()
    for node in root.iter(*BLOCK_TAGS):
        node.tail = "\n" + (node.tail or "")
    return str(root.text_content())


def extract_html(html: str, url: str | None, blocks_first: bool = False,
                 today: date | None = None) -> CleanedDocument:
    """One Lexbor parse for the metadata and the block scorer; lxml only for trafilatura.

    The block-scoring fast path is run here rather than through ``extract_main_text``'s own
    switch, so that it scores the tree the metadata was read from (same rule: its text stands
    when it looks whole, else the trafilatura path runs). A page nested deeper than lxml builds
    (2048 levels) takes the block scorer's text whenever it has any, whether or not the
    switch is on and the text looks whole: lxml's tree lacks the rest. ``today`` bounds the
    page's date: one from its metadata dated after tomorrow is dropped, and a date found only
    in the markup (``metadata.date_from_markup``) is at most ``today``.
    """
    from newsflow.core.extraction import Extracted, extract_main_text
    from newsflow.core.main_text import MainText, main_text_of_page
    from newsflow.core.metadata import date_from_markup, parse_page, read_metadata

    page = parse_page(html)
    # A date after tomorrow is a template's placeholder or a typo ("2099-12-31", "/2027/01/01/"),
    # not a date: the next candidate is read, and the markup fallback below may still find one.
    meta = read_metadata(page, url, today)
    extracted: Extracted | None = None
    tree: HtmlElement | None = None
    blocks: MainText | None = None
    if blocks_first:
        blocks = main_text_of_page(page)  # detaches junk from ``page``: metadata is read
        if blocks.confident:
            extracted = Extracted(blocks.text, "blocks")
    if extracted is None or meta.published_at is None:
        # one lxml parse for trafilatura and htmldate alike
        tree, whole = _parse_whole(html)
        if extracted is None and not whole:
            # libxml2 dropped what lies deeper than 2048 levels, often the whole article, and
            # trafilatura would read the page's top (its menu) as the article. The block
            # scorer read Lexbor's whole tree: its text stands, confident or not.
            if blocks is None:  # the block-scoring path is off: run the scorer now
                blocks = main_text_of_page(page)
            if blocks.text:
                extracted = Extracted(blocks.text, "blocks")
    if extracted is None:
        if tree is None:
            return CleanedDocument(title="", text="", empty_reason="no_article")
        extracted = extract_main_text(tree, url, html)
    if meta.published_at is None and tree is not None:
        meta.published_at = date_from_markup(tree, url, today)
    raw_text = extracted.text
    if not raw_text.strip() and is_fragment(html):
        raw_text = fragment_text(html)
    lines = [line for line in normalise_text(raw_text).split("\n") if line]
    # The line rules run first, so a date stamp or byline above the headline does not hide it.
    kept, removals = strip_boilerplate(lines, authors=tuple(meta.authors))
    kept, title_lines = drop_leading_title(kept, [meta.title, meta.headline])
    text = "\n\n".join(kept)  # normalised once, above
    if title_lines:
        removals["title_repeat"] += title_lines
    return CleanedDocument(
        title=normalise_text(meta.title or meta.headline or "").replace("\n", " "),
        text=text,
        authors=meta.authors,
        published_at=meta.published_at,
        canonical_url=meta.canonical_url,
        site_name=meta.site_name,
        language=meta.language,
        removals=removals,
        empty_reason=None if text else "no_article",
    )


def detect_language(text: str, words: int | None = None) -> str | None:
    """The text's language, or None when it is too short to tell: under three words, or under
    ``MIN_WORDS_FOR_DETECTION`` with no language clearly ahead (on a few words the model calls
    "Pyongyang fires missiles." Tagalog and "Russia faces new EU sanctions." French, each with
    well under half the probability, while a short French or German sentence is over 0.9).
    ``words``: ``count_words(text)``, when the caller has counted them."""
    if words is None:
        words = count_words(text)
    if words < 3:
        return None
    code, share = _language_identifier().classify(text[:LANGUAGE_SAMPLE_CHARS])
    if words < MIN_WORDS_FOR_DETECTION and share < SHORT_TEXT_CONFIDENCE:
        return None
    return iso_639_1(str(code))  # the model names a few languages by three letters ("yue")


def article_language(title: str, text: str, declared: str | None = None,
                     words: int | None = None) -> str | None:
    """An article's language: detected from its body, or the page's own declaration when the
    body is too short to be more reliable than it. ``words``: ``count_words(text)``, when the
    caller has counted them."""
    if words is None:
        words = count_words(text)
    if words >= MIN_WORDS_FOR_DETECTION:
        return detect_language(text, words) or declared
    if declared:
        return declared
    # A short body (a brief, a video page, a headline alone) is judged with its headline: more
    # words to tell by, and a French "sanctions" headline is not tagged as English. Not twice,
    # when the body starts with it (a one-line text is both): a repeat is no more words, and
    # it sways the model ("Pyongyang fires missiles." twice reads as Tagalog).
    if title and _fold(text).startswith(_fold(title)):
        return detect_language(text)
    return detect_language(f"{title}\n{text}".strip())


def count_words(text: str) -> int:
    """Space-separated words, each Han or kana character counted as one: Chinese and Japanese
    are written without spaces, and a character is how their word counts are usually given."""
    # Counted by what a sub removes, not by a list of every character found (a 3 MB Chinese
    # page made a list of millions).
    unspaced = len(text) - len(_UNSPACED_SCRIPT_CHAR.sub("", text))
    if not unspaced:
        return len(text.split())
    return len(_UNSPACED_SEPARATORS.sub(" ", text).split()) + unspaced


@cache
def _language_identifier() -> Any:
    """py3langid's model, giving probabilities calibrated for the text's length (the most
    probable language is the one its plain ``classify`` names). One copy per process: the
    model takes half a second and ~90 MB to load, so the warm-up loads it."""
    from py3langid import langid

    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)


def _title_line(title: str) -> str:
    """A title as every title is kept: normalised (``normalise_text``), on one line."""
    return normalise_text(title).replace("\n", " ")


def _clean_text_body(body: str, title_hint: str | None) -> CleanedDocument:
    if title_hint and (title := _title_line(title_hint).strip()):
        # Normalised as every other title is: a soft hyphen or a decomposed accent left in it
        # hid a term from the tagger (``tags check``, which normalises, tagged the same text).
        text = body
    else:
        title, text = split_title(body)
    cleaned, removals = clean_lines(text)
    return CleanedDocument(title=title, text=cleaned, removals=removals)


def _looks_like_html(body: str) -> bool:
    # The whole body: a page may open with 100,000 characters of white space, or a fragment
    # with an inline image whose data URI is longer than that (it was cleaned as plain text,
    # its markup kept). One pass in C: a "<" that starts no tag stops at the next "<".
    return TAG.search(body) is not None


def clean_document(
    body: str,
    content_type: str,
    url: str | None = None,
    title_hint: str | None = None,
    limits: CleanLimits | None = None,
    today: date | None = None,
) -> CleanedDocument:
    """Article text and metadata from a raw body (HTML or plain text).

    ``title_hint`` is the title the source gave (feed entry, file's first line); it wins over a
    title found in the page only when the page has none. ``today`` (the caller's clock, UTC)
    bounds the page's date: a metadata date after tomorrow is dropped, and one found only in
    the markup is at most ``today`` (``metadata.date_from_markup``). Raises ``PageTooLarge`` for a page
    above ``limits.max_html_chars`` (see the module docstring).
    """
    limits = limits or CleanLimits()
    if len(body) > limits.max_html_chars:
        raise PageTooLarge(f"page has {len(body)} characters, above the "
                           f"{limits.max_html_chars} limit")
    if not body.strip():
        return CleanedDocument(title=_title_line(title_hint or ""), text="",
                               empty_reason="empty")
    is_html = content_type.split(";")[0].strip().lower() in HTML_TYPES
    if junk_share(body, private_use=not is_html) > JUNK_CHAR_SHARE:
        return CleanedDocument(title=_title_line(title_hint or ""), text="",
                               empty_reason="binary")
    if is_html and _looks_like_html(body):
        doc = extract_html(body, url, limits.blocks_first, today)
    else:
        # Plain text, or an "HTML" body without a single tag: the line cleaner alone.
        doc = _clean_text_body(body, title_hint)
    if not doc.title and title_hint:
        doc.title = _title_line(title_hint)
    doc.words = count_words(doc.text)  # once: the record's word_count, and the language's
    doc.language = article_language(doc.title, doc.text, doc.language, doc.words)
    if not doc.text and doc.empty_reason is None:
        doc.empty_reason = "no_article"
    return doc
