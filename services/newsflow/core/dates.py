"""Dates and times as records carry them: RFC 3339 in UTC, to the second.

The one parser for every layer (fetcher sources, page metadata, the pipeline), so a date means
the same wherever it was read:

* ISO 8601 first (``datetime.fromisoformat``: the common case, and the fast one), then RFC 2822
  (``email.utils``, what feeds print), then free-form dates through python-dateutil ("November
  19, 2019, 07:47 PM EST"), with the zone abbreviations in ``ZONE_OFFSETS``;
* a value without a zone is UTC; a value without a time of day is midnight UTC of that day,
  whatever zone it names ("November 19, 2019" and "2019-11-19" are both 2019-11-19T00:00:00Z);
* a leap second (``23:59:60``) is the second before it (datetime has no second 60);
* anything else is None: text that is not a date, an unknown zone abbreviation (a guessed zone
  would be hours off), a value missing its year, month or day or giving a two-digit year (both
  would have to be completed from today's date), a year outside ``MIN_YEAR``..``MAX_YEAR``
  (CMS placeholders such as 0001-01-01 or 1970-01-01).

Pure: never reads the clock, the environment or the local time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from dateutil import parser as dateutil_parser

MIN_YEAR, MAX_YEAR = 1990, 2100
MAX_CHARS = 80  # longer values are sentences that mention a date, not dates
# Hours from UTC of the abbreviations publishers print after a time. Ambiguous ones (IST, CST
# in China) are left out on purpose: a value naming them is not parsed.
ZONE_OFFSETS = {"UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
                "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "BST": 1, "CET": 1, "CEST": 2}
_MONTH = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
# RFC 2822 with a four-digit year and a zone email.utils reads right (numeric or a US name).
RFC_2822 = re.compile(
    rf"(?:(?:mon|tue|wed|thu|fri|sat|sun),\s*)?\d{{1,2}}\s+(?:{_MONTH})\s+\d{{4}}\s+"
    r"\d{1,2}:\d\d(?::\d\d)?\s+(?:[+-]\d{4}|ut|gmt|z|[ecmp][sd]t)", re.IGNORECASE)
# "GMT+0100" as JavaScript prints it means UTC+1 (dateutil would read it the POSIX way, UTC-1).
# "GMT+3", "UTC+5:30" and "GMT+03" likewise: the hours may be one digit, the minutes absent.
GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d\d))?\b")
TRAILING_COMMENT = re.compile(r"\s*\([^()]*\)$")  # "(Central European Standard Time)"
TIME_OF_DAY = re.compile(r"\d:\d\d|\d\s*[ap]\.?\s?m\b", re.IGNORECASE)
# A zone after a bare date ("November 19, 2019 EST"): dateutil refuses it, and it changes nothing.
DATE_ZONE = re.compile(rf"\s+(?:{'|'.join(ZONE_OFFSETS)})$", re.IGNORECASE)
FOUR_DIGIT_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
YEAR_FIRST = re.compile(r"\d{4}\D")
# Two completions that differ in year, month and day: a component both parses agree on was
# in the text, not taken from the default.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))
# A leap second ("23:59:60", which RFC 3339 and RFC 2822 allow): Python's datetime has no second
# 60, so it is read as the second before it rather than losing the date.
LEAP_SECOND = re.compile(r"(?<=\d\d:\d\d):60(?!\d)")


def rfc3339(moment: datetime) -> str:
    """``2019-11-20T00:47:00Z``; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of ``moment``; a naive datetime is taken to be UTC."""
    return moment.date() if moment.tzinfo is None else moment.astimezone(UTC).date()


def normalise_date(value: object) -> str | None:
    """RFC 3339 (UTC) from any date or time a source or page gives; None if it is not one."""
    moment = parse_datetime(value)
    return rfc3339(moment) if moment is not None else None


def parse_datetime(value: object) -> datetime | None:
    """An aware UTC datetime from a date or time string, by the rules in the module docstring."""
    if not isinstance(value, str):
        return None
    text = LEAP_SECOND.sub(":59", " ".join(value.split()), count=1)
    if not text or len(text) > MAX_CHARS:
        return None
    moment = _iso(text)
    if moment is None and RFC_2822.fullmatch(text):
        moment = _rfc_2822(text)
    if moment is None:
        moment = _free_form(text)
    # The year bounds apply to the UTC time written on topics, not to the local one; a year
    # far outside them is refused first (converting year 1 or 9999 could overflow).
    if moment is None or not MIN_YEAR - 1 <= moment.year <= MAX_YEAR + 1:
        return None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # an offset of a day or more ("+2500"): no time zone
        return None
    return moment if MIN_YEAR <= moment.year <= MAX_YEAR else None


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)  # a bare date is midnight, naive: UTC below
    except ValueError:
        return None


def _rfc_2822(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _zone_of(name: str | None, offset: int | None) -> int:
    """Seconds east of UTC for dateutil; an unknown abbreviation is refused, not guessed."""
    if name is None:
        return offset or 0
    hours = ZONE_OFFSETS.get(name.upper())
    if hours is None:
        raise ValueError(f"unknown time zone {name!r}")
    return hours * 3600


def _dateutil(text: str, default: datetime) -> datetime:
    # 03/04/2019 is 3 April, as in most of the world's news; but a value that starts with its
    # year is year-month-day ("2022-5-3T23:57"), which dateutil would read as 5 March if told
    # that days come first.
    day_first = YEAR_FIRST.match(text) is None
    moment: datetime = dateutil_parser.parse(text, default=default, dayfirst=day_first,
                                             tzinfos=_zone_of)
    return moment


def _numeric_offset(match: re.Match[str]) -> str:
    """" GMT+3" -> " +0300": a numeric offset, which dateutil reads with its usual sign."""
    sign, hours, minutes = match.groups()
    return f" {sign}{int(hours):02d}{minutes or '00'}"


def _free_form(text: str) -> datetime | None:
    text = GMT_OFFSET.sub(_numeric_offset, TRAILING_COMMENT.sub("", text))
    if FOUR_DIGIT_YEAR.search(text) is None:
        return None
    has_time = TIME_OF_DAY.search(text) is not None
    if not has_time:
        text = DATE_ZONE.sub("", text)
    try:
        first, second = (_dateutil(text, default) for default in _DEFAULTS)
    except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
        return None
    if first.date() != second.date():
        return None  # year, month or day came from the default, not from the text
    if not has_time:
        return datetime(first.year, first.month, first.day, tzinfo=UTC)
    return first
