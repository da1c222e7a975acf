"""Text normalisation, plain-text cleaning, and bad input: no crash, no hang, a clear outcome."""

from __future__ import annotations

import re
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsflow.core import clean as clean_module
from newsflow.core.clean import (
    CleanedDocument,
    clean_document,
    clean_lines,
    drop_leading_title,
    normalise_text,
    split_title,
)
from newsflow.core.params import CleanLimits
from newsflow.errors import CleaningError, PageTooLarge

pytestmark = pytest.mark.clock

PARAGRAPH = ("The committee met on Tuesday to discuss the new budget, which lawmakers say will "
             "fund schools, roads and hospitals across the region for the next three years.")


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


# --- normalisation ---------------------------------------------------------------------------

def test_normalise_composes_to_nfc() -> None:
    decomposed = "Cafe\u0301 in Sa\u0303o Paulo"
    out = normalise_text(decomposed)
    assert out == "Café in São Paulo"
    assert unicodedata.is_normalized("NFC", out)


def test_normalise_is_nfc_after_dropping_invisible_characters() -> None:
    # A zero-width space between a letter and its accent: dropped first, then composed, so
    # one pass is final (clean_document normalises the text once).
    out = normalise_text("Cafe\u200b\u0301 \u2028 bar")
    assert out == "Café\nbar"
    assert normalise_text(out) == out


def test_normalise_whitespace_and_controls() -> None:
    text = "  One\u00a0 two\t\tthree \r\nfour\u200b five\x07\rsix  "
    assert normalise_text(text) == "One two three\nfour five\nsix"


# The definition normalise_text had, by regex (it now splits on str.split's whitespace, which
# by then is the same set): every space of a line is one, the line's ends go.
LINE_SPACES = re.compile("[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")


def reference_normalise(text: str) -> str:
    text = clean_module.LINE_SEPARATORS.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = unicodedata.normalize("NFC", clean_module.INVISIBLE.sub("", text))
    return "\n".join(LINE_SPACES.sub(" ", line).strip() for line in text.split("\n"))


WHITESPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]


@given(st.text(alphabet=st.sampled_from(
    [*WHITESPACE, "a", "b", "\u0301", "\u200b", "\u00ad", "\u2060", "\ufeff", "é"]),
    max_size=40) | st.text(max_size=40))
@settings(max_examples=3000, deadline=None)
def test_normalise_is_its_definition_on_every_kind_of_space(text: str) -> None:
    assert normalise_text(text) == reference_normalise(text)


def test_quotes_and_dashes_stay_as_published() -> None:
    text = "“Not now,” she said — ‘later’, it's \"fine\"."
    assert normalise_text(text) == text


def test_clean_lines_keeps_paragraphs_as_paragraphs() -> None:
    text, removals = clean_lines("First paragraph.\n\n\nSecond paragraph.\nThird one.\n")
    assert text == "First paragraph.\n\nSecond paragraph.\n\nThird one."
    assert not removals


def test_split_title_short_first_line_is_headline() -> None:
    assert split_title("Iran talks resume\n\nBody line one.\nBody two.") == (
        "Iran talks resume", "Body line one.\nBody two.")


def test_split_title_paragraph_first_keeps_every_line() -> None:
    text = "Iran said on Monday it would talk. More followed.\nSecond line."
    title, body = split_title(text)
    assert title == "Iran said on Monday it would talk."
    assert body == text


@pytest.mark.parametrize(("text", "title"), [
    # One line: never emptied into the title, whatever its length or script.
    ("line one body text", "line one body text"),
    ("Pyongyang fires missiles.", "Pyongyang fires missiles."),
    ("北朝鮮はミサイル二発を発射したと発表した。" * 6, "北朝鮮はミサイル二発を発射したと発表した。"),
])
def test_split_title_a_single_line_stays_the_body(text: str, title: str) -> None:
    assert split_title(text) == (title, text)


@pytest.mark.parametrize("first", [
    # A paragraph, not a headline: a CJK one (each character a word), a Thai one (few spaces,
    # many characters), one whose full stop is inside the closing quote, a CJK full stop.
    "北朝鮮は月曜日に弾道ミサイル二発を日本海に向けて発射したと韓国軍の合同参謀本部が発表した",
    "กองทัพเรือส่งเรือรบสองลำไปยังช่องแคบเพื่อคุ้มกันเรือบรรทุกน้ำมัน" * 4,
    'The minister called the launch "a grave provocation."',
    "韓国軍が発表した。",
])
def test_split_title_a_paragraph_first_line_stays_in_the_body(first: str) -> None:
    text = f"{first}\nSecond paragraph follows here."
    title, body = split_title(text)
    assert body == text
    assert title and first.startswith(title)


@pytest.mark.parametrize(("paragraph", "title"), [
    # The next sentence had to start with A-Z: the whole paragraph was the title.
    ("Три фрегата вернулись. Экипажи отдохнут.", "Три фрегата вернулись."),
    ("सरकार ने घोषणा की। किसान खुश हैं।", "सरकार ने घोषणा की।"),
    ("Le port a rouvert mardi. \u00c9tat des lieux demain.", "Le port a rouvert mardi."),
    ('The council issued a "notice." The navy said nothing.', 'The council issued a "notice."'),
    ("It was 3 p.m. when they left. Then more.", "It was 3 p.m. when they left."),
])
def test_split_title_the_first_sentence_in_any_script(paragraph: str, title: str) -> None:
    assert split_title(paragraph) == (title, paragraph)


def test_split_title_a_title_without_a_sentence_end_is_cut_at_a_word() -> None:
    text = "word " * 5000  # was a 25,000-character title
    title, body = split_title(text)
    assert len(title) <= 200 and text.startswith(title) and title.endswith("word")
    assert body == text.strip()


def test_split_title_a_cjk_headline_is_still_a_headline() -> None:
    assert split_title("北朝鮮がミサイル発射\n韓国軍が発表した。詳細は不明。") == (
        "北朝鮮がミサイル発射", "韓国軍が発表した。詳細は不明。")
    assert split_title("Will the talks hold?\nBody.") == ("Will the talks hold?", "Body.")


def test_drop_leading_title_only_drops_repeated_headlines() -> None:
    lines = ["Big Storm Hits Coast!", "Big storm hits coast", "The storm hit the coast at dawn."]
    kept, removed = drop_leading_title(lines, ["Big storm hits coast"])
    assert kept == ["The storm hit the coast at dawn."] and removed == 2
    first_paragraph = ["Big storm hits coast after days of warnings, officials said on Monday."]
    assert drop_leading_title(list(first_paragraph), ["Big storm hits coast"]) == (
        first_paragraph, 0)


def test_plain_text_with_title_hint() -> None:
    doc = clean_document("Advertisement\n" + PARAGRAPH, "text/plain", title_hint="Budget")
    assert doc.title == "Budget"
    assert doc.text == PARAGRAPH
    assert doc.removals == {"advertisement": 1}
    assert doc.word_count == len(PARAGRAPH.split())


def test_a_plain_text_title_hint_is_normalised_as_every_title_is() -> None:
    # Kept as given, a soft hyphen hid "missile" from the tagger in the stream, while `tags
    # check`, which normalises, tagged the same article.
    doc = clean_document(PARAGRAPH, "text/plain",
                         title_hint="North Korea fires mis\u00adsile \n into the sea")
    assert doc.title == "North Korea fires missile into the sea"
    decomposed = clean_document(PARAGRAPH, "text/plain", title_hint="Besanc\u0327on court rules")
    assert decomposed.title == "Besan\u00e7on court rules"
    assert clean_document(PARAGRAPH, "text/plain", title_hint=" \n ").title != ""


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["", "   \n\t  ", page("")])
def test_empty_pages_give_empty_body(body: str) -> None:
    doc = clean_document(body, "text/html", "https://example.com/a")
    assert doc.text == "" and doc.word_count == 0
    assert doc.empty_reason in {"empty", "no_article"}


def test_empty_page_keeps_title_hint() -> None:
    doc = clean_document("", "text/html", title_hint="Feed title")
    assert doc.title == "Feed title" and doc.empty_reason == "empty"


def test_binary_junk_is_flagged_not_parsed() -> None:
    junk = bytes(range(256)).decode("latin-1") * 50
    doc = clean_document(junk, "text/html", "https://example.com/bin")
    assert doc.text == "" and doc.empty_reason == "binary"


def test_broken_encoding_replacement_characters_are_binary() -> None:
    broken = b"\xff\xfe\x00\x81\x8d\x90\x9d".decode("utf-8", errors="replace") * 100
    doc = clean_document(broken, "text/html")
    assert doc.empty_reason == "binary"


def test_icon_glyphs_in_a_menu_are_not_binary() -> None:
    # Icon fonts put private-use characters in the markup: 1,100 of them in a menu read as
    # binary junk, and the article beside them was lost.
    icons = "<nav>" + "\ue001 " * 1100 + "</nav>"
    doc = clean_document(page(f"{icons}<article><p>{PARAGRAPH}</p></article>"), "text/html")
    assert doc.empty_reason is None and PARAGRAPH[:60] in doc.text
    assert clean_document("\ue001 " * 1100, "text/plain").empty_reason == "binary"


@pytest.mark.parametrize("lead", [
    "\n" * 100_000,  # the first tag past the first 100,000 characters
    '<img src="data:image/png;base64,' + "A" * 100_000 + '">',  # a tag of 100,000 characters
])
def test_markup_far_in_or_in_a_long_tag_is_still_html(lead: str) -> None:
    # Both were cleaned as plain text: the article came out with its markup.
    doc = clean_document(f"{lead}<article><p>{PARAGRAPH}</p><p>{PARAGRAPH}</p></article>",
                         "text/html")
    assert PARAGRAPH[:60] in doc.text and "<p>" not in doc.text and "AAAA" not in doc.text


def test_mojibake_page_does_not_crash() -> None:
    # UTF-8 read as Latin-1: ugly but text; it must come through, not crash.
    mojibake = PARAGRAPH.replace("the", "thÃ©") * 3
    doc = clean_document(page(f"<article><p>{mojibake}</p></article>"), "text/html")
    assert "thÃ©" in doc.text


def test_non_html_body_with_html_content_type_is_cleaned_as_text() -> None:
    doc = clean_document(f"Headline here\n{PARAGRAPH}\nAdvertisement", "text/html")
    assert doc.title == "Headline here"
    assert doc.text == PARAGRAPH


def test_json_body_does_not_crash() -> None:
    doc = clean_document('{"a": [1, 2, {"b": null}]}', "application/json")
    assert isinstance(doc, CleanedDocument)


def test_tag_soup_does_not_crash() -> None:
    soup = "<div><p>unclosed <b>bold <i>" * 2000 + "</table></html></body>"
    doc = clean_document(soup, "text/html")
    assert isinstance(doc.text, str)


def test_huge_page_raises_page_too_large() -> None:
    limits = CleanLimits(max_html_chars=10_000)
    with pytest.raises(PageTooLarge, match="10000"):
        clean_document(page("<p>x</p>" * 5_000), "text/html", limits=limits)
    assert issubclass(PageTooLarge, CleaningError)


def test_large_page_within_limit_is_cleaned_in_time() -> None:
    body = "".join(f"<p>{PARAGRAPH} Item {i}.</p>" for i in range(3_000))  # ~0.6 MB
    start = time.monotonic()
    doc = clean_document(page(f"<article>{body}</article>"), "text/html")
    assert doc.word_count > 50_000
    assert time.monotonic() - start < 10


# --- HTML fragments (feed content, stored snippets) -------------------------------------------

@pytest.mark.parametrize("fragment", [
    f"<p>{PARAGRAPH}</p>",
    f"{PARAGRAPH}<br>{PARAGRAPH}",
    f"<ul><li>{PARAGRAPH}</li></ul>",
])
def test_html_fragment_gives_its_text(fragment: str) -> None:
    doc = clean_document(fragment, "text/html")
    assert PARAGRAPH in doc.text.split("\n\n")
    assert doc.empty_reason is None


def test_fragment_fallback_keeps_blocks_and_drops_scripts() -> None:
    text = clean_module.fragment_text("<div>One.<script>var x = 1;</script></div><p>Two.</p>")
    assert [line for line in text.split("\n") if line] == ["One.", "Two."]


def test_fragment_detection() -> None:
    assert clean_module.is_fragment("<p>x</p>")
    assert not clean_module.is_fragment("<!DOCTYPE html><html><body><p>x</p></body></html>")


@pytest.mark.parametrize("blocks_first", [True, False])
def test_nul_characters_leave_no_replacement_character_in_the_metadata(blocks_first: bool) -> None:
    head = ("<title>Budget\x00 talks</title>"
            '<meta name="author" content="Jane\x00 Doe">')
    doc = clean_document(page(f"<p>{PARAGRAPH}</p>" * 3, head), "text/html",
                         limits=CleanLimits(blocks_first=blocks_first))
    assert (doc.title, doc.authors) == ("Budget talks", ["Jane Doe"])


def test_a_headline_below_a_date_stamp_is_dropped_as_a_title_repeat() -> None:
    body = " ".join(["The harbour reopened on Tuesday after a week of repairs to the sea wall."] * 20)
    page = ("<html><head><title>Harbour reopens after storm</title></head><body><article>"
            "<p>Nov. 20, 2019 6:02 AM EST</p><p>Harbour reopens after storm</p>"
            f"<p>{body}</p></article></body></html>")
    doc = clean_document(page, "text/html", limits=CleanLimits(blocks_first=True))
    assert doc.text == body
    assert doc.removals["title_repeat"] == 1 and doc.removals["timestamp"] == 1


def test_text_deeper_than_libxml2s_default_limit_is_kept() -> None:
    # Old markup that never closes its <font> tags nests past libxml2's 255 levels before the
    # article; the default parse drops everything after that point without an error.
    links = "".join(f'<font size="2"><a href="/s{i}">Section {i}</a>' for i in range(300))
    story = ("<h1>Harbour quay reopens</h1>"
             "<p>The harbour authority reopened the quay on Monday after three weeks of storm "
             "repairs, officials said, and the first ferries docked by noon.</p>"
             "<p>Traders said the closure had cost the port about a fifth of its monthly "
             "traffic, most of it fruit and timber bound for the inland markets.</p>")
    doc = clean_document(f"<html><body>{links}{story}</body></html>", "text/html",
                         "https://news.example.org/quay")
    assert "first ferries docked by noon" in doc.text
    assert "fruit and timber" in doc.text


def test_the_words_of_a_document_are_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The record's word_count and the language detection (twice: whether the body is long
    # enough, then the detection itself) each counted the words of the whole text.
    counted: list[int] = []
    count_words = clean_module.count_words

    def counting(text: str) -> int:
        counted.append(len(text))
        return count_words(text)

    monkeypatch.setattr(clean_module, "count_words", counting)
    doc = clean_document("Budget\n\n" + " ".join([PARAGRAPH] * 3), "text/plain")
    assert doc.language == "en"
    assert doc.word_count == count_words(doc.text) == 3 * len(PARAGRAPH.split())
    # The headline's few words are counted too, to decide that it is one.
    assert counted == [len("Budget"), len(doc.text)]
