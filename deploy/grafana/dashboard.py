"""Generates deploy/grafana/dashboards/newsflow.json (run: python deploy/grafana/dashboard.py).

The dashboard is code so every panel gets a unit, a description and the datasource variable by
construction: ROWS says what to show, Grafana's foundation SDK turns it into the dashboard model.
tests/unit/test_deploy.py checks the committed JSON equals this output, and
tests/integration/test_observability.py runs every query against a real Prometheus. Needs the
dev dependencies (`make install`): run with .venv/bin/python.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models

OUT = Path(__file__).resolve().parent / "dashboards" / "newsflow.json"
DATASOURCE = dashboard_models.DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"


@dataclass
class Panel:
    title: str
    description: str
    unit: str
    targets: list[tuple[str, str]]  # (PromQL, legend)
    kind: str = "timeseries"
    width: int = 8
    height: int = 8
    options: dict[str, Any] = field(default_factory=dict)


def rate(metric: str, by: str = "", selector: str = "") -> str:
    group = f" by ({by})" if by else ""
    return f"sum{group} (rate({metric}{selector}[{RATE}]))"


def quantile(q: float, metric: str, by: str = "", selector: str = "") -> str:
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({metric}_bucket{selector}[{RATE}])))"


FETCH_FAILED = '{outcome!~"ok|not_modified|partial"}'
SOURCE = '{source=~"$source"}'

ROWS: list[tuple[str, list[Panel]]] = [
    ("Overview", [
        Panel("Articles out", "Distinct articles emitted to news.articles.v1 per second.",
              "cps", [(rate("newsflow_processor_records_out_total", selector='{topic="articles"}'),
                       "articles")], kind="stat", width=4, height=4),
        Panel("Raw articles in", "Raw articles the fetcher published to news.raw.v1 per second.",
              "cps", [(rate("newsflow_fetcher_articles_published_total"), "raw")],
              kind="stat", width=4, height=4),
        Panel("Consumer lag", "Messages the workers have not processed yet, all topics.",
              "short", [("sum(newsflow_processor_consumer_lag_messages)", "lag")],
              kind="stat", width=4, height=4),
        Panel("Fetch error ratio", "Share of source polls that failed (not ok, 304 or partial).",
              "percentunit",
              [(f"({rate('newsflow_fetcher_fetches_total', selector=FETCH_FAILED)} or vector(0))"
                f" / {rate('newsflow_fetcher_fetches_total')}", "errors")],
              kind="stat", width=4, height=4),
        Panel("Dead letters", "Messages sent to news.deadletter.v1 per second, by the "
              "workers and by the fetcher (bad files and records).", "cps",
              [(f"({rate('newsflow_processor_dead_letters_total')} or vector(0)) + "
                f"({rate('newsflow_fetcher_dead_letters_total')} or vector(0))",
                "dead letters")],
              kind="stat", width=4, height=4),
        Panel("Workers ready", "Workers answering /readyz (not rebalancing or recovering) "
              "out of the workers Prometheus scrapes.", "short",
              [("sum(newsflow_processor_ready)", "ready"),
               ("count(newsflow_processor_ready)", "scraped")],
              kind="stat", width=4, height=4),
    ]),
    ("Fetcher (rate, errors, duration)", [
        Panel("Polls by outcome", "Source polls per second by outcome (ok, not_modified, "
              "error kinds).", "reqps",
              [(rate("newsflow_fetcher_fetches_total", "outcome"), "{{outcome}}")]),
        Panel("Poll error ratio by source", "Share of each source's polls that failed.",
              "percentunit",
              [(f"({rate('newsflow_fetcher_fetches_total', 'source', FETCH_FAILED)} or "
                f"0 * {rate('newsflow_fetcher_fetches_total', 'source')}) / "
                f"{rate('newsflow_fetcher_fetches_total', 'source')}", "{{source}}")]),
        Panel("Fetch duration", "Time to fetch one URL (retries and redirects included), "
              "median and 95th percentile by request kind.", "s",
              [(quantile(0.5, "newsflow_fetcher_fetch_duration_seconds", "kind"), "p50 {{kind}}"),
               (quantile(0.95, "newsflow_fetcher_fetch_duration_seconds", "kind"),
                "p95 {{kind}}")]),
        Panel("HTTP responses by status class", "Responses per second by status class "
              "(2xx, 304, 3xx, 4xx, 5xx), feeds, pages and robots.txt together.", "reqps",
              [(rate("newsflow_fetcher_http_responses_total", "status_class"),
                "{{status_class}}")]),
        Panel("Publish backlog", "Raw articles fetched and waiting for the broker's "
              "acknowledgement (grows while Kafka is unreachable).", "short",
              [("max(newsflow_fetcher_outbox_records)", "waiting")]),
        Panel("Bytes received", "Response body bytes received per second, by source.", "Bps",
              [(rate("newsflow_fetcher_fetched_bytes_total", "source"), "{{source}}")]),
        Panel("Raw articles published", "Raw articles the broker acknowledged per second by "
              "source, publish attempts it did not acknowledge (retried), articles dropped "
              "because the broker can never take them, and articles the raw-article schema "
              "refused (sent to the dead-letter topic instead; 0 when none).", "cps",
              [(rate("newsflow_fetcher_articles_published_total", "source"), "{{source}}"),
               (f"{rate('newsflow_fetcher_publish_errors_total')} or vector(0)",
                "publish errors"),
               (f"{rate('newsflow_fetcher_articles_dropped_total')} or vector(0)",
                "dropped (never publishable)"),
               (f"{rate('newsflow_fetcher_articles_invalid_total')} or vector(0)",
                "invalid (dead-lettered)")]),
        Panel("Fetcher dead letters by error", "Files and records the fetcher sent to "
              "news.deadletter.v1 instead of news.raw.v1, per second by error: EmptyFile, "
              "BinaryFile, BadRecord (a bad .json/.jsonl record), RecordInvalid (0 when "
              "none).", "cps",
              [(f"{rate('newsflow_fetcher_dead_letters_total', 'error')} or vector(0)",
                "{{error}}")]),
        Panel("Refused, blocked and retried", "Per second: pages robots.txt refused, URLs "
              "the address guard blocked (private or metadata addresses), and HTTP retries "
              "(0 when none).", "cps",
              [(rate("newsflow_fetcher_robots_denials_total"), "refused by robots.txt"),
               (rate("newsflow_fetcher_blocked_urls_total"), "blocked"),
               (f"{rate('newsflow_fetcher_retries_total')} or vector(0)", "retries")]),
        Panel("Broker reachable", "1 while every fetcher's last publish attempt was "
              "acknowledged by Kafka, 0 when one cannot reach it "
              "(NewsflowFetcherCannotReachKafka).", "short",
              [("min(newsflow_fetcher_broker_available)", "reachable")], kind="stat"),
    ]),
    ("Worker (rate, errors, duration)", [
        Panel("Messages in by stage", "Messages consumed per second by processing stage.",
              "cps", [(rate("newsflow_processor_messages_in_total", "stage"), "{{stage}}")]),
        Panel("Records out by topic", "Records produced per second by output topic.", "cps",
              [(rate("newsflow_processor_records_out_total", "topic"), "{{topic}}")]),
        Panel("Stage duration", "Processing time per message, median and 95th percentile "
              "by stage.", "s",
              [(quantile(0.5, "newsflow_processor_stage_duration_seconds", "stage"),
                "p50 {{stage}}"),
               (quantile(0.95, "newsflow_processor_stage_duration_seconds", "stage"),
                "p95 {{stage}}")]),
        Panel("Dead letters by stage and error", "Messages dead-lettered per second, by the "
              "stage that failed and the error type.", "cps",
              [(rate("newsflow_processor_dead_letters_total", "stage, error"),
                "{{stage}} {{error}}")], width=12),
        Panel("Event processing time", "Faust: time an agent spent on one event, 95th "
              "percentile.", "s",
              [(quantile(0.95, "newsflow_faust_event_processing_seconds"), "p95")], width=12),
    ]),
    ("Lag and freshness", [
        Panel("Consumer lag (messages)", "Messages after the workers' committed position, "
              "by topic.", "short",
              [("sum by (topic) (newsflow_processor_consumer_lag_messages)", "{{topic}}")],
              width=12),
        Panel("Consumer lag (time)", "While behind: age of the last message read, worst "
              "partition per topic.", "s",
              [("max by (topic) (newsflow_processor_consumer_lag_seconds)", "{{topic}}")],
              width=12),
        Panel("Freshness since fetch", "Delay from fetch to emission of distinct articles, "
              "median and 95th percentile.", "s",
              [(quantile(0.5, "newsflow_processor_freshness_seconds",
                         selector='{since="fetched"}'), "p50"),
               (quantile(0.95, "newsflow_processor_freshness_seconds",
                         selector='{since="fetched"}'), "p95")], width=12),
        Panel("Freshness since publication", "Delay from the publisher's timestamp to "
              "emission, median and 95th percentile.", "s",
              [(quantile(0.5, "newsflow_processor_freshness_seconds",
                         selector='{since="published"}'), "p50"),
               (quantile(0.95, "newsflow_processor_freshness_seconds",
                         selector='{since="published"}'), "p95")], width=12),
    ]),
    ("Dedupe and tags", [
        Panel("Duplicates by level", "Copies found per second: exact, near-duplicate, "
              "same-story join.", "cps",
              [(rate("newsflow_processor_duplicates_total", "level"), "{{level}}")]),
        Panel("Duplicate share", "Share of deduplicated inputs that were copies.",
              "percentunit",
              [("(" + rate("newsflow_processor_records_out_total", selector='{topic="duplicates"}')
                + " or vector(0)) / " + rate("newsflow_processor_records_out_total",
                               selector='{topic=~"articles|duplicates"}'), "duplicates")]),
        Panel("Tags assigned (top 10)", "Tags assigned to distinct articles per second, the "
              "ten most frequent.", "cps",
              [(f"topk(10, {rate('newsflow_processor_tags_total', 'tag')})", "{{tag}}")]),
        Panel("Dedupe memory", "Articles and stories the dedupe stage remembers (within its "
              "window), and memory-table entries left out of the last index rebuild because "
              "they could not be decoded (0 when none).", "short",
              [("max(newsflow_processor_dedupe_remembered_articles)", "articles"),
               ("max(newsflow_processor_dedupe_stories)", "stories"),
               ("sum(newsflow_processor_dedupe_memory_skipped_total) or vector(0)",
                "entries left out")]),
        Panel("Table sizes", "Keys held in each Faust table (largest worker copy), and local "
              "table stores discarded at start because they did not match the broker's "
              "changelog (0 when none).", "short",
              [("max by (table) (newsflow_processor_table_keys)", "{{table}}"),
               ("sum(newsflow_processor_table_store_discarded_total) or vector(0)",
                "local stores discarded")]),
        Panel("Boilerplate removed", "Lines removed by cleaning per second, by rule.", "cps",
              [(rate("newsflow_clean_removed_lines_total", "rule"), "{{rule}}")]),
        Panel("Re-filed fetch times", "Articles per second whose fetch time lay before the "
              "dedupe window (late: backfills, slow feeds) or too far ahead of the worker's "
              "clock (future: a source's clock to fix), filed at the window's current time.",
              "cps",
              [(rate("newsflow_processor_dedupe_refiled_total", "direction")
                + " or vector(0)", "{{direction}}")]),
    ]),
    ("Per-source health", [
        Panel("Time since last successful poll", "Per source; compare with its poll interval "
              "(the NewsflowSourceStale alert fires after 3 intervals).", "s",
              [("time() - max by (source) "
                f"(newsflow_fetcher_source_last_success_timestamp_seconds{SOURCE})",
                "{{source}}")], kind="bargauge", width=8,
              options={"orientation": "horizontal", "displayMode": "basic"}),
        Panel("Staleness in poll intervals", "Time since the last successful poll divided "
              "by the source's poll interval; NewsflowSourceStale fires above 3.", "short",
              [("(time() - max by (source) "
                f"(newsflow_fetcher_source_last_success_timestamp_seconds{SOURCE})) / max by "
                f"(source) (newsflow_fetcher_source_poll_interval_seconds{SOURCE})",
                "{{source}}")], kind="bargauge",
              options={"orientation": "horizontal", "displayMode": "basic"}),
        Panel("Consecutive failed polls", "Polls of each source that failed in a row (0 "
              "after a successful one); every configured source shows from the start, so a "
              "source that never succeeds is visible (NewsflowSourceNeverSucceeded at 3).",
              "short",
              [(f"max by (source) (newsflow_fetcher_source_consecutive_failures{SOURCE})",
                "{{source}}")], kind="bargauge",
              options={"orientation": "horizontal", "displayMode": "basic"}),
        Panel("Time since last poll attempt", "Per source, whatever the outcome; far above "
              "the poll interval means its loop is stuck.", "s",
              [("time() - max by (source) "
                f"(newsflow_fetcher_source_last_attempt_timestamp_seconds{SOURCE})",
                "{{source}}")], kind="bargauge",
              options={"orientation": "horizontal", "displayMode": "basic"}),
        Panel("Entries deferred to later polls", "New entries the last poll found beyond the "
              "source's max_items; they are taken on the next polls, newest first.", "short",
              [(f"max by (source) (newsflow_fetcher_source_deferred_items{SOURCE})",
                "{{source}}")]),
        Panel("Polls by source and outcome", "Source polls per second.", "reqps",
              [(rate("newsflow_fetcher_fetches_total", "source, outcome", SOURCE),
                "{{source}} {{outcome}}")]),
        Panel("Source errors", "Errors while polling a source per second, by type.", "cps",
              [(rate("newsflow_fetcher_source_errors_total", "source, error", SOURCE),
                "{{source}} {{error}}")]),
        Panel("Retired sources", "Sources retired after an HTTP 410 Gone and no longer "
              "polled (docs/fetcher.md says how to re-enable one).", "short",
              [(f"count(newsflow_fetcher_source_retired{SOURCE} == 1) or vector(0)",
                "retired")], kind="stat"),
        Panel("Directory files by outcome", "Files of directory sources met by polls per "
              "second: read, or unchanged since the last poll (same size, times and inode, "
              "every part published or queued) and not read again. A folder of unchanged "
              "files costs a listing; read files every poll mean files rewritten in place.",
              "cps",
              [(rate("newsflow_fetcher_directory_files_total", "source, outcome", SOURCE),
                "{{source}} {{outcome}}")]),
    ]),
    ("Kafka and Faust", [
        Panel("Rebalances", "Consumer group rebalances per worker in the last hour.", "short",
              [("sum by (instance) (increase(newsflow_processor_rebalances_total[1h]))",
                "{{instance}}")]),
        Panel("Skipped records read again", "Records of a stream partition that Faust dropped "
              "unprocessed and the worker read again, per worker, topic and cause in the last "
              "hour (README, Delivery guarantee): skipped by the fetch or cleared from the "
              "stream buffers; expected at restarts and rebalances.", "short",
              [("sum by (instance, topic, cause) "
                "(increase(newsflow_processor_skipped_records_reread_total[1h]))",
                "{{instance}} {{topic}} {{cause}}")]),
        Panel("Producer send latency", "Faust producer: time to send one message, 95th "
              "percentile.", "s",
              [(quantile(0.95, "newsflow_faust_producer_send_latency_seconds"), "p95")]),
        Panel("Faust events", "Events delivered to agents per second.", "cps",
              [(rate("newsflow_faust_events_total"), "events/s")]),
    ]),
]


# Grafana's own dashboard SDK (grafana-foundation-sdk) builds the JSON: its typed builders and
# models follow Grafana's schema for the version pinned in pyproject.toml (Grafana 11.2, as in
# docker-compose.yml), so a misspelt option or a wrong type fails here, not in the browser.
PANEL_BUILDERS: dict[str, Callable[[], Any]] = {
    "timeseries": timeseries.Panel, "stat": stat.Panel, "bargauge": bargauge.Panel,
}


def _panel(panel: Panel, pid: int, x: int, y: int) -> Any:
    builder = (PANEL_BUILDERS[panel.kind]()
               .id(pid).title(panel.title).description(panel.description)
               .datasource(DATASOURCE).unit(panel.unit)
               .grid_pos(dashboard_models.GridPos(h=panel.height, w=panel.width, x=x, y=y)))
    if panel.kind in {"stat", "bargauge"}:
        builder = builder.reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
    if panel.kind == "bargauge":
        builder = (builder.orientation(common_models.VizOrientation(panel.options["orientation"]))
                   .display_mode(common_models.BarGaugeDisplayMode(panel.options["displayMode"])))
    for n, (expr, legend) in enumerate(panel.targets):
        builder = builder.with_target(
            prometheus.Dataquery().ref_id(chr(ord("A") + n)).datasource(DATASOURCE)
            .expr(expr).legend_format(legend).range())
    return builder


def build() -> dict[str, Any]:
    board = (
        dashboard.Dashboard("newsflow").uid("newsflow")
        .description("Fetcher and worker: rates, errors, durations, lag, freshness, dedupe, "
                     "tags and per-source health.")
        .tags(["newsflow", "kafka", "faust"]).timezone("utc").editable()
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR).refresh("30s")
        .time("now-3h", "now")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source")
                       .type("prometheus"))
        .with_variable(
            dashboard.QueryVariable("source").label("Source").datasource(DATASOURCE)
            # Set for every configured source at start, before its first poll ends.
            .query("label_values(newsflow_fetcher_source_consecutive_failures, source)")
            .include_all(True).multi(True).all_value(".*")
            .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
            .current(dashboard_models.VariableOption(text="All", value="$__all")))
    )
    # Rows and panels are placed here, not by the SDK's automatic layout, so ids and positions
    # stay stable when a panel is added to an earlier row.
    pid, y = 1, 0
    for title, row in ROWS:
        board = board.with_row(dashboard.Row(title).id(pid)
                               .grid_pos(dashboard_models.GridPos(h=1, w=24, x=0, y=y)))
        pid, y, x, line = pid + 1, y + 1, 0, 0
        for panel in row:
            if x + panel.width > 24:
                x, y = 0, y + line
            board = board.with_panel(_panel(panel, pid, x, y))
            pid, x, line = pid + 1, x + panel.width, max(line, panel.height)
        y += line
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return data


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {OUT}\n")
