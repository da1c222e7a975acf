"""The one configuration object: every setting comes from a ``NEWSFLOW_`` environment variable.

Modules receive a ``Settings`` instance instead of reading the environment or keeping their own
constants, so a test or a container can change any behaviour in one place.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow.core.params import CleanLimits, DedupeParams
from newsflow.errors import ConfigError

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent
# The core's defaults live with its parameter classes; the settings below take them from there
# (in the settings' units: hours, days), so a default is never written twice.
_CLEAN = CleanLimits()
_DEDUPE = DedupeParams()


# One broker address: a host name (a letter or digit first) or IPv4 address, or an IPv6 address
# in brackets; a port, which the Kafka clients default to 9092 when it is left out.
_HOST_PORT = (r"(?:[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])"
              r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}"
              r"|[1-9][0-9]{0,3}))?")
BOOTSTRAP_SERVERS = re.compile(rf"\s*{_HOST_PORT}(?:\s*,\s*{_HOST_PORT})*\s*")
# A Kafka topic name (the broker refuses others; 249 is its limit, less room for suffixes).
KAFKA_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


class Settings(BaseSettings):
    # No infinite or NaN times or shares: "inf" seconds passed the bounds and then stopped a
    # command with an OverflowError traceback where a whole number of milliseconds was needed.
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", extra="ignore", allow_inf_nan=False)

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="host:port[,host:port]. Unset: commands that can, start the embedded broker.",
    )
    # The values every Kafka client here knows (kafka-python, aiokafka): a typo would otherwise
    # connect in plain text without a word.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI",
                                  "OAUTHBEARER"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None
    # Every command that needs the broker gives up after this long without one (exit code 3).
    kafka_connect_timeout_seconds: float = Field(default=30.0, gt=0)

    topic_raw: str = "news.raw.v1"
    topic_articles: str = "news.articles.v1"
    topic_duplicates: str = "news.duplicates.v1"
    topic_deadletter: str = "news.deadletter.v1"
    topic_stories: str = "news.stories.v1"
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)

    # --- Embedded broker ---------------------------------------------------------------------
    broker_port: int = Field(default=9092, ge=1, le=65535)
    broker_host: str = "127.0.0.1"

    # --- Worker (Faust) ----------------------------------------------------------------------
    app_id: str = "newsflow-processor"
    worker_web_port: int = Field(default=6066, ge=1, le=65535)  # Faust refuses 0
    worker_web_host: str = "127.0.0.1"
    worker_data_dir: Path = Path(".newsflow/worker")
    # Where Faust keeps the dedupe-memory table: "rocksdb://" on disk under worker_data_dir
    # (RocksDB through rocksdict; bounded caches, so its memory does not grow with the window)
    # or "memory://" (a dict: ~2 KB of RAM per remembered article). Workers on one machine need
    # distinct data directories: a RocksDB directory is locked by the worker that opened it.
    worker_table_store: Literal["rocksdb://", "memory://"] = "rocksdb://"
    # The embedded broker joins a group after ~half the session timeout: keep it short.
    broker_session_timeout_seconds: float = Field(default=3.0, gt=0)
    broker_heartbeat_interval_seconds: float = Field(default=0.5, gt=0)
    # 1 keeps table recovery exact on brokers that under-report end offsets
    # (docs/architecture.md, "What the embedded broker does differently").
    producer_max_batch_size: int = Field(default=1, ge=1)
    # Longest wait of one fetch of the worker's consumer. The embedded broker answers a waiting
    # fetch only when it ends, so each of the worker's two hops adds up to this much latency;
    # shorter means more empty fetches while idle (docs/performance.md, "Latency").
    worker_fetch_max_wait_ms: int = Field(default=100, ge=10)
    # Longest a worker takes to stop once asked (SIGTERM, Ctrl-C) before it exits with status 1:
    # Faust's shutdown can wait for ever for a broker that is gone (processor/bounded_stop.py).
    worker_stop_timeout_seconds: float = Field(default=60.0, gt=0)
    # A raw message larger than this is dead-lettered before it is parsed (stage validate).
    # Unset: the largest record the fetcher sends (``raw_record_limit``), so a page under
    # NEWSFLOW_FETCH_MAX_BYTES is never refused for what JSON escaping adds to it.
    max_body_bytes: int | None = Field(default=None, ge=1024)
    # Child processes that clean and tag (CPU-bound; each page under clean_time_budget_seconds).
    prepare_processes: int = Field(default=1, ge=1)
    # Largest Kafka message a client sends or fetches: a dead letter carries its original
    # (base64, so 4/3 of an oversized input) and must still fit.
    max_message_bytes: int = Field(default=33_554_432, ge=1_048_576)

    # --- Core --------------------------------------------------------------------------------
    # A newsroom's overlay on the bundled taxonomy (data/taxonomy.yaml): topics added or
    # changed, lexicons extended; None = the bundled taxonomy alone. See docs/tagging.md.
    taxonomy_path: Path | None = None

    @field_validator("taxonomy_path", mode="before")
    @classmethod
    def taxonomy_path_not_empty(cls, value: object) -> object:
        # Path("") is the current folder, which would then fail as "Is a directory: '.'".
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty; unset it to use the bundled taxonomy alone")
        return value

    # Cleaning guards: a page over the size is dead-lettered by the core (PageTooLarge, see
    # core/clean.py); one that takes longer than the budget is stopped by the process running
    # it (PrepareTimeout, see processor/prepare_pool.py), never left to stall a worker;
    # `tags check` gives each labelled article's tagging the same budget (tags_check.py).
    clean_time_budget_seconds: float = Field(default=10.0, gt=0)
    clean_max_html_chars: int = Field(default=_CLEAN.max_html_chars, ge=1024)
    clean_blocks_first: bool = _CLEAN.blocks_first
    dedupe_window_days: float = Field(default=_DEDUPE.window_seconds / 86400, gt=0)
    # A fetched_at further ahead of the worker's clock is filed at the worker's time instead,
    # so one clock-skewed source cannot push the window forward and evict everything.
    dedupe_max_clock_skew_seconds: float = Field(default=_DEDUPE.max_clock_skew_seconds, ge=0)
    # calibrated: docs/dedupe.md
    near_duplicate_threshold: float = Field(default=_DEDUPE.near_threshold, gt=0, le=1)
    minhash_permutations: int = Field(default=_DEDUPE.num_perm, ge=16)
    shingle_size: int = Field(default=_DEDUPE.shingle_size, ge=1)
    # tuned on the stories tune part
    story_threshold: float = Field(default=_DEDUPE.story_threshold, gt=0, le=1)
    story_window_hours: float = Field(default=_DEDUPE.story_window_seconds / 3600, gt=0)
    # headline+lead share, docs/dedupe.md
    story_lead_weight: float = Field(default=_DEDUPE.story_lead_weight, ge=0, le=1)
    # docs/dedupe.md: the bar rises this much a day after a story's first report; window rarity prior
    story_threshold_per_day: float = Field(default=_DEDUPE.story_threshold_per_day, ge=0, le=1)
    story_df_prior: float = Field(default=_DEDUPE.story_df_prior, ge=0)
    # share of the story's first reports (their mean similarity)
    story_member_weight: float = Field(default=_DEDUPE.story_member_weight, ge=0, le=1)
    # a story less than this above its bar takes an article only when no rival in reach
    # scores more than the ratio of its similarity (docs/dedupe.md); margin 0: off
    story_contested_margin: float = Field(default=_DEDUPE.story_contested_margin, ge=0, le=1)
    story_contested_ratio: float = Field(default=_DEDUPE.story_contested_ratio, ge=0, le=1)

    # --- Fetcher -----------------------------------------------------------------------------
    fetch_user_agent: str = "newsflow/0.1 (+https://example.invalid/newsflow; news ingestion bot)"
    fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    fetch_max_bytes: int = Field(default=5_000_000, ge=1)
    fetch_retries: int = Field(default=3, ge=0)
    fetch_allow_networks: str = Field(
        default="",
        description="Comma-separated CIDRs the fetcher may reach even though they are private.",
    )
    # Not 0: a port the system picks would be reported nowhere, so nothing could scrape it.
    fetch_metrics_port: int = Field(default=9464, ge=1, le=65535)
    fetch_metrics_host: str = "127.0.0.1"
    # Fine-grained HTTP behaviour (docs/fetcher.md); fetch_timeout_seconds is the total budget.
    fetch_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    fetch_read_timeout_seconds: float = Field(default=10.0, gt=0)
    fetch_max_redirects: int = Field(default=5, ge=0)
    fetch_backoff_base_seconds: float = Field(default=0.5, ge=0)
    fetch_backoff_max_seconds: float = Field(default=30.0, ge=0)
    fetch_max_retry_after_seconds: float = Field(default=120.0, ge=0)
    fetch_host_concurrency: int = Field(default=2, ge=1)
    fetch_host_min_delay_seconds: float = Field(default=0.5, ge=0)
    fetch_max_crawl_delay_seconds: float = Field(default=60.0, ge=0)
    fetch_robots_ttl_seconds: float = Field(default=3600.0, gt=0)
    fetch_jitter_ratio: float = Field(default=0.1, ge=0, lt=1)
    fetch_poll_timeout_seconds: float = Field(default=600.0, gt=0)
    # directory sources: a file modified this recently may still be being written (cp, scp);
    # it is left for the next poll (fetcher/directory.py)
    fetch_directory_settle_seconds: float = Field(default=2.0, ge=0)
    # Delivery and restart-safe state (the compacted topic below, see README "Fetcher state").
    topic_fetcher_state: str = "news.fetcher-state.v1"
    fetch_state_load_timeout_seconds: float = Field(default=60.0, gt=0)
    fetch_state_max_entries: int = Field(default=500_000, ge=1000)
    fetch_outbox_max_records: int = Field(default=10_000, ge=1)
    fetch_publish_timeout_seconds: float = Field(default=120.0, gt=0)

    # --- Consumer client (newsflow.client, newsflow tail) -------------------------------------
    # A waiting fetch on the embedded broker is answered only when this wait ends: keep it short.
    # Under kafka-python's 30 s request timeout, which it must be below (a longer wait was
    # refused by every try to connect, and reported as no broker after the connect timeout).
    client_fetch_max_wait_ms: int = Field(default=200, ge=10, le=25_000)
    # Ids of recently delivered records remembered to drop at-least-once redeliveries.
    client_seen_ids: int = Field(default=100_000, ge=100)
    # Handled positions are committed after this many records or this many seconds, whichever
    # comes first: what a crash (kill -9, OOM) redelivers is bounded by both.
    client_commit_every_records: int = Field(default=100, ge=1)
    client_commit_interval_seconds: float = Field(default=1.0, gt=0)

    # --- Demo --------------------------------------------------------------------------------
    demo_timeout_seconds: float = Field(default=180.0, gt=0)
    # --follow: the sample site publishes a new article, and the fetcher polls, this often.
    demo_follow_interval_seconds: float = Field(default=5.0, gt=0)

    @field_validator("topic_raw", "topic_articles", "topic_duplicates", "topic_deadletter",
                     "topic_stories", "topic_fetcher_state", "app_id")
    @classmethod
    def _kafka_name(cls, value: str) -> str:
        # Kafka's own rule for topic names (the app id names the worker's topics and group):
        # the embedded broker creates "bad id!-prepared" where Apache Kafka would refuse it.
        if not KAFKA_NAME.fullmatch(value) or value in (".", ".."):
            raise ValueError("expected 1 to 200 of the characters a-z A-Z 0-9 . _ -")
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_servers(cls, value: str | None) -> str | None:
        # The Kafka clients fail on a typo ("localhost:9092x") deep inside, with a traceback
        # instead of a line naming the variable.
        if not value:  # set but empty, as a compose file may leave it: unset
            return None
        if not BOOTSTRAP_SERVERS.fullmatch(value):
            raise ValueError("expected host[:port][,host[:port]...] with ports 1 to 65535")
        return ",".join(server.strip() for server in value.split(","))  # Faust's URLs too

    def kafka_client_options(self) -> dict[str, object]:
        """Security options shared by every kafka-python client."""
        opts: dict[str, object] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_sasl_mechanism:
            opts["sasl_mechanism"] = self.kafka_sasl_mechanism
            opts["sasl_plain_username"] = self.kafka_sasl_username
            opts["sasl_plain_password"] = self.kafka_sasl_password
        if self.kafka_ssl_cafile:
            opts["ssl_cafile"] = self.kafka_ssl_cafile
        return opts

    @classmethod
    def from_environment(cls) -> Settings:
        """The settings of ``NEWSFLOW_`` variables, for a library's caller (``NewsConsumer``
        without settings): a bad value is a ``ConfigError`` naming its variable, and a variable
        that names no setting is logged as a WARNING, as the commands print them."""
        for line in unknown_variables(os.environ):
            log.warning("%s", line)
        try:
            return cls()
        except ValidationError as exc:
            raise ConfigError(f"configuration error: {settings_problems(exc)}") from None

    @property
    def raw_message_limit(self) -> int:
        """The largest raw message the worker and ``newsflow process`` accept."""
        if self.max_body_bytes is not None:
            return self.max_body_bytes
        return raw_record_limit(self.fetch_max_bytes)

    def require_bootstrap(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise ConfigError(
                "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS is not set. Start a broker with "
                "`newsflow broker` and export NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092."
            )
        return self.kafka_bootstrap_servers

    def to_env(self) -> dict[str, str]:
        """These settings as NEWSFLOW_ variables, to start a child process with the same config."""
        env = {}
        for name, value in self.model_dump().items():
            if value is not None:
                env[f"NEWSFLOW_{name.upper()}"] = str(value)
        return env


def raw_record_limit(fetch_max_bytes: int) -> int:
    """The largest raw record a page of ``fetch_max_bytes`` makes: JSON escaping doubles its
    quotes, backslashes and line breaks, plus room for the envelope. (A control character takes
    six bytes; a body made mostly of them may still pass it and be dead-lettered.)"""
    return max(1_048_576, 2 * fetch_max_bytes + 65_536)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A line for each NEWSFLOW_ variable that names no setting, with the one it may mean: a
    misspelt variable is otherwise ignored, and its setting silently keeps its default."""
    known = [name.upper() for name in Settings.model_fields]
    lines = []
    for name in sorted(environ):
        setting = name.upper().removeprefix("NEWSFLOW_")
        if name.upper().startswith("NEWSFLOW_") and setting not in known:
            # Matched without the shared prefix, which alone would make any two names alike.
            close = difflib.get_close_matches(setting, known, n=1, cutoff=0.8)
            lines.append(f"{name} is not a setting and is ignored"
                         + (f" (did you mean NEWSFLOW_{close[0]}?)" if close else ""))
    return lines


def settings_problems(exc: ValidationError) -> str:
    """A pydantic ValidationError as one line; for ``Settings``, naming each variable."""
    prefix = "NEWSFLOW_" if exc.title == "Settings" else f"{exc.title}: "
    return "; ".join(
        f"{prefix}{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']} "
        f"(got {error['input']!r})" for error in exc.errors())
