"""Every line rule: lines it must remove, and ordinary sentences it must leave alone."""

from __future__ import annotations

import time

import pytest

from newsflow.core.boilerplate import LINE_RULES, match_rule, strip_boilerplate

# rule name -> (junk lines it removes, ordinary sentences that look a bit like them)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "also_read": (
        ["Also Read: India reduces Russian crude imports amid new US trade framework",
         "READ MORE: China plague outbreak confirmed: Two diagnosed with disease",
         "Related: The 15 Weirdest Galaxies in Our Universe",
         "SEE MORE: Hong Kong protests: 800 students under siege in university",
         "Also on rt.com Journalists threatened with sedition arrests"],
        ["Also read the fine print before you sign, lawyers advise.",
         "More-than-expected growth lifted shares on Tuesday.",
         "Related charges were filed against two other men: both pleaded not guilty.",
         "Watch out for scams, police said: fraudsters pose as bank staff."],
    ),
    "teaser_heading": (
        ["DON'T MISS", "You may also like...", "Read more"],
        ["Don't miss the deadline on Friday, officials warned.",
         "You may also like the new design, its makers hope."],
    ),
    "advertisement": (
        ["Advertisement", "ADVERTISEMENT", "Story continues below advertisement",
         "Anzeige", "Publicité", "Iklan", "Scroll down for video", "SCROLL FOR MORE"],
        ["Advertisement spending fell 4% in the third quarter.",
         "The ad campaign ran for six weeks.", "Scroll down the page to see the map."],
    ),
    "tags_line": (
        ["Filed under: Politics |", "Tags: climate, energy, coal", "Tags", "Schlagworte: Klima"],
        ["Category | Last month | This month", "Tags are sold at the counter for a dollar."],
    ),
    "link_list_item": (
        ["- list 1 of 3What happens when Netanyahu visits Trump? A look at his past trips",
         "list 2 of 3 Netanyahu says he'll present 'principles' for Iran talks"],
        ["The list of 3 candidates was published on Monday.",
         "She was third on a list 1 of 3 parties had drawn up."],
    ),
    "link_list_end": (
        ["end of list", "End of list"],
        ["The end of list voting came as a surprise.", "At the end of the list was Brazil."],
    ),
    "newsletter": (
        ["Sign up for our daily newsletter", "Subscribe to the Morning Review newsletter",
         "Thanks for signing up!",
         "Get the latest updates right in your inbox. Subscribe to NJ.com’s newsletters.",
         "The day's top stories, delivered straight to your inbox.",
         "Got this from a friend? Sign up to get it in your inbox.",
         "Join 40,000+ readers who get our weekly notes on gardening.",
         "There's plenty more where that came from. Sign up for The Daily Tide today to get "
         "the free newsletter delivered to your inbox daily.",
         "The Harbour Report covers one topic: the sea. Sign up for our newsletters to have "
         "stories delivered to your inbox. Consider becoming a member."],
        ["More than 2,000 people signed up for the newsletter within a day, the campaign said.",
         "Residents can sign up for flood alerts at the town hall, the mayor said.",
         "Voters had to sign up to get the ballot by email, officials said.",
         "Join 3 colleagues at the harbour for the morning shift.",
         "Stay informed: follow news sources, subscribe to industry newsletters and ask "
         "colleagues.",
         "The storm came fast. Subscribe to the theory of climate change or not, the water "
         "rose."],
    ),
    "share_bar": (
        ["Share Tweet Email", "Facebook | Twitter | LinkedIn",
         "Share on Facebook Share on Twitter"],
        ["Facebook and Twitter removed the accounts on Monday.",
         "Share prices fell on Twitter's news."],
    ),
    "comment_label": (
        ["Comments", "comments", "27 commentaires", "Kommentare (3)", "Комментарии"],
        ["Comments were closed after the vote.", "Comment is free, but facts are sacred."],
    ),
    "share_prompt": (
        ["Share this article", "Like this story? Share it with a friend!", "Jetzt teilen!",
         "Mit Freunden teilen", "Möchten Sie den Artikel teilen?", "Der Artikel gefällt dir?",
         "Partager cet article", "Compartir artículo", "Share this:", "Like this:",
         "Gefällt mir:", "Rate this article"],
        ["Share this article's concerns, critics say, and you will see the problem.",
         "Like this: a spoon of flour, then the eggs.",
         "Rate this article's claims against the record, the editor asked.",
         "Did you like this story? Readers wrote in with their own memories.",
         "Die Parteien wollen die Kosten teilen.", "Partager les risques, disent-ils."],
    ),
    "photo_credit": (
        ["Photo: Reuters", "(Photo by John Smith/Getty Images)", "Image source, Getty Images",
         "Picture credit: AFP", "(Reuters)", "Crédits photos : Bestimage",
         "Titelbild: Geyres Christophe/ABACA", "Foto: dpa", "Symbolgrafik: © Butch - stock.adobe.com",
         "Rubriklistenbild: © KCNA/dpa", "© Niklas Grapatin / Greenpeace"],
        ["Pictures, videos and text were published by the ministry on Tuesday.",
         "Photos by the dozen flooded social media within minutes.",
         "The image of the burning tower went round the world.",
         "Note: © marks a registered copyright in the text.",
         "Sales rose 4% / 5% in the two halves, © figures from the company."],
    ),
    "form_message": (
        ["Thank you! Your submission has been received!",
         "Oops! Something went wrong while submitting the form."],
        ["Thank you, your submission has been received by the committee and will be read.",
         "Something went wrong while submitting the form, the agency admitted in court."],
    ),
    "embed_code": (
        ['Embed <iframe src="https://example.org/player/embed/1/2" width="100%" '
         'title="embedded audio player">',
         '<iframe src="https://example.org/e/3" frameborder="0"></iframe>',
         'Embed code: <script src="https://example.org/widget.js"></script>'],
        ["Embed the video on your own site with the code below.",
         "The <iframe> element puts one page inside another."],
    ),
    "cookie_notice": (
        ["We use cookies to improve your experience. By continuing you agree to our policy.",
         "This website uses cookies."],
        ["Regulators say some websites use cookies to track children without consent."],
    ),
    "subscription_notice": (
        ["Subscribe to continue reading", "Already a subscriber? Log in",
         "This copy is for your personal, non-commercial use only. To order copies visit djr.com.",
         "Subscribe now to our eNATION edition for the full story.",
         "To view the full story, please subscribe to The Daily Times for $60 a year.",
         "Become a paid subscriber to Every to unlock this piece and learn about:",
         "Upgrade to paid to read the rest of this post.",
         "This post is for paid subscribers"],
        ["Subscribers to the service will pay $5 a month from January.",
         "Subscribe to the theory and the full story makes sense, he said.",
         "Already a subscriber for ten years, she cancelled in protest.",
         "Become a member of the club to unlock the gym on weekends, the flyer said.",
         "This post is for paid subscribers who asked about taxes: here are the answers."],
    ),
    "copyright": (
        ["Copyright ©2019 Dow Jones & Company, Inc. All Rights Reserved",
         "© 2024 Reuters. All rights reserved.", "Copyright 2019 The Associated Press"],
        ["Copyright law has not kept pace with AI, the judge wrote.",
         "All rights reserved for the original authors, the publisher said in a statement."],
    ),
    "author_contact": (
        ["Write to Al Root at allen.root@dowjones.com", "Contact the reporter at jane@example.com",
         "Have a tip? Ana Ruiz may be reached at aruiz@example.com. Follow her on Twitter @ar."],
        ["Residents can contact the council at info@council.example for help.",
         "Write to your MP, campaigners urged.",
         "Ana Ruiz can be reached at the harbour office on weekdays."],
    ),
    "follow_prompt": (
        ["Follow us on Instagram and TikTok for more recipes.",
         "Follow Ana Ruiz on Twitter: @anaruiz_news.",
         "Follow the Herald's coverage of the floods at https://example.com/floods",
         "*** Follow me on YouTube or Facebook for daily tips ***",
         "Follow @HarbourNews on Twitter to keep up with the latest sailings.",
         "Follow @HarbourDeals on Twitter to keep up with the latest deals from around the "
         "web. Quantities may be limited. Prices are subject to change without notice and "
         "coupons may expire at any time, so check the seller's page before you buy."],
        ["Follow these steps shared on Twitter to reset the router.",
         "Follow-up talks on Facebook's data policy are due next week.",
         "Police said they would follow the leads on Monday."],
    ),
    "wire_slug": (
        ["AP-US--Senate-Budget, 2nd Ld-Writethru", "BC-EU--Spain-Floods",
         "BC-AS--Japan-Quake/Tsunami, ADVISORY"],
        ["AP-style punctuation is used throughout.", "US--EU talks resume today."],
    ),
    "placeholder": (
        ["Loading ...", "Loading…", "Loading", "Wird geladen...", "Cargando",
         "This story appears in the {{article.magazine.pretty_date}} issue of {{magazine.name}}.",
         "Posted {{ post.date | relative }}", "Like Loading...", "Like Loading…",
         "Gefällt mir Lade …"],
        ["Loading the ferry took three hours in the rain.", "Like loading a van, it takes time.",
         "The template used {braces} for names."],
    ),
    "timestamp": (
        ["PUBLISHED: 10:48, Tue, Nov 19, 2019 | UPDATED: 11:05, Tue, Nov 19, 2019",
         "Nov. 20, 2019 5:52 AM EST", "Updated on March 22nd, 2017", "April 7th, 2017",
         "Last updated: April 21, 2025", "Published 7:50 pm, Tuesday, March 21, 2017",
         "2017/03/22 13:46", "1:53 PM ET", "20 hours ago", "10 min read",
         "Reading time: 4 minutes", "VATICAN CITY — Apr 9, 2017, 7:36 AM ET",
         "segunda-feira, 22 de janeiro de 2018 às 0:13", "19.10.2019, 05:00 Uhr",
         "08.03.2016 um 15:30 Uhr", "2 mars 2020", "mardi 19 novembre 2019 à 10h48",
         "Sábado 23 de abril del 2022", "martedì 3 marzo 2020 ore 10:48"],
        ["May the best team win.", "March 2017 was the warmest on record.",
         "Updated figures arrive on Tuesday, March 21.", "The 1:53 train was late.",
         "On 3 March, 2017 the vote was held at 10:00.",
         "PARIS — The vote was held on 3 March at 10:00.",
         "De 2018 a 2020 el paro bajó un 3%.", "Mars 2020 landed in February 2021.",
         "Le 2 mars, le vote a eu lieu à 10h00 à Paris."],
    ),
    "byline_label": (
        ["By", "Edited by", "Written by:", "Fact-checked by", "Von:", "Par :"],
        ["Bystanders", "Edited by hand, the film took a year.", "Von: bis:"],
    ),
    "byline": (
        ["By Jane Doe", "By Jane Doe and John Smith", "By Sarah E. Needleman, Reuters",
         "BY MARY-ANN O'NEIL | Nov 19, 2019"],
        ["By Tuesday, the river had risen by two metres.",
         "By the end of the year prices rose 4%.", "by and large, the plan worked"],
    ),
}


def test_every_rule_has_cases() -> None:
    assert {rule.name for rule in LINE_RULES} == set(CASES)


@pytest.mark.parametrize(("rule", "line"),
                         [(rule, line) for rule, (junk, _) in CASES.items() for line in junk])
def test_rule_removes_junk(rule: str, line: str) -> None:
    assert match_rule(line) == rule


@pytest.mark.parametrize(("rule", "sentence"),
                         [(rule, s) for rule, (_, keep) in CASES.items() for s in keep])
def test_rule_keeps_ordinary_sentence(rule: str, sentence: str) -> None:
    assert match_rule(sentence) is None, f"{rule!r} family removed an ordinary sentence"
    kept, removed = strip_boilerplate([sentence])
    assert kept == [sentence] and not removed


def test_removals_are_counted_per_rule() -> None:
    lines = ["Advertisement", "Real paragraph one.", "ADVERTISEMENT", "Share this article",
             "Real paragraph two."]
    kept, removed = strip_boilerplate(lines)
    assert kept == ["Real paragraph one.", "Real paragraph two."]
    assert removed == {"advertisement": 2, "share_prompt": 1}


def test_related_block_removes_heading_and_headlines_after_it() -> None:
    lines = ["The last paragraph of the story.", "Related News", "EU votes on migration rules",
             "Are drones changing the war?"]
    kept, removed = strip_boilerplate(lines)
    assert kept == ["The last paragraph of the story."]
    assert removed["related_block"] == 3


def test_related_heading_followed_by_prose_is_kept() -> None:
    lines = ["Related news", "The ministry said on Friday that talks would resume next week."]
    kept, removed = strip_boilerplate(lines)
    assert kept == lines and not removed


def test_closing_run_of_cut_off_teaser_excerpts_is_removed() -> None:
    lines = ["The last paragraph of the story.", "Zuletzt informierten wir Sie über die ...",
             "In den letzten Jahren konzentrierte sich die Branche auf…", "",
             "Die Bürger machten massiv Einsprü [...]"]
    kept, removed = strip_boilerplate(lines)
    assert kept == ["The last paragraph of the story."]
    assert removed["teaser_excerpts"] == 3


def test_two_trailing_ellipses_or_ellipses_inside_the_text_are_kept() -> None:
    two = ["She paused...", "The story goes on.", "And then...", "Nothing happened..."]
    assert strip_boilerplate(two) == (two, {})
    inside = ["Wait...", "Then...", "Again...", "The end of the story."]
    assert strip_boilerplate(inside) == (inside, {})


def test_repeated_byline_removed_when_author_known() -> None:
    lines = ["Jane Doe", "Jane Doe said the results were clear.", "The study ran for a year."]
    kept, removed = strip_boilerplate(lines, authors=["Jane Doe"])
    assert kept == lines[1:]
    assert removed == {"byline": 1}


def test_a_date_in_a_table_column_beside_its_figures_stays() -> None:
    lines = ["Date", "Price change", "1/1/2013", "+13.1%", "2/1/2013", "+12.9%"]
    kept, removed = strip_boilerplate(lines)
    assert kept == lines and not removed


def test_a_long_line_seen_before_is_a_copy_and_goes() -> None:
    slide = ("I literally cannot stop listening to this podcast: every episode addresses at least"
             " one issue that matters in my life.")
    lines = ["The article's only paragraph, which is short.", slide, "Another review.", slide,
             "Another review.", slide]
    kept, removed = strip_boilerplate(lines)
    assert kept == ["The article's only paragraph, which is short.", slide, "Another review.",
                    "Another review."]
    assert removed == {"repeated_line": 2}


def test_very_long_lines_are_never_removed() -> None:
    line = "Advertisement " + "word " * 200
    assert match_rule(line) is None


@pytest.mark.parametrize("line", ["Aand" * 100, "By " + "Aand" * 99,
                                  "Write to " + "Aand" * 97])
def test_names_run_together_with_and_do_not_make_a_rule_slow(line: str) -> None:
    # "and" joins names only as a word of its own: read inside "AandAand...", it let a name
    # list split in exponentially many ways (about two seconds for this 400-character line,
    # for every line starting with a capital since the "may be reached at" rule, and after
    # "By" or "Write to" before it).
    start = time.process_time()
    match_rule(line)
    assert time.process_time() - start < 0.2


@pytest.mark.parametrize("line", ["A. " * 133, "Sign up. " * 44, "de 1 " * 80, "12h" * 133])
def test_sentence_runs_and_stamp_words_do_not_make_a_rule_slow(line: str) -> None:
    # The newsletter call is looked for after each sentence of a line, and a stamp may be a
    # run of short parts: both must stay linear on a 400-character line.
    start = time.process_time()
    match_rule(line)
    assert time.process_time() - start < 0.05
