"""Settings: read from the environment, and a bad one stops start-up with one clear line."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_database_settings, load_settings

TOKEN = "123456:SECRET-never-shown"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(str(tmp_path))  # no .env here


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("ADMIN_IDS", "111, 222")
    settings = load_settings()
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.admin_ids == frozenset({111, 222})
    assert settings.bot_id == 123456
    assert settings.database_url == "sqlite+aiosqlite:///storerun.db"
    assert TOKEN not in repr(settings)


def test_settings_come_from_a_dotenv_file(tmp_path: pytest.TempPathFactory) -> None:
    with open(".env", "w") as env:
        env.write(f"TELEGRAM_BOT_TOKEN={TOKEN}\nWAVE_SIZE=7\n")
    assert load_settings().wave_size == 7


def test_a_missing_token_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^configuration error: TELEGRAM_BOT_TOKEN is missing$"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS must be comma-separated Telegram user ids"),
        ("WAVE_SIZE", "0", "WAVE_SIZE input should be greater than or equal to 1"),
        ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL must start with http"),
    ],
)
def test_a_malformed_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected):
        load_settings()


def test_a_malformed_token_is_named_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "SECRETWITHOUTCOLON")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)
    assert "SECRETWITHOUTCOLON" not in str(caught.value)


def test_storerun_run_with_a_bad_setting_prints_one_line_and_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "SECRETWITHOUTCOLON")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("storerun: configuration error: TELEGRAM_BOT_TOKEN")
    assert "SECRETWITHOUTCOLON" not in done.stderr and "Traceback" not in done.stderr


POSTGRES = "postgresql+asyncpg://user:password@host/db"
SQLITE = "sqlite+aiosqlite:///path.db"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", f"is not a database URL: use {POSTGRES} or {SQLITE}"),
        ("postgresql://u:pw@h/db", f"needs the async driver: {POSTGRES}"),
        ("postgres://u:pw@h/db", f"needs the async driver: {POSTGRES}"),
        ("postgresql+psycopg2://u:pw@h/db", f"needs the async driver: {POSTGRES}"),
        ("sqlite:///x.db", f"needs the async driver: {SQLITE}"),
        ("sqlite+pysqlite:///x.db", f"needs the async driver: {SQLITE}"),
        ("mysql://u:pw@h/db", f"must be {POSTGRES} or {SQLITE}"),
    ],
)
def test_a_database_url_without_an_async_driver_says_which_form_to_use(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"configuration error: DATABASE_URL {problem}"
    assert "pw" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_database_settings()  # `storerun db upgrade` and `seed` read it too
    assert str(caught.value) == f"configuration error: DATABASE_URL {problem}"


@pytest.mark.parametrize("url", ["postgresql+asyncpg://u:pw@h/db", "sqlite+aiosqlite:///x.db"])
def test_a_database_url_with_an_async_driver_is_taken(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert load_database_settings().database_url == url


def test_the_placeholder_token_of_the_example_file_is_refused_as_a_placeholder() -> None:
    example = Path(__file__).parents[2] / ".env.example"
    shutil.copy(example, ".env")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "configuration error: TELEGRAM_BOT_TOKEN is the placeholder from .env.example: "
        "set your bot's token from @BotFather"
    )


def test_the_example_file_documents_every_setting() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_polling_needs_no_webhook_settings_and_listens_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.webhook_url == "" and settings.webhook_secret is None
    assert settings.http_address == ("127.0.0.1", 8080)


def test_webhook_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.com/telegram/updates")
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret_-" * 32)
    monkeypatch.setenv("HTTP_LISTEN", "[::1]:9000")
    settings = load_settings()
    assert settings.webhook_path == "/telegram/updates"
    assert settings.http_address == ("::1", 9000)
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8081/hook", "http://localhost/hook", "http://[::1]:8081/hook"]
)
def test_a_plain_http_webhook_is_taken_on_loopback(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", url)
    monkeypatch.setenv("WEBHOOK_SECRET", "secret")
    assert load_settings().webhook_path == "/hook"


def test_a_webhook_url_without_a_path_is_posted_to_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.com")
    monkeypatch.setenv("WEBHOOK_SECRET", "secret")
    assert load_settings().webhook_path == "/"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"WEBHOOK_SECRET": ""}, "^configuration error: WEBHOOK_SECRET is missing: WEBHOOK_URL needs it"),
        ({"WEBHOOK_SECRET": "has space"}, "^configuration error: WEBHOOK_SECRET must be 1 to 256 characters"),
        ({"WEBHOOK_SECRET": "a" * 257}, "^configuration error: WEBHOOK_SECRET must be 1 to 256 characters"),
        (
            {"WEBHOOK_URL": "http://bot.example.com/hook"},
            "^configuration error: WEBHOOK_URL must use https://",
        ),
        ({"WEBHOOK_URL": "bot.example.com/hook"}, "^configuration error: WEBHOOK_URL must be an absolute"),
        ({"WEBHOOK_URL": "https:///hook"}, "^configuration error: WEBHOOK_URL must be an absolute"),
        (
            {"HTTP_LISTEN": ""},
            "^configuration error: HTTP_LISTEN is empty: WEBHOOK_URL needs the HTTP server",
        ),
        ({"HTTP_LISTEN": "8080"}, "^configuration error: HTTP_LISTEN must be host:port"),
        ({"HTTP_LISTEN": "127.0.0.1:0"}, "^configuration error: HTTP_LISTEN must be host:port"),
        ({"HTTP_LISTEN": "127.0.0.1:65536"}, "^configuration error: HTTP_LISTEN must be host:port"),
        ({"HTTP_LISTEN": ":8080"}, "^configuration error: HTTP_LISTEN must be host:port"),
    ],
)
def test_a_bad_webhook_setting_is_named_but_never_shown(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.com/hook")
    monkeypatch.setenv("WEBHOOK_SECRET", "good-secret")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings()
    assert "\n" not in str(caught.value)
    assert "good-secret" not in str(caught.value) and "has space" not in str(caught.value)


def test_polling_may_turn_the_http_server_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("HTTP_LISTEN", "")
    assert load_settings().http_listen == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INBOX_RETENTION_SECONDS", "0"),
        ("INBOX_MAX_ATTEMPTS", "0"),
        ("INBOX_CONCURRENCY", "0"),
        ("DATABASE_CONNECT_TIMEOUT_SECONDS", "-1"),
    ],
)
def test_an_inbox_or_database_limit_out_of_range_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^configuration error: {name} input should be greater than"):
        load_settings()


def test_personal_data_is_kept_90_days_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert load_settings().personal_data_days == 90
    monkeypatch.setenv("PERSONAL_DATA_DAYS", "0")  # 0: kept for good
    assert load_settings().personal_data_days == 0


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("-1", "input should be greater than or equal to 0"),
        ("ninety", "input should be a valid integer"),
        ("100000", "input should be less than or equal to 36500"),  # a cutoff before year 1 overflows
    ],
)
def test_a_personal_data_days_out_of_range_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PERSONAL_DATA_DAYS", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"configuration error: PERSONAL_DATA_DAYS {problem}")


def test_the_time_to_reach_the_store_is_a_checked_setting() -> None:
    settings = load_settings(_env_file=None, telegram_bot_token="1:x", time_to_reach_store_seconds=600)
    assert settings.time_to_reach_store_seconds == 600
    with pytest.raises(ConfigError, match="TIME_TO_REACH_STORE_SECONDS"):
        load_settings(_env_file=None, telegram_bot_token="1:x", time_to_reach_store_seconds=-1)


def test_sent_messages_are_kept_30_days_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert load_settings().retention_days == 30
    monkeypatch.setenv("RETENTION_DAYS", "0")  # 0: kept for good
    assert load_settings().retention_days == 0
    for value, problem in (("-1", "greater than or equal to 0"), ("100000", "less than or equal to 36500")):
        monkeypatch.setenv("RETENTION_DAYS", value)
        with pytest.raises(
            ConfigError, match=f"^configuration error: RETENTION_DAYS input should be {problem}"
        ):
            load_settings()


def test_every_default_is_written_once_where_the_part_it_sets_is_defined(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nothing set, the settings make exactly the domain's rules and the workers' limits:
    a default changed there is the setting's default too (no second copy to forget)."""
    from bot.inbox import InboxLimits
    from bot.sender import SenderLimits
    from dispatch.deadlines import Timing
    from dispatch.dispatcher import Rules

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.timing() == Timing()
    assert settings.rules() == Rules()
    assert settings.sender_limits() == SenderLimits()
    inbox = InboxLimits()
    assert (settings.inbox_concurrency, settings.inbox_max_attempts) == (
        inbox.concurrency,
        inbox.max_attempts,
    )
    assert settings.inbox_retention_seconds == inbox.retention.total_seconds()
