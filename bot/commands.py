"""The one registry of commands: who each is for, its line in the menus and its usage. It feeds the
command menus (per language), /help and the usage lines; each role's routes register their own."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.i18n import N_, Words


class Audience(StrEnum):
    """Who a command is for: its routes live in the module of that name (bot.routes)."""

    EVERYONE = "everyone"
    DRIVERS = "drivers"
    STORES = "stores"
    ADMINS = "admins"


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    audience: Audience
    about: str  # a catalog message: what it does, in a few words
    usage: str | None = None  # a catalog message: how to type it, when it takes arguments
    in_menu: bool = True  # listed in the command menus; /help lists every command of a role either way


COMMANDS: tuple[Command, ...] = (
    Command("start", Audience.EVERYONE, N_("Start here")),
    Command("help", Audience.EVERYONE, N_("What you can do")),
    Command("language", Audience.EVERYONE, N_("English or Spanish")),
    Command("fairness", Audience.EVERYONE, N_("How offers are awarded")),
    Command("why", Audience.EVERYONE, N_("Why an offer went to whom"), N_("/why OFFER_ID"), in_menu=False),
    Command("status", Audience.DRIVERS, N_("Your day and your offers")),
    Command("online", Audience.DRIVERS, N_("Start getting offers")),
    Command("offline", Audience.DRIVERS, N_("Stop getting offers")),
    Command("myoffers", Audience.DRIVERS, N_("The offers you hold")),
    Command(
        "neworder",
        Audience.STORES,
        N_("Create an order"),
        N_(
            '/neworder packages=2 pay=18.50 window=14:00-14:30 zone=89109 ref=A123 address="…" '
            "(or /neworder alone, step by step)"
        ),
    ),
    Command("orders", Audience.STORES, N_("Today's orders")),
    Command("unlink", Audience.STORES, N_("Stop being staff here")),
    Command(
        "newoffer",
        Audience.ADMINS,
        N_("Create an offer"),
        N_(
            "/newoffer store=FS-ZARA packages=2 pay=18.50 window=14:00-14:30 zone=89109 "
            'ref=A123 address="…" [date=YYYY-MM-DD] [deliver_by=HH:MM]'
        ),
    ),
    Command("offers", Audience.ADMINS, N_("The offer board"), N_("/offers [open|accepted|today|AREA]")),
    Command("offer", Audience.ADMINS, N_("One offer and its trail"), N_("/offer ID")),
    Command("cancel", Audience.ADMINS, N_("Cancel an offer"), N_("/cancel ID [reason]")),
    Command("reopen", Audience.ADMINS, N_("Offer an expired offer again"), N_("/reopen ID")),
    Command(
        "drivers", Audience.ADMINS, N_("Drivers, by status or area"), N_("/drivers [pending|online|AREA]")
    ),
    Command("driver", Audience.ADMINS, N_("One driver's profile"), N_("/driver ID")),
    Command("approve", Audience.ADMINS, N_("Approve a driver"), N_("/approve ID")),
    Command("reject", Audience.ADMINS, N_("Reject a driver"), N_("/reject ID")),
    Command("suspend", Audience.ADMINS, N_("Suspend a driver"), N_("/suspend ID")),
    Command("reinstate", Audience.ADMINS, N_("Reinstate a driver"), N_("/reinstate ID")),
    Command("areas", Audience.ADMINS, N_("Areas")),
    Command(
        "area",
        Audience.ADMINS,
        N_("Pause or resume an area; its award window and order"),
        N_("/area SLUG on|off · /area SLUG award=SECONDS · /area SLUG order=fewest-today|on-time"),
    ),
    Command("stores", Audience.ADMINS, N_("Stores"), N_("/stores [AREA]")),
    Command(
        "addstore",
        Audience.ADMINS,
        N_("Add or update a store"),
        N_('/addstore CODE area=SLUG name="Zara" where="Level 1, near Macy\'s"'),
    ),
    Command("invite", Audience.ADMINS, N_("Invite link for a store's staff"), N_("/invite STORE-CODE")),
    Command("stats", Audience.ADMINS, N_("Numbers and a chart"), N_("/stats [AREA] [DAYS]")),
    Command("export", Audience.ADMINS, N_("CSV of offers or drivers"), N_("/export offers|drivers [DAYS]")),
    Command(
        "broadcast", Audience.ADMINS, N_("Message an area's drivers"), N_("/broadcast AREA your message…")
    ),
)
BY_NAME = {command.name: command for command in COMMANDS}

# The menu everyone sees names whom a command is for; an admin's own menu holds theirs.
MENU_LINE = {Audience.DRIVERS: N_("Drivers: {about}"), Audience.STORES: N_("Stores: {about}")}
EVERYONE_MENU = (Audience.EVERYONE, Audience.DRIVERS, Audience.STORES)
ADMIN_MENU = (Audience.EVERYONE, Audience.ADMINS)
# Translators: a line of /help: a command (or how to type it) and what it does.
HELP_LINE = N_("{usage}: {about}")


def of(*audiences: Audience) -> tuple[Command, ...]:
    return tuple(command for command in COMMANDS if command.audience in audiences)


def menu(t: Words, audiences: tuple[Audience, ...]) -> list[tuple[str, str]]:
    """A command menu (setMyCommands) in one language: (name, description) pairs."""
    lines = []
    for command in of(*audiences):
        if command.in_menu:
            line = MENU_LINE.get(command.audience)
            about = t(command.about)
            lines.append((command.name, t(line, about=about) if line else about))
    return lines


def usage(t: Words, name: str) -> str:
    """How to type a command, in the reader's language."""
    command = BY_NAME[name]
    return t(command.usage) if command.usage else f"/{command.name}"


def help_lines(t: Words, audience: Audience) -> str:
    """The /help lines of a role: each of its commands, how to type it and what it does."""
    return "\n".join(
        t(HELP_LINE, usage=usage(t, command.name), about=t(command.about)) for command in of(audience)
    )
