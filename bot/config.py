"""storerun's settings, read from the environment and `.env` with pydantic-settings."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.inbox import InboxLimits
from bot.leader import LeaderTiming
from bot.sender import SenderLimits
from dispatch.deadlines import Timing
from dispatch.dispatcher import Rules
from storage.db import PoolSize

TELEGRAM_API = "https://api.telegram.org"
# The token line of .env.example: a copy of that file that was never filled in.
PLACEHOLDER_TOKEN = "123456:replace-with-your-token"
POSTGRES_FORM = "postgresql+asyncpg://user:password@host/db"
SQLITE_FORM = "sqlite+aiosqlite:///path.db"
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
LOOPBACK_NAMES = frozenset({"localhost"})
S = TypeVar("S", bound="DatabaseSettings")
# Each setting's default is written once, where the part it sets is defined; these read them.
_RULES, _TIMING, _SENDER, _INBOX = Rules(), Timing(), SenderLimits(), InboxLimits()
_POOL, _LEADER = PoolSize(), LeaderTiming()


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it and never shows its value."""


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_and_port(listen: str) -> tuple[str, int]:
    """ "127.0.0.1:8080" or "[::1]:8080" as (host, port); ValueError when it is neither."""
    host, colon, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("must be host:port, like 127.0.0.1:8080, with a port from 1 to 65535")
    return host, int(port)


class DatabaseSettings(BaseSettings):
    """What the database commands need (`storerun db upgrade`, `storerun seed`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite+aiosqlite:///storerun.db"
    # How long start-up keeps retrying a database that does not answer yet.
    database_connect_timeout_seconds: float = Field(default=30, ge=0)
    # PostgreSQL connections each instance keeps (and may open beyond them at busy moments).
    database_pool_size: int = Field(default=_POOL.size, ge=1, le=1000)
    database_max_overflow: int = Field(default=_POOL.overflow, ge=0, le=1000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # The messages never echo the URL: it may carry a password.
        try:
            drivername = make_url(value).drivername
        except (ArgumentError, ValueError):
            raise ValueError(f"is not a database URL: use {POSTGRES_FORM} or {SQLITE_FORM}") from None
        backend, _, driver = drivername.partition("+")
        if backend in ("postgresql", "postgres") and driver != "asyncpg":
            raise ValueError(f"needs the async driver: {POSTGRES_FORM}")
        if backend == "sqlite" and driver != "aiosqlite":
            raise ValueError(f"needs the async driver: {SQLITE_FORM}")
        if backend not in ("postgresql", "sqlite"):
            raise ValueError(f"must be {POSTGRES_FORM} or {SQLITE_FORM}")
        return value


class Settings(DatabaseSettings):
    """Everything `storerun run` reads from its environment. Durations are in seconds."""

    telegram_bot_token: SecretStr
    telegram_api_url: str = TELEGRAM_API
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()

    # Receiving: polling unless WEBHOOK_URL is set; the bot's own HTTP server (health, webhook).
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    http_listen: str = "127.0.0.1:8080"

    # Inbox: updates are stored as they arrive, then applied.
    inbox_retention_seconds: float = Field(default=_INBOX.retention.total_seconds(), gt=0)
    inbox_max_attempts: int = Field(default=_INBOX.max_attempts, ge=1)
    inbox_concurrency: int = Field(default=_INBOX.concurrency, ge=1)
    # How long an update claimed by an instance that went silent stays claimed (PostgreSQL).
    inbox_lease_seconds: float = Field(default=_INBOX.lease.total_seconds(), ge=1, le=3600)

    # Many instances (PostgreSQL): how soon another instance leads once the leader is gone.
    leader_takeover_seconds: float = Field(default=_LEADER.takeover.total_seconds(), ge=1, le=600)

    # Dispatch: how an open offer goes out to drivers.
    wave_size: int = Field(default=_RULES.wave_size, ge=1)
    wave_interval_seconds: float = Field(default=_RULES.wave_interval.total_seconds(), gt=0)
    acceptance_window_seconds: float = Field(default=_RULES.acceptance_window.total_seconds(), gt=0)
    max_offers_held: int = Field(default=_RULES.max_offers_held, ge=1)
    # Accepts are collected this long from the first, then the offer goes to one of them by the
    # area's fairness order (0: the first Accept wins); `/area SLUG award=N` sets an area's own.
    award_window_seconds: int = Field(default=int(_RULES.award_window.total_seconds()), ge=0, le=600)
    # A press sooner than this after its copy was delivered is counted as a fast tap.
    human_min_seconds: float = Field(default=_RULES.human_min.total_seconds(), ge=0, le=60)
    # Admins are told once when this share of a driver's last 20 presses were fast taps.
    fast_tap_alert_share: float = Field(default=_RULES.fast_tap_alert_share, gt=0, le=1)
    auto_offline_after_timeouts: int = Field(default=_RULES.auto_offline_after, ge=1)
    invite_ttl_seconds: float = Field(default=_RULES.invite_ttl.total_seconds(), gt=0)
    max_days_ahead: int = Field(default=_RULES.max_days_ahead, ge=0, le=366)
    time_to_reach_store_seconds: float = Field(
        default=_RULES.time_to_reach_store.total_seconds(), ge=0, le=86400
    )

    # Timers: reminders and the no-show release.
    pickup_reminder_lead_seconds: float = Field(default=_TIMING.pickup_reminder_lead.total_seconds(), ge=0)
    no_show_grace_seconds: float = Field(default=_TIMING.no_show_grace.total_seconds(), ge=0)
    delivery_reminder_lead_seconds: float = Field(
        default=_TIMING.delivery_reminder_lead.total_seconds(), ge=0
    )

    # Personal data: customers' addresses, proof photos and idle drivers' phones are forgotten
    # after this many days (0: kept for good). At most 100 years: an older cutoff would overflow.
    personal_data_days: int = Field(default=90, ge=0, le=36500)

    # History: messages sent (the outbox) are deleted after this many days, by a daily prune in
    # small batches; events and offers stay. 0: kept for good. At most 100 years, as above.
    retention_days: int = Field(default=30, ge=0, le=36500)

    # Outbound: Telegram's limits and how the outbox retries.
    outbox_rate_per_second: float = Field(default=_SENDER.per_second, gt=0)
    outbox_chat_interval_seconds: float = Field(default=_SENDER.chat_interval, ge=0)
    outbox_max_attempts: int = Field(default=_SENDER.max_attempts, ge=1)
    outbox_concurrency: int = Field(default=_SENDER.concurrency, ge=1)
    request_timeout_seconds: float = Field(default=10, gt=0)

    def timing(self) -> Timing:
        return Timing(
            pickup_reminder_lead=timedelta(seconds=self.pickup_reminder_lead_seconds),
            no_show_grace=timedelta(seconds=self.no_show_grace_seconds),
            delivery_reminder_lead=timedelta(seconds=self.delivery_reminder_lead_seconds),
        )

    def rules(self, timing: Timing | None = None) -> Rules:
        """The dispatch rules these settings make."""
        return Rules(
            wave_size=self.wave_size,
            wave_interval=timedelta(seconds=self.wave_interval_seconds),
            acceptance_window=timedelta(seconds=self.acceptance_window_seconds),
            max_offers_held=self.max_offers_held,
            auto_offline_after=self.auto_offline_after_timeouts,
            invite_ttl=timedelta(seconds=self.invite_ttl_seconds),
            max_days_ahead=self.max_days_ahead,
            time_to_reach_store=timedelta(seconds=self.time_to_reach_store_seconds),
            timing=timing or self.timing(),
            award_window=timedelta(seconds=self.award_window_seconds),
            human_min=timedelta(seconds=self.human_min_seconds),
            fast_tap_alert_share=self.fast_tap_alert_share,
        )

    def sender_limits(self) -> SenderLimits:
        return SenderLimits(
            per_second=self.outbox_rate_per_second,
            chat_interval=self.outbox_chat_interval_seconds,
            max_attempts=self.outbox_max_attempts,
            concurrency=self.outbox_concurrency,
        )

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
        if token == PLACEHOLDER_TOKEN:
            raise ValueError("is the placeholder from .env.example: set your bot's token from @BotFather")
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

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
            raise ValueError("must be an absolute https:// URL, like https://bot.example.com/telegram")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            # Telegram only calls HTTPS; plain HTTP is for a local Bot API server or the sandbox.
            raise ValueError("must use https:// (http:// only to 127.0.0.1, localhost or ::1)")
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("http_listen")
    @classmethod
    def _http_listen(cls, value: str) -> str:
        if value:
            _host_and_port(value)
        return value

    @model_validator(mode="after")
    def _webhook_needs_its_server(self) -> Self:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is missing: WEBHOOK_URL needs it to tell Telegram's calls apart")
        if self.webhook_url and not self.http_listen:
            raise ValueError("HTTP_LISTEN is empty: WEBHOOK_URL needs the HTTP server to receive updates")
        return self

    @property
    def bot_id(self) -> int:
        """The bot's own user id: the part of the token before the colon."""
        return int(self.telegram_bot_token.get_secret_value().partition(":")[0])

    @property
    def webhook_path(self) -> str:
        """The path Telegram POSTs updates to: WEBHOOK_URL's path, "/" when it has none."""
        return urlsplit(self.webhook_url).path or "/"

    @property
    def http_address(self) -> tuple[str, int]:
        """HTTP_LISTEN as (host, port); only meaningful when HTTP_LISTEN is set."""
        return _host_and_port(self.http_listen)


def describe(error: ValidationError) -> str:
    """One line naming each bad setting and what is wrong, never its value."""
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper()
        message = str(item["msg"]).removeprefix("Value error, ")
        if not name:  # a check across settings names them itself
            problems.append(message)
        elif item["type"] == "missing":
            problems.append(f"{name} is missing")
        else:
            problems.append(f"{name} {message[0].lower()}{message[1:]}")
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
