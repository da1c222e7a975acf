from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic.fields import FieldInfo

from newsflow.config import Settings
from newsflow.core.params import DedupeParams
from newsflow.pipeline_setup import dedupe_params

pytestmark = pytest.mark.clock  # dedupe_params comes from pipeline_setup

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [f"NEWSFLOW_{name.upper()}" for name in Settings.model_fields
               if f"NEWSFLOW_{name.upper()}" not in readme]
    assert not missing, f"settings missing from README: {missing}"


def changed_value(name: str, field: FieldInfo) -> object:
    """A valid value for a setting that differs from its default, of the setting's type."""
    default = field.default
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return default / 2  # halved: inside the bounds of every float setting (all positive)
    if get_origin(field.annotation) is Literal:
        return next(choice for choice in get_args(field.annotation) if choice != default)
    literals = [arg for arg in get_args(field.annotation) if get_origin(arg) is Literal]
    if literals:  # an optional choice
        return get_args(literals[0])[0]
    if name == "kafka_bootstrap_servers":
        return "kafka.example:9093"
    if field.annotation == int | None:  # unset means derived (max_body_bytes)
        return 1_000_000
    if isinstance(default, Path) or field.annotation == Path | None:
        return Path(f"/srv/{name}/data")
    return f"{name}-value"  # strings, and optional strings that default to None


def test_settings_round_trip_through_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a parent passes to a child process (``to_env``), read back from the real environment
    by ``Settings()``: every field, each set to something other than its default."""
    values: dict[str, Any] = {name: changed_value(name, field)
                              for name, field in Settings.model_fields.items()}
    changed = Settings(**values)
    assert not [name for name, field in Settings.model_fields.items()
                if getattr(changed, name) == field.default], "every field must differ"
    for name in list(os.environ):
        if name.startswith("NEWSFLOW_"):
            monkeypatch.delenv(name)
    assert Settings() == Settings.model_construct()  # a clean environment: the defaults
    env = changed.to_env()
    assert set(env) == {f"NEWSFLOW_{name.upper()}" for name in Settings.model_fields}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == changed


def test_unset_optional_settings_stay_unset_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSFLOW_"):
            monkeypatch.delenv(name)
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1234", taxonomy_path=None)
    env = settings.to_env()
    assert "NEWSFLOW_TAXONOMY_PATH" not in env and "NEWSFLOW_KAFKA_SASL_PASSWORD" not in env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    restored = Settings()
    assert restored == settings and restored.taxonomy_path is None
    assert restored.max_body_bytes is None  # still derived from the fetch cap in the child
    assert restored.raw_message_limit == 2 * restored.fetch_max_bytes + 65_536


def test_every_dedupe_setting_reaches_the_core_parameters() -> None:
    # Each setting gets a value unlike its default, so a field the adapter forgets to pass on
    # (the core then silently uses its own default) shows up here.
    settings = Settings(
        minhash_permutations=64, shingle_size=4, near_duplicate_threshold=0.6,
        story_threshold=0.3, story_window_hours=24, story_lead_weight=0.25,
        story_threshold_per_day=0.05, story_df_prior=50, story_member_weight=0.5,
        story_contested_margin=0.01, story_contested_ratio=0.6, dedupe_window_days=2,
        dedupe_max_clock_skew_seconds=60)
    params = dedupe_params(settings)
    assert (params.num_perm, params.shingle_size, params.near_threshold) == (64, 4, 0.6)
    assert (params.story_threshold, params.story_window_seconds, params.story_lead_weight,
            params.story_threshold_per_day, params.story_df_prior,
            params.story_member_weight) == (0.3, 24 * 3600, 0.25, 0.05, 50, 0.5)
    assert (params.story_contested_margin, params.story_contested_ratio) == (0.01, 0.6)
    assert (params.window_seconds, params.max_clock_skew_seconds) == (2 * 86400, 60)
    assert dedupe_params(Settings()) == DedupeParams()  # defaults defined once, in the core


@pytest.mark.parametrize(("servers", "read"), [
    ("localhost:9092", "localhost:9092"), ("a.example:1,b.example:65535", None),
    ("[::1]:9092", None), ("10.0.0.5:9093,[fe80::1]:9094", None),
    ("kafka", None),  # the Kafka clients' default port, 9092
    (" a:9092 , b:9093 ", "a:9092,b:9093"),
])
def test_broker_addresses_are_read(servers: str, read: str | None) -> None:
    assert Settings(kafka_bootstrap_servers=servers).kafka_bootstrap_servers == (read or servers)


def test_an_empty_broker_address_is_unset() -> None:
    assert Settings(kafka_bootstrap_servers="").kafka_bootstrap_servers is None


@pytest.mark.parametrize("servers", ["localhost:9092x", "localhost:", "localhost:0",
                                     "localhost:65536", "a:1,", "a:1;b:2", "kafka://a:1", "-:1",
                                     "..:1"])
def test_a_malformed_broker_address_is_refused_naming_the_format(servers: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"host\[:port\]\[,host\[:port\]\.\.\.\]"):
        Settings(kafka_bootstrap_servers=servers)


@pytest.mark.parametrize(("field", "value"), [("kafka_security_protocol", "PLAINTXT"),
                                              ("kafka_sasl_mechanism", "SCRAM-SHA-1")])
def test_an_unknown_security_setting_is_refused(field: str, value: str) -> None:
    # A typo must not connect in plain text without a word.
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=field):
        Settings.model_validate({field: value})


@pytest.mark.parametrize("field", ["app_id", "topic_raw", "topic_articles", "topic_duplicates",
                                   "topic_deadletter", "topic_stories", "topic_fetcher_state"])
@pytest.mark.parametrize("value", ["", "bad id!", "..", "a" * 201, "news/articles"])
def test_a_name_kafka_would_refuse_is_refused_naming_the_variable(field: str, value: str) -> None:
    """The embedded broker created "bad id!-prepared"; an empty topic name reached the broker
    as "topic  does not exist"."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=rf"{field}[\s\S]*a-z A-Z 0-9 \. _ -"):
        Settings.model_validate({field: value})
    assert getattr(Settings.model_validate({field: "news.ok_name-v1"}), field) == "news.ok_name-v1"


def test_a_library_caller_gets_a_bad_variable_named_and_a_misspelt_one_warned(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    # NewsConsumer(...) without settings reads them so: the commands named the variable and
    # warned of a misspelt one, a service built on the client got pydantic's field name.
    from newsflow.errors import ConfigError

    monkeypatch.setenv("NEWSFLOW_CLIENT_SEEN_IDS", "abc")
    with pytest.raises(ConfigError) as info:
        Settings.from_environment()
    assert str(info.value).startswith(
        "configuration error: NEWSFLOW_CLIENT_SEEN_IDS: Input should be a valid integer")
    monkeypatch.delenv("NEWSFLOW_CLIENT_SEEN_IDS")
    monkeypatch.setenv("NEWSFLOW_CLIENT_SEEN_ID", "5")
    with caplog.at_level("WARNING", logger="newsflow.config"):
        assert Settings.from_environment().client_seen_ids == Settings().client_seen_ids
    assert caplog.messages == ["NEWSFLOW_CLIENT_SEEN_ID is not a setting and is ignored (did you "
                               "mean NEWSFLOW_CLIENT_SEEN_IDS?)"]
