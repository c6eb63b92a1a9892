"""Areas and stores loaded from a TOML file (`storerun seed pilot.toml`)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from zoneinfo import available_timezones

from pydantic import BaseModel, Field, ValidationError, field_validator

from storage.db import Database

PILOT_FILE = Path(__file__).resolve().parent.parent / "pilot.toml"


class StoreSeed(BaseModel):
    code: str = Field(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)*$", max_length=40)
    name: str = Field(min_length=1, max_length=120)
    location: str = Field(default="", max_length=200)


class AreaSeed(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)
    name: str = Field(min_length=1, max_length=120)
    tz: str
    active: bool = True
    stores: list[StoreSeed] = []

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class PilotFile(BaseModel):
    areas: list[AreaSeed]


class SeedError(Exception):
    """The seed file cannot be read; the message says where and why."""


def read_pilot(path: Path) -> PilotFile:
    """Parse and check a seed file."""
    try:
        return PilotFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise SeedError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SeedError(f"{path} is not valid TOML: {error}") from None
    except ValidationError as error:
        where = "; ".join(
            ".".join(str(part) for part in item["loc"]) + ": " + item["msg"] for item in error.errors()
        )
        raise SeedError(f"{path}: {where}") from None


async def seed(db: Database, pilot: PilotFile) -> tuple[int, int]:
    """Create or update every area and store in the file; returns (areas, stores)."""
    stores = 0
    async with db.transaction() as tx:
        for area in pilot.areas:
            area_id = await tx.areas.upsert(area.slug, area.name, area.tz, area.active)
            for store in area.stores:
                await tx.stores.upsert(store.code, store.name, area_id, store.location)
                stores += 1
    return len(pilot.areas), stores
