"""Poison input: 10,000 generated malformed records among valid ones, on the real broker."""

from __future__ import annotations

import base64
import json
import random

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from newsflow.config import Settings
from tests.e2e.streams import article_text, rss_kib
from tests.helpers import ManagedProcess, TopicReader, produce, raw_record

pytestmark = pytest.mark.e2e

MALFORMED = 10_000
VALID = 500

random_bytes = st.binary(min_size=0, max_size=400)
invalid_utf8 = st.binary(max_size=120).map(lambda b: b"\xff" + b + b"\xc3")
invalid_json = st.text(max_size=200).map(lambda t: ("{" + t).encode("utf-8"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                        children, max_size=4),
    max_leaves=12,
)
wrong_shape = st.one_of(
    json_values,
    st.fixed_dictionaries({  # looks like a raw article, but body is not a string
        "url": st.text(min_size=1, max_size=40),
        "source": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8),
                                         "name": st.text(min_size=1, max_size=8)}),
        "body": st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3)),
    }),
).map(lambda value: json.dumps(value).encode("utf-8"))
malformed = st.one_of(random_bytes, invalid_utf8, invalid_json, wrong_shape)


def generated_malformed(count: int) -> list[bytes]:
    """Malformed values drawn by hypothesis (deterministically), topped up to ``count``."""
    drawn: list[bytes] = []

    @hypothesis_settings(max_examples=300, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(HealthCheck))
    @given(st.lists(malformed, min_size=20, max_size=40))
    def draw(values: list[bytes]) -> None:
        drawn.extend(values)

    draw()
    rng = random.Random(7)
    while len(drawn) < count:  # mutate drawn values: still not raw articles
        drawn.append(b"\x00" + rng.choice(drawn)[: rng.randint(0, 64)])
    return drawn[:count]


def special_cases() -> list[tuple[bytes, str]]:
    """Large and pathological inputs, with the stage expected to reject them."""
    huge = json.dumps(raw_record("x " * 10_000_000, url="https://huge.example/a")).encode()
    nested = b"[" * 200_000 + b"]" * 200_000
    # Minutes of trafilatura time for 3 MB: stopped by the per-page budget in the child process.
    slow_html = "<html><body>" + "<p>word " * 400_000 + "</body></html>"
    slow = json.dumps(raw_record(slow_html, url="https://slow.example/a",
                                 content_type="text/html")).encode()
    return [(huge, "validate")] * 2 + [(nested, "decode")] * 3 + [(slow, "clean")] * 2


def test_poison_goes_to_dead_letters_and_valid_records_come_out(
    settings: Settings, reader: TopicReader, worker: ManagedProcess,
) -> None:
    bad = generated_malformed(MALFORMED)
    specials = special_cases()
    rng = random.Random(3)
    valid = [json.dumps(raw_record(article_text(rng), url=f"https://ok.example/{n}",
                                   title=f"Valid {n}")).encode() for n in range(VALID)]
    items: list[tuple[bytes | None, bytes]] = [(f"bad-{n}".encode(), v) for n, v in enumerate(bad)]
    items += [(f"special-{n}".encode(), v) for n, (v, _) in enumerate(specials)]
    items += [(f"ok-{n}".encode(), v) for n, v in enumerate(valid)]
    rng.shuffle(items)

    produce(settings, [(k, v) for k, v in items if not k.startswith(b"special")])
    reader.wait_for(lambda r: len(r["deadletter"]) >= MALFORMED // 2, 600, "half the dead letters")
    baseline = rss_kib(worker.pid)
    for key, value in items:  # the large ones, one by one, with the stream already busy
        if key.startswith(b"special"):
            produce(settings, [(key, value)])
    total_bad = MALFORMED + len(specials)
    records = reader.wait_for(
        lambda r: len(r["deadletter"]) >= total_bad and len(r["articles"]) >= VALID, 900,
        "every dead letter and every valid article")

    letters = {base64.b64decode(d["original"]["key_b64"]): d for d in records["deadletter"]}
    originals = dict(items)
    for key, letter in letters.items():
        assert base64.b64decode(letter["original"]["value_b64"]) == originals[key], key
        assert letter["error"]["message"], key
    assert set(letters) == {k for k in originals if not k.startswith(b"ok-")}
    for n, (_, stage) in enumerate(specials):
        assert letters[f"special-{n}".encode()]["stage"] == stage
    assert {a["title"] for a in records["articles"]} == {f"Valid {n}" for n in range(VALID)}
    assert worker.alive(), "the worker must not restart"
    growth_mib = (rss_kib(worker.pid) - baseline) / 1024
    assert growth_mib < 400, f"worker memory grew by {growth_mib:.0f} MiB"
