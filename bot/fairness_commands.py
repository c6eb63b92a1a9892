"""Fairness for everyone: /fairness shows how offers are awarded, /why explains an award (all of
it to an admin, their own copy to a driver)."""

from __future__ import annotations

from telegram import Update

from bot import texts
from bot.admin_commands import one_id
from bot.chat import Context, reply


async def on_fairness(update: Update, context: Context) -> None:
    """/fairness: each area's award window and fairness order, the same for everyone."""
    user = update.effective_user
    if user is None:
        return
    areas, t = await context.dispatch.fairness.areas(user.id), context.texts
    await context.dispatch.send(reply(t, update, texts.fairness(t, areas)))


async def on_why(update: Update, context: Context) -> None:
    """/why ID: an admin sees every copy of the offer and the award; a driver, why not them."""
    user = update.effective_user
    if user is None:
        return
    offer_id = await one_id(update, context, "why")
    if offer_id is None:
        return
    fairness, t = context.dispatch.fairness, context.texts
    if user.id in context.dispatch.admin_ids:
        explanation = await fairness.explain(offer_id)
        text = (
            t(texts.NO_SUCH_OFFER_ID, id=offer_id)
            if explanation is None
            else texts.explanation(t, explanation)
        )
    else:
        text = texts.why_not(t, await fairness.why_not(offer_id, user.id))
    await context.dispatch.send(reply(t, update, text))
