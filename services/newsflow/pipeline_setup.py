"""The core's plain inputs built from ``Settings``: where configuration meets the pure core.

Every adapter that runs the core (the worker and its child processes, ``newsflow process``,
``newsflow tags check``, the benchmarks) builds it here, so they all run the same core.
"""

from __future__ import annotations

from newsflow.config import Settings
from newsflow.core.params import CleanLimits, DedupeParams
from newsflow.core.pipeline import Pipeline
from newsflow.core.tagging import Tagger, Topic
from newsflow.taxonomy_files import load_taxonomy


def clean_limits(settings: Settings) -> CleanLimits:
    return CleanLimits(max_html_chars=settings.clean_max_html_chars,
                       blocks_first=settings.clean_blocks_first)


def dedupe_params(settings: Settings) -> DedupeParams:
    return DedupeParams(
        num_perm=settings.minhash_permutations,
        shingle_size=settings.shingle_size,
        near_threshold=settings.near_duplicate_threshold,
        story_threshold=settings.story_threshold,
        story_window_seconds=settings.story_window_hours * 3600,
        story_lead_weight=settings.story_lead_weight,
        story_threshold_per_day=settings.story_threshold_per_day,
        story_df_prior=settings.story_df_prior,
        story_member_weight=settings.story_member_weight,
        story_contested_margin=settings.story_contested_margin,
        story_contested_ratio=settings.story_contested_ratio,
        window_seconds=settings.dedupe_window_days * 86400,
        max_clock_skew_seconds=settings.dedupe_max_clock_skew_seconds,
    )


def build_tagger(settings: Settings) -> Tagger:
    """The bundled taxonomy with ``NEWSFLOW_TAXONOMY_PATH``'s overlay; ``TaxonomyError`` if bad."""
    return Tagger(load_taxonomy(settings.taxonomy_path))


def build_pipeline(settings: Settings, topics: tuple[Topic, ...] | None = None) -> Pipeline:
    """``topics``: a taxonomy already loaded (the prepare children get their parent's); else
    the one ``settings`` name, loaded now."""
    tagger = build_tagger(settings) if topics is None else Tagger(topics)
    return Pipeline(tagger, dedupe_params(settings), clean_limits(settings))
