"""The admins' routes (ADMIN_IDS only, in their private chats): offers, drivers, areas and stores,
the offer board, stats, export, broadcast, and the buttons of their cards."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import keyboards, texts
from bot.callbacks import Act, Button, pattern
from bot.chat import Context, reply
from bot.exports_worker import uploading
from bot.i18n import N_, Np_
from bot.problems import problem_list, problem_text
from bot.routes.guards import App, Handler, admin_only, arguments, buttons, number, one_id, usage, words
from dispatch.actors import Actor, By
from dispatch.awards import Order
from dispatch.drivers import Decision
from dispatch.exports import ExportKind, request_export, request_stats
from dispatch.offers import Press
from dispatch.orders import OrderLineError, example_line, parse_order_line
from dispatch.outbox import Delivery, Outgoing

STORE_CODE = re.compile(r"[A-Z0-9]{1,12}(-[A-Z0-9]{1,12}){0,3}")

LIST_TITLES = {
    # Translators: {which} is what the list shows as the admin typed it: all, pending, an area's slug …
    "drivers": N_("Drivers: {which}"),
    "offers": N_("Offers: {which}"),
    "stores": N_("Stores: {which}"),
}
PAGE = N_("Page {n}")
DRIVER_ANSWER = N_("Driver #{id}: {answer}")
OFFER_ANSWER = N_("Offer #{id}: {answer}")
# Translators: one line of /areas: "fs · Fashion Show · active · 3 stores · 12 drivers (4 online)"
AREA_LINE = N_("{slug} · {name} · {state} · {stores} · {drivers} ({online} online)")
AREA_ACTIVE, AREA_PAUSED = N_("active"), N_("PAUSED")
STORES = Np_("{n} store", "{n} stores")
DRIVERS = Np_("{n} driver", "{n} drivers")
AREA_NOW_PAUSED = N_("paused: no offers go out")  # the {state} of "{slug} is now {state}."
NO_SUCH_STORE_HINT = N_("{problem}. /stores lists them.")


# --- lists, paged ---


async def render_list(context: Context, key: str, page: int) -> tuple[str, dict[str, object] | None] | None:
    """The text and ◀ ▶ buttons of one page of a list ("drivers.pending", "offers.open", "stores.all")."""
    kind, _, which = key.partition(".")
    choice = None if which == "all" else which
    admin, t = context.dispatch.admin, context.texts
    size = keyboards.PAGE_SIZE
    if kind == "drivers":
        # Drivers and offers are many: the database reads one page and counts the rest.
        drivers = await admin.drivers(choice, page, size)
        if drivers is None:
            return None
        lines = [texts.driver_line(t, driver) for driver in drivers.items]
        page, total = drivers.number, drivers.total
    elif kind == "offers":
        views = await admin.board(choice, page, size)
        if views is None:
            return None
        now = context.dispatch.clock.now()
        lines = [texts.offer_line(t, view, now) for view in views.items]
        page, total = views.number, views.total
    elif kind == "stores":
        stores = await admin.stores(choice)
        if stores is None:
            return None
        every = [f"{store.code} · {store.name} · {store.location}" for store in stores]
        page = min(max(page, 0), max(0, (len(every) - 1) // size))
        lines, total = every[page * size : (page + 1) * size], len(every)
    else:
        return None
    title = t(LIST_TITLES[kind], which=which)
    return texts.page_text(t, lines, page, total, title), keyboards.pages(t, key, page, total)


async def _send_list(update: Update, context: Context, kind: str, command: str) -> None:
    arguments = words(update)
    if len(arguments) > 1:
        await usage(update, context, command)
        return
    key = f"{kind}.{arguments[0].lower() if arguments else 'all'}"
    # The list's name travels in its page buttons, so it must fit in their callback data.
    fits = Button.parse(Button(act=Act.PAGE, subject=0).pack() + f":{key}") is not None
    rendered = await render_list(context, key, 0) if fits else None
    if rendered is None:
        await usage(update, context, command)
        return
    text, markup = rendered
    await context.dispatch.send(reply(context.texts, update, text, markup))


@admin_only
async def on_drivers(update: Update, context: Context) -> None:
    """/drivers [pending|online|AREA]"""
    await _send_list(update, context, "drivers", "drivers")


@admin_only
async def on_offers(update: Update, context: Context) -> None:
    """/offers [open|accepted|today|AREA]"""
    await _send_list(update, context, "offers", "offers")


@admin_only
async def on_stores(update: Update, context: Context) -> None:
    """/stores [AREA]"""
    await _send_list(update, context, "stores", "stores")


async def turn_page(update: Update, context: Context, button: Button) -> str:
    """◀ / ▶ under an admin list: the message shows the asked page."""
    user, message, t = update.effective_user, update.effective_message, context.texts
    if user is None or user.id not in context.dispatch.admin_ids:
        return t(texts.NOT_ALLOWED)
    rendered = await render_list(context, button.arg or "", button.subject)
    if rendered is None or message is None:
        return t(texts.STALE_BUTTON)
    text, markup = rendered
    params: dict[str, object] = {"message_id": message.message_id, "text": text}
    if markup is not None:
        params["reply_markup"] = markup
    await context.dispatch.send(Outgoing(message.chat_id, Delivery.EDIT, params))
    return t(PAGE, n=button.subject + 1)


# --- drivers ---


@admin_only
async def on_driver(update: Update, context: Context) -> None:
    """/driver ID: profile and counters."""
    driver_id = await one_id(update, context, "driver")
    if driver_id is None:
        return
    profile, t = await context.dispatch.admin.driver(driver_id), context.texts
    if profile is None:
        await context.dispatch.send(reply(t, update, t(texts.NO_SUCH_DRIVER_ID, id=driver_id)))
        return
    text = texts.driver_profile(
        t, profile.driver, profile.areas, profile.on_time_rate, profile.presses, profile.fast_taps
    )
    await context.dispatch.send(reply(t, update, text))


async def _decide(update: Update, context: Context, command: str, approve: bool) -> None:
    driver_id = await one_id(update, context, command)
    user = update.effective_user
    if driver_id is None or user is None:
        return
    t = context.texts
    decision = await context.dispatch.admin.decide(driver_id, user.id, user.first_name, approve)
    answer = t(texts.DECISION_ANSWERS[decision])
    if decision is Decision.NO_SUCH_DRIVER:
        answer = t(texts.NO_SUCH_DRIVER_ID, id=driver_id)
    await context.dispatch.send(reply(t, update, t(DRIVER_ANSWER, id=driver_id, answer=answer)))


@admin_only
async def on_approve(update: Update, context: Context) -> None:
    """/approve ID"""
    await _decide(update, context, "approve", True)


@admin_only
async def on_reject(update: Update, context: Context) -> None:
    """/reject ID"""
    await _decide(update, context, "reject", False)


async def _standing(update: Update, context: Context, command: str) -> None:
    from dispatch.admin import Standing

    driver_id = await one_id(update, context, command)
    user = update.effective_user
    if driver_id is None or user is None:
        return
    outcome = await context.dispatch.admin.suspend(driver_id, user.id, suspend=command == "suspend")
    if outcome is Standing.DONE:
        text = texts.STANDING_DONE[command]
    elif outcome is Standing.NOT_NOW:
        text = texts.STANDING_NOT_NOW[command]
    else:
        text = texts.NO_SUCH_DRIVER_ID
    t = context.texts
    await context.dispatch.send(reply(t, update, t(text, id=driver_id)))


@admin_only
async def on_suspend(update: Update, context: Context) -> None:
    """/suspend ID"""
    await _standing(update, context, "suspend")


@admin_only
async def on_reinstate(update: Update, context: Context) -> None:
    """/reinstate ID"""
    await _standing(update, context, "reinstate")


# --- areas and stores ---


@admin_only
async def on_areas(update: Update, context: Context) -> None:
    """/areas: every area, active or paused, with its stores and drivers."""
    t = context.texts
    lines = [
        t(
            AREA_LINE,
            slug=line.area.slug,
            name=line.area.name,
            state=t(AREA_ACTIVE if line.area.active else AREA_PAUSED),
            stores=t.n(STORES, line.stores),
            drivers=t.n(DRIVERS, line.approved),
            online=line.online,
        )
        for line in await context.dispatch.admin.areas()
    ]
    await context.dispatch.send(reply(t, update, "\n".join(lines) or t(texts.NOTHING_FOUND)))


@admin_only
async def on_area(update: Update, context: Context) -> None:
    """/area SLUG on|off: a paused area sends no offers. /area SLUG award=SECONDS order=NAME: how
    its offers are awarded (an award window of 0: the first Accept wins)."""
    arguments = words(update)
    user = update.effective_user
    if len(arguments) < 2 or user is None:
        await usage(update, context, "area")
        return
    slug = arguments[0].lower()
    if "=" in arguments[1]:
        await _set_fairness(update, context, slug, arguments[1:], user.id)
        return
    if len(arguments) != 2 or arguments[1].lower() not in ("on", "off"):
        await usage(update, context, "area")
        return
    active, t = arguments[1].lower() == "on", context.texts
    if not await context.dispatch.admin.set_area(slug, active, user.id):
        await context.dispatch.send(reply(t, update, t(texts.NO_SUCH_AREA_SLUG, slug=slug)))
        return
    text = t(texts.AREA_SET, slug=slug, state=t(AREA_ACTIVE if active else AREA_NOW_PAUSED))
    await context.dispatch.send(reply(t, update, text))


async def _set_fairness(
    update: Update, context: Context, slug: str, settings: list[str], admin_id: int
) -> None:
    """award=SECONDS (0 to 600) and/or order=NAME (a built-in order) for one area."""
    fields = dict(setting.partition("=")[::2] for setting in settings)
    window = fields.pop("award", None)
    order = fields.pop("order", None)
    seconds = number(window) if window is not None else None
    valid = not fields and (window is None or (seconds is not None and seconds <= MAX_AWARD_WINDOW))
    valid = valid and (order is None or order in set(Order))
    if not valid:
        await usage(update, context, "area")
        return
    changed = await context.dispatch.fairness.set_area(
        slug, admin_id, window_seconds=seconds, order=Order(order) if order else None
    )
    t = context.texts
    if changed is None:
        await context.dispatch.send(reply(t, update, t(texts.NO_SUCH_AREA_SLUG, slug=slug)))
        return
    await context.dispatch.send(reply(t, update, texts.fairness(t, [changed])))


MAX_AWARD_WINDOW = 600  # seconds: as AWARD_WINDOW_SECONDS allows


@admin_only
async def on_add_store(update: Update, context: Context) -> None:
    """/addstore CODE area=SLUG name="…" where="…": create or update a store."""
    arguments = words(update)
    user = update.effective_user
    fields = dict(part.split("=", 1) for part in arguments[1:] if "=" in part)
    code = arguments[0].upper() if arguments else ""
    well_formed = (
        user is not None
        and STORE_CODE.fullmatch(code) is not None
        and set(fields) == {"area", "name", "where"}
        and len(arguments) == 4
        and all(0 < len(value) <= 120 for value in fields.values())
    )
    if not well_formed or user is None:
        await usage(update, context, "addstore")
        return
    store = await context.dispatch.admin.add_store(
        code, fields["area"].lower(), fields["name"], fields["where"], user.id
    )
    t = context.texts
    if store is None:
        await context.dispatch.send(reply(t, update, t(texts.NO_SUCH_AREA_SLUG, slug=fields["area"])))
        return
    saved = t(texts.STORE_SAVED, code=store.code, name=store.name, where=store.location, area=fields["area"])
    await context.dispatch.send(reply(t, update, saved))


@admin_only
async def on_invite(update: Update, context: Context) -> None:
    """/invite CODE: a one-time link that makes whoever opens it staff of the store."""
    arguments = words(update)
    user = update.effective_user
    if len(arguments) != 1 or user is None:
        await usage(update, context, "invite")
        return
    invitation, t = await context.dispatch.stores.invite(user.id, arguments[0]), context.texts
    if invitation.token is None or invitation.store is None:
        assert invitation.problem is not None
        problem = t(NO_SUCH_STORE_HINT, problem=problem_text(t, invitation.problem))
        await context.dispatch.send(reply(t, update, problem))
        return
    link = f"https://t.me/{context.bot.username}?start={invitation.token}"
    hours = round(context.dispatch.rules.invite_ttl.total_seconds() / 3600)
    text = t(
        texts.INVITE_LINK, store=invitation.store.name, code=invitation.store.code, hours=hours, link=link
    )
    await context.dispatch.send(reply(t, update, text))


# --- offers ---


@admin_only
async def on_offer(update: Update, context: Context) -> None:
    """/offer ID: the offer's card and its whole trail."""
    offer_id = await one_id(update, context, "offer")
    if offer_id is None:
        return
    trail, t = await context.dispatch.admin.trail(offer_id), context.texts
    if trail is None:
        await context.dispatch.send(reply(t, update, t(texts.NO_SUCH_OFFER_ID, id=offer_id)))
        return
    text = texts.offer_trail(t, trail.view, trail.notices, trail.events, context.dispatch.clock.now())
    await context.dispatch.send(reply(t, update, text))


@admin_only
async def on_cancel(update: Update, context: Context) -> None:
    """/cancel ID [reason]"""
    arguments = words(update)
    offer_id = number(arguments[0]) if arguments else None
    user = update.effective_user
    if offer_id is None or user is None:
        await usage(update, context, "cancel")
        return
    # Without a reason, each reader is told none was given, in their own words.
    reason = " ".join(arguments[1:]) or None
    outcome = await context.dispatch.offers.cancel(
        offer_id, actor=Actor.admin(user.id).encode(), by=By(user.first_name), reason=reason
    )
    t = context.texts
    answer = t(texts.CANCEL_ANSWERS.get(outcome, texts.NOT_ALLOWED))
    if outcome is Press.NOT_YOURS:
        answer = t(texts.NO_SUCH_OFFER_ID, id=offer_id)
    await context.dispatch.send(reply(t, update, t(OFFER_ANSWER, id=offer_id, answer=answer)))


@admin_only
async def on_reopen(update: Update, context: Context) -> None:
    """/reopen ID: offer an expired offer again, or, with no time left in its window, pick a new one."""
    offer_id = await one_id(update, context, "reopen")
    user = update.effective_user
    if offer_id is None or user is None:
        return
    outcome = await context.dispatch.offers.reopen(offer_id, user.id)
    if outcome is Press.NEW_WINDOW:
        return  # the answer is the question it was sent: which new window, or cancel
    t = context.texts
    answer = t(texts.REOPEN_ANSWERS.get(outcome, texts.NOT_ALLOWED))
    await context.dispatch.send(reply(t, update, t(OFFER_ANSWER, id=offer_id, answer=answer)))


# --- stats, export, broadcast ---


@admin_only
async def on_stats(update: Update, context: Context) -> None:
    """/stats [AREA] [DAYS]: the numbers per area over its last DAYS local days, then a PNG chart,
    both sent by the builder (bot.exports_worker): counting is not done inside this update."""
    arguments = words(update)
    days = next((int(word) for word in arguments if word.isdigit()), 7)
    areas = [word.lower() for word in arguments if not word.isdigit()]
    if len(areas) > 1 or len(arguments) > 2 or not 1 <= days <= 365:
        await usage(update, context, "stats")
        return
    if areas and areas[0] not in {area.slug for area in await context.dispatch.drivers.areas()}:
        t = context.texts
        await context.dispatch.send(reply(t, update, t(texts.NO_SUCH_AREA_SLUG, slug=areas[0])))
        return
    assert update.effective_chat is not None
    chat_id = update.effective_chat.id
    exports = context.storerun.exports
    await request_stats(context.dispatch, chat_id, days, areas[0] if areas else None, wake=exports.wake)


@admin_only
async def on_export(update: Update, context: Context) -> None:
    """/export offers|drivers [DAYS]: a CSV document (zipped when large), sent once it is built."""
    arguments = words(update)
    kind = arguments[0].lower() if arguments else ""
    days = (
        int(arguments[1])
        if len(arguments) == 2 and arguments[1].isdigit()
        else (30 if len(arguments) == 1 else 0)
    )
    if kind not in ("offers", "drivers") or not 1 <= days <= 365:
        await usage(update, context, "export")
        return
    assert update.effective_chat is not None
    # Only asked for here: the file takes seconds at scale and is built after this update
    # (bot.exports_worker), so nobody else's update waits for it.
    exports = context.storerun.exports
    chat_id = update.effective_chat.id
    await request_export(context.dispatch, chat_id, ExportKind(kind), days, wake=exports.wake)
    await context.dispatch.send(uploading(chat_id))


@admin_only
async def on_broadcast(update: Update, context: Context) -> None:
    """/broadcast AREA text…: asks to confirm, then messages every approved driver of the area."""
    text = update.effective_message.text if update.effective_message else ""
    _, _, rest = (text or "").partition(" ")
    slug, _, message = rest.strip().partition(" ")
    user = update.effective_user
    if not slug or not message.strip() or user is None or len(message) > 3000:
        await usage(update, context, "broadcast")
        return
    draft, t = (
        await context.dispatch.admin.draft_broadcast(user.id, slug.lower(), message.strip()),
        context.texts,
    )
    if draft.broadcast_id is None or draft.area is None:
        await context.dispatch.send(reply(t, update, t(texts.NO_SUCH_AREA_SLUG, slug=slug.lower())))
        return
    confirm = t.n(texts.BROADCAST_CONFIRM, draft.recipients, area=draft.area.name, text=message.strip())
    await context.dispatch.send(
        reply(t, update, confirm, keyboards.broadcast(t, draft.broadcast_id, draft.recipients))
    )


async def press_broadcast(update: Update, context: Context, button: Button, send: bool) -> str:
    """Send it / Don't send under a broadcast's confirmation."""
    user, message, t = update.effective_user, update.effective_message, context.texts
    if user is None or user.id not in context.dispatch.admin_ids:
        return t(texts.NOT_ALLOWED)
    if send:
        count = await context.dispatch.admin.send_broadcast(button.subject, user.id)
        answer = None if count is None else t.n(texts.BROADCAST_QUEUED, count)
    else:
        dropped = await context.dispatch.admin.cancel_broadcast(button.subject)
        answer = t(texts.BROADCAST_DROPPED) if dropped else None
    if answer is None:
        return t(texts.BROADCAST_GONE)
    if message is not None:
        params = {"message_id": message.message_id, "text": f"{message.text}\n\n{answer}"}
        await context.dispatch.send(Outgoing(message.chat_id, Delivery.EDIT, params))
    return answer


@admin_only
async def on_new_offer(update: Update, context: Context) -> None:
    """/newoffer store=… packages=… pay=… window=… zone=… ref=… address="…": an admin creates an offer."""
    user, t = update.effective_user, context.texts
    assert user is not None
    try:
        line = parse_order_line(arguments(update))
    except OrderLineError as error:
        problems = problem_list(t, error.problems)
        text = t(texts.OFFER_PROBLEMS, problems=problems, example=error.example)
        await context.dispatch.send(reply(t, update, text))
        return
    assert line.store is not None
    created = await context.dispatch.offers.create(
        line,
        store_code=line.store,
        by=Actor.admin(user.id),
        card_to=update.effective_chat.id if update.effective_chat else None,
    )
    if created.view is None:
        problems = problem_list(t, created.problems)
        text = t(texts.OFFER_PROBLEMS, problems=problems, example=example_line())
        await context.dispatch.send(reply(t, update, text))


# --- the buttons of an admin's cards ---

ACTS = (Act.APPROVE, Act.REJECT, Act.REOPEN, Act.PAGE, Act.BROADCAST_SEND, Act.BROADCAST_DROP)


async def press(button: Button, update: Update, context: Context) -> str | None:
    """An admin's button: decide an application, re-offer, turn a list's page, send a broadcast."""
    user, t = update.effective_user, context.texts
    assert user is not None
    match button.act:
        case Act.APPROVE | Act.REJECT:
            approve = button.act is Act.APPROVE
            decision = await context.dispatch.drivers.decide(
                button.subject, user.id, user.first_name, approve
            )
            return t(texts.DECISION_ANSWERS[decision])
        case Act.REOPEN:
            return t(texts.PRESS_ANSWERS[await context.dispatch.offers.reopen(button.subject, user.id)])
        case Act.PAGE:
            return await turn_page(update, context, button)
        case Act.BROADCAST_SEND | Act.BROADCAST_DROP:
            return await press_broadcast(update, context, button, send=button.act is Act.BROADCAST_SEND)
    return t(texts.STALE_BUTTON)


ROUTES: dict[str, Handler] = {
    "newoffer": on_new_offer,
    "offers": on_offers,
    "offer": on_offer,
    "cancel": on_cancel,
    "reopen": on_reopen,
    "drivers": on_drivers,
    "driver": on_driver,
    "approve": on_approve,
    "reject": on_reject,
    "suspend": on_suspend,
    "reinstate": on_reinstate,
    "areas": on_areas,
    "area": on_area,
    "stores": on_stores,
    "addstore": on_add_store,
    "invite": on_invite,
    "stats": on_stats,
    "export": on_export,
    "broadcast": on_broadcast,
}


def register(application: App) -> None:
    """The admins' commands and buttons."""
    for name, route in ROUTES.items():
        application.add_handler(CommandHandler(name, route))
    application.add_handler(CallbackQueryHandler(buttons(press, admin=True), pattern=pattern(*ACTS)))
