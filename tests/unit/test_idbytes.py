"""Ids kept as bytes in the dedupe index come back exactly; the worker's take 17 bytes."""

from __future__ import annotations

import hashlib

import pytest

from newsflow.core.idbytes import PACKED_SIZE, id_bytes, id_text
from newsflow.core.urls import article_id_for_content, article_id_for_url


def test_the_workers_ids_take_17_bytes_and_come_back() -> None:
    worker_ids = [article_id_for_url("https://example.org/a?b=1"),
                  article_id_for_content("some normalised text"),
                  "s" + hashlib.sha256(b"story").hexdigest()[:31], "0" * 32, "f" * 32]
    for text in worker_ids:
        assert len(id_bytes(text)) == PACKED_SIZE
        assert id_text(id_bytes(text)) == text


@pytest.mark.parametrize("text", [
    "", "a000000042", "story7", "text-again-37",
    hashlib.sha256(b"x").hexdigest()[:31],  # one digit short
    hashlib.sha256(b"x").hexdigest()[:33],  # one digit long
    hashlib.sha256(b"x").hexdigest()[:32].upper(),  # .hex() would give it back in lower case
    "é" + hashlib.sha256(b"x").hexdigest()[:31],  # a first character without a marker
    "s" + hashlib.sha256(b"x").hexdigest()[:30] + "g",
    "\u0080" * 32])
def test_other_ids_are_kept_as_their_text(text: str) -> None:
    assert id_bytes(text) == text.encode()
    assert id_text(id_bytes(text)) == text


def test_every_first_character_with_a_marker_comes_back() -> None:
    digits = hashlib.sha256(b"y").hexdigest()[:31]
    for first in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-":
        assert id_text(id_bytes(first + digits)) == first + digits
        assert len(id_bytes(first + digits)) == PACKED_SIZE
