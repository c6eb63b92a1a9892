"""Shared fixtures: databases on SQLite (always) and PostgreSQL (when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")


def _async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_scratch_url() -> Iterator[str]:
    """A scratch PostgreSQL database for this test run, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    server = _async_url(POSTGRES_URL)
    name = f"storerun_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'storerun.db'}"
    scratch: str = request.getfixturevalue("postgres_scratch_url")
    asyncio.run(_admin(scratch, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))
    return scratch


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'storerun.db'}"


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """An upgraded database on each backend."""
    database = Database.connect(database_url)
    await database.upgrade()
    yield database
    await database.close()
