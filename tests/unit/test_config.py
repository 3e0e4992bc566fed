"""Layered settings: defaults < TOML file < BNET_ environment, and errors that name the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.config import ConfigError, load_settings


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bnet.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    s = load_settings(env={})
    assert s.api.port == 8080 and s.api.host == "127.0.0.1"
    assert s.store.url == "sqlite:///var/bnet.db"
    assert s.redis.embedded is True
    assert s.mail.port == 8025 and s.mail.starttls is False
    assert s.actions.sms_max_segments == 3


def test_file_overrides_defaults(tmp_path: Path) -> None:
    cfg = _file(tmp_path, '[api]\nport = 9000\n[mail]\nhost = "smtp.example.nl"\n')
    s = load_settings(cfg, env={})
    assert (s.api.port, s.mail.host) == (9000, "smtp.example.nl")
    assert s.api.host == "127.0.0.1"  # untouched keys keep their default


def test_environment_overrides_file_key_by_key(tmp_path: Path) -> None:
    cfg = _file(tmp_path, '[api]\nhost = "0.0.0.0"\nport = 9000\n')
    s = load_settings(cfg, env={"BNET_API__PORT": "9100", "BNET_LOG_LEVEL": "DEBUG"})
    assert s.api.port == 9100
    assert s.api.host == "0.0.0.0"  # the rest of [api] still comes from the file
    assert s.log_level == "DEBUG"


def test_file_named_by_bnet_config(tmp_path: Path) -> None:
    cfg = _file(tmp_path, "[api]\nport = 9200\n")
    assert load_settings(env={"BNET_CONFIG": str(cfg)}).api.port == 9200


def test_explicit_path_beats_bnet_config(tmp_path: Path) -> None:
    cfg = _file(tmp_path, "[api]\nport = 9300\n")
    assert load_settings(cfg, env={"BNET_CONFIG": str(tmp_path / "absent.toml")}).api.port == 9300


def test_list_values_from_the_environment() -> None:
    s = load_settings(env={"BNET_MAIL__RETRY_INTERVALS_S": "[5, 10]"})
    assert s.mail.retry_intervals_s == [5, 10]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[api]\nbogus = 1\n", "api.bogus"),
        ("nonsense = 1\n", "nonsense"),
        ("[mail]\nstarttls_please = true\n", "mail.starttls_please"),
    ],
)
def test_unknown_key_in_file_is_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(_file(tmp_path, text), env={})
    assert f"{key}:" in str(exc.value)


@pytest.mark.parametrize("name", ["BNET_NONSENSE", "BNET_APII__PORT"])
def test_unknown_environment_key_is_named(name: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env={name: "1"})
    assert name in str(exc.value)


def test_unknown_nested_environment_key_is_named() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env={"BNET_API__BOGUS": "1"})
    assert "api.bogus" in str(exc.value)


def test_environment_keys_for_tooling_are_not_settings() -> None:
    assert load_settings(env={"BNET_TEST_AMI": "127.0.0.1:5038"}).api.port == 8080


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        ("[api]\nport = 70000\n", {}, "api.port"),
        ("[api]\nport = 0\n", {}, "api.port"),
        ("", {"BNET_API__PORT": "abc"}, "api.port"),
        ('[store]\nurl = "mysql://db/bnet"\n', {}, "store.url"),
        ("[mail]\nmax_per_s = 0\n", {}, "mail.max_per_s"),
        ("[actions]\nsms_max_segments = 11\n", {}, "actions.sms_max_segments"),
        ("", {"BNET_MAIL__PORT": "-1"}, "mail.port"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(_file(tmp_path, text), env=env)
    assert str(exc.value).startswith("invalid configuration:")
    assert f"{key}:" in str(exc.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", env={})


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_file(tmp_path, "[api\nport = 1\n"), env={})


def test_an_explicit_environment_does_not_leak_into_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BNET_API__PORT", raising=False)
    before = dict(os.environ)
    assert load_settings(env={"BNET_API__PORT": "9400"}).api.port == 9400
    assert dict(os.environ) == before


def test_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("BNET_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("BNET_API__PORT", "9500")
    assert load_settings().api.port == 9500
