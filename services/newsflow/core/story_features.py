"""What identifies an event in a report: weighted terms of its headline, lead and body (rare
words and names, inflections folded), computed by the stateless stage from the text alone;
``DedupeIndex`` weighs them again by their rarity in its window."""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

LETTERS = r"[^\W\d_]"
TOKEN = re.compile(rf"{LETTERS}+(?:[-'’]{LETTERS}+)*|\d+(?:[.,]\d+)*")
SENTENCE_START = re.compile(r"(^|[.!?:;\"“”‘’]\s*|\n\s*|[-–—]\s)$")
# Function words and news-report vocabulary that every story shares.
_STOPWORD_TEXT = """
    about above after again against also although among and another any are around because been
    before being below between both but can could did does doing down during each either else
    even ever every few for from further had has have having her here hers him his how however
    into its itself just last least less made make many may more most much must near next not
    now off once only other our out over own per said same says saying see she should since some
    still such than that the their them then there these they this those though through told too
    under until upon very was were what when where whether which while who whom whose why will
    with within without would yet you your week weeks year years day days today yesterday
    tomorrow monday tuesday wednesday thursday friday saturday sunday morning evening night time
    times first second third one two three four five six seven eight nine ten percent according
    reported report reports reporting statement news people officials official
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
STORY_TERMS = 40  # terms kept per article: enough for paraphrases to overlap on names
# A word written as a name (capitalised mid-sentence) weighs more, but not much: the same
# people appear in many events of a week (1.5 first, then 1.25; 1.1 was best on both halves
# of the stories' tune part, NeuS, once a story was scored by its first reports as a group).
NAME_BOOST = 1.1
TITLE_COUNT = 3  # a headline word counts as three body words
LEAD_WORDS = 80  # the lead paragraph names the event; it counts double
BODY_WORDS = 700  # later paragraphs add background, not identity
BASE_FORM_MIN_ZIPF = 2.5  # an inflection is folded only into a word general English knows
BASE_FORM_MAX_DROP = 1.0  # ... and that is at most 10x rarer than the inflected form itself
MAX_IDF = 7.0  # zipf scale: 7 ~ "the"; words unknown to wordfreq (rare names) get the maximum
# Expected share of reports using a word, from its general-English frequency: a ~500-word
# report holds a word of Zipf frequency z about 10 ** (z - 6.3) times, i.e. 10 ** (0.7 - rarity).
DOC_ZIPF_OFFSET = 0.7


@lru_cache(maxsize=200_000)
def _idf(word: str) -> float:
    """Rarity of a word in general English (wordfreq's Zipf scale, 0-8): a stand-in for IDF
    that needs no corpus state, so the stateless stage can weigh terms on its own."""
    if word.isdigit() or word[0].isdigit():
        if len(word) == 4 and word[:2] in ("19", "20"):
            return 1.0  # years: present in most reports, say little about which event
        return 3.0 if len(word) > 1 else 0.0
    from wordfreq import zipf_frequency

    return max(0.0, MAX_IDF - zipf_frequency(word, "en"))


@lru_cache(maxsize=200_000)
def _base_form(word: str) -> str:
    """A light, dictionary-checked inflection fold: "sanctions" -> "sanction", "slammed" ->
    "slam", "voting" -> "vote", "Democrats" -> "democrat". Of the candidate stems, the one
    general English (wordfreq) uses most is taken, and only if it is known
    (``BASE_FORM_MIN_ZIPF``) and not far rarer than the word itself
    (``BASE_FORM_MAX_DROP``): "making" is "make", not "mak"; "chaos", "during", "always" and
    "Brussels" stay as written. Paraphrases of one event use the same words in different
    inflections, and title-case headlines capitalise every word; leads are too short to lose
    those matches."""
    if word[0].isdigit() or "'" in word or "-" in word:
        return word
    candidates: list[str] = []
    if word.endswith("ies") and len(word) >= 5:
        candidates = [word[:-3] + "y"]
    elif word.endswith("s") and len(word) >= 5 and not word.endswith(("ss", "us", "is")):
        candidates = [word[:-1], word[:-2]] if word.endswith("es") else [word[:-1]]
    elif word.endswith("ied") and len(word) >= 5:
        candidates = [word[:-3] + "y"]
    elif word.endswith("ed") and len(word) >= 5:
        candidates = [word[:-2], word[:-1]]
        if word[-3] == word[-4]:
            candidates.append(word[:-3])
    elif word.endswith("ing") and len(word) >= 6:
        candidates = [word[:-3], word[:-3] + "e"]
        if word[-4] == word[-5]:
            candidates.append(word[:-4])
    candidates = [candidate for candidate in candidates if len(candidate) >= 3]
    if not candidates:
        return word
    from wordfreq import zipf_frequency

    frequency, stem = max((zipf_frequency(candidate, "en"), candidate)
                          for candidate in candidates)
    if frequency >= max(BASE_FORM_MIN_ZIPF, zipf_frequency(word, "en") - BASE_FORM_MAX_DROP):
        return stem
    return word


@lru_cache(maxsize=200_000)
def general_share(term: str) -> tuple[float, float]:
    """(expected share of reports using the term in general English, 1 / its ``_idf``): the
    window rarity's prior, and the factor that takes ``_idf`` back out of a fingerprint
    weight (the window rarity replaces it)."""
    rarity = _idf(term)
    return min(1.0, 10 ** (DOC_ZIPF_OFFSET - rarity)), 1.0 / max(rarity, 0.5)


def _terms_with_case(text: str, limit: int, fold: bool = True) -> list[tuple[str, bool]]:
    """(lower-cased term, looks like a name) for the first ``limit`` tokens."""
    out: list[tuple[str, bool]] = []
    for match in TOKEN.finditer(text):
        word = match.group(0)
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        lower = word.lower().replace("’", "'").replace(",", "")
        if fold:  # names too: "Democrats" in a title-case headline, "democrats" in the lead
            lower = _base_form(lower)
        start = match.start()
        sentence_start = SENTENCE_START.search(text[max(0, start - 3):start]) is not None
        out.append((lower, word[0].isupper() and not sentence_start))
        if len(out) >= limit:
            break
    return out


def story_terms(title: str, text: str, fold: bool = True,
                name_boost: float = NAME_BOOST) -> dict[str, float]:
    """Weighted terms that identify an event: rare words and names in the title and the lead.

    Weight = (1 + ln tf) * rarity * (``name_boost`` if written as a name), where the title
    counts three times and the lead twice; the top ``STORY_TERMS`` are kept and L2-normalised.
    ``fold`` folds inflections (``_base_form``); off, and with ``name_boost`` 1.5, the terms
    are as before issue 14.
    """
    counts: Counter[str] = Counter()
    named: set[str] = set()
    words = _terms_with_case(text, BODY_WORDS, fold)
    for position, (term, is_name) in enumerate(words):
        counts[term] += 2 if position < LEAD_WORDS else 1
        if is_name:
            named.add(term)
    for term, is_name in _terms_with_case(title, 60, fold):
        counts[term] += TITLE_COUNT
        if is_name:
            named.add(term)
    weights: dict[str, float] = {}
    for term, tf in counts.items():
        if term in STOPWORDS or (len(term) < 3 and not term[0].isdigit()):
            continue
        idf = _idf(term)
        if idf <= 0:
            continue
        weights[term] = (1 + math.log(tf)) * idf * (name_boost if term in named else 1.0)
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:STORY_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {term: round(w / norm, 4) for term, w in top}


def lead_terms(title: str, text: str, fold: bool = True,
               name_boost: float = NAME_BOOST) -> dict[str, float]:
    """``story_terms`` of the headline and the lead only: what the report is *about*. Later
    paragraphs recount background that neighbouring stories share (the same leaders, the same
    conflict), so the lead tells a related story from the same one."""
    lead = " ".join(text.split()[:LEAD_WORDS])
    return story_terms(title, lead, fold, name_boost)


def quantise(terms: dict[str, float]) -> dict[str, int]:
    return {term: round(weight * 1000) for term, weight in terms.items() if weight > 0}


def story_keys(terms: dict[str, float], count: int) -> list[str]:
    """The ``count`` heaviest terms (ties by name): what an article is looked up and filed
    under. Ranked on quantised weights, exactly as ``DedupeIndex._ranked`` ranks them."""
    ranked = sorted(quantise(terms).items(), key=lambda kv: (-kv[1], kv[0]))
    return [term for term, _ in ranked[:count]]
