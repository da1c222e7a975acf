"""The taxonomy file: the shipped one loads, malformed ones fail with the entry named, and a
topic can be added without code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from wordfreq import zipf_frequency

from newsflow.config import Settings
from newsflow.core import tagging
from newsflow.core.tagging import (
    Tagger,
    inflections,
    parse_taxonomy,
    phrase_regex,
)
from newsflow.errors import TaxonomyError
from newsflow.pipeline_setup import build_pipeline
from newsflow.taxonomy_files import BUNDLED_TAXONOMY, load_taxonomy

pytestmark = pytest.mark.clock

SHIPPED = Settings().taxonomy_path


def minimal_topic(**overrides: Any) -> dict[str, Any]:
    topic: dict[str, Any] = {
        "name": "sanctions",
        "iptc": "medtop:20000642",
        "description": "Economic sanctions.",
        "threshold": 0.5,
        "terms": [{"phrase": "sanction~", "weight": 1.0}],
    }
    topic.update(overrides)
    return topic


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_shipped_taxonomy_has_the_three_topics_with_their_iptc_codes() -> None:
    topics = {t.name: t for t in load_taxonomy(SHIPPED)}
    assert {name: topics[name].iptc for name in ("missiles", "sanctions", "naval_deployment")} == {
        "missiles": "medtop:20000602",
        "sanctions": "medtop:20000642",
        "naval_deployment": "medtop:20000599",
    }
    assert all(t.description and 0 < t.threshold <= 1 and t.terms for t in topics.values())


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (minimal_topic(iptc="20000642"), r"topic 'sanctions': iptc"),
        (minimal_topic(iptc=None), r"topic 'sanctions': iptc"),
        (minimal_topic(name="Sanctions!"), r"topic 'Sanctions!': name"),
        (minimal_topic(threshold=1.5), r"topic 'sanctions': threshold"),
        (minimal_topic(threshold="high"), r"topic 'sanctions': threshold"),
        (minimal_topic(mention_factor=0), r"topic 'sanctions': mention_factor"),
        (minimal_topic(mention_factor=1.2), r"topic 'sanctions': mention_factor"),
        (minimal_topic(lead_sentences=0), r"topic 'sanctions': lead_sentences"),
        (minimal_topic(lead_sentences=1.5), r"topic 'sanctions': lead_sentences: expected a whole"),
        (minimal_topic(description=""), r"topic 'sanctions': description"),
        (minimal_topic(terms=[]), r"topic 'sanctions': terms"),
        (minimal_topic(terms=[{"regex": "sanction(", "weight": 1}]),
         r"topic 'sanctions': terms\[0\]: regex: invalid regex"),
        (minimal_topic(terms=[{"phrase": "sanctions", "weight": -1}]),
         r"topic 'sanctions': terms\[0\]: weight"),
        (minimal_topic(terms=[{"phrase": "sanctions", "regex": "x"}]),
         r"topic 'sanctions': terms\[0\]: expected exactly one of"),
        (minimal_topic(terms=[{"phrase": "sanctions", "needs": ["sanctions"]}]),
         r"topic 'sanctions': terms\[0\]: needs: only for regex terms"),
        (minimal_topic(terms=[{"regex": "sanctions?", "needs": ["@nowhere"]}]),
         r"topic 'sanctions': terms\[0\]: needs: unknown lexicon"),
        (minimal_topic(terms=[{"regex": "sanctions?", "needs": ["$"]}]),
         r"topic 'sanctions': terms\[0\]: needs: '\$' holds no word to look for"),
        (minimal_topic(terms=[{"phrase": "sanctions", "wieght": 1}]),
         r"topic 'sanctions': terms\[0\]: unknown keys \['wieght'\]"),
        (minimal_topic(treshold=0.5), r"topic 'sanctions': unknown keys \['treshold'\]"),
        (minimal_topic(context=[{"effect": "forbid", "words": ["FIFA"]}]),
         r"topic 'sanctions': context\[0\]: effect"),
        (minimal_topic(context=[{"effect": "exclude", "words": ["FIFA"], "scope": "page"}]),
         r"topic 'sanctions': context\[0\]: scope"),
        (minimal_topic(context=[{"effect": "exclude", "words": ["@sport"]}]),
         r"topic 'sanctions': context\[0\]: words: unknown lexicon '@sport'"),
        (minimal_topic(context=[{"effect": "require", "words": []}]),
         r"topic 'sanctions': context\[0\]: words"),
        (minimal_topic(negation={"factor": 2}), r"topic 'sanctions': negation: factor"),
        ("not a mapping", r"topics\[0\]: expected a mapping"),
    ],
)
def test_malformed_topic_fails_with_a_message_naming_the_entry_and_field(
        tmp_path: Path, topic: Any, expected: str) -> None:
    path = write(tmp_path, {"lexicons": {"sports": ["FIFA"]}, "topics": [topic]})
    with pytest.raises(TaxonomyError, match=expected) as info:
        load_taxonomy(path)
    assert str(path) in str(info.value)


def test_malformed_lexicon_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"lexicons": {"sports": ["FIFA", 3]}, "topics": [minimal_topic()]})
    with pytest.raises(TaxonomyError, match=r"lexicon 'sports'"):
        load_taxonomy(path)


def test_repeated_topic_names_and_unreadable_files_fail(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="repeated: sanctions"):
        load_taxonomy(write(tmp_path, {"topics": [minimal_topic(), minimal_topic()]}))
    broken = tmp_path / "broken.yaml"
    broken.write_text("topics: [\n  - name: x\n", encoding="utf-8")
    with pytest.raises(TaxonomyError) as syntax:
        load_taxonomy(broken)
    # One line, FILE:LINE:COLUMN as the sources file's errors, not PyYAML's caret lines.
    assert str(syntax.value) == (f"{broken}:2:3: not valid YAML: expected the node content, "
                                 "but found '-' (while parsing a flow node at line 2, column 3)")
    with pytest.raises(TaxonomyError) as missing:
        load_taxonomy(tmp_path / "missing.yaml")
    assert str(missing.value).startswith(f"{tmp_path}/missing.yaml: cannot read taxonomy: ")
    assert str(missing.value).count("missing.yaml:") == 1, "the file is named once"
    # /dev/zero was read until memory ran out (the setting, or `tags check --taxonomy`).
    with pytest.raises(TaxonomyError) as device:
        load_taxonomy(Path("/dev/null"))
    assert str(device.value) == "/dev/null: cannot read taxonomy: not a regular file (a device)"
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop.name)  # Path.resolve's RuntimeError was a traceback
    with pytest.raises(TaxonomyError) as looped:
        load_taxonomy(loop)
    assert str(looped.value).startswith(f"{loop}: cannot read taxonomy: [Errno 40] Too many "
                                        "levels of symbolic links")
    with pytest.raises(TaxonomyError, match=r"unknown keys \['topic'\]"):
        load_taxonomy(write(tmp_path, {"topic": []}))


def test_pipeline_start_up_fails_on_a_malformed_taxonomy(tmp_path: Path) -> None:
    path = write(tmp_path, {"topics": [minimal_topic(), minimal_topic(name="naval_deployment",
                                                                      iptc="medtop:1")]})
    with pytest.raises(TaxonomyError, match=r"topic 'naval_deployment': iptc"):
        build_pipeline(Settings(taxonomy_path=path))


def test_inflections_cover_regular_english_forms() -> None:
    assert {"sanctions", "sanctioned", "sanctioning"} <= set(inflections("sanction"))
    assert {"imposes", "imposed", "imposing"} <= set(inflections("impose"))
    assert {"ships", "shipped", "shipping"} <= set(inflections("ship"))
    assert {"patrolled", "patrolling"} <= set(inflections("patrol"))
    assert {"navies"} <= set(inflections("navy"))


@pytest.mark.parametrize(
    ("phrase", "text", "matches"),
    [
        ("impose~ sanction~", "Brussels imposed  sanctions on", "imposed  sanctions"),
        ("naval build-up", "a naval buildup in the Gulf", "naval buildup"),
        ("naval build-up", "a naval build up in the Gulf", "naval build up"),
        ("aircraft|helicopter carrier~", "two helicopter carriers", "helicopter carriers"),
        ("=US sanction~", "US sanctions", "US sanctions"),
        ("=US sanction~", "let us sanction him", None),
        # "=" keeps the case of the one alternative it stands before, anywhere in the phrase.
        ("economic|=US|=EU sanction~", "new US sanctions", "US sanctions"),
        ("economic|=US|=EU sanction~", "EU Sanctions bite", "EU Sanctions"),
        ("economic|=US|=EU sanction~", "Economic sanctions", "Economic sanctions"),
        ("economic|=US|=EU sanction~", "let us sanction him", None),
        ("Royal|=US|=U.S. navy", "the U.S. Navy said", "U.S. Navy"),
        ("Royal|=US|=U.S. navy", "the ROYAL NAVY said", "ROYAL NAVY"),
        ("Japanese|=EC tariff~", "new EC tariffs", "EC tariffs"),
        ("Japanese|=EC tariff~", "the ec tariffs", None),
        # Before the phrase, "=" keeps the case of its first word only: title case still
        # matches ("U.S. Sanctions", "ABM Treaty"), a lower-case first word does not.
        ("=ABM treaty", "the ABM treaty", "ABM treaty"),
        ("=ABM treaty", "the ABM Treaty", "ABM Treaty"),
        ("=ABM treaty", "the abm treaty", None),
        ("=U.S.|American sanction~", "NEW U.S. Sanctions ON", "U.S. Sanctions"),
        ("missile~", "missilery", None),
    ],
)
def test_phrase_syntax(phrase: str, text: str, matches: str | None) -> None:
    found = re.search(rf"(?<!\w)(?:{phrase_regex(phrase)})(?!\w)", text, re.IGNORECASE)
    assert (found.group(0) if found else None) == matches


def test_a_topic_is_added_without_code() -> None:
    data = {
        "lexicons": {"nuclear_words": ["uranium", "enrichment", "centrifuge~", "IAEA"]},
        "topics": [{
            "name": "nuclear_programme",
            "iptc": "medtop:99999999",  # any well-formed code; not a claim about IPTC
            "description": "Nuclear programmes and enrichment.",
            "threshold": 0.5,
            "terms": [{"phrase": "uranium enrichment", "weight": 1.2},
                      {"phrase": "centrifuge~", "weight": 0.6,
                       "context": [{"effect": "require", "words": ["@nuclear_words"]}]}],
        }],
    }
    tagger = Tagger(parse_taxonomy(data))
    tags = tagger.tag("Iran expands uranium enrichment",
                      "Inspectors said new centrifuges were installed at the uranium plant.")
    assert [t.name for t in tags] == ["nuclear_programme"]
    assert [e.text for e in tags[0].evidence] == ["uranium enrichment", "centrifuges"]
    assert tagger.tag("Salad spinner review", "A centrifuge for lettuce.") == []


# Names, a misspelling and trade words too rare in general English for the word list's test.
RARE_WORDS = {"kalibr", "kinzhal", "iskander", "exocet", "missle", "robotaxi", "shipbuild",
              "reflag"}


def test_every_inflected_word_in_the_shipped_taxonomy_is_a_word_not_a_stem() -> None:
    # "word~" adds inflections to a word; a stem ("retaliat~") never matches its base form
    # ("retaliate"), which is how "retaliate", "reduce" and "company" went unmatched. Truncated
    # stems are absent or near-absent from wordfreq's English list (its data no longer changes).
    tokens = {m.group(1) for m in re.finditer(r"([\w'-]+)~",
                                                BUNDLED_TAXONOMY.read_text(encoding="utf-8"))}
    stems = sorted(t for t in tokens if t.lower() not in RARE_WORDS
                   and zipf_frequency(t.rsplit("-", 1)[-1].lower(), "en") < 2.05)
    assert stems == []


def test_a_regex_term_runs_only_on_texts_with_one_of_the_words_it_needs() -> None:
    topic = minimal_topic(terms=[{"regex": r"sanctions? (?:\w+ )?(?:were|was) lifted",
                                  "needs": ["sanction~"], "weight": 2.0}], context=[])
    [term] = parse_taxonomy({"topics": [topic]})[0].terms
    assert term.may_match(frozenset({"the", "sanctions", "were"}))
    assert not term.may_match(frozenset({"the", "embargo", "was", "lifted"}))
    tagger = Tagger(parse_taxonomy({"topics": [topic]}))
    assert [t.name for t in tagger.tag("Talks", "The sanctions were lifted on Monday.")] == [
        "sanctions"]


def test_needs_and_phrases_are_looked_for_by_their_words_whatever_comes_before_them() -> None:
    # "=US" (keep case) and a lexicon holding it stand for the word "us"; "$5" holds "5" and
    # "#MeToo" "metoo"; "&" holds no word and asks nothing of the text. Each was once a word
    # set the text's words could never meet, so the term silently never matched.
    topic = minimal_topic(terms=[
        {"regex": "(?-i:US) (?:troops|forces)", "needs": ["@big"], "weight": 2.0},
        {"phrase": ["$5 billion", "#MeToo", "AT & T"], "weight": 2.0}], context=[])
    tagger = Tagger(parse_taxonomy({"lexicons": {"big": ["=US", "=UK"]}, "topics": [topic]}))
    for text in ("US troops landed.", "A $5 billion deal.", "The #MeToo movement.",
                 "AT & T said so."):
        assert [t.name for t in tagger.tag("Talks", text)] == ["sanctions"], text


def test_keep_case_inside_an_alternative_is_looked_for_by_its_word() -> None:
    # "economic|=US sanction~" stands for the words "economic" or "us", then a "sanction" form,
    # in a phrase and in a regex term's "needs" alike; the case is checked by the regex.
    topic = minimal_topic(terms=[
        {"phrase": "economic|=US|=EU sanction~", "weight": 2.0},
        {"regex": "(?-i:UN) embargo", "needs": ["arms|=UN"], "weight": 2.0}], context=[])
    phrase_term, regex_term = parse_taxonomy({"topics": [topic]})[0].terms
    assert phrase_term.may_match(frozenset({"the", "us", "sanctions"}))
    assert not phrase_term.may_match(frozenset({"the", "sanctions"}))
    assert regex_term.may_match(frozenset({"the", "un", "embargo"}))
    tagger = Tagger(parse_taxonomy({"topics": [topic]}))
    for text in ("New US sanctions took effect.", "EU sanctions took effect.",
                 "A UN embargo took effect."):
        tags = tagger.tag("Talks", text)
        assert [t.name for t in tags] == ["sanctions"], text
    assert tagger.tag("Talks", "They will not let us sanctions-bust.") == []


def _widget_topic(rule: dict[str, object]) -> Tagger:
    return Tagger(parse_taxonomy({"topics": [{
        "name": "widgets", "iptc": "medtop:99999999", "description": "Widget news.",
        "threshold": 0.5, "terms": [{"phrase": "widget~", "weight": 1.0}], "context": [rule]}]}))


def test_a_rule_does_nothing_where_its_unless_words_are() -> None:
    tagger = _widget_topic({"effect": "boost", "words": ["stocks"], "scope": "headline",
                            "factor": 0.2, "unless": ["recall~"]})

    def weight(title: str) -> float:
        return next(e for e in tagger.explain(title, "The widget failed.")).body_mass

    assert weight("Stocks fall") == pytest.approx(0.2 * weight("Markets report"))
    assert weight("Stocks fall as widgets recalled") == pytest.approx(weight("Markets report"))


def test_a_names_rule_needs_the_body_to_write_the_name_under_a_capitalised_headline() -> None:
    tagger = _widget_topic({"effect": "exclude", "regex": "(?-i:Widget Works)", "scope": "window",
                            "window": 2, "names": True})

    def title_hits(title: str, body: str) -> int:
        return sum(h.evidence.field == "title"
                   for e in tagger.explain(title, body) for h in e.hits)

    assert title_hits("New Widget Works Better Than Expected", "It is a new widget.") == 1
    assert title_hits("Widget Works Closes Its Doors", "The Widget Works plant shut.") == 0
    # A headline in sentence case: capitals mark names, as without the key.
    assert title_hits("Widget Works closes plant", "It shut.") == 0


def test_a_headline_names_rule_looks_at_the_body_once_per_article(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Asked again for each of the body's matches, it searched the whole body each time: a
    # 200 KB body of matches took seconds (quadratic), near the per-page budget.
    tagger = _widget_topic({"effect": "boost", "regex": "(?-i:Widget Works)",
                            "scope": "headline", "names": True, "factor": 0.5})
    looked = []
    real = tagging._in_headline

    def counted(*args: Any) -> bool:
        looked.append(args[0])
        return real(*args)

    monkeypatch.setattr(tagging, "_in_headline", counted)
    body = "The widget sold. " * 500
    [explained] = tagger.explain("Widget Works Sells Widgets", body)
    # Once for all the body's matches, once for each of the headline's two.
    assert len(explained.hits) >= 500 and len(looked) == 3
    # Still asked per article: a body that writes the name gets the rule, one that does not
    # is left alone.
    monkeypatch.undo()

    def first_body_weight(body: str) -> float:
        [result] = tagger.explain("Widget Works Sells Widgets", body)
        return next(h.weight for h in result.hits if h.evidence.field == "body")

    assert first_body_weight("A widget sold at Widget Works.") == pytest.approx(
        0.5 * first_body_weight("A widget sold at Widget works."))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("names", 1, "names: expected true or false"),
    ("unless", [], "unless: expected a non-empty list"),
    ("unless", ["@nowhere"], "unknown lexicon '@nowhere'"),
])
def test_rule_keys_are_validated(key: str, value: object, message: str) -> None:
    with pytest.raises(TaxonomyError, match=message):
        _widget_topic({"effect": "boost", "words": ["stocks"], "scope": "headline", key: value})


@pytest.mark.parametrize(("terms", "context", "expected"), [
    # Python's re refuses these with OverflowError and RecursionError, not re.error.
    ([{"regex": "a{4294967296}"}], [], r"terms\[0\]: regex: invalid regex 'a\{4294967296\}': "
                                        r"the repetition number is too large"),
    ([{"regex": "(" * 3000 + "a" + ")" * 3000}], [],
     r"terms\[0\]: regex: invalid regex '\({77}\.\.\.': nested too deeply"),
    # Found in every text with empty evidence: it would tag unrelated articles.
    ([{"regex": "walkout|x*"}], [], r"terms\[0\]: regex: matches the empty string "
                                    r"\('walkout\|x\*' would be found in every text\)"),
    ([{"phrase": "sanction~"}], [{"effect": "require", "regex": "(?:EU)?"}],
     r"context\[0\]: regex: matches the empty string"),
    # The position is one in the regex as written, not in its word-boundary wrapping.
    ([{"regex": "sanction("}], [], r"terms\[0\]: regex: invalid regex 'sanction\(': missing \), "
                                   r"unterminated subpattern at position 8$"),
    ([{"regex": "walk(?i)out"}], [], r"terms\[0\]: regex: invalid regex 'walk\(\?i\)out': "
                                     r"global flags not at the start of the expression at "
                                     r"position 4$"),
])
def test_a_regex_that_cannot_be_compiled_or_matches_nothing_is_named(
        terms: list[Any], context: list[Any], expected: str) -> None:
    with pytest.raises(TaxonomyError, match=f"^<taxonomy>: topic 'sanctions': {expected}"):
        parse_taxonomy({"topics": [minimal_topic(terms=terms, context=context)]})


def test_a_regex_may_start_with_global_flags() -> None:
    """"(?i)walkout" was refused (the flags were no longer first once wrapped); a verbose
    regex's comment must not swallow the wrapping's closing parenthesis."""
    terms = [{"regex": "(?i)walk-?out"}, {"regex": "(?x) general \\s+ strike  # a comment"}]
    taxonomy = parse_taxonomy({"topics": [minimal_topic(terms=terms)]})
    tagger = Tagger(taxonomy)
    explained = {e.topic: e for e in tagger.explain("A WALK-OUT and a general  strike", "")}
    found = [hit.evidence.text for hit in explained["sanctions"].hits]
    assert found == ["WALK-OUT", "general  strike"], found


def test_an_unreadable_taxonomy_file_is_one_line(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("topics:\n  - name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TaxonomyError, match=f"^{latin1}: cannot read taxonomy: not UTF-8: "):
        load_taxonomy(latin1)
    deep = tmp_path / "deep.yaml"
    deep.write_text("topics: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=f"^{deep}: cannot read taxonomy: nested too deeply$"):
        load_taxonomy(deep)
