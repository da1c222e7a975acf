"""The worker's table store on disk, checked against a changelog read from the broker: what is
discarded, what is kept, and what is left alone (a real RocksDB store in a temporary folder)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import rocksdict

from newsflow.processor.local_state import CHANGELOG_RECORD, FAUST_OFFSET_KEY, match_store_to
from newsflow.processor.table_store_check import ChangelogOnBroker, StaleReason

TOPIC = "newsflow-processor-dedupe-memory-changelog"
ID_A = "01a227b9-ac73-73b1-bd80-84b4b46311e9"
ID_B = "01a227bf-4104-7301-bc5c-a7d000000000"


def faust_store(path: Path, persisted_offset: int) -> Path:
    """A store as Faust leaves it: a remembered key and the last changelog offset applied."""
    db = rocksdict.Rdict(str(path))
    try:
        db[b"article-1"] = b"memory"
        db[FAUST_OFFSET_KEY] = str(persisted_offset).encode()
    finally:
        db.close()
    return path


def built_from(tables_dir: Path, topic_id: str) -> Path:
    """A tables directory whose store was built from changelog ``topic_id``."""
    tables_dir.mkdir(parents=True, exist_ok=True)
    (tables_dir / CHANGELOG_RECORD).write_text(
        f'{{"topic": "{TOPIC}", "topic_id": "{topic_id}"}}', encoding="utf-8")
    return faust_store(tables_dir / "dedupe-memory-0.db", persisted_offset=4)


def test_discarding_removes_the_store_and_nothing_else_in_its_folder(tmp_path: Path) -> None:
    # Faust's tables directory can be pointed anywhere (APP_TABLEDIR): only the store goes.
    store = built_from(tmp_path, ID_A)
    (tmp_path / "worker.lock").write_text("123\n", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    stale = match_store_to(ChangelogOnBroker(TOPIC, ID_B, 40), tmp_path, store)
    assert stale is not None and stale.reason == StaleReason.OTHER_CHANGELOG
    assert not store.exists()
    assert (tmp_path / "worker.lock").read_text(encoding="utf-8") == "123\n"
    assert (tmp_path / "notes").is_dir()
    assert ID_B in (tmp_path / CHANGELOG_RECORD).read_text(encoding="utf-8")


def test_store_of_the_same_changelog_kept(tmp_path: Path) -> None:
    store = built_from(tmp_path / "tables", ID_A)
    assert match_store_to(ChangelogOnBroker(TOPIC, ID_A, 5), tmp_path / "tables", store) is None
    db = rocksdict.Rdict(str(store), access_type=rocksdict.AccessType.read_only())
    try:
        assert db.get(b"article-1") == b"memory"
    finally:
        db.close()



def test_unreadable_record_counts_as_no_record(tmp_path: Path) -> None:
    # e.g. a record left empty by a power cut: the store is rebuilt, the worker still starts
    store = built_from(tmp_path, ID_A)
    for broken in ("", "{", "[]"):
        (tmp_path / CHANGELOG_RECORD).write_text(broken, encoding="utf-8")
        faust_store(store, persisted_offset=4)
        stale = match_store_to(ChangelogOnBroker(TOPIC, ID_A, 40), tmp_path, store)
        assert stale is not None and stale.reason == StaleReason.UNRECORDED
        assert not store.exists()


def test_store_rocksdb_cannot_open_discarded(tmp_path: Path) -> None:
    # e.g. a crash as RocksDB created it: Faust would open it afresh, so must the check
    store = built_from(tmp_path, ID_A)
    for name in [p.name for p in store.iterdir()]:
        (store / name).unlink()
    stale = match_store_to(ChangelogOnBroker(TOPIC, ID_A, 40), tmp_path, store)
    assert stale is not None and stale.reason == StaleReason.UNREADABLE
    assert not store.exists()


def test_a_data_dir_that_is_a_file_is_one_clear_error(tmp_path: Path) -> None:
    from newsflow.errors import ConfigError
    from newsflow.processor.local_state import lock_data_dir

    in_the_way = tmp_path / "worker"
    in_the_way.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"^NEWSFLOW_WORKER_DATA_DIR: cannot use .*worker: "):
        lock_data_dir(in_the_way)


def test_a_data_dir_on_a_full_disk_is_one_clear_error(tmp_path: Path) -> None:
    # A real "file too large" on the lock file's write (a file-size limit of 0 bytes, in a
    # process of its own), as a full disk fails it.
    script = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        from pathlib import Path
        from newsflow.errors import ConfigError
        from newsflow.processor.local_state import lock_data_dir
        try:
            lock_data_dir(Path({str(tmp_path / "worker")!r}))
        except ConfigError as exc:
            print(exc)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("NEWSFLOW_WORKER_DATA_DIR: cannot write to "), result.stdout
    assert "File too large" in result.stdout
