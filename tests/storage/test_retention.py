"""Personal data kept for a number of days: then addresses, photos, idle phones and copies go."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from dispatch.retention import Purged, purge_personal_data
from storage import schema
from storage.db import Database
from storage.records import Delivery
from storage.repos import InboxEntry, Transaction

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
KEEP = timedelta(days=90)
OLD = NOW - timedelta(days=91)  # past the 90 days
RECENT = NOW - timedelta(days=89)  # within them
ADDRESS = "3200 Las Vegas Blvd S, Las Vegas, NV 89109"


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass
class World:
    """Ids of the rows each test looks at."""

    offers: dict[str, int]
    drivers: dict[str, int]
    outbox: dict[str, int]


async def _driver(
    tx: Transaction, user_id: int, *, joined: datetime, phone: str = "+17025550100", **values: Any
) -> int:
    driver_id = await tx.drivers.add(user_id, user_id, f"Driver {user_id}", joined)
    await tx.drivers.update(driver_id, phone=phone, enrolled_at=joined, **values)
    return driver_id


async def _offer(tx: Transaction, store_id: int, ref: str, status: str, **values: Any) -> int:
    fields: dict[str, Any] = {
        "store_id": store_id,
        "ref": ref,
        "packages": 1,
        "zone": "89109",
        "address": ADDRESS,
        "pay_cents": 1850,
        "pickup_start": ago(200),
        "pickup_end": ago(200) + timedelta(minutes=30),
        "pickup_code": "1234",
        "status": status,
        "wave": 1,
        "created_at": ago(200),
        **values,
    }
    return await tx.offers.add(**fields)


async def _world(db: Database) -> World:
    async with db.transaction() as tx:
        area = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        store = await tx.stores.upsert("FS-ZARA", "Zara", area, "Level 1")
        drivers = {
            # Did nothing for 95 days (went offline then, last offered 100 days ago).
            "idle": await _driver(tx, 1, joined=ago(200), status="approved", last_offered_at=ago(100)),
            # Rejected 120 days ago, right after applying.
            "rejected": await _driver(tx, 2, joined=ago(120), status="rejected"),
            # Joined long ago, but went offline 10 days ago.
            "recently_active": await _driver(tx, 3, joined=ago(200), status="approved"),
            # Online all along, though no offer came for a while.
            "online": await _driver(tx, 4, joined=ago(200), status="approved", online=True),
            # Holds an offer picked up long ago and never delivered.
            "holder": await _driver(tx, 5, joined=ago(200), status="approved"),
            # Was sent an offer yesterday.
            "offered": await _driver(tx, 6, joined=ago(200), status="approved", last_offered_at=ago(1)),
            # Applied five days ago; an admin has yet to decide.
            "applicant": await _driver(tx, 7, joined=ago(5)),
        }
        await tx.events.add(ago(95), f"driver:{drivers['idle']}", "offline")
        await tx.events.add(ago(10), f"driver:{drivers['recently_active']}", "offline")
        # An admin's decision about the idle driver is not the driver's own doing.
        await tx.events.add(ago(2), "admin:1000", "suspended", f"driver {drivers['idle']}")
        offers = {
            "delivered_old": await _offer(
                tx,
                store,
                "D1",
                "delivered",
                finished_at=OLD,
                proof_file_id="photo-old",
                holder_id=drivers["idle"],
            ),
            "delivered_recent": await _offer(
                tx,
                store,
                "D2",
                "delivered",
                finished_at=RECENT,
                proof_file_id="photo-new",
                holder_id=drivers["offered"],
            ),
            "returned_old": await _offer(tx, store, "R1", "returned", finished_at=OLD),
            "cancelled_old": await _offer(tx, store, "C1", "cancelled", finished_at=OLD),
            # An expired offer has no finished_at: it ended when its acceptance window did.
            "expired_old": await _offer(tx, store, "E1", "expired", expires_at=OLD),
            "expired_recent": await _offer(tx, store, "E2", "expired", expires_at=RECENT),
            "picked_up_long_ago": await _offer(
                tx, store, "P1", "picked_up", holder_id=drivers["holder"], picked_up_at=ago(150)
            ),
        }
        for key in ("delivered_old", "delivered_recent"):
            offer = await tx.offers.by_id(offers[key])
            assert offer is not None and offer.finished_at is not None
            holder = f"driver:{offer.holder_id}"
            await tx.events.add(
                offer.finished_at, holder, "proof", str(offer.proof_file_id), offer_id=offer.id
            )
        card = json_text(ADDRESS)
        outbox = {
            "sent_old": await tx.outbox.add(lane=0, chat_id=1, kind=Delivery.MESSAGE, payload=card, at=OLD),
            "sent_recent": await tx.outbox.add(
                lane=0, chat_id=1, kind=Delivery.MESSAGE, payload=card, at=RECENT
            ),
            "pending_old": await tx.outbox.add(
                lane=0, chat_id=1, kind=Delivery.MESSAGE, payload=card, at=OLD
            ),
        }
        for key in ("sent_old", "sent_recent"):
            await tx.outbox.mark_sent(outbox[key], at=NOW, message_id=7, attempts=1)
        contact = '{"update_id":%d,"message":{"contact":{"phone_number":"+17025550100"}}}'
        await tx.inbox.store([InboxEntry(1, 1, "message", contact % 1)], OLD)
        await tx.inbox.store([InboxEntry(2, 2, "message", contact % 2)], OLD)
        await tx.inbox.store([InboxEntry(3, 3, "message", contact % 3)], RECENT)
        await tx.inbox.mark_done([1, 3], NOW)
        await tx.inbox.park(2, attempts=5, error="KeyError: 'x'", at=OLD)
        await tx.drafts.put(100, store, "zone", json_text(ADDRESS), OLD)
        await tx.drafts.put(101, store, "zone", json_text(ADDRESS), RECENT)
    return World(offers=offers, drivers=drivers, outbox=outbox)


def json_text(address: str) -> str:
    return json.dumps({"text": f"To: {address}"})


async def test_personal_data_older_than_the_days_kept_is_forgotten_and_newer_stays(db: Database) -> None:
    world = await _world(db)

    purged = await purge_personal_data(db, now=NOW, keep=KEEP)

    assert purged == Purged(addresses=4, photos=1, phones=2, messages=1, updates=2, drafts=1)
    async with db.read() as tx:
        offers = {key: await tx.offers.by_id(offer_id) for key, offer_id in world.offers.items()}
        drivers = {key: await tx.drivers.by_id(driver_id) for key, driver_id in world.drivers.items()}
        outbox = {key: await tx.outbox.by_id(row_id) for key, row_id in world.outbox.items()}
        proofs = {event.offer_id: event.detail for event in await _proof_events(tx)}
        inbox = {update_id: await tx.inbox.by_id(update_id) for update_id in (1, 2, 3)}
        drafts = {chat: await tx.drafts.of(chat) for chat in (100, 101)}
    forgotten = {key for key, offer in offers.items() if offer is not None and offer.address == ""}
    assert forgotten == {"delivered_old", "returned_old", "cancelled_old", "expired_old"}
    assert offers["delivered_old"] is not None and offers["delivered_old"].proof_file_id is None
    assert offers["delivered_recent"] is not None and offers["delivered_recent"].proof_file_id == "photo-new"
    assert proofs == {world.offers["delivered_old"]: "", world.offers["delivered_recent"]: "photo-new"}
    without_phone = {key for key, driver in drivers.items() if driver is not None and driver.phone is None}
    assert without_phone == {"idle", "rejected"}
    assert {key: row.payload == "{}" for key, row in outbox.items() if row is not None} == {
        "sent_old": True,
        "sent_recent": False,
        "pending_old": False,  # still to be sent: it needs its text
    }
    assert {update_id: row.payload == "{}" for update_id, row in inbox.items() if row is not None} == {
        1: True,
        2: True,  # parked: the error stays for a person to read, the update's content goes
        3: False,
    }
    assert inbox[2] is not None and inbox[2].status == "parked" and inbox[2].error == "KeyError: 'x'"
    assert drafts[100] is None and drafts[101] is not None


async def test_purging_again_forgets_nothing_more(db: Database) -> None:
    await _world(db)
    await purge_personal_data(db, now=NOW, keep=KEEP)
    assert await purge_personal_data(db, now=NOW, keep=KEEP) == Purged()


async def test_a_day_later_what_became_old_goes_too(db: Database) -> None:
    await _world(db)
    await purge_personal_data(db, now=NOW, keep=KEEP)
    purged = await purge_personal_data(db, now=NOW + timedelta(days=2), keep=KEEP)
    # The recent delivery (its address and photo), the recent expiry, the sent copy, the update, the draft.
    assert purged == Purged(addresses=2, photos=1, phones=0, messages=1, updates=1, drafts=1)


def test_the_counts_read_as_one_line_without_the_data() -> None:
    assert str(Purged(addresses=2, photos=1, phones=0, messages=5, updates=1, drafts=0)) == (
        "2 addresses, 1 proof photo, 0 phones, 5 sent messages, 1 stored update, 0 order drafts"
    )


async def _proof_events(tx: Transaction) -> list[Any]:
    e = schema.events
    return list(await tx.connection.execute(select(e.c.offer_id, e.c.detail).where(e.c.kind == "proof")))
