"""The repositories are typed: a misspelled column, a column given the wrong type, or a state
named by a bare string fails `mypy --strict` instead of reaching the database; and the states
stored read back as their enums, while a value no enum names is refused as it is written."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import mypy.api
import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from storage import schema
from storage.db import Database
from storage.records import Account, EventKind, Prompt

ROOT = Path(__file__).resolve().parents[2]
CACHE = ".mypy_cache/repository_snippets"
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)

# One call per line; those marked `# wrong` must be refused, every other line must pass.
SNIPPET = """
from datetime import UTC, datetime

from dispatch.lifecycle import Action, step
from storage.records import Account, BroadcastStatus, CardKind, EventKind, OfferStatus, Outcome, Prompt
from storage.repos import Transaction

NOW = datetime(2026, 11, 25, tzinfo=UTC)


async def calls(tx: Transaction) -> None:
    await tx.offers.update(1, proof_file_id="photo")
    await tx.offers.update(1, pikup_code="x")  # wrong
    await tx.offers.update(1, wrong_codes="3")  # wrong
    await tx.offers.transition(1, OfferStatus.OPEN, OfferStatus.ACCEPTED, holder_id=7, accepted_at=NOW)
    await tx.offers.transition(1, OfferStatus.OPEN, OfferStatus.ACCEPTED, holder=7)  # wrong
    await tx.offers.transition(1, "open", "accepted")  # wrong
    await step(tx, 1, Action.PICKUP, held_by=7, picked_up_at=NOW)
    await step(tx, 1, Action.PICKUP, held_by=7, pickedup_at=NOW)  # wrong
    await tx.drivers.update(7, prompt=Prompt.PROOF, prompt_offer_id=1)
    await tx.drivers.update(7, phnoe="+1 555")  # wrong
    await tx.drivers.update(7, prompt="proof")  # wrong
    await tx.drivers.update(7, status=Account.APPROVED)  # wrong
    await tx.drivers.count(7, accepted=1)
    await tx.drivers.count(7, acepted=1)  # wrong
    await tx.drivers.set_status(7, [Account.PENDING], Account.APPROVED)
    await tx.drivers.set_status(7, ["pending"], "approved")  # wrong
    await tx.areas.update(1, award_window_seconds=30)
    await tx.areas.update(1, award_window=30)  # wrong
    await tx.broadcasts.move(1, BroadcastStatus.DRAFT, BroadcastStatus.SENDING, sent_at=NOW)
    await tx.broadcasts.move(1, BroadcastStatus.DRAFT, BroadcastStatus.SENDING, send_at=NOW)  # wrong
    await tx.broadcasts.move(1, "draft", "sending")  # wrong
    await tx.cards.add(CardKind.JOB, 1, 7001, 1, NOW)
    await tx.cards.add("job", 1, 7001, 1, NOW)  # wrong
    await tx.events.add(NOW, "dispatch", EventKind.EXPIRE, offer_id=1)
    await tx.events.add(NOW, "dispatch", "expire", offer_id=1)  # wrong
    await tx.notices.close_all(1, Outcome.SENT, Outcome.EXPIRED)
    await tx.notices.close_all(1, "sent", "expired")  # wrong
    await tx.offers.add(
        store_id=1,
        ref="A1",
        packages=1,
        zone="Z",
        address="1 Main St",
        pay_cents=1850,
        pickup_start=NOW,
        pickup_end=NOW,
        deliver_by=None,
        pickup_code="1234",
        status=OfferStatus.OPEN,
        created_at=NOW,
    )
    await tx.offers.add(store_id=1, ref="A2")  # wrong
"""


def test_a_misspelled_or_mistyped_repository_argument_fails_the_type_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT)  # where mypy finds the packages
    # pyproject.toml's settings name the packages to check, which a snippet cannot be added to.
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\npython_version = 3.11\n")
    # Only the snippet's own errors count: the modules it imports are checked in their own right.
    # A cache of its own (kept between runs) leaves the project's alone.
    out, err, _ = mypy.api.run(
        ["--config-file", str(config), "--cache-dir", CACHE, "--follow-imports", "silent", "-c", SNIPPET]
    )
    refused = {int(number) for number in re.findall(r"^<string>:(\d+): error:", out, re.MULTILINE)}
    wrong = {number for number, line in enumerate(SNIPPET.splitlines(), 1) if line.endswith("# wrong")}
    assert not err
    assert refused == wrong, out


async def test_states_read_back_as_their_enums_and_a_stray_one_is_refused_as_it_is_written(
    db: Database,
) -> None:
    async with db.transaction() as tx:
        driver_id = await tx.drivers.add(7001, 7001, "Maria", NOW)
        await tx.drivers.update(driver_id, prompt=Prompt.PHONE)
        await tx.events.add(NOW, f"driver:{driver_id}", EventKind.ENROLL, "area las-vegas")
    async with db.read() as tx:
        driver = await tx.drivers.by_id(driver_id)
        kinds = list((await tx.connection.execute(select(schema.events.c.kind))).scalars())
    assert driver is not None
    assert driver.status is Account.PENDING and driver.prompt is Prompt.PHONE
    assert kinds == [EventKind.ENROLL] and kinds[0] is EventKind.ENROLL
    with pytest.raises(StatementError, match="is not a valid EventKind"):
        async with db.transaction() as tx:
            await tx.events.add(NOW, "dispatch", "enroled")  # type: ignore[arg-type]
