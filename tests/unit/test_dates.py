"""core.dates: every layer's one reading of a date, and its rule for a bare date."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from newsflow.core.dates import normalise_date, parse_datetime, rfc3339, utc_day

# Nothing here reads the clock (the core is pure), but dates are where a library's hidden
# fill-in from today would show: cheap insurance in the shifted-clock run.
pytestmark = pytest.mark.clock


@pytest.mark.parametrize(("value", "expected"), [
    # ISO 8601: with an offset, with Z, compact offset, fractions cut to the second, no zone = UTC
    ("2026-11-20T08:00:00+02:00", "2026-11-20T06:00:00Z"),
    ("2019-11-20T06:07:01Z", "2019-11-20T06:07:01Z"),
    ("2019-11-20T06:07:01+0000", "2019-11-20T06:07:01Z"),
    ("2019-11-20T06:07:01.999-01:00", "2019-11-20T07:07:01Z"),
    ("2019-11-20T06:07:01", "2019-11-20T06:07:01Z"),
    ("2019-11-20 06:07", "2019-11-20T06:07:00Z"),
    ("  2019-11-20T06:07:01Z\n", "2019-11-20T06:07:01Z"),
    # RFC 2822, numeric and named zones
    ("Fri, 20 Nov 2026 08:00:00 GMT", "2026-11-20T08:00:00Z"),
    ("Mon, 18 Nov 2019 16:07:38 -0600", "2019-11-18T22:07:38Z"),
    ("Wed, 02 Oct 2002 08:00:00 EST", "2002-10-02T13:00:00Z"),
    ("19 Nov 2019 07:09 GMT", "2019-11-19T07:09:00Z"),
    # free form, with zone abbreviations (EST = UTC-5, PDT = UTC-7, CET = UTC+1)
    ("November 19, 2019, 07:47 PM EST", "2019-11-20T00:47:00Z"),
    ("Nov 19, 2019 7:47 pm PDT", "2019-11-20T02:47:00Z"),
    ("19 November 2019 10:00 CET", "2019-11-19T09:00:00Z"),
    ("Tue Nov 19 2019 10:20:30 GMT+0100 (Central European Standard Time)",
     "2019-11-19T09:20:30Z"),
    # short forms of the same convention: GMT+3 is three hours ahead of UTC
    ("Nov 19 2019 07:47 GMT+3", "2019-11-19T04:47:00Z"),
    ("Nov 19 2019 07:47 UTC+5:30", "2019-11-19T02:17:00Z"),
    ("Nov 19 2019 07:47 GMT-05", "2019-11-19T12:47:00Z"),
    ("2019-11-19 10:00 UTC", "2019-11-19T10:00:00Z"),
    ("19.11.2019 14:30", "2019-11-19T14:30:00Z"),
    ("03/04/2019 10:00", "2019-04-03T10:00:00Z"),  # day first, as most of the world writes it
    ("2022-5-3T23:57:00", "2022-05-03T23:57:00Z"),  # year first: year-month-day, not 5 March
    ("2017-03-09T16:03:57EST", "2017-03-09T21:03:57Z"),
    ("Tue Jan 28 15:28:56 CET 2020", "2020-01-28T14:28:56Z"),
])
def test_times_become_rfc3339_utc(value: str, expected: str) -> None:
    assert normalise_date(value) == expected


@pytest.mark.parametrize("value", [
    "2019-11-19", "November 19, 2019", "19 Nov 2019", "19/11/2019", "November 19, 2019 EST",
    "2019-11-19 GMT",
])
def test_a_bare_date_is_midnight_utc_whatever_its_zone(value: str) -> None:
    assert normalise_date(value) == "2019-11-19T00:00:00Z"


@pytest.mark.parametrize("value", [
    None, "", "   ", "not a date", "yesterday", 20191119, ["2019-11-19"],
    "0001-01-01T00:00:00Z",  # a CMS placeholder
    "1970-01-01T00:00:00Z",  # the epoch: an unset timestamp
    "Nov 19 2019 10:00 IST",  # ambiguous zone (India, Israel, Ireland): not guessed
    "Tue, 19 Nov 19 10:00:00 GMT",  # two-digit year: its century would come from the clock
    "2019-11-19T25:00:00Z",
    "2019-11-19T10:60:00Z", "2016-12-31T23:59:61Z",  # minute 60, second 61: no leap second
    "Posted " + "at length " * 10 + "on November 19, 2019",
    # An offset of a day or more: a ValueError out of the conversion failed a whole feed.
    "Tue, 02 Jan 2024 10:00:00 +2500", "2024-01-02T10:00:00+25:00", "2 January 2024 10:00 +2500",
    "Tue, 02 Jan 2024 10:00:00 -9999",
])
def test_what_is_not_a_date_is_none(value: object) -> None:
    assert normalise_date(value) is None
    assert parse_datetime(value) is None


@pytest.mark.parametrize("value", [
    "2016-12-31T23:59:60Z", "Sat, 31 Dec 2016 23:59:60 +0000", "December 31, 2016 23:59:60 UTC",
    "2017-01-01T00:59:60+01:00",
])
def test_a_leap_second_is_read_as_the_second_before_it(value: str) -> None:
    assert normalise_date(value) == "2016-12-31T23:59:59Z"


@pytest.mark.parametrize("value", ["November 19", "19 Nov", "2019", "Tuesday 10:00"])
def test_a_date_missing_its_year_month_or_day_is_not_completed_from_today(value: str) -> None:
    assert normalise_date(value) is None


def test_parse_datetime_is_aware_utc() -> None:
    moment = parse_datetime("November 19, 2019, 07:47 PM EST")
    assert moment == datetime(2019, 11, 20, 0, 47, tzinfo=UTC)
    assert moment is not None and moment.utcoffset() is not None and not moment.utcoffset()


def test_rfc3339_of_naive_and_aware_datetimes() -> None:
    assert rfc3339(datetime(2026, 3, 1, 8, 0, 0, 500_000)) == "2026-03-01T08:00:00Z"
    aware = datetime.fromisoformat("2026-03-01T09:00:00+01:00")
    assert rfc3339(aware) == "2026-03-01T08:00:00Z"


def test_output_does_not_depend_on_the_local_time_zone_or_the_clock() -> None:
    """Same answers in a process whose local zone is New York and whose dates are read with
    no hint of the current year (dateutil would otherwise fill gaps from today and tzlocal)."""
    values = ["November 19, 2019, 07:47 PM EST", "19 Nov 2019 07:09", "2019-11-19T10:00:00",
              "November 19", "Nov 19 2019 10:00 EST"]
    code = ("import json, sys; from newsflow.core.dates import normalise_date; "
            "print(json.dumps([normalise_date(v) for v in json.loads(sys.argv[1])]))")
    env = os.environ | {"TZ": "America/New_York"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(values)], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out) == [normalise_date(v) for v in values] == [
        "2019-11-20T00:47:00Z", "2019-11-19T07:09:00Z", "2019-11-19T10:00:00Z", None,
        "2019-11-19T15:00:00Z"]


def test_utc_day_is_the_day_in_utc_and_a_naive_time_is_utc() -> None:
    east = timezone(timedelta(hours=5))
    assert utc_day(datetime(2020, 6, 1, 3, 0, tzinfo=east)) == date(2020, 5, 31)
    assert utc_day(datetime(2020, 6, 1, 23, 30)) == date(2020, 6, 1)


def test_the_year_bounds_apply_to_the_utc_time() -> None:
    assert parse_datetime("2100-12-31T23:59:59-12:00") is None  # 2101 in UTC
    assert parse_datetime("1990-01-01T05:00:00+10:00") is None  # 1989 in UTC
    assert parse_datetime("2100-12-31T10:00:00-01:00") == datetime(2100, 12, 31, 11, tzinfo=UTC)
    assert parse_datetime("0001-01-01T00:00:00+01:00") is None  # no overflow converting it
