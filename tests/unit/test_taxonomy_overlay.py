"""A newsroom's taxonomy overlay: NEWSFLOW_TAXONOMY_PATH extends the bundled taxonomy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from newsflow.config import Settings
from newsflow.core.tagging import Tagger
from newsflow.errors import TaxonomyError
from newsflow.pipeline_setup import build_pipeline
from newsflow.taxonomy_files import BUNDLED_TAXONOMY, load_taxonomy

pytestmark = pytest.mark.clock

WIRE = ("Coast guard cutters seized the tanker",
        "Coast guard cutters seized an oil tanker in the strait on Monday after it ignored "
        "warnings, officials said.")


def overlay(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "newsroom.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def names(topics: Any) -> list[str]:
    return [t.name for t in topics]


def refusal(path: Path) -> str:
    """The one line ``load_taxonomy`` refuses the overlay at ``path`` with."""
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    return str(info.value)


def test_an_overlay_adds_a_topic_and_keeps_the_bundled_ones(tmp_path: Path) -> None:
    path = overlay(tmp_path, {
        "lexicons": {"seizure_words": ["seize~", "seizure~", "board~"]},
        "topics": [{"name": "ship_seizures", "iptc": "medtop:20000599",
                    "description": "Ships seized or boarded by state forces.", "threshold": 0.5,
                    "terms": [{"phrase": "coast guard", "weight": 1.0,
                               "context": [{"effect": "require",
                                            "words": ["@seizure_words"]}]}]}],
    })
    assert names(load_taxonomy(path)) == ["missiles", "sanctions", "naval_deployment",
                                          "ship_seizures"]
    pipeline = build_pipeline(Settings(taxonomy_path=path))  # NEWSFLOW_TAXONOMY_PATH
    assert "ship_seizures" in [t.name for t in pipeline.tagger.tag(*WIRE)]


def test_an_overlay_changes_only_the_fields_it_names(tmp_path: Path) -> None:
    bundled = {t.name: t for t in load_taxonomy()}
    path = overlay(tmp_path, {
        "topics": [{"name": "sanctions", "threshold": 0.9,
                    "add_terms": [{"phrase": "asset freeze~", "weight": 0.4}]}],
        "remove_topics": ["naval_deployment"],
    })
    changed = {t.name: t for t in load_taxonomy(path)}
    assert sorted(changed) == ["missiles", "sanctions"]
    assert changed["sanctions"].threshold == 0.9
    assert len(changed["sanctions"].terms) == len(bundled["sanctions"].terms) + 1
    assert changed["sanctions"].iptc == bundled["sanctions"].iptc
    assert changed["missiles"] == bundled["missiles"]


def test_an_overlay_sets_the_lead_and_a_new_topic_keeps_the_default(tmp_path: Path) -> None:
    path = overlay(tmp_path, {"topics": [
        {"name": "missiles", "lead_sentences": 2},
        {"name": "ship_seizures", "iptc": "medtop:20000599", "description": "Ships seized.",
         "terms": [{"phrase": "seize~ tanker~"}]}]})
    topics = {t.name: t for t in load_taxonomy(path)}
    assert (topics["missiles"].lead_sentences, topics["sanctions"].lead_sentences) == (2, 1)
    assert topics["ship_seizures"].lead_sentences == 2  # as before the bundled topics chose 1


def test_extend_lexicons_adds_words_a_bundled_rule_uses(tmp_path: Path) -> None:
    text = "Ruritania imposed sanctions on Freedonia over the border dispute."
    assert Tagger(load_taxonomy()).tag("Border dispute", text) == []
    path = overlay(tmp_path, {"extend_lexicons": {"states": ["Ruritania", "Freedonia"]}})
    tags = Tagger(load_taxonomy(path)).tag("Border dispute", text)
    assert [(t.name, [e.text for e in t.evidence]) for t in tags] == [
        ("sanctions", ["imposed sanctions"])]


def test_an_overlay_keeps_case_inside_an_alternative(tmp_path: Path) -> None:
    # A newsroom's "dock|=ILA strike~" means a dock strike or one by the ILA (the longshoremen's
    # union), not the given name "Ila": "=" keeps the case of its alternative only.
    path = overlay(tmp_path, {"topics": [{
        "name": "port_strikes", "iptc": "medtop:20000599",
        "description": "Strikes that close ports.", "threshold": 0.5,
        "terms": [{"phrase": "dock|=ILA strike~", "weight": 2.0}]}]})
    tagger = Tagger(load_taxonomy(path))
    tags = {t.name: t for t in tagger.tag("Ports shut", "ILA strikes closed East Coast ports.")}
    assert [e.text for e in tags["port_strikes"].evidence] == ["ILA strikes"]
    assert "port_strikes" in {t.name for t in tagger.tag("Ports shut", "A dock strike closed "
                                                         "the ports.")}
    assert "port_strikes" not in {t.name for t in tagger.tag("Tennis", "Ila strikes the ball "
                                                             "well, her coach said.")}


def test_extends_none_is_a_complete_taxonomy_of_its_own(tmp_path: Path) -> None:
    path = overlay(tmp_path, {"extends": "none", "topics": [{
        "name": "strikes", "iptc": "medtop:20000523", "description": "Labour strikes.",
        "threshold": 0.5, "terms": [{"phrase": "walkout~", "weight": 1.0}]}]})
    assert names(load_taxonomy(path)) == ["strikes"]


@pytest.mark.parametrize(("data", "expected"), [
    ({"topics": [{"name": "sanctions", "threshold": 3}]}, r"topic 'sanctions': threshold"),
    ({"extend_lexicons": {"no_such": ["x"]}}, r"extend_lexicons: 'no_such'"),
    ({"remove_topics": ["weather"]}, r"remove_topics"),
    ({"topics": [{"name": "sanctions", "add_terms": "asset freeze"}]}, r"add_terms"),
    ({"extends": "other.yaml"}, r"extends"),
    ({"topicz": []}, r"unknown keys \['topicz'\]"),
])
def test_a_malformed_overlay_names_the_file_and_the_field(
        tmp_path: Path, data: dict[str, Any], expected: str) -> None:
    path = overlay(tmp_path, data)
    with pytest.raises(TaxonomyError, match=expected) as info:
        load_taxonomy(path)
    assert str(path) in str(info.value)


def test_appends_apply_after_replacements_whatever_the_order_of_the_keys(tmp_path: Path) -> None:
    # YAML keeps the order written; "add_terms" before "terms" was once overwritten by them.
    rule = {"effect": "exclude", "words": ["football"]}
    for entry in ({"name": "sanctions", "add_terms": ["walkout"], "terms": ["stoppage"],
                   "add_context": [rule], "context": []},
                  {"name": "sanctions", "terms": ["stoppage"], "add_terms": ["walkout"],
                   "context": [], "add_context": [rule]}):
        [sanctions] = [t for t in load_taxonomy(overlay(tmp_path, {"topics": [entry]}))
                       if t.name == "sanctions"]
        assert [term.source for term in sanctions.terms] == ["stoppage", "walkout"], entry
        assert len(sanctions.rules) == 1, entry


def test_a_copy_of_the_bundled_file_is_an_overlay_of_its_own_version(tmp_path: Path) -> None:
    bundled = yaml.safe_load(BUNDLED_TAXONOMY.read_text(encoding="utf-8"))
    path = overlay(tmp_path, {**bundled, "extends": "none"})
    assert names(load_taxonomy(path)) == names(load_taxonomy())
    path = overlay(tmp_path, {**bundled, "extends": "none", "version": bundled["version"] + 1})
    assert refusal(path) == (f"{path}: version: the bundled taxonomy is version "
                             f"{bundled['version']}, got {bundled['version'] + 1} (an overlay "
                             "needs no version)")


def test_a_misspelt_bundled_topic_is_named_with_the_one_it_may_mean(tmp_path: Path) -> None:
    path = overlay(tmp_path, {"topics": [{"name": "sanction", "threshold": 0.6}]})
    assert refusal(path) == (f"{path}: topic 'sanction': not a bundled topic, and a new one "
                             "needs iptc, description, terms; did you mean 'sanctions'?")


def test_an_error_of_a_taxonomy_of_its_own_names_the_file_once(tmp_path: Path) -> None:
    strikes = {"name": "strikes", "iptc": "medtop:20000523", "description": "Strikes.",
               "terms": ["walkout~"]}
    path = overlay(tmp_path, {"extends": "none", "topics": [strikes, strikes]})
    assert refusal(path) == f"{path}: topic names repeated: strikes"


@pytest.mark.parametrize(("data", "expected"), [
    ({"remove_topics": ["missiles", "missiles"]}, "remove_topics: 'missiles' named twice"),
    # A typo would leave the topic it meant running: named, with the one it may mean.
    ({"remove_topics": ["missles"]}, "remove_topics: 'missles' is not a bundled topic; did "
     "you mean 'missiles'? (bundled: missiles, sanctions, naval_deployment)"),
    ({"remove_topics": ["weather"]}, "remove_topics: 'weather' is not a bundled topic "
     "(bundled: missiles, sanctions, naval_deployment)"),
    ({"extend_lexicons": {"states": [1]}}, "extend_lexicons: 'states'[0]: expected a phrase, "
                                           "got 1"),
    ({"extend_lexicons": {"states": ["Ruritania", "a|"]}},
     "extend_lexicons: 'states'[1]: empty word in 'a|'"),
    # Nothing bundled is loaded for these to act on.
    ({"extends": "none", "remove_topics": ["sanctions"], "topics": []},
     "remove_topics: nothing to apply to with 'extends: none' (no bundled topics are loaded)"),
    ({"extends": "none", "extend_lexicons": {"states": ["X"]}, "topics": []},
     "extend_lexicons: nothing to apply to with 'extends: none' (no bundled lexicons are "
     "loaded)"),
    # A worker would tag nothing and say nothing.
    ({"remove_topics": ["missiles", "sanctions", "naval_deployment"]},
     "no topics left (remove_topics, or 'extends: none' with no topics of its own, took every "
     "one): keep or add at least one"),
    ({"extends": "none", "topics": []},
     "no topics left (remove_topics, or 'extends: none' with no topics of its own, took every "
     "one): keep or add at least one"),
    # No "topics" key at all is no topic of its own either (it read as a malformed file).
    ({"extends": "none"},
     "no topics left (remove_topics, or 'extends: none' with no topics of its own, took every "
     "one): keep or add at least one"),
    # Removed and changed in one file: the change is then a new topic lacking its fields, and
    # the message said only that its iptc was None.
    ({"remove_topics": ["sanctions"], "topics": [{"name": "sanctions", "threshold": 0.6}]},
     "topic 'sanctions': removed by remove_topics in this file, so this entry is a new topic, "
     "which needs iptc, description, terms (to change the bundled topic, leave it out of "
     "remove_topics)"),
    # A count is refused as a fraction, not cut: a window of 3.7 words read as 3.
    ({"topics": [{"name": "sanctions", "negation": {"window": 3.7}}]},
     "topic 'sanctions': negation: window: expected a whole number, got 3.7"),
    ({"topics": [{"name": "sanctions", "add_context": [
        {"effect": "boost", "words": ["x"], "scope": "window", "window": 2.5}]}]},
     "topic 'sanctions': add_context[0]: window: expected a whole number, got 2.5"),
    ({"topics": [{"name": "sanctions", "lead_sentences": 1.5}]},
     "topic 'sanctions': lead_sentences: expected a whole number, got 1.5"),
    # A falsy value of the wrong type was read as "none" and passed without a word.
    ({"topics": {}}, "topics: expected a list"),
    ({"topics": 0}, "topics: expected a list"),
    ({"remove_topics": {}}, "remove_topics: expected a list of bundled topic names, got {}"),
    ({"lexicons": []}, "lexicons: expected a mapping of name to list of phrases"),
    ({"extend_lexicons": 0}, "extend_lexicons: expected a mapping of name to list of phrases"),
    # "$" let a final line break by ("iptc: |" in YAML): every article the topic tagged was
    # then dead-lettered by the record's schema, while `tags check` said nothing.
    ({"topics": [{"name": "sanctions", "iptc": "medtop:20000642\n"}]},
     "topic 'sanctions': iptc: expected an IPTC Media Topic code like medtop:20000602, got "
     "'medtop:20000642\\n'"),
    ({"topics": [{"name": "strikes\n", "iptc": "medtop:20000523"}]},
     "topic 'strikes\\n': name: expected a lower_snake_case string, got 'strikes\\n'"),
    # A lexicon the overlay redefines is checked before extend_lexicons appends to it: "5" was
    # a TypeError traceback, and a string became a lexicon of its letters ("a" a state).
    ({"lexicons": {"states": 5}, "extend_lexicons": {"states": ["Graustark"]}},
     "lexicon 'states': expected a non-empty list of phrases"),
    ({"lexicons": {"states": "Ruritania"}, "extend_lexicons": {"states": ["Graustark"]}},
     "lexicon 'states': expected a non-empty list of phrases"),
    # Keys that were accepted and ignored: a typo left the default in force.
    ({"topics": [{"name": "sanctions", "negation": {"widow": 3}}]},
     "topic 'sanctions': negation: unknown keys ['widow'] (allowed: factor, window, words)"),
    ({"topics": [{"name": "sanctions", "add_context": [
        {"effect": "boost", "words": ["x"], "window": 3}]}]},
     "topic 'sanctions': add_context[0]: window: used only with 'scope: window' (scope is "
     "'sentence')"),
    ({"remove_topics": [["sanctions"]]},
     "remove_topics: expected a list of bundled topic names, got [['sanctions']]"),
])
def test_a_malformed_overlay_is_one_clear_line(
        tmp_path: Path, data: dict[str, Any], expected: str) -> None:
    path = overlay(tmp_path, data)
    assert refusal(path) == f"{path}: {expected}"


@pytest.mark.parametrize(("data", "expected"), [
    # The overlay's own places, not the merged taxonomy's (terms[36], topics[3]).
    ({"topics": [{"name": "sanctions", "add_terms": [{"phrase": "asset freeze"},
                                                     {"regex": "sanction("}]}]},
     "topic 'sanctions': add_terms[1]: regex: invalid regex"),
    ({"topics": [{"name": "sanctions", "add_context": [{"effect": "boost", "words": ["x"],
                                                        "scope": "windw"}]}]},
     "topic 'sanctions': add_context[0]: scope:"),
    ({"topics": [{"name": "sanctions", "threshold": 0.6}, {"name": 7, "iptc": "x"}]},
     "topics[1]: name: expected a lower_snake_case string, got 7"),
])
def test_an_overlay_error_names_the_place_in_the_overlay(
        tmp_path: Path, data: dict[str, Any], expected: str) -> None:
    path = overlay(tmp_path, data)
    message = refusal(path)
    assert message.startswith(f"{path}: {expected}"), message


@pytest.mark.parametrize("text", [
    # PyYAML keeps the last of two equal keys: the first "topics" (the new topic) was dropped.
    "topics:\n  - {name: cyber_attack, iptc: x, description: d, terms: [cyber-attack~]}\n"
    "remove_topics: [naval_deployment]\n"
    "topics:\n  - {name: sanctions, threshold: 0.6}\n",
    # ...and a threshold written twice kept one without a word.
    "topics:\n  - name: sanctions\n    threshold: 0.6\n    threshold: 0.9\n",
])
def test_a_key_given_twice_is_refused_where_it_is(tmp_path: Path, text: str) -> None:
    path = tmp_path / "newsroom.yaml"
    path.write_text(text, encoding="utf-8")
    message = refusal(path)
    line = text.split("\n").index("topics:", 1) + 1 if text.count("topics:") == 2 else 4
    assert message.startswith(f"{path}:{line}:"), message
    assert "not valid YAML: found duplicate key" in message, message


def test_a_merge_key_may_still_be_overridden(tmp_path: Path) -> None:
    # PyYAML builds mappings level by level, and merges an anchored mapping into its own node
    # when a shallower one merges it: a check for repeated keys made when the deeper, anchored
    # one was built took its override of "threshold" for a repeat.
    path = tmp_path / "newsroom.yaml"
    path.write_text(
        "defaults:\n"
        "  base: &base {iptc: 'medtop:20000523', description: Labour strikes., threshold: 0.5}\n"
        "  kinds:\n"
        "    strict: &strict\n"
        "      <<: *base\n"
        "      threshold: 0.8\n"
        "topics:\n"
        "  - <<: *strict\n"
        "    name: strikes\n"
        "    terms: [{phrase: walkout~, weight: 1.0}]\n",
        encoding="utf-8")
    from newsflow.yaml_files import read_yaml

    data = read_yaml(path, "taxonomy", TaxonomyError)
    assert data["topics"][0]["threshold"] == 0.8
    assert data["defaults"]["kinds"]["strict"]["threshold"] == 0.8


def test_a_bundled_topic_may_be_removed_and_defined_anew_under_its_name(tmp_path: Path) -> None:
    path = overlay(tmp_path, {
        "remove_topics": ["sanctions"],
        "topics": [{"name": "sanctions", "iptc": "medtop:20000642",
                    "description": "Only asset freezes.", "terms": ["asset freeze~"]}]})
    sanctions = {t.name: t for t in load_taxonomy(path)}["sanctions"]
    assert [term.source for term in sanctions.terms] == ["asset freeze~"]


@pytest.mark.parametrize(("text", "expected"), [
    # PyYAML's reader error named "<unicode string>" and an offset, not the line.
    ("topics:\n  - name: sanctions\n    threshold: 0.6\x00\n",
     ":3:19: not valid YAML: the character U+0000 is not allowed in YAML"),
    ("topics:\n  - {name: sanctions,\x07 threshold: 0.6}\n",
     ":2:22: not valid YAML: the character U+0007 is not allowed in YAML"),
    # A number Python will not convert: a traceback of every command that loads it; in
    # hexadecimal it loaded, and the message that printed it failed.
    (f"topics: [{{name: sanctions, threshold: {'9' * 5000}}}]\n",
     ":1:39: not valid YAML: a number of 5000 characters (at most 100)"),
    (f"topics: [{{name: sanctions, threshold: 0x{'f' * 5000}}}]\n",
     ":1:39: not valid YAML: a number of 5002 characters (at most 100)"),
    # A date the calendar refuses: Python's ValueError had no position, so no line.
    ("topics:\n  - name: sanctions\n    description: 2026-02-30\n",
     ":3:18: not valid YAML: not a date: '2026-02-30' (day is out of range for month)"),
    # A byte order mark is no column; a lone carriage return is a line break.
    ("\ufefftopics: [\x00]\n", ":1:10: not valid YAML: the character U+0000"),
    ("topics:\r  - {name: x,\x07}\r", ":2:14: not valid YAML: the character U+0007"),
])
def test_a_file_yaml_or_python_cannot_read_is_one_line(tmp_path: Path, text: str,
                                                        expected: str) -> None:
    path = tmp_path / "newsroom.yaml"
    path.write_text(text, encoding="utf-8")
    message = refusal(path)
    assert message.startswith(f"{path}{expected}"), message
    assert "\n" not in message


def test_the_readme_overlay_loads_and_tags_as_it_says(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\n# newsroom.yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "newsroom.yaml"
    path.write_text(block, encoding="utf-8")
    topics = {t.name: t for t in load_taxonomy(path)}
    assert list(topics) == ["missiles", "sanctions", "naval_deployment", "strikes"]
    assert topics["sanctions"].threshold == 0.6
    tagger = Tagger(tuple(topics.values()))
    tags = {t.name for t in tagger.tag(
        "Dockers stage walkout", "Dockers staged a walkout on Monday, their union said.")}
    assert tags == {"strikes"}
    # The overlay's own word list boosts a walkout beside a union.
    def weight(body: str) -> float:
        return next(e for e in tagger.explain("Dockers act", body) if e.topic == "strikes"
                    ).hits[0].weight
    assert weight("The walkout began, the union said.") == pytest.approx(
        1.5 * weight("The walkout began, the ports said."))  # as long: the same position


def test_a_rule_an_overlay_appends_is_named_by_its_place_in_the_overlay(
        tmp_path: Path) -> None:
    # Named as the overlay writes it, not as the merged taxonomy counts it ("context[8]").
    path = overlay(tmp_path, {"topics": [{"name": "sanctions", "add_context": [
        {"effect": "exclude", "words": ["zorblax"]}],
        "add_terms": [{"phrase": "asset freeze~", "weight": 5.0, "context": [
            {"effect": "exclude", "words": ["quuxar"]}]}]}]})
    tagger = Tagger(load_taxonomy(path))
    why = {e.topic: e for e in tagger.explain(
        "Trade news", "The EU imposed sanctions on Russia over zorblax.")}
    assert {rule.where for _, rule in why["sanctions"].dropped} == {
        "topic 'sanctions': add_context[0]"}
    why = {e.topic: e for e in tagger.explain(
        "Trade news", "Officials ordered an asset freeze on a Russian quuxar.")}
    assert {rule.where for _, rule in why["sanctions"].dropped} == {
        "topic 'sanctions': add_terms[0]: context[0]"}


def test_a_value_made_huge_by_yaml_aliases_is_shown_short(tmp_path: Path) -> None:
    # 400 bytes of aliases make a value whose whole repr is 50 MB (gigabytes a few levels
    # on): the error message printed it whole, or ended in a MemoryError traceback.
    value = "[x, x, x, x, x, x, x, x, x, x]"
    for n in range(6):  # each level: the one below, then nine aliases of it (10 million x)
        value = f"[&a{n} {value}, {', '.join([f'*a{n}'] * 9)}]"
    path = tmp_path / "newsroom.yaml"
    path.write_text(f"topics:\n  - name: sanctions\n    threshold: {value}\n", encoding="utf-8")
    message = refusal(path)
    assert message.startswith(f"{path}: ") and "threshold: expected a number" in message
    assert len(message) < 500, len(message)
