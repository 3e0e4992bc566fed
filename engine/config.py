"""Layered settings: defaults < TOML file < ``BNET_*`` environment, validated once.

The resulting :class:`Settings` object is created at process start and passed explicitly to
every service; nothing reads the environment later.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from engine.dialer.settings import DialerSettings
from engine.mail.settings import MailSettings
from engine.smpp.settings import SmppSettings
from engine.tts.settings import TtsSettings


class ConfigError(Exception):
    """Configuration is unusable; the message names the offending key."""


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = "sqlite:///var/bnet.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if not (v.startswith("sqlite") or v.startswith("postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return v


class RedisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = "redis://127.0.0.1:6390/0"
    #: Start a private redis-server on the URL's port when nothing answers (demo, tests).
    embedded: bool = True


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_base_url: str = "http://127.0.0.1:8080"
    #: How long an Idempotency-Key is remembered.
    idempotency_ttl_s: int = Field(default=86400, ge=60)


class GeoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Where ``bnet geo import`` looks by default when no file is given.
    default_pc4_file: Path | None = None


class ActionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    callback_number: str = "0800-0011"
    sms_max_segments: int = Field(default=3, ge=1, le=10)
    max_radius_m: int = Field(default=50_000, ge=100)
    default_radius_m: int = Field(default=2_000, ge=100)
    cost_per_minute_eur: float = Field(default=0.02, ge=0)
    cost_per_sms_segment_eur: float = Field(default=0.05, ge=0)


class Settings(BaseSettings):
    """All settings of one engine process."""

    model_config = SettingsConfigDict(
        env_prefix="BNET_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    data_dir: Path = Path("var")
    log_level: str = "INFO"
    region_default: str = "oost-nederland"
    store: StoreSettings = StoreSettings()
    redis: RedisSettings = RedisSettings()
    api: ApiSettings = ApiSettings()
    geo: GeoSettings = GeoSettings()
    actions: ActionSettings = ActionSettings()
    dialer: DialerSettings = DialerSettings()
    smpp: SmppSettings = SmppSettings()
    tts: TtsSettings = TtsSettings()
    mail: MailSettings = MailSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (passed as init kwargs) which beats the defaults.
        return (env_settings, init_settings)


def _format_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{key}: {err['msg']}")
    return "invalid configuration: " + "; ".join(parts)


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Load and validate settings once; raise :class:`ConfigError` naming the bad key."""
    data: dict[str, Any] = {}
    cfg_path = path or _env_path(env)
    if cfg_path is not None:
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {cfg_path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {cfg_path} is not valid TOML: {exc}") from exc
    unknown = [k for k in (env or os.environ) if k.startswith("BNET_") and not _known_env(k)]
    if unknown:
        raise ConfigError(f"invalid configuration: unknown environment key {unknown[0]}")
    try:
        if env is None:
            return Settings(**data)
        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(env)
            return Settings(**data)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from exc


#: Environment variables with the BNET_ prefix that are not settings (tests, tooling).
_NON_SETTING_ENV = {"BNET_CONFIG", "BNET_TEST_AMI", "BNET_TEST_AGI_PORT", "BNET_TEST_PG"}


def _env_path(env: dict[str, str] | None) -> Path | None:
    value = (env if env is not None else os.environ).get("BNET_CONFIG")
    return Path(value) if value else None


def _known_env(key: str) -> bool:
    if key in _NON_SETTING_ENV:
        return True
    top = key[len("BNET_") :].lower().split("__", 1)[0]
    return top in Settings.model_fields
