"""The store staff's routes (a private chat or the store's group): linking by invite, orders from the
store's chat (one line or step by step), today's orders, and the buttons under them."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import keyboards, texts
from bot.callbacks import Act, Button, pattern
from bot.chat import Context, reply
from bot.i18n import N_, Words
from bot.problems import problem_list, problem_text
from bot.routes.guards import App, Handler, arguments, buttons
from dispatch.offers import Created
from dispatch.orders import OrderLineError, example_line, parse_order_line
from dispatch.stores import DraftState

ORDER_COMMAND = "/neworder"
# Translators: {summary} is a line per field as typed in an order line: "packages: 2", "pay: 18.50" …
NEW_ORDER = N_("New order:\n{summary}")
NOT_CREATED, CREATED = N_("Not created."), N_("Order created.")
STEP_TAKEN = N_("OK")  # a step of /neworder answered with a button


async def redeem_invite(update: Update, context: Context, token: str) -> None:
    """/start TOKEN from an invite link: the person becomes staff of its store."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    outcome, store = await context.dispatch.stores.redeem(token, user.id, chat.id)
    name, t = f"{store.name} ({store.code})" if store else "", context.texts
    await context.dispatch.send(reply(t, update, t(texts.LINKED[outcome], store=name)))


async def on_unlink(update: Update, context: Context) -> None:
    """/unlink: stop being staff of every store this chat serves."""
    assert update.effective_chat is not None and update.effective_user is not None
    t = context.texts
    left = await context.dispatch.stores.unlink(update.effective_chat.id, update.effective_user.id)
    text = t(texts.UNLINKED, codes=", ".join(left)) if left else t(texts.NOT_STAFF)
    await context.dispatch.send(reply(t, update, text))


def _created_reply(t: Words, created: Created) -> str | None:
    if created.view is not None:
        return None
    problems = problem_list(t, created.problems)
    return t(
        texts.OFFER_PROBLEMS, problems=problems, example=example_line(ORDER_COMMAND, store_required=False)
    )


async def on_new_order(update: Update, context: Context) -> None:
    """/neworder …: staff create an order for their store; alone, it asks step by step."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    t = context.texts
    line_given = arguments(update)
    if not line_given:
        state = await context.dispatch.stores.start_draft(chat.id)
        if state is None:
            await context.dispatch.send(reply(t, update, t(texts.NOT_STAFF)))
            return
        await ask_step(update, context, state)
        return
    try:
        line = parse_order_line(line_given, command=ORDER_COMMAND, store_required=False)
    except OrderLineError as error:
        problems = problem_list(t, error.problems)
        text = t(texts.OFFER_PROBLEMS, problems=problems, example=error.example)
        await context.dispatch.send(reply(t, update, text))
        return
    created = await context.dispatch.stores.order(chat.id, user.id, line)
    problem = _created_reply(t, created)
    if problem is not None:
        await context.dispatch.send(reply(t, update, problem))


async def ask_step(update: Update, context: Context, state: DraftState) -> None:
    """Ask for the draft's current step, with buttons where there are choices."""
    t = context.texts
    problem = problem_text(t, state.problem) if state.problem else ""
    prefix = f"⚠️ {problem[:1].upper()}{problem[1:]}.\n" if problem else ""
    if state.step == "confirm":
        summary = "\n".join(f"{name}: {value}" for name, value in state.fields.items())
        await context.dispatch.send(
            reply(t, update, t(NEW_ORDER, summary=summary), keyboards.draft_confirm(t))
        )
        return
    prompt = prefix + t(texts.DRAFT_PROMPTS[state.step], store=state.store.name)
    markup = None
    if state.step == "store":
        assert update.effective_chat is not None
        codes = [store.code for store in await context.dispatch.stores.stores_of(update.effective_chat.id)]
        markup = keyboards.draft_choices(codes, [code.lower() for code in codes])
    elif state.step == "packages":
        markup = keyboards.draft_choices(["1", "2", "3", "4", "5"], ["1", "2", "3", "4", "5"])
    elif state.step == "window":
        async with context.dispatch.db.read() as tx:
            area = await tx.areas.by_id(state.store.area_id)
        assert area is not None
        windows = context.dispatch.stores.window_choices(area.tz, context.dispatch.clock.now())
        markup = keyboards.draft_choices(windows, [window.replace(":", "") for window in windows])
    await context.dispatch.send(reply(t, update, prompt, markup))


async def answer_step(update: Update, context: Context, value: str) -> bool:
    """A typed answer to the draft's step; False if this chat has no draft waiting for typing."""
    assert update.effective_chat is not None
    state = await context.dispatch.stores.draft(update.effective_chat.id)
    if state is None or state.step not in ("pay", "zone", "ref", "address", "window", "packages"):
        return False
    answered = await context.dispatch.stores.answer_draft(update.effective_chat.id, value)
    if answered is not None:
        await ask_step(update, context, answered)
    return True


async def press_draft(update: Update, context: Context, button: Button) -> str:
    """A button answering a step (store, packages, window), or Create order / Cancel."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    stores, t = context.dispatch.stores, context.texts
    if button.act is Act.DRAFT_CANCEL:
        return t(texts.DRAFT_DROPPED if await stores.drop_draft(chat.id) else texts.DRAFT_GONE)
    if button.act is Act.DRAFT_CONFIRM:
        created = await stores.confirm_draft(chat.id, user.id)
        problem = _created_reply(t, created)
        if problem is not None:
            await context.dispatch.send(reply(t, update, problem))
            return t(NOT_CREATED)
        return t(CREATED)
    state = await stores.draft(chat.id)
    if state is None or button.arg is None:
        return t(texts.DRAFT_GONE)
    value = button.arg
    if state.step == "window" and len(value) == 9:  # "1400-1430" travels without colons
        value = f"{value[:2]}:{value[2:4]}-{value[5:7]}:{value[7:]}"
    answered = await stores.answer_draft(chat.id, value)
    if answered is None:
        return t(texts.DRAFT_GONE)
    await ask_step(update, context, answered)
    return t(STEP_TAKEN)


async def on_orders(update: Update, context: Context) -> None:
    """/orders: today's orders of the store(s) with their state; Cancel for those not picked up."""
    assert update.effective_chat is not None
    t = context.texts
    if not await context.dispatch.stores.stores_of(update.effective_chat.id):
        await context.dispatch.send(reply(t, update, t(texts.NOT_STAFF)))
        return
    if not await context.dispatch.stores.show_orders(update.effective_chat.id):
        await context.dispatch.send(reply(t, update, t(texts.NO_ORDERS_TODAY)))


async def press_staff_cancel(update: Update, context: Context, button: Button) -> str:
    """Cancel #N under /orders: only the store's own orders, only before pickup."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    outcome = await context.dispatch.stores.cancel(button.subject, chat.id, user.id)
    return context.texts(texts.CANCEL_ANSWERS.get(outcome, texts.STALE_BUTTON))


# --- the buttons under a store's orders (in a group too: the staff may share one chat) ---

# An order left with no time in its window: a new window or Cancel order (its store's staff or an admin).
ACTS = (
    Act.STAFF_CANCEL,
    Act.DRAFT,
    Act.DRAFT_CONFIRM,
    Act.DRAFT_CANCEL,
    Act.NEW_WINDOW,
    Act.DROP_WAITING,
)


async def press(button: Button, update: Update, context: Context) -> str | None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    offers, t = context.dispatch.offers, context.texts
    match button.act:
        case Act.STAFF_CANCEL:
            return await press_staff_cancel(update, context, button)
        case Act.DRAFT | Act.DRAFT_CONFIRM | Act.DRAFT_CANCEL:
            return await press_draft(update, context, button)
        case Act.NEW_WINDOW:
            chosen = await offers.new_window(
                button.subject, button.arg or "", user_id=user.id, chat_id=chat.id, name=user.first_name
            )
            return t(texts.WINDOW_ANSWERS[chosen])
        case Act.DROP_WAITING:
            dropped = await offers.drop_waiting(
                button.subject, user_id=user.id, chat_id=chat.id, name=user.first_name
            )
            return t(texts.CANCEL_ANSWERS.get(dropped) or texts.WINDOW_ANSWERS[dropped])
    return t(texts.STALE_BUTTON)


ROUTES: dict[str, Handler] = {"neworder": on_new_order, "orders": on_orders, "unlink": on_unlink}


def register(application: App) -> None:
    """The staff's commands and buttons."""
    for name, route in ROUTES.items():
        application.add_handler(CommandHandler(name, route))
    application.add_handler(CallbackQueryHandler(buttons(press, private=False), pattern=pattern(*ACTS)))
