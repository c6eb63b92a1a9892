"""Stores: staff linked by one-time invites, orders from the store's chat, today's orders, cancelling."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dispatch.actors import Actor, By
from dispatch.lifecycle import Action, Status, sources
from dispatch.offers import ORDERS_LIST, Created, Press
from dispatch.orders import OrderLine, OrderLineError, parse_order_line
from dispatch.problems import Issue, Problem, issue
from dispatch.views import orders_to_show
from dispatch.windows import next_slots
from storage.records import EventKind, Store

if TYPE_CHECKING:
    from dispatch.clock import Clock
    from dispatch.dispatcher import Outbound, Rules
    from dispatch.offers import OfferDesk
    from storage.db import Database


class Link(StrEnum):
    """How opening an invite link turned out."""

    LINKED = "linked"
    ALREADY_STAFF = "already_staff"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Invitation:
    """A fresh invite, or why none was made."""

    token: str | None = None
    store: Store | None = None
    problem: Issue | None = None


# The steps of /neworder typed alone, in order; "store" only for staff of several stores.
STEPS = ("store", "packages", "window", "pay", "zone", "ref", "address", "confirm")
TYPED_STEPS = ("pay", "zone", "ref", "address")


@dataclass(frozen=True, slots=True)
class DraftState:
    """Where a step-by-step order stands: the next step, what is filled in, and any problem."""

    step: str
    fields: dict[str, str]
    store: Store
    problem: Issue | None = None


def field_problem(field: str, value: str, *, store_required: bool = False) -> Issue | None:
    """The problem with one order field's value, judged by the same rules as a whole order line
    (the other fields, missing from a line of one field, are not its problem)."""
    try:
        parse_order_line(f'{field}="{value.replace(chr(34), "")}"', store_required=store_required)
    except OrderLineError as error:
        return next((p for p in error.problems if p.field == field and p.code is not Problem.MISSING), None)
    return None


def draft_line(fields: dict[str, str]) -> str:
    """The order line a finished draft amounts to."""
    return " ".join(
        f'{name}="{value.replace(chr(34), "")}"' for name, value in fields.items() if name != "store"
    )


class StoreDesk:
    """Everything store staff do; each change is one transaction."""

    def __init__(
        self, db: Database, clock: Clock, rules: Rules, outbound: Outbound, *, offers: OfferDesk
    ) -> None:
        self.db = db
        self.clock = clock
        self.rules = rules
        self.outbound = outbound
        self.offers = offers  # a store's orders become offers, and are cancelled, there

    # --- linking ---

    async def invite(self, admin_id: int, code: str) -> Invitation:
        """An admin makes a one-time invite link for a store's staff."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            store = await tx.stores.by_code(code.upper())
            if store is None:
                return Invitation(problem=issue(Problem.NO_SUCH_STORE, store=code.upper()))
            token = secrets.token_urlsafe(18)
            await tx.invites.add(token, store.id, admin_id, now, now + self.rules.invite_ttl)
            await tx.events.add(now, Actor.admin(admin_id).encode(), EventKind.INVITE, f"store {store.code}")
        return Invitation(token=token, store=store)

    async def redeem(self, token: str, user_id: int, chat_id: int) -> tuple[Link, Store | None]:
        """Whoever opens an unused, unexpired invite becomes staff of its store."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            invite = await tx.invites.by_token(token)
            if invite is None:
                return Link.UNKNOWN, None
            store = await tx.stores.by_id(invite.store_id)
            if not await tx.invites.redeem(token, user_id, now):
                # Read again: the conditional write may have lost to a redemption at this moment.
                invite = await tx.invites.by_token(token) or invite
                return (Link.USED if invite.used_at is not None else Link.EXPIRED), store
            assert store is not None
            linked = await tx.stores.link_staff(store.id, chat_id, user_id, now)
            clerk = Actor.clerk(store.code, user_id).encode()
            await tx.events.add(now, clerk, EventKind.STAFF_LINKED, f"store {store.code} chat {chat_id}")
        return (Link.LINKED if linked else Link.ALREADY_STAFF), store

    async def unlink(self, chat_id: int, user_id: int) -> list[str]:
        """The chat leaves every store it is staff of; returns their codes."""
        async with self.outbound.transaction() as tx:
            left = await tx.stores.unlink_staff(chat_id)
            for code in left:
                clerk = Actor.clerk(code, user_id).encode()
                await tx.events.add(self.clock.now(), clerk, EventKind.STAFF_UNLINKED, f"chat {chat_id}")
        return left

    async def stores_of(self, chat_id: int) -> list[Store]:
        async with self.db.read() as tx:
            return await tx.stores.staffed_by(chat_id)

    # --- orders ---

    async def order(self, chat_id: int, user_id: int, line: OrderLine) -> Created:
        """Staff create an order for their own store (the store is implied, or must be theirs)."""
        stores = await self.stores_of(chat_id)
        if not stores:
            return Created(problems=(issue(Problem.NOT_STAFF_HERE),))
        if line.store is not None:
            if line.store not in {store.code for store in stores}:
                return Created(problems=(issue(Problem.NOT_STAFF_OF, store=line.store),))
            code = line.store
        elif len(stores) == 1:
            code = stores[0].code
        else:
            codes = ", ".join(store.code for store in stores)
            return Created(problems=(issue(Problem.SEVERAL_STORES, stores=codes),))
        return await self.offers.create(line, store_code=code, by=Actor.clerk(code, user_id), card_to=chat_id)

    async def show_orders(self, chat_id: int) -> int:
        """/orders: today's list with a Cancel for each order that may still be cancelled; each
        listed order remembers the list, so its Cancel goes once it no longer applies. Returns
        how many orders it lists."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            shown, total = await orders_to_show(tx, chat_id, now)
            if not total:
                return 0
            sent = await self.outbound.say(tx, chat_id, lambda m: m.orders_list(shown, total))
            for view in shown:
                if view.offer.status in sources(Action.CANCEL):
                    await tx.cards.add(ORDERS_LIST, view.offer.id, chat_id, sent, now)
        return total

    async def cancel(self, offer_id: int, chat_id: int, user_id: int) -> Press:
        """Staff cancel one of their store's orders that is not yet picked up."""
        async with self.db.read() as tx:
            offer = await tx.offers.by_id(offer_id)
            stores = {store.id: store.code for store in await tx.stores.staffed_by(chat_id)}
        if offer is None or offer.store_id not in stores:
            return Press.NOT_YOURS
        if offer.status == Status.CANCELLED:
            return Press.DONE
        if offer.status not in sources(Action.CANCEL):
            return Press.NOT_OPEN
        clerk = Actor.clerk(stores[offer.store_id], user_id).encode()
        # Nobody is named and no reason given: each reader sees "the store" in their own words.
        return await self.offers.cancel(offer_id, actor=clerk, by=By(), reason=None)

    # --- /neworder step by step ---

    async def start_draft(self, chat_id: int) -> DraftState | None:
        """Begin a step-by-step order; None if this chat is not store staff."""
        stores = await self.stores_of(chat_id)
        if not stores:
            return None
        fields: dict[str, str] = {}
        step = "store" if len(stores) > 1 else "packages"
        if len(stores) == 1:
            fields["store"] = stores[0].code
        await self._save(chat_id, stores[0], step, fields)
        return DraftState(step, fields, stores[0])

    async def draft(self, chat_id: int) -> DraftState | None:
        async with self.db.read() as tx:
            draft = await tx.drafts.of(chat_id)
            store = await tx.stores.by_id(draft.store_id) if draft else None
        if draft is None or store is None:
            return None
        return DraftState(draft.step, json.loads(draft.fields), store)

    async def answer_draft(self, chat_id: int, value: str) -> DraftState | None:
        """The answer to the current step (typed or pressed); a bad one is explained, the step stays."""
        state = await self.draft(chat_id)
        if state is None or state.step == "confirm":
            return state
        value = value.strip()
        store = state.store
        if state.step == "store":
            stores = {s.code: s for s in await self.stores_of(chat_id)}
            if value.upper() not in stores:
                return DraftState(state.step, state.fields, store, problem=issue(Problem.PICK_YOUR_STORE))
            store = stores[value.upper()]
            value = store.code
        else:
            problem = field_problem(state.step, value)
            if problem is not None:
                return DraftState(state.step, state.fields, store, problem=problem)
        fields = {**state.fields, state.step: value}
        step = STEPS[STEPS.index(state.step) + 1]
        await self._save(chat_id, store, step, fields)
        return DraftState(step, fields, store)

    async def confirm_draft(self, chat_id: int, user_id: int) -> Created:
        """Create the order the draft describes."""
        state = await self.draft(chat_id)
        if state is None or state.step != "confirm":
            return Created(problems=(issue(Problem.NOTHING_TO_CONFIRM),))
        try:
            line = parse_order_line(draft_line(state.fields), store_required=False)
        except OrderLineError as error:
            return Created(problems=tuple(error.problems))
        async with self.db.read() as tx:
            area = await tx.areas.by_id(state.store.area_id)
        assert area is not None
        line = line.model_copy(update={"day": pickup_day(self.clock.now(), area.tz, line.window_start)})
        created = await self.offers.create(
            line, store_code=state.store.code, by=Actor.clerk(state.store.code, user_id), card_to=chat_id
        )
        if created.view is not None:
            await self.drop_draft(chat_id)
        return created

    async def drop_draft(self, chat_id: int) -> bool:
        async with self.outbound.transaction() as tx:
            return await tx.drafts.drop(chat_id)

    async def _save(self, chat_id: int, store: Store, step: str, fields: dict[str, str]) -> None:
        async with self.outbound.transaction() as tx:
            await tx.drafts.put(chat_id, store.id, step, json.dumps(fields), self.clock.now())

    def window_choices(self, store_tz: str, now: datetime) -> list[str]:
        """The next free pickup windows in the store's local time, like 14:00-14:30 (the same
        choices an order whose window is over is offered, see dispatch.windows)."""
        slots = next_slots(now, store_tz, self.rules.time_to_reach_store)
        return [slot.clock(store_tz) for slot in slots]


def pickup_day(now: datetime, tz: str, start: time) -> date:
    """The local day a window chosen step by step (with no date) is meant for: today, unless its
    start is over an hour gone, as with 00:15 picked at 23:50: that is tomorrow."""
    local = now.astimezone(ZoneInfo(tz))
    today = local.date()
    if datetime.combine(today, start, tzinfo=local.tzinfo) < local - timedelta(hours=1):
        return today + timedelta(days=1)
    return today
