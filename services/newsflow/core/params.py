"""The core's parameters as plain values. Each default is defined here and only here:
``config.Settings`` takes its defaults from these classes, and the adapters build them from it
(``newsflow.pipeline_setup``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class CleanLimits:
    """Per-page guard of the cleaning step; a page over it raises ``PageTooLarge``.

    There is no time limit here: the core never reads the clock. The adapter that runs the
    core (the worker's child processes, ``newsflow process``) stops a page that overruns
    ``Settings.clean_time_budget_seconds``.
    """

    max_html_chars: int = 5_000_000
    # The block-scoring fast path (core/main_text.py) before trafilatura: ~5x cheaper
    # extraction, and on the tune pages of all four real datasets at least level with the
    # trafilatura path it falls back to (docs/cleaning.md).
    blocks_first: bool = True


@dataclass(frozen=True, slots=True)
class DedupeParams:
    num_perm: int = 128
    shingle_size: int = 5
    near_threshold: float = 0.5
    story_threshold: float = 0.18
    story_window_seconds: float = 72 * 3600.0
    window_seconds: float = 7 * 24 * 3600.0
    story_keys: int = 16  # an article's highest-weighted terms used to find candidate stories
    story_candidates: int = 12  # candidate stories scored per article (most shared keys first)
    story_min_keys: int = 2  # keys a candidate story must share: one shared word is chance
    posting_limit: int = 16  # a (key, bucket) posting holding more stories is not a key
    buckets_per_window: int = 3  # time buckets spanning the story window
    story_lead_weight: float = 0.5  # share of the headline-and-lead cosine in story similarity
    max_clock_skew_seconds: float = 3600.0  # a fetch time further ahead of "now" is not trusted
    # A story is joinable within story_window_seconds of its FIRST member ("first"); "chain"
    # (the model before issue 14) measured from any member, so developing subjects never closed.
    story_reach: Literal["first", "chain"] = "first"
    story_threshold_per_day: float = 0.1  # the bar rises with time since the story's first report
    # Rarity of a term in the window itself: log((N + prior) / (df + prior * share + 1)) over
    # the N remembered originals, ``share`` the term's expected share of reports in general
    # English. It replaces general-English rarity, so a name every report of the week carries
    # ("Trump") weighs little; the prior (in reports) keeps a young or small window close to
    # general-English rarity. 0 turns it off (the model before issue 14).
    story_df_prior: float = 100.0
    # Similarity to a story = (1 - w) * cosine with its centroid + w * the pooled cosines with
    # its first ``story_representatives`` reports (with window rarity; w = 0: centroid only).
    # 1 (first reports only) was as good as 0.5 on the stories tune part (pairwise F1 within
    # +-0.01) and keeps no centroids: ~0.8 KB less per remembered article.
    story_member_weight: float = 1.0
    story_representatives: int = 3
    # How the cosines with those first reports are pooled: "mean" (the article has to fit them
    # as a group) or "max" (the closest one alone, before this change). On the stories tune
    # part, "mean" raised pairwise precision on the crowded NeuS stream from 0.75 to 0.82 at
    # equal recall: wrong joins mostly matched one report of a related story, not all of them.
    story_member_pool: Literal["mean", "max"] = "mean"
    # Which candidate story leads: "above_bar" (furthest above its own bar, which rises with
    # the story's age; tune, crowded NeuS: pairwise F1 +0.003) or "similarity" (the most
    # similar one that passes, the version before).
    story_leader: Literal["above_bar", "similarity"] = "above_bar"
    # Second chance (``DedupeIndex._clear_leader``): when no story passes, the leader still
    # takes the article if it is at most ``margin`` below its bar and the runner-up in reach
    # scores at most ``ratio`` of its similarity; margin 0 turns it off. On the stories tune
    # part (crowded NeuS stream) it raised pairwise recall 0.732 -> 0.748 for precision
    # 0.866 -> 0.857, on both halves of the tune stories, and BASIL recall 0.82 -> 0.87.
    story_second_chance_margin: float = 0.03
    story_second_chance_ratio: float = 0.5
    # Contested joins (``DedupeIndex._leader_takes``): a leader less than ``margin`` above its
    # bar takes the article only if the runner-up in reach scores at most ``ratio`` of its
    # similarity; margin 0 turns it off. On the stories tune part (crowded NeuS stream) it
    # raised pairwise precision 0.860 -> 0.879 at equal F1 (0.806) and B3 0.891 -> 0.889, with
    # precision up on both halves of the tune stories (docs/dedupe.md, "Precision").
    story_contested_margin: float = 0.02
    story_contested_ratio: float = 0.7

    def __post_init__(self) -> None:
        # The choices are compared as strings where they are used: a misspelt one would
        # silently behave as the other choice.
        for name, choices in (("story_reach", ("first", "chain")),
                              ("story_member_pool", ("mean", "max")),
                              ("story_leader", ("above_bar", "similarity"))):
            if getattr(self, name) not in choices:
                raise ValueError(f"DedupeParams.{name}: {getattr(self, name)!r} is not one of "
                                 f"{', '.join(choices)}")
