"""Line-level boilerplate removal: the junk that extractors (and copy-pasted text) leave behind.

Each rule is named, so removals can be counted per rule. Rules are deliberately narrow: a rule
must match the *whole* line in a shape no ordinary sentence has, because deleting real content is
worse than keeping a stray "Advertisement". Every rule has a unit test with a sentence it must
leave alone (tests/unit/test_boilerplate.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# Lines longer than this are prose, whatever they start with (also bounds regex work per line).
MAX_RULE_LINE_CHARS = 400


@dataclass(frozen=True, slots=True)
class LineRule:
    name: str
    pattern: re.Pattern[str]
    # ... and, when set, a pattern the line must also contain somewhere (checked only after a
    # match, so prose pays for the cheap whole-line test alone).
    requires: re.Pattern[str] | None = None


def _rule(name: str, pattern: str, flags: int = re.IGNORECASE,
          requires: str | None = None) -> LineRule:
    return LineRule(name, re.compile(pattern, flags),
                    re.compile(requires, flags) if requires else None)


# A capitalised name of one to four words ("Jane Doe", "Mary-Ann O'Neil", "J. R. Smith").
_NAME = r"[A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|van|von|de|da|del|der|bin|al|el|la|le)){0,4}"
# "and" is a word of its own: "AandBand..." read as names joined by "and" could be split in
# exponentially many ways (seconds a line).
_NAMES = rf"{_NAME}(?:(?:\s*[,&]\s*|\s+and\s+){_NAME}){{0,3}}"

# A date or time stamp: month and weekday names, numbers, clock times, time zones, and labels
# such as "Published" or "Updated on". It must hold a day or a clock time, so a line naming
# a month alone stays.
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
          # ... German, French, Spanish, Portuguese, Italian and Dutch (issue 15h)
          r"januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|mars|avril|"
          r"juin|juillet|août|septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|"
          r"mayo|junio|julio|agosto|se(?:p|t)?tiembre|octubre|noviembre|diciembre|janeiro|"
          r"fevereiro|março|maio|junho|julho|setembro|outubro|novembro|dezembro|gennaio|"
          r"febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|januari|februari|"
          r"maart|mei|augustus)\.?")
_WEEKDAY = (r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?|"
            r"montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|"
            r"mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|"
            r"sábado|domingo|(?:segunda|terça|quarta|quinta|sexta)-feira|lunedì|martedì|"
            r"mercoledì|giovedì|venerdì|sabato|domenica)\.?")
_STAMP_LABEL = (r"(?:(?:first |originally |last )?(?:published|updated|posted|modified)"
                r"(?: on| at)?|original|date|"
                # words between the parts of a stamp: "22 de janeiro de 2018 às 0:13",
                # "19. November 2019 um 10:48 Uhr", "ore 10:48"
                r"de|del|às|as|à|a las|um|uhr|ore|le|el)")
_ZONE = r"(?:[ecmp][sd]?t|gmt|utc|bst|cet|cest|ist|jst|aest|aedt|amt|hkt|sgt)"
_STAMP_PART = (rf"(?:{_MONTH}|{_WEEKDAY}|{_STAMP_LABEL}|{_ZONE}|\d{{1,4}}(?:st|nd|rd|th)?|"
               r"\d{1,2}(?::|h)\d{2}(?::\d{2})?|[ap]\.?m\.?|at|on|\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4})")
_STAMP_SEP = r"[\s,|/:·•–—-]*"
# A part never ends inside a run of digits, so "2017" is read one way only (no backtracking).
# ... maybe after a dateline: "VATICAN CITY — Apr 9, 2017, 7:36 AM ET" (issue 15e).
_DATELINE = r"(?:(?-i:[A-Z][A-Z.'’ ]{1,30}[A-Z.])\s*[—–-]\s*)?"
_TIMESTAMP = (rf"{_DATELINE}{_STAMP_SEP}(?:{_STAMP_PART}(?!\d){_STAMP_SEP})+|"
              r"\d{1,3} (?:minutes?|hours?|days?|weeks?) ago|"
              r"\d{1,3}\s*-?\s*min(?:ute)?s?\.? read|"
              r"(?:reading time|lesezeit|tempo de leitura)\s*:?\s*\d{1,3}\s*\w{1,10}")
# A stamp holds a day and month, a clock time or a numeric date (or is one of the others).
_TIMESTAMP_NEEDS = (rf"\d\.?\s*(?:de )?{_MONTH}|{_MONTH}\s*\d|\d(?::|h)\d\d|\d[/.-]\d{{1,2}}[/.-]\d|"
                    r"(?:ago|read)$|^(?:reading time|lesezeit|tempo de leitura)")

# Whole-line rules: the line is removed when the pattern matches all of it (fullmatch).
# Keywords are case-insensitive ((?i:...)); names after "By" must be capitalised.
LINE_RULES: tuple[LineRule, ...] = (
    # "Also Read: <headline>" - a teaser link: a keyword, a colon (or a spaced dash/bar), a title.
    _rule("also_read", r"(also read|read also|read more|see also|see more|must read|also see|"
                       r"related|more|don'?t miss|watch|listen|recommended)"
                       r"\s*(:|\s[|–—-])\s*\S.{0,200}|also on [\w-]+\.[a-z]{2,6}\s+\S.{0,200}"),
    _rule("teaser_heading", r"(don'?t miss|read more|more from [\w .'-]{1,40}|"
                            r"you (may|might) also like|trending( now)?)\s*[:.…!]*"),
    _rule("advertisement", r"(advertisement|advertisment|sponsored( content)?|ad|"
                           r"story continues (below|after) (this )?advertisement|"
                           r"continue reading (below|the main story)|"
                           r"scroll (down )?(to continue|for (video|more)).*|"
                           r"anzeige|werbung|publicité|publicidad|pubblicità|reklama|реклама|iklan)"),
    # "Filed under: Politics |", "Tags: climate, energy", "Schlagworte: ..." (a colon: a table's
    # "Category | ..." header row stays).
    _rule("tags_line", r"(filed under|tags?|tagged( with| in| as)?|categor(y|ies)|posted in|"
                       r"schlagw(orte|örter)|stichw(orte|örter)|mots[- ]clés|etiquetas)\s*:"
                       r"\s*.{0,200}|tags|schlagworte"),
    _rule("link_list_item", r"-?\s*list \d+ of \d+\s*\S.{0,300}"),
    _rule("link_list_end", r"end of list"),
    _rule("newsletter", r"((sign up|subscribe|register)( now| today| here| free)?( for| to)"
                        r"( our| the| my)? .{0,60}(newsletter|updates|alerts|briefing|emails?)s?"
                        r"( here| now| today)?[.!]?|"
                        r"thanks? (you )?for signing up[.!]*|"
                        r"get (the|our) .{0,60}newsletter.{0,40}|"
                        r".{0,40}delivered (straight |directly )?to your inbox[.!]?|"
                        # "Was this newsletter forwarded to you? Sign up to get it in your
                        # inbox.", "Join 800,000+ subscribers to get regular emails ..."
                        r".{0,60}(sign up|subscribe) to (get|receive) (it|this|them|our|the)\b"
                        r".{0,60}(inbox|e-?mails?)[.!]?|"
                        r"join [\d,.]+\+? (subscribers|readers)\b.{0,160}|"
                        # a paragraph that closes on a sign-up call: "There's plenty more
                        # where that came from. Sign up for The Water Coolest today to get
                        # the free daily newsletter delivered to your inbox daily." (15h)
                        r"(?:[^.!?…]{0,300}[.!?…]\s+){1,6}(sign up|subscribe)( now| today)? "
                        r"(for|to)\b"
                        r"[^.!?]{0,120}\b(newsletters?|inbox)\b[^.!?]{0,80}[.!]?"
                        r"(\s+[^.!?]{0,120}[.!]?)?)"),
    _rule("share_bar", r"((share|tweet|email|e-mail|print|whatsapp|facebook|twitter|linkedin|"
                       r"pinterest|reddit|copy link|comments?)"
                       r"(\s*(this|article|story|on \w+))?[\s|·•,/]*){2,}"),
    # A comment section's label or count on a line of its own: "Comments", "27 commentaires",
    # "Kommentare (3)"; no gold text of the tune pages is one (issue 15j).
    _rule("comment_label", r"(\d+\s+)?(comments?|kommentare?|commentaires?|comentarios?|commenti|"
                           r"reacties|komentarze|комментари[йи])(\s*\(\d+\))?\s*:?"),
    _rule("share_prompt", r"(share (this|the) (article|story|page)( on \w+| with .{1,30})?[:.!]?|"
                          r"(like|enjoy(ed)?) this (story|article)\?.{0,60}share.{0,60}|"
                          # ... and in German, French, Spanish, Italian
                          r"(jetzt |mit freunden |(den |diesen )?(artikel|beitrag) )?teilen[:.!]?|"
                          r"möchten sie (den|diesen) (artikel|beitrag) teilen\?|"
                          r"(der|dieser) (artikel|beitrag) gefällt (dir|ihnen)\?|"
                          r"partager (cet |l')article[:.!]?|compartir (este )?art[ií]culo[:.!]?|"
                          r"condividi (questo )?articolo[:.!]?|"
                          # WordPress's share, like and rating headings ("Share this:", "Like
                          # this:", "Gefällt mir:"), rating prompts
                          r"(share|like|rate) this:|gefällt mir:|"
                          r"rate this (article|post|story|page)[:.!]?)"),
    _rule("photo_credit",
          r"(?i:\(?(photo|image|picture|file photo|photograph|pic|credit)( credits?)?s?\s*[:|]"
          r"\s*.{2,120}\)?|(image source|image copyright|photo credit)\s*[:,]?\s*.{2,80}|"
          r"(crédits? photos?|titelbild|beitragsbild|bildquelle|fotos?)\s*:\s*.{2,120}|"
          r"\((reuters|ap|afp|getty images|epa|anadolu)( photo)?\)|"
          # a picture's label and its rights holder: "Symbolgrafik: © Butch - stock.adobe.com";
          # a photographer and an agency: "© Niklas Grapatin / Greenpeace"; not a sentence,
          # which ends in a full stop (issue 15h)
          r"[^\W\d_]{2,30}\s*:\s*©\s*[^©!?]{2,80}(?<!\.)|©\s*[^\W\d_][^©/\d]{1,40}/\s*[^\W\d_][^©/]{1,40})|"
          rf"\(?(?i:(photo|photograph|image|picture)s? by) {_NAMES}"
          r"(\s*(/|for|,|via)\s*[\w .'-]{1,60})?\)?", flags=0),
    # "Follow us on Twitter", "Follow AP's full coverage of Brexit at https://...", "*** Follow
    # me on Instagram, YouTube or Facebook for ... ***"; not "Follow these steps shared on
    # Twitter", hence a pronoun or a capital after "Follow" (issue 15e).
    _rule("follow_prompt", r"\W{0,4}(please )?follow (us|me|him|her|them|@\w+|"
                           r"(the )?(?-i:[A-Z])[\w .,'’@()-]{0,80}?) (on|at) (facebook|twitter|"
                           r"instagram|linkedin|youtube|tiktok|threads|bluesky|mastodon|x\b|"
                           r"https?://\S+).{0,300}"),
    # A news agency's story slug: "AP-US--Trump-Impeachment, 4th Ld-Writethru" (issue 15e).
    _rule("wire_slug", r"(AP|BC)-[A-Z]{2,4}--[\w/'’.&-]+(,\s*[\w /&-]{1,40})?", flags=0),
    # What a page shows before its scripts run: "Loading ...", and template fields never
    # filled in: "This story appears in the {{article.magazine.date}} issue" (issue 15e).
    _rule("placeholder", r"(loading|wird geladen|chargement( en cours)?|cargando|caricamento|"
                         r"carregando)\s*(\.\.\.|…)?|"
                         # WordPress's like button before its script runs
                         r"(like|gefällt mir)\s*(loading|lade)\s*(\.\.\.|…)?|"
                         r".{0,200}\{\{\s*[\w.]+(\s*\|\s*\w+)?\s*\}\}.{0,200}"),
    # A form's own status messages, shown by scripts (Webflow's defaults).
    _rule("form_message", r"(thank you|thanks)[!.]? your submission has been received[!.]?|"
                          r"oops[!.]? something went wrong while submitting the form[!.]?"),
    # An embed code offered to readers: "Embed <iframe src=... title="NPR embedded audio player">"
    _rule("embed_code", r"(embed( code)?\s*:?\s*)?<(iframe|script|embed|object)\b[^>]*>.{0,200}"),
    _rule("cookie_notice", r"(we use cookies|this (web)?site uses cookies).{0,300}"),
    _rule("subscription_notice", r"(subscribe( now)? to (continue|keep) reading.{0,80}|"
                                 r"subscribe to read (the full|more|this).{0,80}|"
                                 r"(to (view|read) the full (story|article),? )?(please )?"
                                 r"subscribe( now)? to .{1,60} (for|to (view|read)) the full "
                                 r"(story|article).{0,120}|"
                                 r"to (view|read) the full (story|article),? please subscribe.{0,200}|"
                                 r"already a subscriber\?\s*(log|sign) ?in.{0,60}|"
                                 # a paywall's prompt: "Become a paid subscriber to Every to
                                 # unlock this piece and learn about:"
                                 r"(become a|upgrade to( a)?) (paid( subscriber| member)?|"
                                 r"subscriber|member|premium)\b.{0,60} to (unlock|read|"
                                 r"continue reading|"
                                 r"access) (this|the (full|rest))\b.{0,120}|"
                                 r"this (post|article|story|piece) is for (paid )?(subscribers|"
                                 r"members)( only)?[.!]?|"
                                 r"you have reached your (free )?article limit.{0,120}|"
                                 r"this (copy|article) is for your personal,? non-commercial use"
                                 r".{0,300})"),
    _rule("copyright", r"(copyright|©|\(c\))\s*(©\s*)?((19|20)\d\d\s*)?.{0,120}"
                       r"all rights reserved\.?.{0,60}|copyright ©?\s*(19|20)\d\d.{0,80}|"
                       r"©\s*(19|20)\d\d\s.{0,80}"),
    _rule("author_contact", rf"(?i:write to) {_NAMES} (?i:at) \S+@\S+\.\w+\.?|"
                            r"(?i:(contact|email|e-mail) the (author|reporter|writer) at) "
                            r"\S+@\S+\.\w+\.?|"
                            # "Have a tip? Jane Doe may be reached at jd@example.com. Follow
                            # her on Twitter @jd." (issue 15e)
                            rf"((?i:have a (news )?tip)\?\s*)?{_NAMES} (?i:(may|can) be reached "
                            r"at) \S+@\S+\.\w+\.?.{0,120}", flags=0),
    # "By Jane Doe" / "By Jane Doe, Reuters" / "By Jane Doe | Nov 19, 2019".
    # What may follow the names: an outlet or a date, capitalised or numeric, a few words.
    _rule("timestamp", _TIMESTAMP, requires=_TIMESTAMP_NEEDS),
    # A byline label whose names are links the extractor left out: "By", "Edited by".
    _rule("byline_label", r"((written|edited|reviewed|fact[- ]checked|words|photos?) )?by:?|"
                          r"(von|par|por|di) ?:"),
    _rule("byline", rf"(By|BY|by)\s+{_NAMES}"
                    r"(\s*[,|–—-]\s*[A-Z0-9][\w&'’-]*([ .,:/]+[\w&'’-]+){0,6}\.?)?", flags=0),
)

# A heading that opens a block of headline links running to the end of the text.
RELATED_HEADING = re.compile(
    r"(related (news|stories|articles|content|coverage|reading)|"
    r"more (stories|news)( from .{1,40})?|"
    r"recommended( for you| stories)?|you (may|might) also like|read next|most read|"
    r"top stories|trending( now)?|more on this story)\s*[:.…]*",
    re.IGNORECASE,
)
HEADLINE_MAX_WORDS = 22
# Teaser excerpts: cut-off blurbs of other posts ("... ist es doch in Deutschland üblich, ...")
# end a line with an ellipsis. A run of this many such lines ending the text is removed.
EXCERPT_END = re.compile(r"(?:\.\.\.|…|\[(?:\.\.\.|…)\])\s*$")
EXCERPT_RUN_MIN_LINES = 3
# A line this long seen before in the text is a copy (a carousel's cloned slides, a standfirst
# the body repeats) and goes.
REPEAT_MIN_CHARS = 100
_LETTER = re.compile(r"[^\W\d_]")


def _looks_like_headline(line: str) -> bool:
    words = line.split()
    return 0 < len(words) <= HEADLINE_MAX_WORDS and not line.rstrip().endswith((".", ":", ";"))


def _related_block_start(lines: Sequence[str]) -> int | None:
    """Index of a 'Related News'-style heading whose following lines are all headlines."""
    for index, line in enumerate(lines):
        if RELATED_HEADING.fullmatch(line.strip()):
            tail = [candidate for candidate in lines[index + 1:] if candidate.strip()]
            if all(_looks_like_headline(candidate) for candidate in tail):
                return index
    return None


def _excerpt_run_start(lines: Sequence[str]) -> int | None:
    """Index where a closing run of cut-off teaser excerpts starts, if the run is long enough."""
    start = len(lines)
    while start > 0 and (not lines[start - 1].strip() or EXCERPT_END.search(lines[start - 1])):
        start -= 1
    excerpts = sum(1 for line in lines[start:] if line.strip())
    return start if excerpts >= EXCERPT_RUN_MIN_LINES else None


def _beside_data_cell(lines: Sequence[str], index: int) -> bool:
    """True when the line before or after holds no letters: a figure in the same table row."""
    for near in (index - 1, index + 1):
        if 0 <= near < len(lines) and lines[near].strip() and not _LETTER.search(lines[near]):
            return True
    return False


def _fold(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def is_author_line(line: str, authors: Sequence[str]) -> bool:
    """A line that is only the byline again: an author's name, maybe with 'By' in front."""
    folded = _fold(line)
    if folded.startswith("by "):
        folded = folded[3:]
    names = {_fold(a) for a in authors if a.strip()}
    return bool(folded) and (folded in names or folded == " and ".join(sorted(names)))


def match_rule(line: str) -> str | None:
    """Name of the first rule that matches the whole line, or None."""
    stripped = line.strip()
    if not stripped or len(stripped) > MAX_RULE_LINE_CHARS:
        return None
    for rule in LINE_RULES:
        if rule.pattern.fullmatch(stripped) and (rule.requires is None
                                                 or rule.requires.search(stripped)):
            return rule.name
    return None


def strip_boilerplate(
    lines: Sequence[str], authors: Sequence[str] = ()
) -> tuple[list[str], Counter[str]]:
    """Remove boilerplate lines; return the kept lines and how many lines each rule removed.

    ``authors`` (from the page's metadata) lets a byline repeated in the body go even when it
    has no "By" in front.
    """
    removed: Counter[str] = Counter()
    kept: list[str] = list(lines)
    block_start = _related_block_start(kept)
    if block_start is not None:
        removed["related_block"] += sum(1 for line in kept[block_start:] if line.strip())
        kept = kept[:block_start]
    excerpts_start = _excerpt_run_start(kept)
    if excerpts_start is not None:
        removed["teaser_excerpts"] += sum(1 for line in kept[excerpts_start:] if line.strip())
        kept = kept[:excerpts_start]
    result: list[str] = []
    seen: set[str] = set()
    for index, line in enumerate(kept):
        rule = match_rule(line)
        stripped = line.strip()
        if len(stripped) >= REPEAT_MIN_CHARS:
            if rule is None and stripped in seen:
                rule = "repeated_line"
            seen.add(stripped)
        if rule == "timestamp" and _beside_data_cell(kept, index):
            rule = None  # a date in a table's column, next to its figures
        if rule is None and authors and len(line) < 120 and is_author_line(line, authors):
            rule = "byline"
        if rule is None:
            result.append(line)
        else:
            removed[rule] += 1
    return result, removed
