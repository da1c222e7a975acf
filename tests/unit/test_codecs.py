"""The codecs at the topic boundary: every record validated both ways, the raw message carried
through the prepared hand-over byte for byte, the fingerprint encoded once."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest

from newsflow.codecs import ARTICLES, BY_ROLE, DEAD_LETTERS, FETCHER_STATE, RAW
from newsflow.codecs import internal as internal_codecs
from newsflow.codecs.internal import MEMORY, PREPARED
from newsflow.config import Settings
from newsflow.core.pipeline import Origin, Pipeline
from newsflow.errors import RecordInvalid, RecordUndecodable
from newsflow.pipeline_setup import build_pipeline
from newsflow.processor import stages
from newsflow.processor.stages import (
    PreparedMessage,
    decide_message,
    decode_memories,
    prepare_for_dedupe,
)
from newsflow.records import (
    PORTABLE_KEYWORDS,
    SCHEMA_FILES,
    DeadLetter,
    RawMessage,
    schema,
    validate,
    validator,
)
from tests.helpers import raw_record

pytestmark = pytest.mark.clock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# A raw value with newlines and non-ASCII text: the prepared message must carry it unchanged.
RAW_VALUE = json.dumps(raw_record("Harbour cranes arrived at the northern port on Monday.\n"
                                  "Dock workers — and the mayor — watched.",
                                  url="https://x.example/cranes", title="Cranes",
                                  fetched_at="2026-11-21T11:00:00Z"),
                       indent=2, ensure_ascii=False).encode("utf-8")


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return build_pipeline(Settings())


def prepared_value(pipeline: Pipeline, value: bytes = RAW_VALUE, offset: int = 7,
                   key: bytes | None = b"raw-key") -> bytes:
    result = prepare_for_dedupe(pipeline, RawMessage("news.raw.v1", 2, offset, key, value), NOW,
                                1_000_000)
    assert isinstance(result, PreparedMessage), result
    return result.value


def keywords(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            if key in ("properties", "$defs"):
                for child in value.values():
                    yield from keywords(child)
            elif isinstance(value, dict | list) and key not in ("enum", "const", "default"):
                yield from keywords(value)
    elif isinstance(node, list):
        for item in node:
            yield from keywords(item)


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_schemas_use_only_keywords_both_validators_read_alike(name: str) -> None:
    assert set(keywords(schema(name))) <= PORTABLE_KEYWORDS


def article_record(pipeline: Pipeline) -> dict[str, Any]:
    decided = decide_message(pipeline, pipeline.new_index(), prepared_value(pipeline), NOW)
    return dict(json.loads(decided.outputs[0][1]))


def broken_articles(article: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field, bad in [("id", ""), ("word_count", -1), ("fetched_at", "Fri, 20 Nov 2026"),
                       ("processed_at", "2026-02-30T00:00:00Z"), ("language", 3),
                       ("empty_reason", "other"), ("unknown_field", 1),
                       ("story", {"id": "s"}), ("content_hash", "xyz")]:
        yield article | {field: bad}
    tagged = copy.deepcopy(article)
    tagged["tags"] = [{"name": "x", "score": 1.5, "iptc": "medtop:20000602", "evidence": []}]
    yield tagged
    missing = dict(article)
    del missing["body"]
    yield missing


def test_a_reader_lets_fields_added_later_through_and_still_refuses_broken_records(
    pipeline: Pipeline,
) -> None:
    article = article_record(pipeline)
    newer = article | {"added_later": 1, "story": article["story"] | {"also_later": True}}
    with pytest.raises(RecordInvalid, match="added_later"):
        ARTICLES.decode(json.dumps(newer).encode())  # a writer checks strictly
    assert ARTICLES.decode(json.dumps(newer).encode(), tolerant=True) == newer
    for broken in broken_articles(article):
        if "unknown_field" not in broken:
            with pytest.raises(RecordInvalid):
                ARTICLES.decode(json.dumps(broken).encode(), tolerant=True)


def test_fast_validation_agrees_with_the_reference_validator(pipeline: Pipeline) -> None:
    article = article_record(pipeline)
    assert validator("article").is_valid(article)
    validate("article", article)
    for broken in broken_articles(article):
        assert not validator("article").is_valid(broken), broken
        with pytest.raises(RecordInvalid):
            validate("article", broken)


def test_encode_refuses_a_record_its_schema_refuses_and_names_the_field(
    pipeline: Pipeline,
) -> None:
    article = article_record(pipeline) | {"word_count": -1}
    with pytest.raises(RecordInvalid, match="word_count"):
        ARTICLES.encode(article)


@pytest.mark.parametrize(("data", "error"), [
    (None, RecordUndecodable), (b"\xff\xfe", RecordUndecodable), (b"{nope", RecordUndecodable),
    (b"[" * 100_000, RecordUndecodable), (b"[]", RecordInvalid),
    (json.dumps({"url": "u", "body": 1}).encode(), RecordInvalid),
])
def test_decode_tells_undecodable_bytes_from_invalid_records(
    data: bytes | None, error: type[Exception],
) -> None:
    with pytest.raises(error):
        RAW.decode(data)


def test_raw_codec_round_trips_without_adding_defaults() -> None:
    record = raw_record("A body.", url="https://x.example/a")
    before = copy.deepcopy(record)
    assert RAW.decode(RAW.encode(record)) == record == before  # no content_type default filled
    with pytest.raises(RecordInvalid, match="limit"):
        RAW.decode(RAW.encode(record), max_bytes=10)


def test_every_role_has_a_codec_and_dead_letters_encode_from_the_dataclass() -> None:
    assert set(BY_ROLE) == {"raw", "articles", "duplicates", "stories", "deadletter"}
    letter = DeadLetter.of(RawMessage("news.raw.v1", 0, 3, b"k", b"\x00bytes"), "decode",
                           "RecordUndecodable", "not UTF-8")
    decoded = DEAD_LETTERS.decode(DEAD_LETTERS.encode_letter(letter))
    assert decoded["original"] == {"key_b64": "aw==", "value_b64": "AGJ5dGVz"}


def test_a_dead_letter_too_large_to_send_keeps_the_reason_and_names_its_original() -> None:
    original = b"x" * 300_000
    letter = DeadLetter.of(RawMessage("news.raw.v1", 0, 41, b"k", original), "validate",
                           "RecordInvalid", "message is 300000 bytes, above the limit")
    whole = DEAD_LETTERS.decode(DEAD_LETTERS.encode_letter(letter, max_bytes=1_000_000))
    assert base64.b64decode(whole["original"]["value_b64"]) == original
    # base64 makes the letter 4/3 of the original: over this limit, the producer would refuse it.
    small = DEAD_LETTERS.encode_letter(letter, max_bytes=350_000)
    assert len(small) < 10_000
    decoded = DEAD_LETTERS.decode(small)
    assert decoded["original"] == {"key_b64": "aw==", "value_b64": None}
    message = decoded["error"]["message"]
    assert "300000 bytes" in message and hashlib.sha256(original).hexdigest() in message
    assert "news.raw.v1 partition 0 offset 41" in message
    assert message.endswith("message is 300000 bytes, above the limit")  # the reason stays


@pytest.mark.parametrize("escape", ["\\udc80", "\\uD800x", "ok \\ud83d"])
def test_a_lone_surrogate_escape_is_undecodable(escape: str) -> None:
    data = ('{"url": "https://x.example/a", "source": {"id": "s", "name": "S"}, "body": "'
            + escape + '"}').encode()
    with pytest.raises(RecordUndecodable, match="lone surrogate"):
        RAW.decode(data)


def test_a_number_python_refuses_to_read_is_undecodable() -> None:
    data = b'{"url": "https://x.example/a", "n": ' + b"9" * 5000 + b"}"
    with pytest.raises(RecordUndecodable, match="not JSON"):
        RAW.decode(data)


def test_an_escaped_surrogate_pair_is_one_character() -> None:
    data = (b'{"url": "https://x.example/a", "source": {"id": "s", "name": "S"}, '
            b'"body": "\\ud83d\\ude00"}')
    assert RAW.decode(data)["body"] == "\U0001f600"


def test_lowercase_t_and_z_are_rfc_3339_for_both_validators() -> None:
    record = raw_record("A body.", url="https://x.example/a") | {
        "fetched_at": "2026-02-11t11:00:00z"}
    assert validator("raw-article").is_valid(record)
    assert RAW.decode(RAW.encode(record))["fetched_at"] == "2026-02-11t11:00:00z"


def test_fetcher_state_values_and_tombstones() -> None:
    assert FETCHER_STATE.encode(None) is None and FETCHER_STATE.decode(None) is None
    value = {"etag": '"v1"', "last_modified": None}
    assert FETCHER_STATE.decode(FETCHER_STATE.encode(value)) == value
    with pytest.raises(RecordInvalid):
        FETCHER_STATE.encode({"t": "yesterday"})


def test_prepared_message_carries_the_raw_message_byte_for_byte(pipeline: Pipeline) -> None:
    record = PREPARED.decode(prepared_value(pipeline))
    assert record.raw == RawMessage("news.raw.v1", 2, 7, b"raw-key", RAW_VALUE)
    assert record.prepared.origin == "news.raw.v1:2:7"
    assert record.prepared.article["title"] == "Cranes"
    assert PREPARED.original(prepared_value(pipeline, key=None)) == RawMessage(
        "news.raw.v1", 2, 7, None, RAW_VALUE)


def test_a_prepared_message_its_codec_refuses_still_names_its_original(
    pipeline: Pipeline,
) -> None:
    head, fingerprint, raw = prepared_value(pipeline).split(b"\n", 2)
    broken = head + b"\n" + fingerprint.replace(b'"minhash":"', b'"minhash":7,"x":"') + b"\n" + raw
    with pytest.raises(RecordInvalid):
        PREPARED.decode(broken)
    assert PREPARED.original(broken) == RawMessage("news.raw.v1", 2, 7, b"raw-key", RAW_VALUE)
    prepared_topic = RawMessage("app-prepared", 0, 1, b"dedupe", b"junk")
    assert stages.dedupe_original(b"junk", prepared_topic) == prepared_topic


def test_the_fingerprint_is_encoded_once_per_article(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    encode = internal_codecs.encode_fingerprint

    def counting(fp: Any) -> bytes:
        calls.append(fp.id)
        return encode(fp)

    monkeypatch.setattr(internal_codecs, "encode_fingerprint", counting)
    value = prepared_value(pipeline)  # the prepare stage
    decided = decide_message(pipeline, pipeline.new_index(), value, NOW)  # the dedupe stage
    assert len(calls) == 1
    # The table stores the prepare stage's bytes, and they restore the same memory.
    fingerprint_json = value.split(b"\n", 2)[1]
    assert decided.memory_value is not None
    assert decided.memory_value.endswith(b"\n" + fingerprint_json)
    assert MEMORY.decode(decided.memory_value) == decided.memory


def test_memory_keeps_the_time_it_was_filed_at(pipeline: Pipeline) -> None:
    index = pipeline.new_index()
    decide_message(pipeline, index, prepared_value(pipeline), NOW)
    late = json.loads(RAW_VALUE) | {"url": "https://y.example/other", "fetched_at":
                                    "2025-01-01T00:00:00Z", "body": "Unrelated ferry news."}
    decided = decide_message(pipeline, index, prepared_value(
        pipeline, json.dumps(late).encode(), offset=8), NOW)
    assert decided.memory.fingerprint.seen_at != decided.record.prepared.fingerprint.seen_at
    assert MEMORY.decode(decided.memory_value) == decided.memory


def test_a_refetch_memory_carries_the_first_delivery_and_its_redelivery_writes_nothing(
        pipeline: Pipeline) -> None:
    """A re-fetch under the same article id replaces the first input's memory in the table;
    its record carries the first input's decision (``first_delivery``, optional in
    dedupe-memory.v1.json) so a redelivery of the first input, after a restore too, gets that
    decision again; that redelivery writes no table value (the re-fetch's memory stays)."""
    index = pipeline.new_index()
    record = json.loads(RAW_VALUE)
    tracked = prepared_value(pipeline, json.dumps(
        record | {"url": "https://x.example/cranes?utm_source=feed"}).encode(), offset=7)
    plain = prepared_value(pipeline, RAW_VALUE, offset=8)
    first = decide_message(pipeline, index, tracked, NOW)
    refetch = decide_message(pipeline, index, plain, NOW)
    assert refetch.memory.decision.duplicate_of == first.memory.fingerprint.id
    assert refetch.memory_value is not None
    head = json.loads(refetch.memory_value.split(b"\n", 1)[0])
    validator("dedupe-memory").validate(head)
    assert head["first_delivery"]["decision"] == asdict(first.memory.decision) | {"origin": ""}
    assert head["first_delivery"]["seen_at"] == first.memory.fingerprint.seen_at
    assert MEMORY.decode(refetch.memory_value) == refetch.memory
    # The stage: the redelivered first input is answered as the first time, and not written.
    again = decide_message(pipeline, index, tracked, NOW)
    assert again.memory_value is None
    assert again.memory.decision == first.memory.decision
    assert [(e.topic, e.key) for e, _ in again.outputs] == [
        (e.topic, e.key) for e, _ in first.outputs]
    assert again.outputs[0][0].topic == "articles"
    # A redelivered re-fetch is written again as it was, the first delivery still in it.
    rewritten = decide_message(pipeline, index, plain, NOW).memory_value
    assert rewritten is not None
    assert MEMORY.decode(rewritten).first_delivery == refetch.memory.first_delivery
    # The same after a restore from the table value alone.
    restored = pipeline.new_index()
    restored.restore([MEMORY.decode(refetch.memory_value)])
    assert decide_message(pipeline, restored, tracked, NOW).memory.decision == (
        first.memory.decision)
    # A record without the field (one written before it existed) still decodes.
    assert first.memory_value is not None and b"first_delivery" not in first.memory_value
    old = json.dumps({k: v for k, v in head.items() if k != "first_delivery"}).encode()
    decoded = MEMORY.decode(old + b"\n" + refetch.memory_value.split(b"\n", 1)[1])
    assert decoded.first_delivery is None and decoded.decision == refetch.memory.decision
    # A field a later version adds is passed over, as this version's field was by none before
    # it (the previous reader refused the record, and the memory of a re-fetched id was lost
    # when a deploy ran both versions or went back).
    later = dict(head, added_later={"any": 1})
    assert MEMORY.decode(json.dumps(later).encode() + b"\n"
                         + refetch.memory_value.split(b"\n", 1)[1]) == refetch.memory
    # A first delivery's input is named by its 64-bit origin key: 16 lower-case hex digits.
    for key in ("not hex", "ABCDEF0123456789", "0" * 15):
        broken = dict(head, first_delivery=dict(head["first_delivery"], origin_key=key))
        with pytest.raises(RecordInvalid, match="origin_key"):
            MEMORY.decode(json.dumps(broken).encode() + b"\n"
                          + refetch.memory_value.split(b"\n", 1)[1])


def test_outputs_are_validated_before_anything_is_emitted(pipeline: Pipeline) -> None:
    """A prepared message its codec accepts but whose article the article schema refuses:
    deciding raises (the worker dead-letters it) instead of emitting an invalid record."""
    head, rest = prepared_value(pipeline).split(b"\n", 1)
    envelope = json.loads(head)
    envelope["article"]["word_count"] = -1
    with pytest.raises(RecordInvalid, match="word_count"):
        decide_message(pipeline, pipeline.new_index(), json.dumps(envelope).encode() + b"\n"
                       + rest, NOW)


def test_rebuilding_the_index_leaves_out_an_undecodable_memory_entry(pipeline: Pipeline) -> None:
    index = pipeline.new_index()
    prepared = pipeline.prepare(raw_record("Harbour cranes arrived on Monday.",
                                           url="https://example.org/cranes"),
                                Origin("raw", 0, 1), datetime.now(UTC))
    memory, _ = pipeline.decide(prepared, index, datetime.now(UTC))
    memories, problems = decode_memories([MEMORY.encode(memory), b"not a memory", None])
    assert [m.fingerprint.id for m in memories] == [memory.fingerprint.id]
    assert len(problems) == 2


def test_a_memory_entry_the_index_cannot_hold_is_left_out_not_failing_the_rebuild(
    pipeline: Pipeline,
) -> None:
    """The index packs an entry's distinct terms at 1-byte positions, its weights in 16 bits
    and its decision counter in 64: an entry beyond those (another version's, a corrupt one)
    is refused by the codec and left out, instead of stopping the whole rebuild in
    ``restore``."""
    good = decide_message(pipeline, pipeline.new_index(), prepared_value(pipeline),
                          NOW).memory_value
    assert good is not None
    head_json, fingerprint_json = good.split(b"\n", 1)
    head, fingerprint = json.loads(head_json), json.loads(fingerprint_json)

    def entry(head: dict[str, Any], fingerprint: dict[str, Any], n: int) -> bytes:
        fingerprint = fingerprint | {"id": f"beyond-{n}"}
        return json.dumps(head).encode() + b"\n" + json.dumps(fingerprint).encode()

    many = {f"term{n}": 0.01 for n in range(300)}
    beyond = [entry(head, fingerprint | {"story_terms": many, "lead_terms": {}}, 1),
              entry(head, fingerprint | {"lead_terms": {"harbour": 70.0}}, 2),
              entry(head | {"decision": head["decision"] | {"seq": 2**63}}, fingerprint, 3)]
    memories, problems = decode_memories([good, *beyond])
    assert len(problems) == 3
    index = pipeline.new_index()
    index.restore(memories)
    assert len(index) == 1
