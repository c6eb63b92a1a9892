"""storerun's settings, read from the environment and `.env` with pydantic-settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org"
S = TypeVar("S", bound="DatabaseSettings")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it and never shows its value."""


class DatabaseSettings(BaseSettings):
    """What the database commands need (`storerun db upgrade`, `storerun seed`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite+aiosqlite:///storerun.db"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(DatabaseSettings):
    """Everything `storerun run` reads from its environment. Durations are in seconds."""

    telegram_bot_token: SecretStr
    telegram_api_url: str = TELEGRAM_API
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()

    # Dispatch: how an open offer goes out to drivers.
    wave_size: int = Field(default=5, ge=1)
    wave_interval_seconds: float = Field(default=60, gt=0)
    acceptance_window_seconds: float = Field(default=600, gt=0)
    max_offers_held: int = Field(default=2, ge=1)
    auto_offline_after_timeouts: int = Field(default=3, ge=1)
    invite_ttl_seconds: float = Field(default=86400, gt=0)

    # Timers: reminders and the no-show release.
    pickup_reminder_lead_seconds: float = Field(default=900, ge=0)
    no_show_grace_seconds: float = Field(default=600, ge=0)
    delivery_reminder_lead_seconds: float = Field(default=600, ge=0)

    # Outbound: Telegram's limits and how the outbox retries.
    outbox_rate_per_second: float = Field(default=30, gt=0)
    outbox_chat_interval_seconds: float = Field(default=1.0, ge=0)
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_concurrency: int = Field(default=16, ge=1)
    request_timeout_seconds: float = Field(default=10, gt=0)

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("must look like 123456:ABC-DEF (from @BotFather)")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.lstrip("-").isdigit() for part in parts):
                raise ValueError("must be comma-separated Telegram user ids, like 111,222")
            return frozenset(int(part) for part in parts)
        return value

    @property
    def bot_id(self) -> int:
        """The bot's own user id: the part of the token before the colon."""
        return int(self.telegram_bot_token.get_secret_value().partition(":")[0])


def describe(error: ValidationError) -> str:
    """One line naming each bad setting and what is wrong, never its value."""
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        reason = "is missing" if item["type"] == "missing" else message[0].lower() + message[1:]
        problems.append(f"{name} {reason}")
    return "configuration error: " + "; ".join(problems)


def _load(kind: type[S], overrides: dict[str, Any]) -> S:
    try:
        return kind(**overrides)
    except ValidationError as error:
        raise ConfigError(describe(error)) from None


def load_settings(**overrides: Any) -> Settings:
    """Read every setting, or raise ConfigError with one clear line."""
    return _load(Settings, overrides)


def load_database_settings(**overrides: Any) -> DatabaseSettings:
    """Read the settings the database commands need."""
    return _load(DatabaseSettings, overrides)
