from __future__ import annotations

from pathlib import Path

from newsflow.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [f"NEWSFLOW_{name.upper()}" for name in Settings.model_fields
               if f"NEWSFLOW_{name.upper()}" not in readme]
    assert not missing, f"settings missing from README: {missing}"


def test_settings_round_trip_through_environment(monkeypatch: object) -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1234", topic_partitions=7)
    env = settings.to_env()
    assert env["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:1234"
    restored = Settings(**{k.removeprefix("NEWSFLOW_").lower(): v for k, v in env.items()})
    assert restored.topic_partitions == 7
