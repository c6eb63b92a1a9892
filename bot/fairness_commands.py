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
    areas = await context.dispatch.fairness.areas(user.id)
    await context.dispatch.send(reply(update, texts.fairness(areas)))


async def on_why(update: Update, context: Context) -> None:
    """/why ID: an admin sees every copy of the offer and the award; a driver, why not them."""
    user = update.effective_user
    if user is None:
        return
    offer_id = await one_id(update, context, "why")
    if offer_id is None:
        return
    fairness = context.dispatch.fairness
    if user.id in context.dispatch.admin_ids:
        explanation = await fairness.explain(offer_id)
        text = (
            texts.NO_SUCH_OFFER_ID.format(id=offer_id)
            if explanation is None
            else texts.explanation(explanation)
        )
    else:
        text = texts.why_not(await fairness.why_not(offer_id, user.id))
    await context.dispatch.send(reply(update, text))
