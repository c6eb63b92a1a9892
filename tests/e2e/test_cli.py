"""The `storerun` command as a person runs it: seed, db upgrade, and the sandbox."""

from __future__ import annotations

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
