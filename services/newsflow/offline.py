"""`newsflow process FILE...`: the stream's core over files, one JSON line per input record."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from newsflow import PIPELINE_VERSION
from newsflow.config import Settings
from newsflow.core.pipeline import Origin, Pipeline
from newsflow.fetcher.directory import Rejected, records_from_file
from newsflow.fetcher.sources import SourceConfig
from newsflow.pipeline_setup import build_pipeline
from newsflow.processor.prepare_pool import PreparePool
from newsflow.records import DeadLetter


def _inputs(path: Path, raw_topic: str) -> Iterator[tuple[bytes | None, bytes] | DeadLetter]:
    """(key, value) pairs as they would sit on news.raw.v1; a dead letter for a file the
    fetcher would refuse (empty, binary)."""
    name = path.name.lower()
    if name.endswith(".jsonl"):
        for line in path.read_bytes().splitlines():
            if line.strip():
                yield None, line
        return
    source = SourceConfig(id="files", name="Local files", kind="directory", path=path.parent)
    if name.endswith((".txt", ".html", ".htm", ".json")) or name.endswith(".html.gz"):
        for record in records_from_file(path, source):
            if isinstance(record, Rejected):
                yield record.dead_letter(raw_topic)
            else:
                yield record["id"].encode(), json.dumps(record).encode("utf-8")
        return
    raise ValueError(f"{path}: unsupported file type (use .jsonl, .txt, .html, .html.gz, .json)")


def process_files(settings: Settings, paths: list[Path], out: TextIO) -> int:
    """Each input prepared in a child process under the stream's per-page time budget
    (``PreparePool``), then deduped here, in input order, against the run's own index."""
    pipeline = build_pipeline(settings)
    pool = PreparePool(settings)
    try:
        return _process(settings, paths, out, pipeline, pool)
    finally:
        pool.close()


def _process(settings: Settings, paths: list[Path], out: TextIO, pipeline: Pipeline,
             pool: PreparePool) -> int:
    index = pipeline.new_index()
    failures = 0
    position = 0  # the run's own offset: each input is distinct, as on a topic
    for path in paths:
        try:
            inputs = list(_inputs(path, settings.topic_raw))
        except (OSError, ValueError, gzip.BadGzipFile) as exc:
            inputs = []
            failures += 1
            letter = DeadLetter("decode", type(exc).__name__, str(exc), str(path), None, None,
                                None, None)
            _emit(out, settings.topic_deadletter, letter.to_dict(PIPELINE_VERSION))
        for item in inputs:
            if isinstance(item, DeadLetter):
                failures += 1
                _emit(out, settings.topic_deadletter, item.to_dict(PIPELINE_VERSION))
                continue
            key, value = item
            origin = Origin("process", None, position)
            position += 1
            now = datetime.now(UTC)
            result = pool.prepare_blocking(key, value, origin, now)
            if isinstance(result, DeadLetter):
                _emit(out, settings.topic_deadletter, result.to_dict(PIPELINE_VERSION))
                continue
            _, emissions = pipeline.decide(result, index, now)
            primary = emissions[0]
            topic = settings.topic_articles if primary.topic == "articles" else (
                settings.topic_duplicates)
            _emit(out, topic, primary.record)
    return 1 if failures else 0


def _emit(out: TextIO, topic: str, record: dict[str, Any]) -> None:
    out.write(json.dumps({"topic": topic, "record": record}, ensure_ascii=False) + "\n")
    out.flush()
