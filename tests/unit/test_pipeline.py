"""The core's two steps as the stream runs them: prepare (stateless, behind the raw codec) and
decide (dedupe)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newsflow.codecs import DEAD_LETTERS, RAW
from newsflow.config import Settings
from newsflow.core.dedupe import new_story_id
from newsflow.core.pipeline import Pipeline, Prepared
from newsflow.errors import RecordInvalid
from newsflow.pipeline_setup import build_pipeline
from newsflow.processor.stages import prepare_message
from newsflow.records import MAX_KEY_BYTES, DeadLetter, RawMessage, letter_key, validate
from tests.helpers import raw_record

pytestmark = pytest.mark.clock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return build_pipeline(Settings(max_body_bytes=50_000))


def prepare(pipeline: Pipeline, value: bytes | None, offset: int = 0) -> Prepared | DeadLetter:
    return prepare_message(pipeline, RawMessage("news.raw.v1", 1, offset, b"key", value), NOW,
                           max_bytes=50_000)


@pytest.mark.parametrize(("value", "stage", "error"), [
    (None, "decode", "RecordUndecodable"),
    (b"\xff\xfe\x00", "decode", "RecordUndecodable"),
    (b"{not json", "decode", "RecordUndecodable"),
    (b"[" * 40_000, "decode", "RecordUndecodable"),
    (json.dumps({"url": "https://x.example", "body": "text"}).encode(), "validate", "RecordInvalid"),
    (json.dumps(raw_record("x " * 30_000, url="https://x.example")).encode(), "validate",
     "RecordInvalid"),
    # The schema cannot say it, but no URL parser reads these: the record's fault, not the page's
    # (counted and shown as RecordInvalid, as the README says, not as a bare ValueError).
    (json.dumps(raw_record("text", url="http://x.example:99999/a")).encode(), "validate",
     "RecordInvalid"),
    (json.dumps(raw_record("text", url="http://[::1/a")).encode(), "validate", "RecordInvalid"),
    # Consumers show canonical_url as a link: a URL that is code or inline data never gets there.
    (json.dumps(raw_record("text", url="javascript:alert(1)")).encode(), "validate",
     "RecordInvalid"),
    (json.dumps(raw_record("text", url=" Java\tScript:alert(1)")).encode(), "validate",
     "RecordInvalid"),
    (json.dumps(raw_record("text", url="data:text/html,<b>x</b>")).encode(), "validate",
     "RecordInvalid"),
])
def test_bad_input_becomes_a_dead_letter_with_its_bytes(
    pipeline: Pipeline, value: bytes | None, stage: str, error: str,
) -> None:
    result = prepare(pipeline, value)
    assert isinstance(result, DeadLetter)
    assert (result.stage, result.error_type) == (stage, error)
    assert result.value == value and result.key == b"key"
    assert (result.topic, result.partition, result.offset) == ("news.raw.v1", 1, 0)
    record = result.to_dict("test")
    validate("dead-letter", record)
    assert record["error"]["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_not_json_and_never_reach_an_output_topic(
        pipeline: Pipeline, constant: str) -> None:
    # Python reads and writes them by default: a raw record's "source": {"weight": NaN} came
    # out on news.articles.v1, where no strict JSON reader (Go, JSON.parse) can read it.
    record = raw_record("Ferries resumed.", url="https://x.example/f")
    text = json.dumps(record).replace('"kind": "manual"', f'"kind": "manual", "w": {constant}')
    letter = prepare(pipeline, text.encode())
    assert isinstance(letter, DeadLetter)
    assert letter.stage == "decode" and "not JSON" in letter.error_message
    # A record built in Python (a local file's, read leniently) is refused when encoded, and
    # its letter still carries its bytes.
    record["source"]["weight"] = float("nan")
    with pytest.raises(RecordInvalid, match="Out of range float values are not JSON"):
        RAW.encode(record)
    assert b'"weight":NaN' in RAW.unchecked_bytes(record)


def test_a_leap_second_is_a_valid_date_read_as_the_second_before(pipeline: Pipeline) -> None:
    # RFC 3339 allows second 60; the schema's date-time check refused it, a dead letter.
    record = raw_record("Ferries resumed.", url="https://x.example/leap",
                        fetched_at="2016-12-31T23:59:60Z", published_at="2016-12-31t23:59:60.5z")
    result = prepare(pipeline, json.dumps(record).encode())
    assert isinstance(result, Prepared)
    assert result.article["fetched_at"] == "2016-12-31T23:59:59Z"
    assert result.article["published_at"].startswith("2016-12-31T23:59:59")


def test_a_huge_key_is_a_dead_letter_that_fits_a_message(pipeline: Pipeline) -> None:
    # A 26 MB key: the letter copied it twice over (Kafka key and key_b64), the producer
    # refused the letter, and the worker's stage crashed with the record lost.
    key = b"k" * (MAX_KEY_BYTES + 1)
    value = json.dumps(raw_record("Ferries resumed.", url="https://x.example/f")).encode()
    letter = prepare_message(pipeline, RawMessage("news.raw.v1", 0, 7, key, value), NOW,
                             max_bytes=50_000)
    assert isinstance(letter, DeadLetter)
    assert (letter.stage, letter.error_type) == ("validate", "RecordInvalid")
    assert f"key of {len(key)} bytes" in letter.error_message
    encoded = DEAD_LETTERS.encode_letter(letter, 1_000_000)
    record = json.loads(encoded)
    validate("dead-letter", record)
    assert len(encoded) < 10_000 and record["original"]["key_b64"] is None
    assert record["error"]["message"].startswith(f"[original key not copied: {len(key)} bytes")
    assert record["original"]["value_b64"] is not None  # the value is still there
    assert letter_key(key) is not None and len(letter_key(key) or b"") == 64
    assert letter_key(b"abc") == b"abc"


def test_binary_junk_is_an_empty_article_not_a_crash(pipeline: Pipeline) -> None:
    junk = "".join(chr(c) for c in range(1, 32)) * 200
    result = prepare(pipeline, json.dumps(raw_record(junk, url="https://x.example/j",
                                                     title="Junk")).encode())
    assert isinstance(result, Prepared)
    _, emissions = pipeline.decide(result, pipeline.new_index())
    record = emissions[0].record
    validate("article", record)
    assert record["empty_body"] is True
    assert record["empty_reason"] == "binary"


def test_redelivered_input_gets_the_same_decision_and_record(pipeline: Pipeline) -> None:
    index = pipeline.new_index()
    value = json.dumps(raw_record("Harbour cranes arrived at the northern port on Monday.",
                                  url="https://x.example/cranes", title="Cranes")).encode()
    first = prepare(pipeline, value, offset=7)
    again = prepare(pipeline, value, offset=7)  # the same message, delivered twice
    later = prepare(pipeline, value, offset=9)  # the same article fetched again
    assert isinstance(first, Prepared) and isinstance(again, Prepared)
    assert isinstance(later, Prepared)
    _, out1 = pipeline.decide(first, index)
    _, out2 = pipeline.decide(again, index)
    _, out3 = pipeline.decide(later, index)
    assert out1[0].topic == out2[0].topic == "articles"
    assert out1[0].record["id"] == out2[0].record["id"]
    assert out1[0].record["story"] == out2[0].record["story"]
    assert out3[0].topic == "duplicates"
    assert out3[0].record["duplicate_of"] == out1[0].record["id"]


def test_a_record_that_names_a_known_id_is_that_articles_new_version(pipeline: Pipeline) -> None:
    index = pipeline.new_index()
    first_text = "Harbour cranes arrived at the northern port on Monday after a long voyage."
    second_text = "The ferry timetable changes next week, with two extra crossings a day."
    results = [prepare(pipeline, json.dumps(raw_record(body, url=url, **ids)).encode(),
                       offset=offset)
               for offset, (body, url, ids) in enumerate([
                   (first_text, "https://x.example/cranes", {"id": "wire-42"}),
                   (second_text, "https://x.example/ferry", {"id": "wire-42"}),
                   (first_text, "https://y.example/cranes-copy", {})])]
    outputs = []
    for result in results:
        assert isinstance(result, Prepared)
        outputs.append(pipeline.decide(result, index)[1][0])
    # Both versions come out under the id; the second replaced the first in the memory, so a
    # copy of the first is no longer a duplicate of anything remembered.
    assert [o.topic for o in outputs] == ["articles", "articles", "articles"]
    assert outputs[0].record["id"] == outputs[1].record["id"] == "wire-42"
    assert outputs[1].record["body"] == second_text
    assert len(index.ids) == 2


def test_story_roll_up_follows_its_members(pipeline: Pipeline) -> None:
    index = pipeline.new_index()
    value = json.dumps(raw_record("Ferry services resumed across the strait after the storm.",
                                  url="https://x.example/ferry", title="Ferries resume")).encode()
    prepared = prepare(pipeline, value)
    assert isinstance(prepared, Prepared)
    _, emissions = pipeline.decide(prepared, index)
    story = next(e for e in emissions if e.topic == "stories")
    validate("story", story.record)
    assert story.record["articles"] == [emissions[0].record["id"]]
    assert story.key == emissions[0].record["story"]["id"]


def test_a_decision_without_the_roll_up_decides_the_same(pipeline: Pipeline) -> None:
    # `newsflow process` writes no roll-up; building one listed every member of the story at
    # every report, quadratic in a story's size.
    value = json.dumps(raw_record("Ferry services resumed across the strait after the storm.",
                                  url="https://x.example/ferry", title="Ferries resume")).encode()
    prepared = prepare(pipeline, value)
    assert isinstance(prepared, Prepared)
    _, whole = pipeline.decide(prepared, pipeline.new_index())
    _, alone = pipeline.decide(prepared, pipeline.new_index(), roll_up=False)
    assert [e.topic for e in whole] == ["articles", "stories"]
    assert [e.topic for e in alone] == ["articles"] and alone[0] == whole[0]


def test_story_roll_up_is_anchored_on_the_first_report(pipeline: Pipeline) -> None:
    """Two outlets' own reports of one event, a third report of it three days on (a
    follow-up): the roll-up keeps the first report's id and time, both sources, and closes."""
    index = pipeline.new_index()
    reports = [
        ("Ferries resume across the Kattegat after storm Ingrid",
         "Ferry operators resumed Kattegat crossings on Sunday after storm Ingrid grounded "
         "sailings between Grenaa and Varberg for two days.", "https://a.example/ferry", "a",
         "2026-03-01T08:00:00Z"),
        ("Kattegat crossings restart as Ingrid passes",
         "Sailings between Varberg and Grenaa restarted after storm Ingrid, the operators "
         "said, with the first Kattegat ferry leaving at noon.", "https://b.example/k", "b",
         "2026-03-01T11:00:00Z"),
        ("Kattegat ferries sail again after Ingrid",
         "Ferries between Grenaa and Varberg crossed the Kattegat normally, days after storm "
         "Ingrid.", "https://c.example/k", "c", "2026-03-04T12:00:00Z"),
    ]
    story_ids, roll_ups, article_ids = [], [], []
    for n, (title, body, url, source, fetched) in enumerate(reports):
        value = json.dumps(raw_record(body, url=url, title=title, source_id=source,
                                      fetched_at=fetched)).encode()
        prepared = prepare(pipeline, value, n)
        assert isinstance(prepared, Prepared)
        memory, emissions = pipeline.decide(prepared, index)
        story_ids.append(memory.decision.story_id)
        article_ids.append(prepared.fingerprint.id)
        if n == 0:
            first_id = new_story_id(prepared.fingerprint)
        roll_ups.append(next(e for e in emissions if e.topic == "stories").record)
    assert roll_ups[0]["articles"] == [article_ids[0]]
    assert story_ids[:2] == [first_id, first_id]
    assert roll_ups[1]["first_seen"] == "2026-03-01T08:00:00Z"
    assert roll_ups[1]["last_seen"] == "2026-03-01T11:00:00Z"
    assert roll_ups[1]["sources"] == ["a", "b"] and len(roll_ups[1]["articles"]) == 2
    # 76 hours after the first report: beyond the story window, a story of its own.
    assert story_ids[2] != first_id and roll_ups[2]["articles"] == [article_ids[2]]


def test_articles_carry_a_working_link_and_a_separate_dedupe_key(pipeline: Pipeline) -> None:
    value = json.dumps(raw_record("Harbour cranes resumed work on Monday after the strike.",
                                  url="http://www.example.org/news/cranes?utm_source=rss",
                                  title="Cranes resume")).encode()
    result = prepare(pipeline, value)
    assert isinstance(result, Prepared)
    assert result.article["canonical_url"] == "http://www.example.org/news/cranes"
    assert result.article["dedupe_key"] == "https://example.org/news/cranes"
    _, emissions = pipeline.decide(result, pipeline.new_index())
    validate("article", emissions[0].record)


# A page drawn by JavaScript: nothing to extract from the HTML itself.
APP_SHELL = ("<html><head><title>Live updates</title></head><body><div id='app'></div>"
             "<script src='/app.js'></script></body></html>")


def test_two_different_inputs_with_nothing_extracted_are_not_duplicates(
    pipeline: Pipeline,
) -> None:
    index = pipeline.new_index()
    topics = []
    # Untitled junk, and different pages with nothing extractable under one generic headline
    # (a feed's title for two live blogs): none is a copy of another.
    inputs = [("", None, "application/octet-stream"),
              ("\x00\x01\x02\x03", None, "application/octet-stream"),
              (APP_SHELL, "Live updates", "text/html"), (APP_SHELL, "Live updates", "text/html"),
              ("", "Morning briefing", "text/plain"), ("", "Morning briefing", "text/plain")]
    for n, (body, title, content_type) in enumerate(inputs):
        value = json.dumps(raw_record(body, url=f"https://junk.example/{n}", title=title,
                                      content_type=content_type)).encode()
        result = prepare(pipeline, value, offset=n)
        assert isinstance(result, Prepared)
        assert result.article["empty_body"]
        assert result.article["title"] == (title or "")
        _, emissions = pipeline.decide(result, index)
        topics.append(emissions[0].topic)
    assert topics == ["articles"] * len(inputs)
    # A redelivery of one of them is still a copy.
    again = prepare(pipeline, json.dumps(raw_record(
        "", url="https://junk.example/4", title="Morning briefing")).encode(), offset=9)
    assert isinstance(again, Prepared)
    _, emissions = pipeline.decide(again, index)
    assert emissions[0].topic == "duplicates"


def test_wordless_bodies_and_stubs_under_other_headlines_are_not_copies(
    pipeline: Pipeline,
) -> None:
    # A body of emoji, dashes or dots folds to no word: every such body had one content hash,
    # and each was an exact copy of the first. A stub ("developing story") under another
    # headline was a copy too, and a breaking story was dropped until its text came.
    stub = "This story is developing. Check back later for updates."
    inputs = [("\U0001f386\U0001f386\U0001f386", "Fireworks light up the bay"),
              ("\U0001f680 \U0001f680", "Rocket launch succeeds"),
              ("\u2014", "Minister resigns over housing"), ("...", "Floods close the motorway"),
              (stub, "Earthquake shakes the coast"), (stub, "Rail workers announce a strike")]
    index = pipeline.new_index()
    topics = []
    for n, (body, title) in enumerate([*inputs, (stub, "Rail workers announce a strike")]):
        value = json.dumps(raw_record(body, url=f"https://stub.example/{n}", title=title)).encode()
        result = prepare(pipeline, value, offset=n)
        assert isinstance(result, Prepared)
        _, emissions = pipeline.decide(result, index)
        topics.append(emissions[0].topic)
    # The same stub under the same headline, from another address, is still a copy.
    assert topics == ["articles"] * len(inputs) + ["duplicates"]


def test_an_undated_record_of_an_archive_does_not_move_the_window_to_today(
    pipeline: Pipeline,
) -> None:
    # Filed at the clock's time, the undated record moved the window to today; the eviction
    # after it forgot the archive's first article, and its copy passed as new.
    body = ("The harbour reopened on Thursday after a week of repairs to the storm-damaged sea "
            "wall, port officials said, and the first ferries left for the islands before noon.")
    undated = raw_record("The council met on Tuesday to discuss the budget for the coming year, "
                         "and members agreed to postpone the vote on parking charges.",
                         url="https://archive.example/council", title="Council meets")
    del undated["fetched_at"]
    records = [raw_record(body, url="https://archive.example/harbour", title="Harbour reopens",
                          fetched_at="2024-03-01T10:00:00Z"),
               undated,
               raw_record(body, url="https://mirror.example/harbour", title="Harbour reopens",
                          fetched_at="2024-03-01T11:00:00Z")]
    index = pipeline.new_index()
    topics = []
    for n, record in enumerate(records):
        result = prepare(pipeline, json.dumps(record).encode(), offset=n)
        assert isinstance(result, Prepared)
        _, emissions = pipeline.decide(result, index, NOW)
        pipeline.evict(index)
        topics.append(emissions[0].topic)
    assert topics == ["articles", "articles", "duplicates"]


def test_story_roll_up_topic_is_compacted_and_articles_are_not() -> None:
    from newsflow.topics import topic_configs

    settings = Settings()
    configs = topic_configs(settings)
    assert configs[settings.topic_stories] == {"cleanup.policy": "compact"}
    assert configs[settings.topic_fetcher_state] == {"cleanup.policy": "compact"}
    assert settings.topic_articles not in configs and settings.topic_raw not in configs


def test_the_dead_letters_of_bad_input_are_counted_from_zero_at_start(pipeline: Pipeline) -> None:
    """A series born with its first letters has no earlier sample: rate() over it missed a
    poison batch read within one scrape, and the dead-letter alert never fired."""
    from prometheus_client import REGISTRY

    from newsflow.processor.metrics import EXPECTED_DEAD_LETTERS

    for stage, error in EXPECTED_DEAD_LETTERS:
        assert REGISTRY.get_sample_value("newsflow_processor_dead_letters_total",
                                         {"stage": stage, "error": error}) is not None
    for stage in ("prepare", "dedupe"):
        assert REGISTRY.get_sample_value("newsflow_processor_messages_in_total",
                                         {"stage": stage}) is not None
    for role in ("articles", "duplicates", "stories"):
        assert REGISTRY.get_sample_value("newsflow_processor_records_out_total",
                                         {"topic": role}) is not None
    # The letters of bad bytes and of a record of the wrong shape are among them.
    for value in (b"\xff not json", json.dumps({"url": 5}).encode()):
        letter = prepare(pipeline, value)
        assert isinstance(letter, DeadLetter)
        assert (letter.stage, letter.error_type) in EXPECTED_DEAD_LETTERS
