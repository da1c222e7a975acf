"""The tagger on the seeds, on every hard-negative sense we found, and its evidence and scores."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from newsflow.config import Settings
from newsflow.core.clean import clean_document
from newsflow.core.tagging import Tagger, parse_taxonomy
from newsflow.records import validator
from newsflow.taxonomy_files import load_taxonomy
from tests.helpers import tag_names

pytestmark = pytest.mark.clock

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"
LABELLED = ROOT / "benchmarks" / "data" / "tagging"


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return shipped_tagger()


def shipped_tagger() -> Tagger:
    return Tagger(load_taxonomy(Settings().taxonomy_path))


def seed(prefix: str) -> tuple[str, str]:
    [path] = SEEDS.glob(f"{prefix}_*.txt")
    doc = clean_document(path.read_text(encoding="utf-8"), "text/plain")
    return doc.title, doc.text


# --- seeds ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_every_seed_is_tagged_missiles_and_naval_deployment(tagger: Tagger, prefix: str) -> None:
    assert {"missiles", "naval_deployment"} <= tag_names(tagger, *seed(prefix))


def test_seed_004_is_also_tagged_sanctions(tagger: Tagger) -> None:
    title, body = seed("004")
    [tag] = [t for t in tagger.tag(title, body) if t.name == "sanctions"]
    assert tag.iptc == "medtop:20000642"
    assert [e.text for e in tag.evidence] == ["sanctions targeting", "sanctions against"]
    for ev in tag.evidence:
        assert ev.field == "body" and body[ev.start:ev.end] == ev.text


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003"])
def test_seeds_only_mentioning_sanctions_relief_as_a_bargaining_chip_are_not_sanctions(
        tagger: Tagger, prefix: str) -> None:
    # "in exchange for sanctions relief": a condition in talks, not sanctions imposed or lifted.
    assert "sanctions" not in tag_names(tagger, *seed(prefix))


# --- hard negatives: one case per sense found ---------------------------------------------------

HARD_NEGATIVES = [
    # missiles
    ("quarterback", "Late drive seals the win",
     "The quarterback fired a missile over the middle for the winning touchdown."),
    ("football shot", "Derby settled by stunning strike",
     "The forward hit a 25-yard missile into the top corner just before half-time."),
    ("cricket throw", "Run out decides the final",
     "A missile of a throw from the deep ran out the last batsman."),
    ("riot objects", "Officers hurt in disorder",
     "Rioters threw bottles, bricks and other missiles at police lines."),
    ("fans' objects", "Match halted after crowd trouble",
     "Fans threw missiles at the visiting goalkeeper and the referee took the players off."),
    ("metaphor", "Minister's speech rocks party",
     "The speech landed like a guided missile in the middle of the conference."),
    ("metaphor, person", "Coach praises new signing",
     "The coach called the winger a missile down the left flank."),
    ("arcade game", "Retro games return", "Missile Command is back on consoles this month."),
    ("toy", "Toy recall", "The toy maker recalled foam missile launchers over a choking risk."),
    ("silo as a home", "Cold War relic for sale",
     "A former missile silo has been converted into a luxury underground apartment."),
    ("negated", "Market blast was gas leak, not missile",
     "Investigators ruled out reports that a missile had struck the market hall."),
    # sanctions
    ("FIFA", "FIFA punishes club over chants",
     "FIFA's disciplinary committee sanctioned the club with a fine and a closed-doors match."),
    ("UEFA", "UEFA opens case", "UEFA could impose sanctions, including a stadium closure."),
    ("league", "Club faces points deduction",
     "The league will decide on sanctions after the club breached spending rules."),
    ("NCAA", "Programme punished", "The NCAA imposed sanctions including a two-year bowl ban."),
    ("doping", "Sprinter banned", "Further sanctions could follow for the athlete's coach."),
    ("boxing", "Title bout confirmed",
     "The fight will be sanctioned by the WBC and the WBA, the promoters said."),
    ("court", "Judge punishes lawyers",
     "A federal judge sanctioned two lawyers for citing cases invented by a chatbot."),
    ("welfare", "Benefit sanctions rise",
     "More jobseekers had their benefit sanctioned for missing appointments."),
    ("procedural approve", "Council approves bus lanes",
     "The city council sanctioned plans for three new bus lanes."),
    ("procedural funds", "Emergency money for floods",
     "Lawmakers sanctioned emergency funds for districts hit by floods."),
    ("social", "Village rules", "Informal social sanctions kept fishers within catch limits."),
    ("school", "Phone ban enforced", "The school sanctioned 40 pupils for using phones."),
    ("employer", "Expense audit", "The company sanctioned 12 employees over false expense claims."),
    ("medical board", "Surgeon suspended",
     "The state medical board sanctioned a surgeon and suspended his licence."),
    ("chess federation", "Cheating case", "The chess federation sanctioned a player for cheating."),
    ("lawsuit", "Discovery failures",
     "A judge ordered the company to pay $2 million in sanctions for delays in a lawsuit."),
    ("official sanction of a race", "Trail race gains official sanction",
     "The race now has official sanction from the national body."),
    ("tariffs rather than sanctions", "Government responds with tariffs",
     "The government chose tariffs on steel rather than sanctions on the country's banks."),
    # naval_deployment
    ("navy blue", "Autumn colours", "Designers sent navy suits and navy knitwear down the runway."),
    ("navy interiors", "Kitchen trends", "Navy cabinets with brass handles are everywhere."),
    ("Navy football", "Navy beats Army",
     "The Midshipmen held on in the fourth quarter as Navy beat Army 17-11."),
    ("truck fleet", "Logistics firm electrifies",
     "The company will add 500 electric trucks to its fleet and deploy new depots."),
    ("airline fleet", "Airline grounds jets", "The airline grounded 20 jets from its fleet."),
    ("fishing fleet", "Storm warning", "The fishing fleet stayed in harbour as the storm came."),
    ("submarine sandwich", "New menu item", "The chain added a pulled pork submarine to its menu."),
    ("tourist submarine", "Dives resume", "A tourist submarine resumed dives off the coast."),
    ("aircraft carrier as a size", "Stadium roof unveiled",
     "The retractable roof is longer than an aircraft carrier."),
    ("telecom carrier", "5G for villages", "The wireless carrier deployed 5G to 300 towns."),
    ("retail brand", "Gap results", "Sales at Old Navy rose 8 percent in the quarter."),
    ("Navy Pier", "Chicago lights", "Navy Pier will install new lights on its wheel."),
    ("veteran", "Veteran dies at 101",
     "He served on Royal Navy minesweepers in the Second World War."),
    ("album", "Reissue", "The band will reissue its album Destroyer with demos."),
    ("Navy sailing team", "Regatta result",
     "The Navy sailing team won the university championship regatta on the bay."),
    ("historic warship", "A weekend in Portsmouth",
     "At the historic dockyard you can board a Tudor warship raised from the seabed."),
    ("fleet of satellites", "Weather startup", "The startup plans a fleet of 30 weather satellites."),
    ("cruise ship", "Winter season",
     "The cruise line will deploy its newest ship to the Caribbean."),
]


@pytest.mark.parametrize(("sense", "title", "body"), HARD_NEGATIVES,
                         ids=[case[0] for case in HARD_NEGATIVES])
def test_hard_negative_sense_is_not_tagged(tagger: Tagger, sense: str, title: str,
                                           body: str) -> None:
    assert tag_names(tagger, title, body) == set(), sense


# --- positives, evidence and scores -------------------------------------------------------------

EVIDENCE_CASES = [
    ("missiles", "North Korea fires missile into sea",
     "North Korea launched a short-range ballistic missile on Thursday, Seoul said.",
     [("title", "missile"), ("body", "ballistic missile")]),
    ("sanctions", "EU agrees new package against Russia",
     "EU ambassadors approved new sanctions against Russian banks and froze their assets.",
     [("body", "sanctions against")]),
    ("naval_deployment", "Pentagon orders aircraft carrier to the Mediterranean",
     "A carrier strike group led by the USS Gerald R. Ford sailed into the eastern Mediterranean.",
     [("title", "aircraft carrier"), ("body", "carrier strike group"),
      ("body", "USS Gerald R. Ford")]),
]


@pytest.mark.parametrize(("tag_name", "title", "body", "expected"), EVIDENCE_CASES,
                         ids=[case[0] for case in EVIDENCE_CASES])
def test_evidence_spans_point_at_the_words(tagger: Tagger, tag_name: str, title: str, body: str,
                                           expected: list[tuple[str, str]]) -> None:
    [tag] = [t for t in tagger.tag(title, body) if t.name == tag_name]
    texts = {"title": title, "body": body}
    for ev in tag.evidence:
        assert texts[ev.field][ev.start:ev.end] == ev.text
    got = [(ev.field, ev.text) for ev in tag.evidence]
    for item in expected:
        assert item in got


def test_tags_are_multi_label_scored_in_unit_range_and_follow_the_schema(tagger: Tagger) -> None:
    title = "US sends warships to Gulf and tightens Iran sanctions after missile test"
    body = ("The US sent two destroyers to the Gulf and announced new sanctions on Iran's oil "
            "sector a day after Tehran tested a medium-range ballistic missile.")
    tags = tagger.tag(title, body)
    assert {t.name for t in tags} == {"missiles", "sanctions", "naval_deployment"}
    assert all(0.5 <= t.score <= 1 for t in tags)
    defs = validator("article").schema["$defs"]
    tag_schema = Draft202012Validator({"$defs": defs, "$ref": "#/$defs/tag"})
    for tag in tags:
        tag_schema.validate(tag.to_dict())
    assert tagger.tag(title, body) == tags  # deterministic


def test_a_mention_counts_less_deep_in_a_long_article_than_in_a_short_wire(
        tagger: Tagger) -> None:
    mention = "Washington imposed sanctions on two shipping firms."
    filler = " ".join(["The festival drew large crowds to the old town this weekend."] * 60)

    def score(body: str) -> float:
        [why] = [e for e in tagger.explain("Weekend news", body) if e.topic == "sanctions"]
        return why.score

    short, long_late = score(mention), score(f"{filler}\n\n{mention}")
    assert short >= 0.5 > long_late > 0


def test_title_evidence_raises_the_score(tagger: Tagger) -> None:
    body = "The navy deployed two frigates to the strait on Monday."

    def score(title: str) -> float:
        [why] = [e for e in tagger.explain(title, body) if e.topic == "naval_deployment"]
        return why.score

    assert score("Frigates deployed to strait") > score("Monday briefing")


def test_negation_lowers_a_mention(tagger: Tagger) -> None:
    plain = "Officials said a missile struck the depot near the border."
    negated = "Officials said no missile struck the depot near the border."

    def score(body: str) -> float:
        [why] = [e for e in tagger.explain("Depot fire", body) if e.topic == "missiles"]
        return why.score

    contracted = "Officials said it wasn’t a missile that struck the depot near the border."
    assert 0 < score(negated) < score(plain)
    assert 0 < score(contracted) < score(plain)


def test_word_prefilter_never_changes_a_result(tagger: Tagger) -> None:
    # The prefilter skips a term's regex when the text lacks its words; without it every regex
    # runs. Both must agree on every labelled article and seed.
    unfiltered = Tagger(tuple(
        dataclasses.replace(topic, terms=tuple(dataclasses.replace(term, required=None)
                                               for term in topic.terms))
        for topic in tagger.topics))
    texts = [seed(p) for p in ("000", "001", "002", "003", "004")]
    for path in sorted(LABELLED.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            art = json.loads(line)
            texts.append((art["title"], art["text"]))
    assert len(texts) > 150
    for title, body in texts:
        assert tagger.tag(title, body) == unfiltered.tag(title, body)


def test_labelled_set_reaches_the_target(tagger: Tagger) -> None:
    # A regression guard on the articles we wrote (not evidence of quality: see
    # benchmarks/tagging_real.py for real news): >= 0.95 precision and recall per
    # tag over all labelled articles (see benchmarks/tagging.py for the split figures).
    counts = {name: [0, 0, 0] for name in ("missiles", "sanctions", "naval_deployment")}
    for path in sorted(LABELLED.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            art = json.loads(line)
            got = tag_names(tagger, art["title"], art["text"])
            for name, c in counts.items():
                c[0] += name in got and name in art["labels"]
                c[1] += name in got and name not in art["labels"]
                c[2] += name not in got and name in art["labels"]
    for name, (tp, fp, fn) in counts.items():
        assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95, (name, tp, fp, fn)


def test_empty_and_blank_texts_get_no_tags(tagger: Tagger) -> None:
    assert tagger.tag("", "") == []
    assert tagger.tag("  ", "\n\n \n") == []


SHIPPED = shipped_tagger()
WORDS = ["missile", "missiles", "ballistic", "sanctions", "imposed", "navy", "warships", "fleet",
         "sent", "to", "the", "Gulf", "Treasury", "banks", "FIFA", "not", "blue", "quarterback",
         "carrier", "strike", "group", "US", "Iran", "—", "“", "”", ".", ",", "\n\n", "-", "é"]


@settings(max_examples=150, deadline=None)
@given(title=st.lists(st.sampled_from(WORDS), max_size=8),
       body=st.lists(st.sampled_from(WORDS) | st.text(max_size=3), max_size=60))
def test_any_text_gives_valid_scores_and_evidence(title: list[str], body: list[str]) -> None:
    tagger = SHIPPED
    title_text, body_text = " ".join(title), " ".join(body)
    texts = {"title": title_text, "body": body_text}
    for tag in tagger.tag(title_text, body_text):
        assert 0.0 <= tag.score <= 1.0 and tag.evidence
        for ev in tag.evidence:
            assert texts[ev.field][ev.start:ev.end] == ev.text


class CountingPattern:
    """A compiled pattern that counts its scans: how often a context rule reads the text."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.scans = 0

    def finditer(self, text: str, pos: int = 0,
                 endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        self.scans += 1
        return self.pattern.finditer(text, pos, endpos)

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        self.scans += 1
        return self.pattern.search(text, pos, endpos)


def test_context_rules_read_a_long_sentence_once_not_once_per_match() -> None:
    # A text without full stops is one sentence: scanning it again for each of its term matches
    # made tagging quadratic (a 24 KB transcript took a minute and missed the prepare budget).
    [topic] = parse_taxonomy({"topics": [{
        "name": "naval", "iptc": "medtop:20000599", "description": "x", "threshold": 0.5,
        "terms": [{"phrase": "navy", "weight": 1.0}],
        "context": [{"effect": "require", "words": ["warship~"], "scope": "sentence"},
                    {"effect": "exclude", "words": ["football"], "scope": "document"},
                    {"effect": "boost", "words": ["deployed"], "scope": "paragraph",
                     "factor": 1.5, "unless": ["parade"]}]}]})
    counters = [CountingPattern(rule.pattern) for rule in topic.rules]
    unless = CountingPattern(topic.rules[2].unless)  # type: ignore[arg-type]
    rules = tuple(dataclasses.replace(rule, pattern=counter)  # type: ignore[arg-type]
                  for rule, counter in zip(topic.rules, counters, strict=True))
    rules = (*rules[:2], dataclasses.replace(rules[2], unless=unless))  # type: ignore[arg-type]
    tagger = Tagger((dataclasses.replace(topic, rules=rules),))
    body = "the navy deployed warships " * 400
    [why] = tagger.explain("Fleet news", body)
    assert len(why.hits) == 400 and why.score > 0.99
    # One scan of the sentence (= the paragraph), one of the document and one of the title.
    assert [c.scans for c in counters] == [1, 2, 1]
    assert unless.scans == 1


def test_an_empty_match_is_no_evidence() -> None:
    # "(?<=,)" matches nothing after every comma: as a newsroom's alternative it must not tag
    # every article with empty evidence, nor be "found" by a context rule everywhere.
    [topic] = parse_taxonomy({"topics": [{
        "name": "strikes", "iptc": "medtop:20000523", "description": "x", "threshold": 0.5,
        "terms": [{"regex": r"walkout|(?<=,)", "weight": 1.0},
                  {"phrase": "stoppage", "weight": 1.0,
                   "context": [{"effect": "exclude", "regex": r"football|(?<=,)"}]}]}]})
    tagger = Tagger((topic,))
    assert tagger.tag("Weather today", "Sunny, warm, dry, with light winds, said forecasters.") == []
    [tag] = tagger.tag("Dockers strike", "A walkout closed the port. The stoppage, the union "
                                         "said, went on.")
    assert [(e.text, e.field) for e in tag.evidence] == [("walkout", "body"), ("stoppage", "body")]


def test_evidence_is_looked_for_in_the_first_characters_of_a_huge_body(tagger: Tagger) -> None:
    # Past SCAN_MAX_CHARS nothing is scanned: a 5 MB page costs what 200,000 characters do.
    from newsflow.core.tagging import SCAN_MAX_CHARS

    late = "North Korea fired two ballistic missiles into the sea, Seoul said."
    filler = "The council met again on Tuesday to discuss the budget. " * 4_000
    assert len(filler) > SCAN_MAX_CHARS
    body = filler + late
    hits = [h for why in tagger.explain("", body) for h in why.hits]
    assert hits == []  # the one report of missiles is past the scanned part
    early = late + " " + filler
    scanned = [h for why in tagger.explain("", early) for h in why.hits]
    assert scanned and all(h.evidence.end <= SCAN_MAX_CHARS for h in scanned)


def _one_topic(*phrases: str) -> Tagger:
    [topic] = parse_taxonomy({"topics": [{
        "name": "local", "iptc": "medtop:20000099", "description": "x", "threshold": 0.3,
        "terms": [{"phrase": phrase, "weight": 1.0} for phrase in phrases]}]})
    return Tagger((topic,))


@pytest.mark.parametrize(("phrase", "text"), [
    # re matches I, i, İ and ı as one letter, but the word prefilter lowered the text's words
    # apart ("İstanbul" to "i" + a combining dot + "stanbul") and skipped the regex.
    ("Istanbul earthquake~", "A strong İstanbul earthquake shook the city on Monday."),
    ("İstanbul earthquake~", "A strong Istanbul earthquake shook the city on Monday."),
    ("Diyarbakir earthquake~", "A strong Diyarbakır earthquake shook the city on Monday."),
    ("Diyarbakir earthquake~", "A STRONG DİYARBAKIR EARTHQUAKE SHOOK THE CITY ON MONDAY."),
    # A phrase is typed with "'" and "-"; news prints "’", typeset hyphens and en dashes.
    ("coup d'état", "The army staged a coup d’état in the capital on Monday."),
    ("coup d’état", "The army staged a coup d'état in the capital on Monday."),
    ("cyber-attack~", "A cyber‑attack (a non-breaking hyphen) hit the port on Monday."),
    ("Iran-Iraq war", "Veterans of the Iran–Iraq war marched in the capital on Monday."),
    # A phrase pasted in decomposed form (NFD); article text is NFC (clean.normalise_text).
    ("Besanc\u0327on court", "The Besançon court ruled on Monday."),
    # A form without a word ("&") makes no demand on the text's words: the prefilter skipped
    # the regex, which matches, on "Marks & Spencer".
    ("Marks &|and Spencer", "Marks & Spencer reported higher sales on Monday."),
])
def test_a_phrase_matches_the_forms_news_prints_it_in(phrase: str, text: str) -> None:
    tags = _one_topic(phrase).tag("", text)
    assert [t.name for t in tags] == ["local"], (phrase, text)


def test_the_word_prefilter_still_skips_a_text_without_the_phrase() -> None:
    # Folding makes the prefilter wider for i and ı only: other words still decide.
    assert _one_topic("Istanbul earthquake~").tag("", "A strong earthquake shook Izmir.") == []


@pytest.mark.parametrize("text", [
    # Folded before it was split into words, the text lost a word the regex still matched:
    # U+0307 (no word character) was deleted, joining "aq" to "cd"; U+0345 folds to a letter.
    "aq\u0307cd here on Monday.",
    "A cd\u0345 was found on Monday.",
])
def test_the_word_prefilter_splits_before_it_folds(text: str) -> None:
    assert [t.name for t in _one_topic("cd").tag("", text)] == ["local"]


def test_explain_names_the_rule_that_ruled_a_match_out(tagger: Tagger) -> None:
    # "sanctions" beside a sports word: found, and excluded by a rule that the explanation
    # names, so a miss is told from one whose words were never there.
    why = {e.topic: e for e in tagger.explain(
        "Club faces sanctions", "The UEFA disciplinary body imposed sanctions on the club "
        "after the match against Spain's champions.")}["sanctions"]
    assert why.hits == () and why.score == 0.0
    assert {(evidence.text, rule.effect) for evidence, rule in why.dropped} >= {
        ("imposed sanctions", "exclude")}
    assert all(rule.where.startswith("topic 'sanctions': ") for _, rule in why.dropped)
    # A requirement with no factor drops a match too, and is named: "sanctions" needs a
    # state or a party in its sentence.
    needs_party = {e.topic: e for e in tagger.explain(
        "Sanctions", "The club was hit with sanctions after the match.")}["sanctions"]
    assert [(ev.text, rule.effect) for ev, rule in needs_party.dropped] == [
        ("Sanctions", "require"), ("sanctions", "require")]
    # A match that counts is not among the dropped ones.
    kept = {e.topic: e for e in tagger.explain(
        "EU imposes sanctions on Russia", "The EU imposed sanctions on Russian banks.")}
    assert kept["sanctions"].hits and kept["sanctions"].dropped == ()
