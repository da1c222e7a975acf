"""Topic tagging from a YAML taxonomy: weighted terms, context rules, negation, evidence spans.

The taxonomy (``data/taxonomy.yaml``) holds everything topic-specific, so a newsroom extends it
without code. Per topic: weighted terms (phrases with inflections, or regular expressions), context
rules that keep, drop, boost or dampen a term match according to the words around it, and a
threshold. This module only knows the mechanics:

* every term match gets a weight: term weight x context factors x negation factor x position;
* repeats of the same term add less and less (1, 1/2, 1/3, ...): ten "navy"s are not ten facts;
* body evidence is scaled down for long articles, so a passing mention deep in a long text does
  not tag it while the same mention in a short wire does; title evidence is not (a headline
  states what the article is about);
* score = 1 - exp(-mass), in [0, 1]; the topic is tagged when score >= threshold.

Deterministic: no randomness, no model, the order of evidence is the order in the text.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import reprlib
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from newsflow.core.tags import Evidence, Tag
from newsflow.errors import TaxonomyError

_SHOWN = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 2, 80, 80
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 4


def shown(value: Any) -> str:
    """A file's value as an error message shows it: shortened (a few hundred bytes of YAML
    aliases make a value whose whole repr takes gigabytes)."""
    return _SHOWN.repr(value)


IPTC_CODE = re.compile(r"medtop:\d{8}")  # fullmatch: "$" would let a final "\n" by
NAME = re.compile(r"[a-z][a-z0-9_]*")
# Title words count more: a headline states what the article is about.
TITLE_WEIGHT = 1.5
# Body evidence is scaled by min(1, sqrt(REFERENCE_WORDS / words)): one mention in a 250-word
# wire counts fully, the same mention in a 1,000-word feature counts half.
REFERENCE_WORDS = 250
# Late paragraphs say less about the subject than the lead: weight falls linearly to this floor.
POSITION_FLOOR = 0.7
MAX_EVIDENCE = 12
# Evidence is looked for in the first 200,000 characters of a body (a long read is under
# 100,000): scanning costs ~1.7 µs a character, so a legal 5 MB page took longer than the
# per-page budget, and came out an article or a dead letter depending on the machine's load.
SCAN_MAX_CHARS = 200_000
# The lead (first paragraph, at most this many sentences) states the subject: counted in full.
# A topic may set its own (``lead_sentences``): the bundled ones count only the first sentence,
# since a two-sentence lead's second sentence is often the background to another story.
LEAD_SENTENCES = 2
LEAD_WEIGHT = 1.0
# Evidence after the lead confined to one sentence is a mention: it counts this share, rising
# to full weight when THREAD_SENTENCES sentences carry it. A topic may set its own
# (``mention_factor``): sanctions are named in passing far more often than warships are.
MENTION_FACTOR = 0.8
THREAD_SENTENCES = 3
# "headline": the article's title, wherever the match is. A headline states the subject, so a
# rule on it says what the whole article is about ("navy wins $2 bln contract": industry).
SCOPES = ("sentence", "paragraph", "document", "window", "headline")
EFFECTS = ("exclude", "require", "boost")
DEFAULT_NEGATION = ("not", "no", "never", "cannot", "deny~", "denied", "rule~ out", "ruling out",
                    "rather than", "instead of", "without", "false", "dismiss~",
                    *(f"{verb}n{apostrophe}t" for verb in ("did", "does", "do", "is", "was",
                                                          "were", "has", "have", "had", "wo")
                      for apostrophe in "'’"),
                    # Conditions, not facts: "in exchange for sanctions relief".
                    "in exchange for", "in return for")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# A full stop after an initial ("U.S.", "John F. Kennedy"), a title ("Mr.", "Sen.") or a month
# ("Jan. 5") does not end the sentence: wire copy capitalises after "U.S." ("the U.S. And USSR"),
# and a split there would cut a context rule's sentence in two.
_NOT_AN_END = (r"(?<!\b[A-Z]\.)(?<!\b(?:Mr|Ms|Dr|St|Lt|Jr|Sr|No)\.)"
               r"(?<!\b(?:Mrs|Sen|Rep|Gov|Gen|Col|Sgt|Adm|Cpl|Maj|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct"
               r"|Nov|Dec)\.)(?<!\b(?:Capt|Prof|Sept|Reps|Sens|Gens)\.)")
SENTENCE_END = re.compile(rf"(?<=[.!?]){_NOT_AN_END}[\"”’)]?\s+(?=[\"“‘(A-Z0-9])|\n+")
WORD = re.compile(r"\w+(?:[-'’]\w+)*")


# --- phrases ------------------------------------------------------------------------------------

def inflections(word: str) -> list[str]:
    """Regular English inflections of a word: plural/3rd person, past, participle.

    Over-generation ("missileing") is harmless: such forms never occur in text.
    """
    forms = {word, word + "s", word + "es", word + "ed", word + "ing"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    if len(word) > 2 and re.fullmatch(r".*[^aeiou][aeiou][bdglmnprt]", word):
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    return sorted(forms, key=lambda f: (-len(f), f))


# A phrase is typed with "'" and "-"; news prints "’" and the hyphens of typesetting (U+2010,
# the non-breaking U+2011), or an en dash between names ("Iran–Iraq"). Either form matches.
_APOSTROPHE = "['\u2019]"
_HYPHEN = "[-\u2010\u2011\u2013\\s]"


def _form_regex(form: str) -> str:
    """One word form: a hyphen also matches a space or nothing ("build-up", "build up",
    "buildup"), an apostrophe either apostrophe."""
    escaped = re.escape(form).replace(r"\-", _HYPHEN + "?")
    return escaped.translate({ord("'"): _APOSTROPHE, 0x2019: _APOSTROPHE})


def _token_regex(token: str) -> str:
    alternatives = []
    for alt in token.split("|"):
        # "=" keeps case in any alternative ("economic|=US sanction~"), not only before the
        # phrase: read as a literal "=", such an alternative never matched.
        exact = alt.startswith("=")
        inflect = alt.endswith("~")
        alt = alt.removeprefix("=").rstrip("~")
        if not alt:
            raise ValueError(f"empty word in {shown(token)}")
        forms = inflections(alt) if inflect else [alt]
        escaped = "|".join(_form_regex(f) for f in forms)
        alternatives.append(f"(?-i:{escaped})" if exact else escaped)
    return "(?:" + "|".join(alternatives) + ")"


def phrase_regex(phrase: str) -> str:
    """Regex for a phrase: words separated by spaces; ``word~`` takes inflections; ``a|b`` is
    either word; ``=`` before a word keeps the case of that word only ("=US sanction~": the
    state, not the pronoun, and "US Sanctions" in a title-case headline too). Any whitespace
    or hyphen may separate words."""
    tokens = unicodedata.normalize("NFC", phrase).split()  # as article text is (clean.py)
    if not tokens:
        raise ValueError("empty phrase")
    return f"{_HYPHEN}+".join(_token_regex(t) for t in tokens)


# re's IGNORECASE matches letters that lower() keeps apart: "İ" lowers to "i" and a combining
# dot, the dotless "ı" stays, "ſ" and "ς" stay. The word prefilter folds the text's words and
# the phrases' words alike, so that it never drops a text a term's regex would match.
_FOLD_EXTRA = str.maketrans({"ı": "i", "\u0307": None})


def fold(text: str) -> str:
    """``text`` folded for the word prefilter (casefold, dotted and dotless i as "i")."""
    folded = text.casefold()
    if "ı" in folded or "\u0307" in folded:  # rare; a translate costs a pass over the text
        folded = folded.translate(_FOLD_EXTRA)
    return folded


def _token_words(token: str) -> frozenset[str]:
    """The folded (``fold``) first ``\\w+`` run of each form of a phrase token ("$5" holds "5", a
    hyphenated form may also occur joined: "build-up" as "buildup"); empty for a token with
    a form that has no word in it ("&", "&|and"), which the text's words cannot show (a
    phrase "Marks &|and Spencer" was skipped on "Marks & Spencer", which it matches)."""
    out = set()
    for alt in token.split("|"):
        alt = alt.removeprefix("=")  # keeps case: the word is the same
        forms = inflections(alt.rstrip("~")) if alt.endswith("~") else [alt]
        for form in forms:
            # Words first, then folded, as the text's are (``Field.vocabulary``): folding can
            # drop a character that is no word character (U+0307) or make one (U+0345).
            first = re.search(r"\w+", form)
            if not first:
                return frozenset()
            out.add(fold(first.group(0)))
            joined = re.search(r"\w+", form.replace("-", ""))
            if joined:
                out.add(fold(joined.group(0)))
    return frozenset(out)


def _required_words(phrase: str) -> tuple[frozenset[str], ...]:
    """Per token of the phrase that holds a word, the words one of which the text must hold."""
    return tuple(words for t in unicodedata.normalize("NFC", phrase).split()
                 if (words := _token_words(t)))


def _needed_words(need: str, where: str) -> frozenset[str]:
    """The words a regex term's ``needs`` entry stands for: its first word's forms ("=US" is
    "us"); an entry without a word could never be found among the text's words."""
    try:
        phrase_regex(need)
    except ValueError as exc:
        raise TaxonomyError(f"{where}: {exc}") from exc
    words = _required_words(need)
    if not words:
        raise TaxonomyError(f"{where}: {shown(need)} holds no word to look for")
    return words[0]


# Global flags a newsroom may write first ("(?i)walkout"); they must stay first once the term
# is wrapped in its word boundaries.
_GLOBAL_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def _compile_regex(source: str, where: str) -> re.Pattern[str]:
    shown = repr(source) if len(source) <= 80 else repr(source[:77] + "...")
    flags = _GLOBAL_FLAGS.match(source)
    lead = flags.group(0) if flags else ""
    # A verbose regex's "# comment" would swallow the closing parenthesis on the same line.
    body = source[len(lead):] + ("\n" if "x" in lead else "")
    try:
        re.compile(source)  # so that an error's position is one in the term as written
        pattern = re.compile(rf"{lead}(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
    except re.error as exc:
        raise TaxonomyError(f"{where}: invalid regex {shown}: {exc}") from exc
    except OverflowError as exc:  # a repeat count above re's limit: "a{4294967296}"
        raise TaxonomyError(f"{where}: invalid regex {shown}: {exc}") from exc
    except RecursionError as exc:  # re's parser recurses once per nested group
        raise TaxonomyError(f"{where}: invalid regex {shown}: nested too deeply") from exc
    # Found in every text, with empty evidence: "walkout|x*" would tag unrelated articles.
    if pattern.search("") is not None:
        raise TaxonomyError(f"{where}: matches the empty string ({shown} would be found in "
                            "every text)")
    return pattern


# --- taxonomy -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Rule:
    """Looks for ``pattern`` around a term match (in its sentence, paragraph, the document or a
    window of words) and then excludes the match, requires the pattern, or multiplies the weight."""

    pattern: re.Pattern[str]
    effect: str  # "exclude" | "require" | "boost"
    scope: str  # "sentence" | "paragraph" | "document" | "window" | "headline"
    words: int  # window size either side, for scope "window"
    factor: float  # boost: multiply when found; require: multiply when NOT found (0 drops)
    # The pattern tells a name by its capitals ("White Sands Missile Range"). In a headline
    # whose every word is capitalised the capitals say nothing ("North Korea Tests New Missile
    # Systems"), so there it counts only where the body writes the same words the same way.
    names: bool = False
    # The rule does nothing where one of these words is in its scope: a markets headline that
    # itself reports the topic ("Stocks fall as North Korea fires missiles") is about both.
    unless: re.Pattern[str] | None = None
    # Where the rule is in the (merged) taxonomy, "topic 'sanctions': context[3]": named
    # beside a match it dropped, so a miss can be traced to the rule and not only to the words.
    where: str = ""


@dataclass(frozen=True, slots=True)
class Term:
    pattern: re.Pattern[str]
    weight: float
    rules: tuple[Rule, ...] = ()
    source: str = ""
    # Per phrase, per word: the lower-cased words one of which the text must contain for the
    # phrase to match. Most texts lack them, and a set lookup is much cheaper than the regex.
    # None for regex terms, which always run.
    required: tuple[tuple[frozenset[str], ...], ...] | None = None
    first: frozenset[str] = frozenset()  # every phrase's first words: one cheap test rejects most

    def may_match(self, vocabulary: frozenset[str]) -> bool:
        if self.required is None:
            return True
        if self.first.isdisjoint(vocabulary):
            return False
        return any(all(not words.isdisjoint(vocabulary) for words in phrase)
                   for phrase in self.required)


# The aboutness measures behind a score, for explanations and for fitting a decision on labelled
# news (benchmarks/tagging_fit.py; docs/tagging.md): evidence mass in the title, in
# the lead and (damped by length and spread) in the rest of the body; the share of the body's
# sentences that carry evidence; how many different terms matched; where the first body
# evidence is (0 = first word, 1 = none in the body); the article's length (log2 of words / 250).
FEATURES = ("title", "lead", "rest", "spread", "terms", "first", "length")


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    iptc: str
    description: str
    threshold: float
    terms: tuple[Term, ...]
    rules: tuple[Rule, ...] = ()  # apply to every term of the topic
    negation: re.Pattern[str] | None = None
    negation_words: int = 6
    negation_factor: float = 0.3
    mention_factor: float = MENTION_FACTOR
    lead_sentences: int = LEAD_SENTENCES


def _number(entry: Mapping[str, Any], key: str, default: float, where: str,
            low: float, high: float, *, low_open: bool = False) -> float:
    value = entry.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and (
        (low < value if low_open else low <= value) and value <= high)
    if not ok:
        bracket = "(" if low_open else "["
        raise TaxonomyError(f"{where}: {key}: expected a number in {bracket}{low}, {high}], "
                            f"got {shown(value)}")
    return float(value)


def _whole(entry: Mapping[str, Any], key: str, default: int, where: str, low: int,
           high: int) -> int:
    """A count (of words, of sentences): a fraction is refused, not cut (a window of 3.7
    words read as 3 without a word)."""
    value = _number(entry, key, default, where, low, high)
    if value != int(value):
        raise TaxonomyError(f"{where}: {key}: expected a whole number, got {shown(entry.get(key))}")
    return int(value)


def _words(items: Any, lexicons: Mapping[str, list[str]], where: str) -> list[str]:
    """A rule's word list with ``@lexicon`` references expanded."""
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not items:
        raise TaxonomyError(f"{where}: expected a non-empty list of phrases or @lexicons")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise TaxonomyError(f"{where}: expected phrases (strings), got {shown(item)}")
        if item.startswith("@"):
            if item[1:] not in lexicons:
                raise TaxonomyError(f"{where}: unknown lexicon {shown(item)}; defined: "
                                    f"{', '.join(sorted(lexicons)) or 'none'}")
            out += lexicons[item[1:]]
        else:
            out.append(item)
    return out


def _alternation(phrases: Iterable[str], where: str) -> re.Pattern[str]:
    try:
        body = "|".join(phrase_regex(p) for p in sorted(set(phrases), key=lambda p: (-len(p), p)))
    except ValueError as exc:
        raise TaxonomyError(f"{where}: {exc}") from exc
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def _rule(raw: Any, lexicons: Mapping[str, list[str]], where: str) -> Rule:
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{where}: expected a mapping with 'effect' and 'words'")
    where = str(raw.get(PLACE_KEY, where))
    unknown = set(raw) - {"effect", "words", "regex", "scope", "window", "factor", "names",
                          "unless", PLACE_KEY}
    if unknown:
        raise TaxonomyError(f"{where}: unknown keys {sorted(unknown)}")
    effect = raw.get("effect")
    if effect not in EFFECTS:
        raise TaxonomyError(f"{where}: effect: expected one of {', '.join(EFFECTS)}, "
                            f"got {shown(effect)}")
    scope = raw.get("scope", "sentence")
    if scope not in SCOPES:
        raise TaxonomyError(f"{where}: scope: expected one of {', '.join(SCOPES)}, got {shown(scope)}")
    if "window" in raw and scope != "window":  # it would be ignored: the scope was meant
        raise TaxonomyError(f"{where}: window: used only with 'scope: window' (scope is "
                            f"{shown(scope)})")
    words = _whole(raw, "window", 5, where, 1, 100) if scope == "window" else 0
    if "regex" in raw:
        if "words" in raw:
            raise TaxonomyError(f"{where}: give either 'words' or 'regex', not both")
        pattern = _compile_regex(raw["regex"], f"{where}: regex") if isinstance(
            raw["regex"], str) and raw["regex"] else None
        if pattern is None:
            raise TaxonomyError(f"{where}: regex: expected a non-empty string")
    else:
        pattern = _alternation(_words(raw.get("words"), lexicons, f"{where}: words"),
                               f"{where}: words")
    default = {"exclude": 0.0, "require": 0.0, "boost": 1.5}[effect]
    factor = _number(raw, "factor", default, where, 0.0, 10.0)
    if effect == "exclude" and "factor" in raw:
        raise TaxonomyError(f"{where}: factor: not used by 'exclude' (use 'boost' with a factor "
                            "below 1 to dampen)")
    names = raw.get("names", False)
    if not isinstance(names, bool):
        raise TaxonomyError(f"{where}: names: expected true or false, got {shown(names)}")
    unless = (_alternation(_words(raw["unless"], lexicons, f"{where}: unless"),
                           f"{where}: unless") if "unless" in raw else None)
    return Rule(pattern, effect, scope, words, factor, names, unless, where)


def _rules(raw: Any, lexicons: Mapping[str, list[str]], where: str) -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TaxonomyError(f"{where}: expected a list of rules")
    return tuple(_rule(r, lexicons, f"{where}[{i}]") for i, r in enumerate(raw))


def _term(raw: Any, lexicons: Mapping[str, list[str]], where: str) -> Term:
    if isinstance(raw, str):
        raw = {"phrase": raw}
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{where}: expected a phrase or a mapping with phrase/regex and weight")
    where = str(raw.get(PLACE_KEY, where))
    unknown = set(raw) - {"phrase", "regex", "weight", "context", "needs", PLACE_KEY}
    if unknown:
        raise TaxonomyError(f"{where}: unknown keys {sorted(unknown)}")
    if ("phrase" in raw) == ("regex" in raw):
        raise TaxonomyError(f"{where}: expected exactly one of 'phrase' or 'regex'")
    key = "phrase" if "phrase" in raw else "regex"
    source = raw[key]
    if key == "phrase" and isinstance(source, list | str) and source:
        # One phrase, a list of alternative phrases, or @lexicon references.
        phrases = _words(source, lexicons, f"{where}: phrase")
        pattern = _alternation(phrases, f"{where}: phrase")
        source = " | ".join(phrases)
        words = tuple(_required_words(phrase) for phrase in phrases)
        # A phrase without a word ("&") cannot be looked for among the text's words: the
        # term's regex always runs.
        required: tuple[tuple[frozenset[str], ...], ...] | None = (
            words if all(words) else None)
    elif key == "regex" and isinstance(source, str) and source.strip():
        pattern = _compile_regex(source, f"{where}: regex")
        # A regex scans the whole text; "needs" names words one of which every match contains,
        # so texts without any of them skip it (as phrases do): one "phrase" of one word slot.
        required = None
        if "needs" in raw:
            required = ((frozenset().union(*(
                _needed_words(need, f"{where}: needs")
                for need in _words(raw["needs"], lexicons, f"{where}: needs"))),),)
    else:
        raise TaxonomyError(f"{where}: {key}: expected a non-empty "
                            f"{'phrase or list of phrases' if key == 'phrase' else 'string'}")
    if key == "phrase" and "needs" in raw:
        raise TaxonomyError(f"{where}: needs: only for regex terms (a phrase's words are known)")
    weight = _number(raw, "weight", 1.0, where, 0.0, 10.0, low_open=True)
    return Term(pattern, weight, _rules(raw.get("context"), lexicons, f"{where}: context"), source,
                required, frozenset().union(*(phrase[0] for phrase in required or ())))


def _topic_name(entry: Any, index: int) -> str:
    """The name of the topic entry at ``index`` of a ``topics`` list; an error names the entry
    by its name, or by its place when it has none."""
    if not isinstance(entry, dict):
        raise TaxonomyError(f"topics[{index}]: expected a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        where = f"topic {shown(name)}" if isinstance(name, str) and name else f"topics[{index}]"
        raise TaxonomyError(f"{where}: name: expected a lower_snake_case string, got {shown(name)}")
    return name


def _topic(entry: Any, index: int, lexicons: Mapping[str, list[str]]) -> Topic:
    name = _topic_name(entry, index)
    where = f"topic {shown(name)}"
    unknown = set(entry) - {"name", "iptc", "description", "threshold", "terms", "context",
                            "negation", "mention_factor", "lead_sentences"}
    if unknown:
        raise TaxonomyError(f"{where}: unknown keys {sorted(unknown)}")
    iptc = entry.get("iptc")
    if not isinstance(iptc, str) or not IPTC_CODE.fullmatch(iptc):
        raise TaxonomyError(f"{where}: iptc: expected an IPTC Media Topic code like "
                            f"medtop:20000602, got {shown(iptc)}")
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        raise TaxonomyError(f"{where}: description: expected a non-empty string")
    threshold = _number(entry, "threshold", 0.5, where, 0.0, 1.0, low_open=True)
    raw_terms = entry.get("terms")
    if not isinstance(raw_terms, list) or not raw_terms:
        raise TaxonomyError(f"{where}: terms: expected a non-empty list")
    terms = tuple(_term(t, lexicons, f"{where}: terms[{i}]") for i, t in enumerate(raw_terms))
    negation = entry.get("negation", {})
    if not isinstance(negation, dict):
        raise TaxonomyError(f"{where}: negation: expected a mapping (words, window, factor)")
    if unknown := set(negation) - {"words", "window", "factor"}:  # a typo left the default
        raise TaxonomyError(f"{where}: negation: unknown keys {shown(sorted(map(str, unknown)))} "
                            "(allowed: factor, window, words)")
    neg_words = _words(negation.get("words", list(DEFAULT_NEGATION)), lexicons,
                       f"{where}: negation: words")
    lead_sentences = _whole(entry, "lead_sentences", LEAD_SENTENCES, where, 1, 10)
    return Topic(
        name, iptc, description.strip(), threshold, terms,
        _rules(entry.get("context"), lexicons, f"{where}: context"),
        _alternation(neg_words, f"{where}: negation: words"),
        _whole(negation, "window", 6, f"{where}: negation", 1, 50),
        _number(negation, "factor", 0.3, f"{where}: negation", 0.0, 1.0),
        _number(entry, "mention_factor", MENTION_FACTOR, where, 0.0, 1.0, low_open=True),
        lead_sentences,
    )


def _lexicons(raw: Any) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TaxonomyError("lexicons: expected a mapping of name to list of phrases")
    out: dict[str, list[str]] = {}
    for name, items in raw.items():
        where = f"lexicon {shown(name)}"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise TaxonomyError(f"{where}: expected a lower_snake_case name")
        if not isinstance(items, list) or not items or not all(
                isinstance(i, str) and i.strip() and not i.startswith("@") for i in items):
            raise TaxonomyError(f"{where}: expected a non-empty list of phrases")
        _alternation(items, where)  # validate now: errors name the lexicon, not a rule using it
        out[name] = list(items)
    return out


def parse_taxonomy(data: Any, path: Path = Path("<taxonomy>")) -> tuple[Topic, ...]:
    """The topics of a taxonomy (bundled, or merged with an overlay); every error names
    ``path`` once, then the topic or lexicon and the field."""
    try:
        if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
            raise TaxonomyError("expected a mapping with a 'topics' list")
        lexicons = _lexicons(data.get("lexicons"))
        topics = tuple(_topic(entry, i, lexicons) for i, entry in enumerate(data["topics"]))
        names = [t.name for t in topics]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise TaxonomyError(f"topic names repeated: {', '.join(sorted(duplicates))}")
        if not topics:  # a worker would tag nothing and say nothing
            raise TaxonomyError("no topics left (remove_topics, or 'extends: none' with no "
                                "topics of its own, took every one): keep or add at least one")
    except TaxonomyError as exc:
        raise TaxonomyError(f"{path}: {exc}") from exc
    return topics


# An internal key merge_taxonomy gives appended terms and rules: their place in the overlay.
PLACE_KEY = "__place__"
OVERLAY_KEYS = frozenset({"extends", "version", "lexicons", "extend_lexicons", "topics",
                          "remove_topics"})
# Keys of an overlay topic that add to the bundled topic's lists instead of replacing them.
APPENDS = {"add_terms": "terms", "add_context": "context"}


def merge_taxonomy(base: Mapping[str, Any], overlay: Any) -> dict[str, Any]:
    """The bundled taxonomy with a newsroom's overlay applied (see docs/tagging.md):

    * ``lexicons``: new lexicons, or a bundled one replaced by name;
      ``extend_lexicons``: phrases added to a bundled lexicon;
    * ``topics``: a new name adds a topic (full definition); a bundled name changes only the
      fields given, and ``add_terms`` / ``add_context`` append to its terms / context rules
      (after any replacement in the same entry, whatever the order of its keys);
    * ``remove_topics``: bundled topics dropped by name;
    * ``extends: none`` ignores the bundled file altogether (a complete taxonomy of one's own);
    * ``version``: allowed only as the bundled file's own (a copy of it used with ``extends``).
    """
    if not isinstance(overlay, dict):
        raise TaxonomyError("expected a mapping (lexicons, topics, ...)")
    unknown = sorted(set(overlay) - OVERLAY_KEYS)
    if unknown:
        raise TaxonomyError(f"unknown keys {unknown} (allowed: {', '.join(sorted(OVERLAY_KEYS))})")
    if "version" in overlay and overlay["version"] != base.get("version"):
        raise TaxonomyError(f"version: the bundled taxonomy is version {shown(base.get('version'))}, "
                            f"got {shown(overlay['version'])} (an overlay needs no version)")
    extends = overlay.get("extends", "bundled")
    if extends not in ("bundled", "none"):
        raise TaxonomyError(f"extends: expected 'bundled' or 'none', got {shown(extends)}")
    if extends == "none":
        # Nothing bundled is loaded for these to act on: ignoring them would hide a mistake.
        for key, what in (("remove_topics", "topics"), ("extend_lexicons", "lexicons")):
            if overlay.get(key) not in (None, [], {}):
                raise TaxonomyError(f"{key}: nothing to apply to with 'extends: none' (no "
                                    f"bundled {what} are loaded)")
        # No "topics" key is no topic of its own, as "topics: []" is ("no topics left").
        topics_of_its_own = overlay.get("topics")
        return {"lexicons": overlay.get("lexicons"),
                "topics": [] if topics_of_its_own is None else topics_of_its_own}
    lexicons = dict(base.get("lexicons") or {})
    # Checked before extend_lexicons appends to them: "states: 5" was a TypeError, and
    # "states: Ruritania" became a lexicon of its letters (and "a" a state).
    lexicons.update(_lexicons(_mapping(overlay, "lexicons")))
    for name, phrases in _mapping(overlay, "extend_lexicons").items():
        if name not in lexicons or not isinstance(phrases, list):
            raise TaxonomyError(f"extend_lexicons: {shown(name)}: expected a list for a known lexicon")
        for i, phrase in enumerate(phrases):
            # Checked here: once merged, an error could name only the whole lexicon.
            where = f"extend_lexicons: {shown(name)}[{i}]"
            if not isinstance(phrase, str) or not phrase.strip() or phrase.startswith("@"):
                raise TaxonomyError(f"{where}: expected a phrase, got {shown(phrase)}")
            try:
                phrase_regex(phrase)
            except ValueError as exc:
                raise TaxonomyError(f"{where}: {exc}") from exc
        lexicons[name] = [*lexicons[name], *phrases]
    topics = {str(t["name"]): dict(t) for t in base.get("topics") or []}
    removed = _given(overlay, "remove_topics", [])
    if not isinstance(removed, list) or not all(isinstance(name, str) for name in removed):
        raise TaxonomyError(f"remove_topics: expected a list of bundled topic names, got "
                            f"{shown(removed)}")
    for name in removed:
        if name not in topics:  # a typo would leave the topic it meant running
            close = difflib.get_close_matches(name, list(topics), n=1)
            raise TaxonomyError(
                f"remove_topics: {shown(name)} is not a bundled topic"
                f"{f'; did you mean {shown(close[0])}?' if close else ''} (bundled: "
                f"{', '.join(topics)})")
    twice = sorted({n for n in removed if removed.count(n) > 1})
    if twice:
        raise TaxonomyError(f"remove_topics: {', '.join(map(shown, twice))} named twice")
    for name in removed:
        del topics[name]
    entries = _given(overlay, "topics", [])
    if not isinstance(entries, list):
        raise TaxonomyError("topics: expected a list")
    names = [e.get("name") for e in entries if isinstance(e, dict)]
    repeated = sorted({n if isinstance(n, str) else shown(n) for n in names if names.count(n) > 1})
    if repeated:
        raise TaxonomyError(f"topic names repeated: {', '.join(repeated)}")
    try:  # to check appended terms and rules where the overlay has them (below)
        known_lexicons: dict[str, list[str]] | None = _lexicons(lexicons)
    except TaxonomyError:
        known_lexicons = None  # parse_taxonomy reports it
    for i, entry in enumerate(entries):
        # Checked here, by its place in this file: once merged, its index would be another.
        name = _topic_name(entry, i)
        if name not in topics:
            _check_new_topic(entry, name, list(topics), removed=name in removed)
        merged = dict(topics.get(name, {}))
        # Replacements first, then appends: "add_terms" before "terms" must not be lost.
        merged.update((key, value) for key, value in entry.items() if key not in APPENDS)
        for key, target in APPENDS.items():
            if key not in entry:
                continue
            if not isinstance(entry[key], list):
                raise TaxonomyError(f"topic {shown(name)}: {key}: expected a list")
            if known_lexicons is not None:
                # Checked here, so an error names add_terms[0], not the merged terms[36].
                check = _term if key == "add_terms" else _rule
                for j, item in enumerate(entry[key]):
                    check(item, known_lexicons, f"topic {shown(name)}: {key}[{j}]")
            if not isinstance(merged.get(target) or [], list):
                raise TaxonomyError(f"topic {shown(name)}: {target}: expected a list")
            # Each appended item keeps its place in the overlay, to be named by (a rule that
            # drops a match in `tags check`): "add_context[0]", not the merged "context[8]".
            merged[target] = [*(merged.get(target) or []), *(
                _placed(item, f"topic {shown(name)}: {key}[{j}]")
                for j, item in enumerate(entry[key]))]
        topics[name] = merged
    return {"lexicons": lexicons, "topics": list(topics.values())}


def _check_new_topic(entry: Mapping[str, Any], name: str, bundled: list[str],
                     removed: bool = False) -> None:
    """A name that is not bundled starts a new topic, which needs a full definition; when it
    lacks one and is close to a bundled name, it is most likely that name misspelt, and when
    the same file removes that topic, a change meant for it."""
    missing = [key for key in ("iptc", "description") if key not in entry]
    if "terms" not in entry and "add_terms" not in entry:
        missing.append("terms")
    if missing and removed:
        raise TaxonomyError(f"topic {shown(name)}: removed by remove_topics in this file, so this "
                            f"entry is a new topic, which needs {', '.join(missing)} (to "
                            "change the bundled topic, leave it out of remove_topics)")
    close = difflib.get_close_matches(name, bundled, n=1)
    if missing and close:
        raise TaxonomyError(f"topic {shown(name)}: not a bundled topic, and a new one needs "
                            f"{', '.join(missing)}; did you mean {shown(close[0])}?")


def _placed(item: Any, place: str) -> Any:
    """An overlay's term or rule with its place in the overlay (a phrase alone made a term)."""
    if isinstance(item, str):
        return {"phrase": item, PLACE_KEY: place}
    return {**item, PLACE_KEY: place} if isinstance(item, dict) else item


def _given(overlay: Mapping[str, Any], key: str, default: Any) -> Any:
    """``overlay[key]``, or ``default`` when it is absent or empty in YAML (``topics:``). Not
    ``or``: a falsy value of the wrong type (``topics: 0``, ``lexicons: []``) must be refused
    by the type check, not read as "none"."""
    value = overlay.get(key)
    return default if value is None else value


def _mapping(overlay: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = _given(overlay, key, {})
    if not isinstance(value, dict):
        raise TaxonomyError(f"{key}: expected a mapping of name to list of phrases")
    return value


# --- scoring ------------------------------------------------------------------------------------

class Field:
    """A text (title or body) with the boundaries the context rules look within.

    Boundaries are computed on first use: most articles match no term of most topics.
    """

    def __init__(self, name: str, text: str, elsewhere: str = "") -> None:
        self.name = name
        self.text = text
        self.elsewhere = elsewhere  # the rest of the article (title for the body and back)
        self._found: dict[tuple[re.Pattern[str], int, int, bool], tuple[tuple[int, int], ...]] = {}
        # ``_elsewhere``'s answers by id of the rule: the same for every match of this field.
        self.found_elsewhere: dict[int, bool] = {}

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        # Split, then folded word by word (see ``fold``); an ASCII word only needs lower().
        return frozenset([word.lower() if word.isascii() else fold(word)
                          for word in set(re.findall(r"\w+", self.text))])

    @cached_property
    def paragraphs(self) -> tuple[tuple[int, int], ...]:
        return _spans(self.text, PARAGRAPH_BREAK)

    @cached_property
    def sentences(self) -> tuple[tuple[int, int], ...]:
        return tuple(s for p0, p1 in self.paragraphs
                     for s in _spans(self.text[p0:p1], SENTENCE_END, p0))

    def lead_end(self, sentences: int = LEAD_SENTENCES) -> int:
        """End of the lead: the first paragraph, at most its first ``sentences`` sentences
        (wire copy often has one long paragraph). The lead states what an article is about."""
        if not self.text:
            return 0
        paragraph_end = self.paragraphs[0][1] if self.paragraphs else len(self.text)
        ends = [e for _, e in self.sentences if e <= paragraph_end]
        return ends[min(len(ends), sentences) - 1] if ends else paragraph_end

    @cached_property
    def _words(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        spans = [m.span() for m in WORD.finditer(self.text)]
        return tuple(s for s, _ in spans), tuple(e for _, e in spans)

    @property
    def word_starts(self) -> tuple[int, ...]:
        return self._words[0]

    @property
    def word_ends(self) -> tuple[int, ...]:
        return self._words[1]

    def around(self, scope: str, start: int, end: int, words: int) -> tuple[int, int]:
        if scope in ("document", "headline"):  # headline: called on the title field only
            return 0, len(self.text)
        if scope == "window":
            first = max(0, bisect_right(self.word_ends, start) - words)
            last = min(len(self.word_ends), bisect_right(self.word_starts, end - 1) + words) - 1
            return (self.word_starts[first] if first < len(self.word_starts) else start,
                    self.word_ends[last] if last >= 0 else end)
        spans, starts = ((self.sentences, self._sentence_starts) if scope == "sentence"
                         else (self.paragraphs, self._paragraph_starts))
        index = bisect_right(starts, start) - 1
        if index >= 0 and start < spans[index][1]:
            return spans[index]
        return start, end

    @cached_property
    def _sentence_starts(self) -> tuple[int, ...]:
        return tuple(s for s, _ in self.sentences)

    @cached_property
    def _paragraph_starts(self) -> tuple[int, ...]:
        return tuple(s for s, _ in self.paragraphs)

    def found(self, pattern: re.Pattern[str], start: int, end: int,
              text: str | None = None) -> tuple[tuple[int, int], ...]:
        """Spans of ``pattern``'s matches in ``text[start:end]`` (this field's text by default),
        remembered: the hits of one sentence, paragraph or document share its scope, and
        scanning it again for every hit made a long text without full stops quadratic."""
        key = (pattern, start, end, text is None)
        spans = self._found.get(key)
        if spans is None:
            spans = tuple(m.span() for m in pattern.finditer(
                self.text if text is None else text, start, end) if m.end() > m.start())
            self._found[key] = spans
        return spans

    def words_before(self, start: int, count: int) -> tuple[int, int]:
        """The ``count`` words before ``start``, not crossing the sentence boundary."""
        s_start, _ = self.around("sentence", start, start + 1, 0)
        index = bisect_right(self.word_ends, start)
        first = max(0, index - count)
        begin = self.word_starts[first] if first < index else start
        return max(begin, s_start), start


def _spans(text: str, separator: re.Pattern[str], offset: int = 0) -> tuple[tuple[int, int], ...]:
    spans, pos = [], 0
    for m in separator.finditer(text):
        if m.start() > pos:
            spans.append((offset + pos, offset + m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((offset + pos, offset + len(text)))
    return tuple(spans)


def capitalised(text: str) -> bool:
    """Whether (nearly) every word of a text is capitalised, as in title-case and all-capitals
    headlines, whose capitals then mark no names. Words of four letters or more count: title
    case leaves short words ("of", "the", "at") in lower case."""
    words = re.findall(r"[^\W\d_]{4,}", text)
    return len(words) >= 2 and sum(w[0].isupper() for w in words) >= 0.8 * len(words)


def _in_headline(rule: Rule, headline: str, body: str, matches: Iterable[str]) -> bool:
    """Whether ``matches`` (of ``rule`` in the headline, as text) count. A rule that tells names
    by their capitals counts in a capitalised headline only where the body writes the same words
    the same way (see Rule.names)."""
    if rule.names and capitalised(headline):
        return any(m in body for m in matches)
    return any(True for _ in matches)


def _elsewhere(rule: Rule, field: Field) -> bool:
    """Whether ``rule`` finds its words in the rest of the article (the title for the body's
    matches, the body for the title's). Asked once per rule and field: a names rule looks
    for the headline's words in the whole body, and asking again for every body match made a
    long body quadratic."""
    known = field.found_elsewhere.get(id(rule))
    if known is not None:
        return known
    spans = field.found(rule.pattern, 0, len(field.elsewhere), field.elsewhere)
    if field.name == "title":
        known = bool(spans)
    else:
        known = _in_headline(rule, field.elsewhere, field.text,
                             (field.elsewhere[s:e] for s, e in spans))
    field.found_elsewhere[id(rule)] = known
    return known


def _unless_found(rule: Rule, unless: re.Pattern[str], field: Field, start: int, end: int) -> bool:
    """Whether a word of the rule's ``unless`` is in its scope, the term match included: in
    "Stocks tumble as Washington sanctions Russian banks" the headline's "sanctions" is both."""
    if rule.scope == "headline" and field.name != "title":
        return bool(field.found(unless, 0, len(field.elsewhere), field.elsewhere))
    s, e = field.around(rule.scope, start, end, rule.words)
    return bool(field.found(unless, s, e))


def _context_factor(rules: Iterable[Rule], field: Field, start: int,
                    end: int) -> tuple[float, Rule | None]:
    """The match's context factor, and the rule that took it to zero (None while above)."""
    factor = 1.0
    in_title = field.name == "title"
    for rule in rules:
        if rule.unless is not None and _unless_found(rule, rule.unless, field, start, end):
            continue
        if rule.scope == "headline" and not in_title:
            found = _elsewhere(rule, field)
        else:
            s, e = field.around(rule.scope, start, end, rule.words)
            # Words inside the term match itself are not context; a phrase that contains the
            # match ("navy blue" around "navy") is.
            matches = (field.text[ms:me] for ms, me in field.found(rule.pattern, s, e)
                       if not (start <= ms and me <= end))
            found = (_in_headline(rule, field.text, field.elsewhere, matches) if in_title
                     else any(True for _ in matches))
            if not found and rule.scope == "document":
                found = _elsewhere(rule, field)
        if rule.effect == "exclude" and found:
            return 0.0, rule
        # A boost applies when its words are there, a requirement when they are missing.
        if (rule.effect == "boost" and found) or (rule.effect == "require" and not found):
            factor *= rule.factor
            if factor <= 0:
                return 0.0, rule
    return factor, None


@dataclass(frozen=True, slots=True)
class Hit:
    evidence: Evidence
    term: int  # index of the term in its topic, for diminishing repeats
    weight: float  # after context, negation and position


def _hits(topic: Topic, field: Field,
          dropped: list[tuple[Evidence, Rule]] | None = None) -> list[Hit]:
    """Non-overlapping term matches with their effective weight. Where matches overlap, the
    heaviest term wins, then the longest match: "short-range ballistic missile" over its tail.
    ``dropped`` collects the matches a context rule took to zero weight, with that rule."""
    text = field.text
    candidates = []
    for index, term in enumerate(topic.terms):
        if term.may_match(field.vocabulary):
            # An empty match (a newsroom's "\\b" or "x*" alternative) is no evidence.
            candidates += [(index, m) for m in term.pattern.finditer(text) if m.end() > m.start()]
    candidates.sort(key=lambda c: (-topic.terms[c[0]].weight, c[1].start() - c[1].end(),
                                   c[1].start()))
    # Spans claimed so far, disjoint and kept in order, so that only the one starting last
    # before a match's end can overlap it.
    taken_starts: list[int] = []
    taken_ends: list[int] = []
    hits = []
    for index, match in candidates:
        term = topic.terms[index]
        start, end = match.span()
        place = bisect_left(taken_starts, end)
        if place and taken_ends[place - 1] > start:
            continue
        # Claimed even when dropped below: a weaker term must not re-claim it.
        taken_starts.insert(place, start)
        taken_ends.insert(place, end)
        factor, dropper = _context_factor(topic.rules + term.rules, field, start, end)
        if dropper is not None:
            if dropped is not None:
                dropped.append((Evidence(field.name, start, end, match.group(0)), dropper))
            continue
        weight = term.weight * factor
        if topic.negation is not None:
            n0, n1 = field.words_before(start, topic.negation_words)
            if topic.negation.search(text, n0, n1):
                weight *= topic.negation_factor
        if field.name == "body" and text:
            weight *= 1.0 - (1.0 - POSITION_FLOOR) * start / len(text)
        if weight > 0:
            hits.append(Hit(Evidence(field.name, start, end, match.group(0)), index, weight))
    return sorted(hits, key=lambda h: (h.evidence.start, h.evidence.end))


def _mass(hits: list[Hit]) -> float:
    """Sum of weights, the k-th repeat of a term counting 1/k (strongest repeats first)."""
    by_term: dict[int, list[float]] = {}
    for hit in hits:
        by_term.setdefault(hit.term, []).append(hit.weight)
    return sum(w / k for ws in by_term.values()
               for k, w in enumerate(sorted(ws, reverse=True), start=1))


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a topic scored what it did: used by tests, the benchmarks and debugging.
    ``features`` are the aboutness measures behind the score (see FEATURES)."""

    topic: str
    score: float
    title_mass: float
    body_mass: float
    length_factor: float
    hits: tuple[Hit, ...]
    features: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # Matches a context rule dropped (weight 0), with that rule: a miss whose words were found
    # and ruled out reads differently from one whose words were never there.
    dropped: tuple[tuple[Evidence, Rule], ...] = ()


def _spread(hits: list[Hit], field: Field) -> int:
    """Sentences of ``field`` holding evidence: one sentence is a mention, several a thread."""
    starts = [s for s, _ in field.sentences]
    return len({bisect_right(starts, h.evidence.start) for h in hits})


class Tagger:
    def __init__(self, topics: tuple[Topic, ...]) -> None:
        self.topics = topics

    def explain(self, title: str, body: str) -> list[Explanation]:
        """Aboutness, not keyword presence: evidence in the headline and the lead counts in
        full; evidence in the rest of the body is scaled by the article's length and by how
        many sentences carry it, so a passing mention deep in a report does not tag it."""
        words = max(1, len(body.split()))  # the whole body's length damps its evidence
        body = body[:SCAN_MAX_CHARS]
        title_field, body_field = Field("title", title, body), Field("body", body, title)
        length_factor = min(1.0, math.sqrt(REFERENCE_WORDS / words))
        out = []
        for topic in self.topics:
            dropped: list[tuple[Evidence, Rule]] = []
            title_hits = _hits(topic, title_field, dropped)
            body_hits = _hits(topic, body_field, dropped)
            # Sentence boundaries are worked out (once per field) only where a term matched.
            lead = body_field.lead_end(topic.lead_sentences) if body_hits else 0
            lead_hits = [h for h in body_hits if h.evidence.start < lead]
            rest_hits = [h for h in body_hits if h.evidence.start >= lead]
            spread = min(1.0, topic.mention_factor + (1 - topic.mention_factor) * (
                _spread(rest_hits, body_field) - 1) / max(1, THREAD_SENTENCES - 1)
            ) if rest_hits else 0.0
            title_mass, lead_mass, rest_mass = _mass(title_hits), _mass(lead_hits), _mass(rest_hits)
            damped_rest = length_factor * spread * rest_mass
            score = 1.0 - math.exp(-(TITLE_WEIGHT * title_mass + LEAD_WEIGHT * lead_mass
                                     + damped_rest))
            hits = tuple(title_hits + body_hits)
            features = {
                "title": title_mass, "lead": lead_mass, "rest": damped_rest,
                "spread": (_spread(body_hits, body_field) / len(body_field.sentences)
                           if body_hits else 0.0),
                "terms": float(len({h.term for h in hits})),
                "first": body_hits[0].evidence.start / len(body) if body_hits else 1.0,
                "length": max(-2.0, min(3.0, math.log2(words / REFERENCE_WORDS))),
            }
            out.append(Explanation(topic.name, score, title_mass, lead_mass + rest_mass,
                                   length_factor, hits, features, tuple(dropped)))
        return out

    def tag(self, title: str, body: str) -> list[Tag]:
        tags = []
        for topic, why in zip(self.topics, self.explain(title, body), strict=True):
            if why.hits and why.score >= topic.threshold:
                evidence = tuple(h.evidence for h in why.hits[:MAX_EVIDENCE])
                tags.append(Tag(topic.name, round(why.score, 4), topic.iptc, evidence))
        return tags
