"""Codecs of the worker's own topics: the prepared hand-over and the dedupe-memory table.

A prepared message (internal topic ``<app_id>-prepared``) is three parts, each ending at the
first newline (JSON written here never holds a raw newline):

1. the envelope (``schemas/prepared.v1.json``): the raw message's topic, partition, offset and
   key, and the article;
2. the fingerprint (``schemas/fingerprint.v1.json``);
3. the raw message's value, byte for byte, to the end.

Parts 1 and 3 let a failure in the dedupe stage dead-letter the original input (its key, its
bytes, its position on the raw topic) like a failure in any other stage; carrying the raw value
costs its own size once more on the internal topic, without the 4/3 of base64 (see
docs/architecture.md, "Serialisation at the topic boundary"). Part 2 is encoded once, in the
prepare stage: the dedupe-memory table stores the same bytes after its own first line
(``schemas/dedupe-memory.v1.json``: the decision and the time the index filed the article at,
and, for a memory that replaced an earlier input's memory of the same id, that input's decision).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass, replace
from typing import Any

from newsflow.codecs.topics import dumps, loads
from newsflow.core.dedupe import Decision, Fingerprint, FirstDelivery, Memory
from newsflow.core.pipeline import Origin, Prepared
from newsflow.errors import RecordInvalid, RecordUndecodable
from newsflow.records import RawMessage, validate


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A prepared message as the dedupe stage reads it."""

    prepared: Prepared
    raw: RawMessage  # the input it was prepared from
    fingerprint_json: bytes  # part 2, as the prepare stage encoded it


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise RecordUndecodable(f"not base64: {exc}") from exc


def encode_fingerprint(fp: Fingerprint) -> bytes:
    value = {"id": fp.id, "canonical_url": fp.canonical_url, "content_hash": fp.content_hash,
             "minhash": _b64(fp.minhash), "story_terms": fp.story_terms, "seen_at": fp.seen_at,
             "title": fp.title, "source_id": fp.source_id, "tags": fp.tags,
             "lead_terms": fp.lead_terms}
    validate("fingerprint", value)
    return dumps(value)


def decode_fingerprint(data: bytes) -> Fingerprint:
    value = loads(data)
    validate("fingerprint", value)
    value["minhash"] = _unb64(value["minhash"])
    return Fingerprint(**value)


def _parts(data: bytes | None, count: int, what: str) -> list[bytes]:
    if data is None:
        raise RecordUndecodable("message has no value")
    parts = data.split(b"\n", count - 1)
    if len(parts) != count:
        raise RecordUndecodable(f"{what}: {len(parts)} parts, expected {count}")
    return parts


class PreparedCodec:
    def encode(self, prepared: Prepared, raw: RawMessage) -> bytes:
        """``prepared`` must come from ``raw``: its origin is the raw message's position."""
        if raw.value is None:
            raise RecordInvalid("prepared: the raw message has no value")
        head = {"schema_version": 1,
                "raw": {"topic": raw.topic, "partition": raw.partition, "offset": raw.offset,
                        "key_b64": _b64(raw.key)},
                "article": prepared.article}
        validate("prepared", head)
        return dumps(head) + b"\n" + encode_fingerprint(prepared.fingerprint) + b"\n" + raw.value

    def decode(self, data: bytes | None) -> PreparedRecord:
        head_json, fingerprint_json, value = _parts(data, 3, "prepared")
        head = loads(head_json)
        validate("prepared", head)
        raw = self._raw(head, value)
        origin = str(Origin(raw.topic, raw.partition, raw.offset))
        prepared = Prepared(head["article"], decode_fingerprint(fingerprint_json), origin)
        return PreparedRecord(prepared, raw, fingerprint_json)

    def original(self, data: bytes | None) -> RawMessage | None:
        """The raw message a prepared message carries, read as far as it can be when ``decode``
        refused the message; None when even that is unreadable."""
        try:
            head_json, _, value = _parts(data, 3, "prepared")
            head = loads(head_json)
            return self._raw(head, value)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def _raw(head: dict[str, Any], value: bytes) -> RawMessage:
        raw = head["raw"]
        return RawMessage(str(raw["topic"]), raw["partition"], raw["offset"],
                          _unb64(raw["key_b64"]), value)


class MemoryCodec:
    def encode(self, memory: Memory, fingerprint_json: bytes | None = None) -> bytes:
        """``fingerprint_json``: the article's fingerprint as the prepare stage encoded it
        (``PreparedRecord.fingerprint_json``), stored as it is instead of encoded again."""
        head: dict[str, Any] = {"seen_at": memory.fingerprint.seen_at,
                                "decision": asdict(memory.decision)}
        first = memory.first_delivery
        if first is not None:  # only then: a memory without one is written as before
            head["first_delivery"] = {"origin_key": f"{first.origin_key:016x}",
                                      "seen_at": first.seen_at,
                                      "decision": asdict(first.decision)}
        validate("dedupe-memory", head)
        if fingerprint_json is None:
            fingerprint_json = encode_fingerprint(memory.fingerprint)
        return dumps(head) + b"\n" + fingerprint_json

    def decode(self, data: bytes | None) -> Memory:
        head_json, fingerprint_json = _parts(data, 2, "dedupe-memory")
        head = loads(head_json)
        # Tolerant, as a topic's reader is: a field a later version adds (as ``first_delivery``
        # was) must not make this version drop the memory when a deploy runs both or is
        # rolled back; the writer above checks strictly.
        validate("dedupe-memory", head, tolerant=True)
        fingerprint = decode_fingerprint(fingerprint_json)
        if fingerprint.seen_at != head["seen_at"]:  # filed at another time than fetched
            fingerprint = replace(fingerprint, seen_at=head["seen_at"])
        first = head.get("first_delivery")  # absent in records written before it existed
        return Memory(fingerprint, Decision(**head["decision"]), None if first is None else
                      FirstDelivery(int(first["origin_key"], 16), first["seen_at"],
                                    Decision(**first["decision"])))


PREPARED = PreparedCodec()
MEMORY = MemoryCodec()
