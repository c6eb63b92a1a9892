"""Settings: read from the environment, and a bad one stops start-up with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.config import ConfigError, load_settings

TOKEN = "123456:SECRET-never-shown"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "ADMIN_IDS", "WAVE_SIZE"):
        monkeypatch.delenv(name, raising=False)
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
