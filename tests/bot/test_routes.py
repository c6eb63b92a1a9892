"""Routes per role: one registry of commands, each routed once, by the module of its audience."""

from __future__ import annotations

from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler

from bot import commands, routes
from bot.callbacks import VERSION, Act, Button
from bot.commands import Audience
from bot.i18n import Words
from bot.routes import admins, drivers, everyone, stores
from storage.records import Language


def test_every_command_of_the_registry_is_routed_once_by_its_roles_module() -> None:
    routed = {name: audience for audience, table in routes.ROUTES.items() for name in table}
    assert routed == {command.name: command.audience.value for command in commands.COMMANDS}
    assert sum(len(table) for table in routes.ROUTES.values()) == len(commands.COMMANDS)


def test_the_menus_help_and_usage_lines_come_from_the_registry() -> None:
    en = Words(Language.EN)
    everyone_menu = [name for name, _ in commands.menu(en, commands.EVERYONE_MENU)]
    admin_menu = [name for name, _ in commands.menu(en, commands.ADMIN_MENU)]
    assert everyone_menu == [c.name for c in commands.of(*commands.EVERYONE_MENU) if c.in_menu]
    assert "newoffer" in admin_menu and "newoffer" not in everyone_menu
    assert ("status", "Drivers: Your day and your offers") in commands.menu(en, commands.EVERYONE_MENU)
    assert commands.usage(en, "driver") == "/driver ID" and commands.usage(en, "areas") == "/areas"
    assert "/driver ID: One driver's profile" in commands.help_lines(en, Audience.ADMINS)


def test_every_act_is_routed_by_exactly_one_role() -> None:
    owners = [
        *drivers.ACTS,
        *stores.ACTS,
        *admins.ACTS,
        Act.LANGUAGE,  # everyone's
    ]
    assert sorted(owners) == sorted(Act) and len(owners) == len(set(owners))


def test_a_button_reaches_the_route_of_its_role_by_pattern() -> None:
    application = ApplicationBuilder().token("1:T").updater(None).build()
    routes.register(application)
    handlers = [handler for group in application.handlers.values() for handler in group]
    patterns = [h for h in handlers if isinstance(h, CallbackQueryHandler) and h.pattern is not None]
    assert len([h for h in handlers if isinstance(h, CommandHandler)]) == len(commands.COMMANDS)

    def routed(act: Act) -> list[object]:
        data = Button(act=act, subject=1).pack()
        return [h.callback for h in patterns if h.pattern is not None and h.pattern.match(data)]  # type: ignore[union-attr]

    for act in Act:
        assert len(routed(act)) == 1, act
    assert not [h for h in patterns if h.pattern.match(f"{VERSION + 1}:acc:1")]  # type: ignore[union-attr]
    assert everyone.ROUTES["language"] is everyone.on_language
