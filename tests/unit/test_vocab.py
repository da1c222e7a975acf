"""The window vocabulary gives a term one id while articles use it, and reuses freed ids."""

from __future__ import annotations

import random

from newsflow.core.vocab import Vocabulary


def test_ids_follow_their_terms_through_churn_and_are_reused() -> None:
    rng = random.Random(3)
    vocab = Vocabulary(lambda term: (0.0, 1.0))
    users: dict[str, int] = {}  # term -> articles using it
    ids: dict[str, int] = {}
    for _ in range(3000):
        term = f"t{rng.randrange(400)}"
        if users.get(term) and rng.random() < 0.5:
            vocab.release(ids[term])
            users[term] -= 1
            if not users[term]:
                assert vocab.id_of(term) == -1
                del ids[term]
        else:
            term_id = vocab.acquire(term)
            assert ids.setdefault(term, term_id) == term_id
            users[term] = users.get(term, 0) + 1
        probes = [*rng.sample(sorted(ids), min(3, len(ids))), "never-seen"]
        assert vocab.ids_of(probes) == [ids.get(probe, -1) for probe in probes]
    assert len(vocab) == len(ids)
    assert {vocab.term(term_id): term_id for term_id in ids.values()} == ids
    assert vocab.top <= 400  # freed ids are given to new terms: never more than terms at once
