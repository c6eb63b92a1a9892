"""Every text the bot shows, in one place."""

from __future__ import annotations

from dispatch.dispatcher import Person

COMMANDS: list[tuple[str, str]] = [
    ("start", "Start here"),
    ("help", "What you can do"),
]

WELCOME = (
    "Hi {name}! storerun connects independent drivers with stores at Fashion Show "
    "(Las Vegas), Chandler and Tysons Corner: pick up a packed order at the store, "
    "deliver it nearby, get paid per order."
)
UNKNOWN_PERSON = (
    "Driver sign-up opens here soon. Store staff: open the invite link your program admin sent you."
)
DRIVER_BY_STATUS = {
    "pending": "Your driver application is waiting for an admin. I'll tell you here when it's decided.",
    "approved": "You're an approved driver. Offers arrive here with Accept and Decline buttons.",
    "suspended": "Your driver account is suspended, so you get no offers. Ask your program admin.",
    "rejected": "Your driver application was not accepted. Ask your program admin if this is wrong.",
}
STAFF = (
    "You're staff of {stores}. I'll tell you here when a driver accepts, picks up and delivers your orders."
)
ADMIN = "You're a storerun admin."
HELP_FOOTER = "/help shows this again."
NOT_UNDERSTOOD = "Sorry, I didn't get that. /help shows what you can do."
STALE_BUTTON = "This button is no longer active."
SOMETHING_WENT_WRONG = "Sorry, something went wrong on our side. Please try again in a minute."


def first_name(name: str | None) -> str:
    return (name or "there").split()[0] if (name or "").strip() else "there"


def help_for(person: Person, name: str | None) -> str:
    """What this person can do, by each role they hold."""
    parts = []
    if person.is_unknown:
        parts += [WELCOME.format(name=first_name(name)), UNKNOWN_PERSON]
    if person.driver is not None:
        parts.append(DRIVER_BY_STATUS.get(person.driver.status, DRIVER_BY_STATUS["pending"]))
    if person.stores:
        names = ", ".join(f"{store.name} ({store.code})" for store in person.stores)
        parts.append(STAFF.format(stores=names))
    if person.is_admin:
        parts.append(ADMIN)
    parts.append(HELP_FOOTER)
    return "\n\n".join(parts)
