"""The `storerun` command as a person runs it: seed, db upgrade, and the sandbox."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import texts
from tests.e2e.words import EN


def storerun(*arguments: str, cwd: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *arguments],
        cwd=cwd,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def database(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}


def test_db_upgrade_and_seed_need_no_token(tmp_path: Path, database: dict[str, str]) -> None:
    upgraded = storerun("db", "upgrade", cwd=tmp_path, **database)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    seeded = storerun("seed", cwd=tmp_path, **database)
    again = storerun("seed", cwd=tmp_path, **database)
    assert seeded.returncode == again.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith("seeded 3 areas and 7 stores")


def test_seed_with_a_bad_file_says_why_in_one_line(tmp_path: Path, database: dict[str, str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[areas]]\nslug = "x"\nname = "X"\ntz = "Nowhere/Town"\n')
    seeded = storerun("seed", str(bad), cwd=tmp_path, **database)
    assert seeded.returncode == 2
    assert seeded.stderr.count("\n") == 1 and "unknown IANA time zone" in seeded.stderr


def test_sandbox_once_plays_a_visit_through_the_emulator(tmp_path: Path) -> None:
    played = storerun("sandbox", "--once", "--port", "0", cwd=tmp_path)
    assert played.returncode == 0, played.stderr
    assert "--- chat of Ada (1000) ---" in played.stdout
    assert f"bot: {EN(texts.ADMIN)}" in played.stdout
    assert f"bot: {EN(texts.WELCOME, name='Sam')}" in played.stdout


def test_a_second_run_on_one_sqlite_file_refuses_to_start_in_one_line(
    tmp_path: Path, database: dict[str, str]
) -> None:
    # The first process holds the file (its lock, as `storerun run` takes it); the second one
    # must not start at all: nothing reaches the Bot API, nothing touches the database.
    with (tmp_path / "cli.db.lock").open("ab") as first:
        fcntl.flock(first.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        second = storerun(
            "run",
            cwd=tmp_path,
            TELEGRAM_BOT_TOKEN="123456:TEST-SECOND-PROCESS",
            TELEGRAM_API_URL="http://127.0.0.1:9",
            HTTP_LISTEN="",
            **database,
        )
    assert second.returncode != 0
    assert second.stderr.count("\n") == 1, second.stderr
    assert "DATABASE_URL: another storerun process is running on cli.db" in second.stderr
    assert not (tmp_path / "cli.db").exists()
