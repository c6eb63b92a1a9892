"""The routes, one module per role (everyone, drivers, stores, admins), each registering its own
commands (bot.commands holds them all) and its buttons' callback patterns."""

from __future__ import annotations

from bot.routes import admins, drivers, everyone, stores
from bot.routes.guards import App, Handler

# Each role's commands by name; bot.commands names the role of each (a test holds them together).
ROUTES: dict[str, dict[str, Handler]] = {
    "everyone": everyone.ROUTES,
    "drivers": drivers.ROUTES,
    "stores": stores.ROUTES,
    "admins": admins.ROUTES,
}


def register(application: App) -> None:
    """Every route: each role's commands and buttons, then the messages nobody else took."""
    everyone.register(application)
    drivers.register(application)
    stores.register(application)
    admins.register(application)
    everyone.register_last(application)
