"""core.main_text (block scoring on a Lexbor tree) and the switch that puts it first."""

from __future__ import annotations

import pytest

from newsflow.core import extraction
from newsflow.core.clean import _parse_html
from newsflow.core.main_text import main_text_by_blocks

pytestmark = pytest.mark.clock

PARAGRAPHS = [
    "The harbour reopened on Tuesday after a week of repairs to the sea wall, officials said.",
    "Fishing crews, who had moored at a neighbouring port, began returning in the afternoon.",
    "The council estimates the storm damage at four million euros, most of it to the quay.",
    "Engineers will inspect the breakwater again next month before the winter storms begin.",
] * 3
ARTICLE = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
MENU = "<ul>" + "".join(f'<li><a href="/{w}">{w}</a></li>' for w in
                        ("World", "Business", "Sport", "Weather", "Culture")) + "</ul>"
RELATED = ('<div class="story-list">' + "".join(
    f'<div class="card"><a href="/s{n}">Another headline about the coast number {n}</a>'
    f"<span>Short summary.</span></div>" for n in range(8)) + "</div>")


def _page(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>Harbour</title></head><body>{body}</body></html>"


def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line]


def test_article_kept_without_menu_related_list_or_footer() -> None:
    page = _page(f"<header><div class='top'>{MENU}</div></header>"
                 f"<div class='content'><article><h1>Harbour reopens</h1>{ARTICLE}</article>"
                 f"{RELATED}</div><footer>Contact us. Terms of use.</footer>")
    result = main_text_by_blocks(page)
    assert result.confident
    assert _lines(result.text)[-len(PARAGRAPHS):] == PARAGRAPHS
    for junk in ("Business", "Another headline", "Short summary", "Contact us"):
        assert junk not in result.text


def test_body_split_over_sibling_sections_is_joined() -> None:
    halves = ("".join(f"<p>{p}</p>" for p in PARAGRAPHS[:6]),
              "".join(f"<p>{p}</p>" for p in PARAGRAPHS[6:]))
    page = _page(f"<nav>{MENU}</nav><main><section class='story'>"
                 f"<div class='part'><div class='inner'>{halves[0]}</div></div>"
                 f"<div class='part'><div class='inner'>{halves[1]}</div></div>"
                 "</section></main>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_boilerplate_classes_go_but_an_article_wrapper_named_like_one_stays() -> None:
    page = _page(f"<div class='post tag-news ad-margins'>{ARTICLE}"
                 "<div class='share-bar'>Share this story on your network of choice today</div>"
                 "<div id='newsletter-signup'>Get the morning briefing in your inbox, free.</div>"
                 "</div>")
    text = main_text_by_blocks(page).text
    assert _lines(text) == PARAGRAPHS


def test_junk_after_a_detached_element_with_a_class_and_an_id_still_goes() -> None:
    # The class/id pass skips what it has detached: an element with both (listed twice) and
    # its named descendants. Miscounting them would spare the teaser box that follows.
    share = ("<div class='share-bar' id='share'><span class='icon' id='fb'>Facebook</span>"
             "<span class='icon'>Post it to your favourite network today</span></div>")
    teaser = ("<div class='related' id='more'><span class='card'>Another headline about the"
              " coast and its storms</span></div>")
    page = _page(f"<div class='story'>{ARTICLE}{share}{teaser}{share}</div>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_comments_and_hidden_teasers_go_whatever_their_length() -> None:
    thread = "".join(f"<p>A reader wrote a long comment, number {n}, about the harbour and the"
                     " storm and the council and much else besides, at length.</p>"
                     for n in range(30))
    hidden = ("<div style='display: none'>" + "".join(
        f"<p>Hidden teaser summary {n} for a different story about something else.</p>"
        for n in range(10)) + "</div>")
    page = _page(f"<div class='wrap'><div class='story'>{ARTICLE}</div>{hidden}"
                 f"<div id='comments'>{thread}</div></div>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_text_loose_in_a_div_is_found() -> None:
    story = "<br><br>".join(PARAGRAPHS)
    page = _page(f"<nav>{MENU}</nav><div class='body'>{story}</div>")
    result = main_text_by_blocks(page)
    assert all(p in result.text for p in PARAGRAPHS) and "Business" not in result.text


@pytest.mark.parametrize("page", [
    "",
    _page("<p>Just one short line.</p>"),
    _page(f"<div>{MENU}</div>"),
    # nested deeper than Python's stack: read (tests/unit/test_clean_deep_nesting.py), but a
    # line of text is no article
    _page("<div>" * 5000 + "Deep text that nobody should keep as an article." + "</div>" * 5000),
])
def test_no_article_is_not_confident(page: str) -> None:
    assert not main_text_by_blocks(page).confident


def test_a_teaser_beside_a_bigger_story_is_not_confident() -> None:
    # The best container holds under 70% of the page's paragraph text: let trafilatura decide.
    other = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    page = _page(f"<div class='a'>{ARTICLE}</div><table><tr><td><div class='b'>{other}</div>"
                 f"</td></tr></table>")
    assert not main_text_by_blocks(page).confident


TEASER_BLURBS = "".join(
    f"<div class='card'><h3><a href='/s{n}'>Headline {n}</a></h3><p>A plain-prose blurb for"
    f" another story, number {n}, that widening takes in with the article.</p></div>"
    for n in range(4))


@pytest.mark.parametrize("heading", ["Related Stories", "More in Science", "Kommentare (3)",
                                     "Was this article helpful?", "Über den Autor",
                                     "About the author", "Самые популярные диеты",
                                     "Leia também", "Zum Weiterlesen:", "Auch interessant",
                                     "Lesen Sie auch die folgenden Beiträge:"])
def test_a_teaser_heading_after_the_article_ends_it(heading: str) -> None:
    page = _page(f"<div class='page'><div class='story'>{ARTICLE}</div>"
                 f"<div class='more'><h2>{heading}</h2>{TEASER_BLURBS}</div></div>")
    result = main_text_by_blocks(page)
    assert _lines(result.text) == PARAGRAPHS and result.confident


def test_a_teaser_heading_with_more_article_after_it_is_a_box_and_stays() -> None:
    # less text before the heading than after: a box inside the article, the rest is kept
    first, rest = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:6]), ARTICLE * 2
    page = _page(f"<div class='story'>{first}<h3>Related</h3>{rest}</div>")
    assert _lines(main_text_by_blocks(page).text)[-len(PARAGRAPHS):] == PARAGRAPHS
    short = _page(f"<div class='story'><p>{PARAGRAPHS[0]}</p><h3>Related</h3>{ARTICLE}</div>")
    assert _lines(main_text_by_blocks(short).text)[-len(PARAGRAPHS):] == PARAGRAPHS


LEAD = "Storm repairs are done: the harbour is open to the fishing fleet again, a week late."


def test_a_standfirst_in_the_header_beside_the_body_leads_the_text() -> None:
    page = _page(f"<article><section class='head'><h1>Harbour</h1><div class='abstract'>"
                 f"<p>{LEAD}</p></div></section><div class='share'><a href='/s'>Share</a></div>"
                 f"<figure><img src='x.jpg'></figure><section class='body'>{ARTICLE}</section>"
                 "</article>")
    assert _lines(main_text_by_blocks(page).text) == [LEAD, *PARAGRAPHS]


def test_a_captioned_picture_a_few_blocks_back_is_no_standfirst() -> None:
    caption = "A photograph of the harbour wall after the storm, taken from the quay by a reader."
    page = _page(f"<div class='wrap'><div class='pic'><img src='x.jpg'><p>{caption}</p></div>"
                 f"<p>By a reporter</p><div class='body'>{ARTICLE}</div></div>")
    assert caption not in main_text_by_blocks(page).text


def test_a_standfirst_does_not_make_a_scrap_confident() -> None:
    scrap = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:10])  # under 1,000 characters
    page = _page(f"<div class='wrap'><p>{LEAD} {LEAD}</p><div class='body'>{scrap}</div></div>")
    result = main_text_by_blocks(page)
    assert result.text.startswith(LEAD) and not result.confident


def test_widening_stops_short_of_a_list_of_other_posts() -> None:
    others = "".join(
        f"<article class='post'><div class='body'><p>Another post, number {n}, has a blurb in"
        f" plain prose that runs on for a while, about something else entirely.</p>"
        f"<p>Its second paragraph is here too, and then the post ends.</p></div>"
        "</article>" for n in range(6))
    page = _page(f"<div class='posts'><article class='post'><div class='body'><div>{ARTICLE}"
                 f"</div></div></article>{others}</div>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_camel_case_boilerplate_names_count_as_words() -> None:
    caption = "Protesters gathered on the quay as the storm passed over the harbour town."
    pictures = "".join(f"<div class='photo'><img src='{n}.jpg'><span class='newsCaption'>"
                       f"{caption} {n}</span></div><p>{p}</p>" for n, p in enumerate(PARAGRAPHS))
    page = _page(f"<div class='articleBody'>{pictures}</div>")
    result = main_text_by_blocks(page)
    assert _lines(result.text) == PARAGRAPHS


def test_a_camel_case_gallery_name_holding_the_prose_is_kept() -> None:
    notes = "".join(f"<p>A note elsewhere on the page, number {n}, long enough to count.</p>"
                    for n in range(6))  # so the gallery holds under 80% of the page
    page = _page(f"<div class='slideshowWrapper'>{ARTICLE}</div><div class='x'>{notes}</div>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_empty_blocks_before_the_body_do_not_hide_its_standfirst() -> None:
    spacers = "<div class='spacer'></div><p></p><div class='slot'><script>x()</script></div>"
    page = _page(f"<div class='wrap'><p>{LEAD}</p>{spacers}<div class='gap'></div>"
                 f"<div class='body'>{ARTICLE}</div></div>")
    assert _lines(main_text_by_blocks(page).text) == [LEAD, *PARAGRAPHS]


@pytest.mark.parametrize("name", ["lead", "article__standfirst", "field-subtitle", "dek",
                                  # in Spanish, Italian and German newsrooms (issue 15j)
                                  "texto-bajada", "entradilla", "sommario", "vorspann"])
def test_a_block_named_as_standfirst_in_a_header_column_leads_the_text(name: str) -> None:
    header = (f"<div class='col'><div class='head'><h1>Harbour</h1><p class='{name}'>{LEAD}</p>"
              "</div><div class='pic'><img src='x.jpg'></div></div>")
    page = _page(f"<article>{header}<div class='col'><div class='inner'>"
                 f"<div class='text'>{ARTICLE}</div></div></div></article>")
    assert _lines(main_text_by_blocks(page).text) == [LEAD, *PARAGRAPHS]


def test_a_named_standfirst_is_not_taken_from_a_caption_or_a_teaser() -> None:
    caption = "<div class='lead-image'><img src='x.jpg'><p>The quay after the storm.</p></div>"
    teaser = (f"<div class='summary'><a href='/other'>{LEAD}</a></div>")
    page = _page(f"<article><div class='head'>{caption}{teaser}</div><div class='x'>"
                 f"<div class='y'><div class='text'>{ARTICLE}</div></div></div></article>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_a_standfirst_the_body_repeats_is_not_added_twice() -> None:
    page = _page(f"<div class='wrap'><div class='intro'><p>{PARAGRAPHS[0]}</p></div>"
                 f"<div class='body'>{ARTICLE}</div></div>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_switch_puts_block_scoring_first_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def run(tree: object, url: str | None, *, fast: bool = True, precision: bool = False) -> str:
        calls.append("trafilatura")
        return "from trafilatura " * 50

    monkeypatch.setattr(extraction, "_run", run)
    page = _page(f"<nav>{MENU}</nav><article>{ARTICLE}</article>")
    assert extraction.extract_main_text(_parse_html(page), None, page).strategy == "precision"
    result = extraction.extract_main_text(_parse_html(page), None, page, blocks_first=True)
    assert (result.strategy, _lines(result.text)) == ("blocks", PARAGRAPHS)
    calls.clear()
    short = _page("<p>Just one short line.</p>")
    assert extraction.extract_main_text(_parse_html(short), None, short,
                                        blocks_first=True).strategy == "precision"
    assert calls == ["trafilatura"]


def test_the_setting_switches_the_fast_path_on_for_the_whole_cleaning_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from newsflow.config import Settings
    from newsflow.core.clean import clean_document
    from newsflow.pipeline_setup import build_pipeline

    # trafilatura's answer marked, to tell which path produced the text
    monkeypatch.setattr(extraction, "_run", lambda *args, **kwargs: "from trafilatura " * 50)
    page = _page(f"<nav>{MENU}</nav><article>{ARTICLE}</article>")
    default = build_pipeline(Settings()).clean_limits  # on by default
    assert _lines(clean_document(page, "text/html", None, limits=default).text) == PARAGRAPHS
    limits = build_pipeline(Settings(clean_blocks_first=False)).clean_limits
    assert "from trafilatura" in clean_document(page, "text/html", None, limits=limits).text


def test_a_standfirst_named_teaser_stays_but_a_linked_teaser_goes() -> None:
    lead = f"<div class='article-teaser'><p>{LEAD}</p></div>"
    other = ("<div class='teaser'><p><a href='/other'>Bridge closes for a month</a> while the "
             "deck is replaced, the roads office said on Monday.</p></div>")
    carded = ("<a href='/more'><div class='teaser-text'>A ferry company adds winter sailings "
              "to the islands after a record summer, its owners said.</div></a>")
    page = _page(f"<div class='wrap'>{lead}<div class='body'>{ARTICLE}</div>{other}{carded}"
                 "</div>")
    assert _lines(main_text_by_blocks(page).text) == [LEAD, *PARAGRAPHS]


@pytest.mark.parametrize("box", [
    "<section class='letters-cta'><p>Tell us what you think of this story: write to our "
    "letters desk and we may print your reply.</p></section>",
    "<div class='editorial-disclosure'><p>We may earn a commission when you buy through the "
    "links on this page, at no cost to you.</p></div>",
    "<div id='kommentarModul'><p>Sie sind nicht angemeldet. Melden Sie sich an, um hier "
    "mitzudiskutieren und Beiträge zu schreiben.</p></div>",
    "<div class='donate-box'><p>Independent reporting costs money. Support our newsroom with "
    "a monthly gift of any size today.</p></div>",
    "<div class='testimonials'><blockquote><p>This newsletter changed the way I sleep and "
    "train, and I recommend it to everyone I know.</p></blockquote></div>",
])
def test_calls_to_action_disclosures_and_comment_modules_go(box: str) -> None:
    page = _page(f"<article><div class='body'>{ARTICLE}{box}</div></article>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_a_named_standfirst_five_levels_above_the_body_leads_the_text() -> None:
    body = (f"<div class='a'><div class='b'><div class='c'><div class='d'>{ARTICLE}</div></div>"
            "</div></div>")
    page = _page(f"<div class='page'><div class='intro-box'><p class='intro'>{LEAD}</p></div>"
                 f"<div class='col'>{body}</div></div>")
    assert _lines(main_text_by_blocks(page).text) == [LEAD, *PARAGRAPHS]


def test_a_boilerplate_word_in_a_bem_modifier_does_not_make_junk() -> None:
    half = len(PARAGRAPHS) - 4  # the second section holds a third of the text
    first = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:half])
    second = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[half:])
    page = _page(f"<article><section class='review__section'>{first}</section>"
                 f"<section class='review__section review__section--ads'>{second}"
                 "<div class='review__ad'>Advertisement: buy a boat today.</div></section>"
                 "</article>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_a_bem_modifier_that_names_the_element_counts() -> None:
    # Drupal names its fields and paragraphs in modifiers: "--name-field-related-articles" is
    # the related list, "--view-mode-teaser" a card for another story.
    related = ("<div class='field field--name-field-related-articles field--type-entity'>"
               "<p>Another story about the coast, with a summary long enough to be prose.</p>"
               "</div>")
    card = ("<div class='node node--type-article node--view-mode-teaser'>"
            "<p>A teaser for a different story, written as a sentence of plain prose.</p></div>")
    page = _page(f"<article><div class='field field--name-field-text'>{ARTICLE}{related}{card}"
                 "</div></article>")
    text = main_text_by_blocks(page).text
    assert _lines(text) == PARAGRAPHS
    assert "Another story" not in text and "different story" not in text


def test_a_modifier_that_names_the_element_counts_after_another_modifier() -> None:
    # Chained modifiers: "--wide" says how the card looks, "--name-related-articles" what it is.
    related = ("<div class='card card--wide--name-related-articles'>"
               "<p>Another story about the coast, with a summary long enough to be prose.</p>"
               "</div>")
    text = main_text_by_blocks(_page(f"<article><div class='body'>{ARTICLE}{related}</div>"
                                     "</article>")).text
    assert _lines(text) == PARAGRAPHS
    # A chain of looks alone is still no junk: "--ads" in "section--ads--wide" is a modifier.
    second = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[-4:])
    first = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:-4])
    page = _page(f"<article><section class='s'>{first}</section>"
                 f"<section class='s s--ads--wide'>{second}</section></article>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


def test_a_short_article_that_is_nearly_all_the_page_is_confident() -> None:
    short = PARAGRAPHS[:8]  # about 700 characters
    body = "".join(f"<p>{p}</p>" for p in short)
    whole = main_text_by_blocks(_page(f"<nav>{MENU}</nav><article>{body}</article>"))
    assert whole.confident and _lines(whole.text) == short
    beside = "".join(f"<p>Another story's paragraph number {n}, long enough to count as prose.</p>"
                     for n in range(4))
    part = main_text_by_blocks(_page(f"<article>{body}</article><div class='x'>{beside}</div>"))
    assert not part.confident
    # 700 characters, but mostly short lines: the container holds little of the page's prose.
    lines = "".join(f"<div>Opening hours {n}</div>" for n in range(40))
    listing = _page(f"<div class='list'>{lines}<p>{PARAGRAPHS[0]}</p><p>{PARAGRAPHS[1]}</p>"
                    f"</div><div class='other'><p>{PARAGRAPHS[2]}</p></div>")
    assert not main_text_by_blocks(listing).confident


def test_a_short_text_beside_much_other_text_is_not_whole() -> None:
    # The steps of a recipe or a code listing are short lines: no paragraph text, but text the
    # short article's container does not hold, so it is not the whole page.
    short = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:8])
    steps = "<ol>" + "".join(f"<li>Step {n}: stir the pot.</li>" for n in range(60)) + "</ol>"
    result = main_text_by_blocks(_page(f"<article>{short}</article><div class='x'>{steps}</div>"))
    assert not result.confident
    # ... and a short text that is only part of what its container holds is not whole either.
    links = "".join(f"<div><a href='/e{n}'>Episode {n} of the series</a></div>" for n in range(40))
    listing = main_text_by_blocks(_page(f"<article>{short}{links}</article>"))
    assert not listing.confident


def test_a_list_with_one_linked_item_stays_but_a_list_of_links_goes() -> None:
    words = ("<ul><li>cabbage</li><li>courgette</li><li>peas</li><li>tomatoes</li><li>onions</li>"
             "<li><a href='/recipes'>our low-fat soured cream recipe</a></li></ul>")
    links = "<ul>" + "".join(f"<li><a href='/s{n}'>Another story about the coast, part {n}</a>"
                             "</li>" for n in range(4)) + "</ul>"
    page = _page(f"<article>{ARTICLE}{words}{links}</article>")
    text = main_text_by_blocks(page).text
    assert "courgette" in text and "soured cream" not in text  # a line of link text goes
    assert "Another story" not in text


def test_only_the_first_h1_is_left_out_later_ones_head_sections() -> None:
    half = len(PARAGRAPHS) // 2
    first = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:half])
    second = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[half:])
    page = _page(f"<div class='text'><h1>Harbour reopens</h1>{first}<h1>What comes next</h1>"
                 f"{second}</div>")
    assert _lines(main_text_by_blocks(page).text) == [
        *PARAGRAPHS[:half], "What comes next", *PARAGRAPHS[half:]]


def test_a_paragraph_keeps_its_text_without_an_inline_cluster_of_links() -> None:
    # A hover card with a person's latest stories sits inside the sentence that names them:
    # the paragraph is mostly link text, but its own words are the article's.
    card = ("<span class='card'>" + "".join(
        f"<a href='/s{n}'>A long headline of another story about the harbour, number {n}</a>"
        for n in range(3)) + "</span>")
    sentence = (f"<p>The mayor, <a href='/people/mayor'>Ana Ruiz</a>{card}, said the harbour "
                "would reopen on Tuesday after a week of repairs to the sea wall.</p>")
    text = main_text_by_blocks(_page(f"<article>{sentence}{ARTICLE}</article>")).text
    assert _lines(text)[0] == ("The mayor, Ana Ruiz, said the harbour would reopen on Tuesday "
                               "after a week of repairs to the sea wall.")
    assert "another story" not in text
    # A line of links with a few words of its own still goes.
    teaser = (f"<p>Read more: {card}</p>")
    text = main_text_by_blocks(_page(f"<article>{ARTICLE}{teaser}</article>")).text
    assert "Read more" not in text and "another story" not in text
    # ... also when it sits in a quote (or a list item) beside a paragraph of prose: whether a
    # cluster is left out is decided on the line it is in, not on the block around that line.
    prose = "<p>The harbour master said the sea wall would be inspected again by engineers.</p>"
    quote = f"<blockquote>{prose}{teaser}</blockquote>"
    text = main_text_by_blocks(_page(f"<article>{ARTICLE}{quote}</article>")).text
    assert "harbour master" in text
    assert "Read more" not in text and "another story" not in text


def test_a_heading_whose_id_is_a_slug_of_its_words_stays() -> None:
    page = _page("<article><div class='body'>"
                 + "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:6])
                 + "<h2 id='h-what-social-media-said'>What social media said</h2>"
                 + "".join(f"<p>{p}</p>" for p in PARAGRAPHS[6:])
                 + "<div id='social-share'><p>Share this story with your friends on every "
                 "network.</p></div></div></article>")
    assert _lines(main_text_by_blocks(page).text) == [
        *PARAGRAPHS[:6], "What social media said", *PARAGRAPHS[6:]]


def test_paragraphs_of_the_bodys_kind_beside_its_wrapper_are_part_of_it() -> None:
    # The first paragraphs sit beside the wrapper of the rest (too few to widen to their
    # parent), with a short heading among them, as a news site's template lays out a story.
    body = [f"Paragraph {n} of the harbour report, long enough to count as one of its own."
            for n in range(14)]
    before = "".join(f"<div class='body__paragraph speakable'>{p}</div>" for p in body[:2])
    rest = "".join(f"<div class='body__paragraph'>{p}</div>" for p in body[3:])
    page = _page(f"<nav>{MENU}</nav><section class='zone'><div class='wrap'>{before}"
                 "<div class='body__paragraph'>Storm season?</div>"
                 f"<div class='body__paragraph speakable'>{body[2]}</div>"
                 "<div class='read-more'>Read More</div>"
                 f"<div class='read-all'>{rest}</div></div></section>"
                 "<div class='promo-box'><div class='body__paragraph'>Subscribe to the print "
                 "edition and get a free umbrella with your first order.</div></div>")
    assert _lines(main_text_by_blocks(page).text) == body


def test_a_standfirst_before_paragraphs_that_join_the_body_leads_it_once() -> None:
    body = [f"Paragraph {n} of the harbour report, which is long enough to count as a paragraph."
            for n in range(14)]
    rest = "".join(f"<div class='body__paragraph'>{p}</div>" for p in body[1:])
    page = _page(f"<section class='zone'><div class='wrap'><div class='dek'>{LEAD}</div>"
                 f"<div class='body__paragraph'>{body[0]}</div>"
                 f"<div class='read-all'>{rest}</div></div></section>")
    assert _lines(main_text_by_blocks(page).text) == [LEAD, *body]


TRANSCRIPT = "".join(
    f"<p>Speaker {n % 2 + 1}: and then the harbour master told us the wall would hold, line {n}.</p>"
    for n in range(15))
HIDDEN_LINKS = "".join(
    f"<li><a href='/e{n}'>Episode {n}: the harbour master on the sea wall, part {n}</a></li>"
    for n in range(20))


@pytest.mark.parametrize(("hidden", "confident"), [
    # a transcript behind a "show" toggle, longer than the visible teaser: let trafilatura and
    # its fragment check decide
    (f"<div style='display:none'>{TRANSCRIPT}</div>", False),
    # a hidden list of links of that size is a menu, and a hidden cookie dialog no article
    (f"<div style='display:none'><ul>{HIDDEN_LINKS}</ul></div>", True),
    (f"<div class='cookie-consent-wrap' aria-hidden='true'>{TRANSCRIPT}</div>", True),
])
def test_a_page_hiding_more_prose_than_the_text_is_not_confident(hidden: str,
                                                                 confident: bool) -> None:
    page = _page(f"<div class='wrap'><div class='story'>{ARTICLE}</div>{hidden}{RELATED}</div>")
    result = main_text_by_blocks(page)
    assert _lines(result.text) == PARAGRAPHS
    assert result.confident is confident


def test_a_reference_list_longer_than_the_abstract_is_not_the_text() -> None:
    citations = "".join(
        f"<li><p>Author{n} AB, Writer CD. A study of sea walls and harbour repairs, part {n}."
        f" J Coast Eng. 2017;{n}(2):1-9.</p></li>" for n in range(40))
    page = _page(f"<div class='paper'><section class='abstract'>{ARTICLE}</section>"
                 f"<ol class='c-article-references'>{citations}</ol></div>")
    result = main_text_by_blocks(page)
    assert _lines(result.text) == PARAGRAPHS and result.confident


def test_a_wall_of_testimonials_goes_whatever_its_length() -> None:
    quotes = "".join(
        f"<blockquote><p>Reader {n}: this newsletter changed the way I sleep and train, and I"
        " recommend it to everyone I know, friends and colleagues alike.</p></blockquote>"
        for n in range(20))
    page = _page(f"<main><article><div class='body'>{ARTICLE}</div></article>"
                 f"<div class='testimonials-wrapper'>{quotes}</div></main>")
    assert _lines(main_text_by_blocks(page).text) == PARAGRAPHS


SERIES = "".join(f"<li><a href='/part{n}'>Part {n}: the sea wall and the quay</a></li>"
                 for n in range(1, 6))


@pytest.mark.parametrize(("intro", "kept"), [
    # a list the text introduces is part of it, links and all (a series' table of contents)
    ("The series covers five parts:", True),
    # a teaser heading's links are other stories, and so is a one-word label's
    ("Read more:", False),
    ("See also:", False),
    ("More:", False),
    # without a colon the line introduces nothing
    ("The series covers five parts", False),
])
def test_a_link_list_the_text_introduces_stays(intro: str, kept: bool) -> None:
    half = len(PARAGRAPHS) // 2
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:half])
    rest = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[half:])
    page = _page(f"<article><div class='body'>{body}<p>{intro}</p><ul>{SERIES}</ul>{rest}"
                 "</div></article>")
    lines = _lines(main_text_by_blocks(page).text)
    assert ("Part 3: the sea wall and the quay" in lines) is kept
    assert lines[-half:] == PARAGRAPHS[half:]


def test_a_link_named_like_a_widget_inside_a_sentence_stays() -> None:
    # a player's tooltip link is words of the sentence; the same name on a link of its own in a
    # short paragraph is a widget
    lead = ("<p>MADRID — <a class='player-link' href='/p/1'>Rafael Nadal</a> kept Spain's hopes"
            " alive on Saturday, then the doubles pair completed the comeback.</p>")
    widget = "<p><a class='player-link' href='/live'>Watch the match live</a></p>"
    page = _page(f"<article><div class='body'>{lead}{widget}{ARTICLE}</div></article>")
    text = main_text_by_blocks(page).text
    assert _lines(text)[0].startswith("MADRID — Rafael Nadal kept Spain's hopes alive")
    assert "Watch the match live" not in text


@pytest.mark.parametrize(("first_kind", "joined"), [
    # the story's first paragraphs in a column beside the share tools, the rest in the next
    # column: the same block, holding the same kind of paragraph
    ("story-text__paragraph", True),
    # a block of the same class holding other paragraphs (pull quotes) is not the story's
    ("story-text__quote", False),
])
def test_a_body_split_over_two_columns_is_joined(first_kind: str, joined: bool) -> None:
    first = ["Rep. Meadows' retirement, revealed just hours before the filing deadline, has "
             "roiled some Republicans in the state.",
             "They suspect he timed the announcement to help a friend of his wife."]
    column_one = "".join(f"<p class='{first_kind}'>{p}</p>" for p in first)
    column_two = "".join(f"<p class='story-text__paragraph'>{p}</p>" for p in PARAGRAPHS)
    page = _page("<div class='page'><div class='row'>"
                 # the share tools' icons: media, so the column is no standfirst
                 f"<div class='col'><div class='tools'><figure><img src='x.png'></figure>{MENU}"
                 "</div>"
                 f"<div class='story-text'>{column_one}</div></div>"
                 f"<div class='col'><div class='story-text'>{column_two}</div></div>"
                 "</div></div>")
    lines = _lines(main_text_by_blocks(page).text)
    assert lines[-len(PARAGRAPHS):] == PARAGRAPHS
    assert (lines[:2] == first) is joined
