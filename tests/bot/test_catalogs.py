"""The catalogs: in step with the code, complete in every language, and the only place words live."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot import catalogs
from bot.i18n import DOMAIN, LOCALES, Words, po_path
from storage.records import Language

ROOT = Path(catalogs.__file__).resolve().parent.parent

# Modules whose strings are for the operator or for machines, never for a person in a chat:
# the command line and its settings errors, the HTTP endpoints, metric names, the catalog tool.
OPERATOR_MODULES = {
    "bot/cli.py",
    "bot/config.py",
    "bot/web.py",
    "bot/metrics.py",
    "bot/catalogs.py",
    "bot/i18n.py",
    "bot/app.py",  # wiring: the names of its jobs, for the log
    "bot/leader.py",  # the election among instances: SQL and what it tells the operator's log
    "bot/startup.py",  # what start-up tells the operator's terminal
    "bot/sender.py",  # sends what was rendered before; its own words are errors for the log
    "dispatch/retention.py",  # what a prune deleted, for the operator's log
}
# Calls whose string arguments are catalog messages, log lines or Bot API parameter names.
CATALOG_CALLS = {"N_", "Np_", "_", "gettext", "ngettext"}
LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# A literal reads as words to a person when it has two words or is one capitalised word ("Skip").
# (A dot joins words only with a space after it: "stats.png" is a file name, not a sentence.)
WORDS = re.compile(r"[^\W\d_]{2,}(?:[ ,:;!?'’]|\.\s)+[^\W\d_]{2,}|^[A-Z][a-z]{2,}$")
# Literals that read like words but are settings of a library, each with why it stays.
NOT_WORDS = {
    "outside upper right": "matplotlib's legend position",
    "message is not modified": "Telegram's error description, matched",
    "unknown error": "the inbox's record of a failed update, for the operator",
    "handler failed": "the inbox's record of a failed update, for the operator",
    "another poller or a webhook holds the updates": "a warning in the operator's log",
    # The order line's syntax is typed as is in every language: it is shown as it must be typed.
    'packages=2 pay=18.50 window=14:00-14:30 zone=89109 ref=A123 address="3200 Las Vegas Blvd S, '
    'Las Vegas, NV 89109"': "the example order line, typed as is",
}
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _catalog(language: Language) -> list[object]:
    with po_path(language).open("rb") as po:
        return [message for message in read_po(po, locale=LOCALES[language], domain=DOMAIN) if message.id]


def test_the_catalogs_are_in_step_with_the_code() -> None:
    """A message added, changed or dropped in the code is in the .pot and every .po, translated:
    `python -m bot.catalogs` brings them in step, and a translator fills what it leaves empty."""
    drift = [item for item in catalogs.drift() if not item.clean]
    assert not drift, "\n".join(
        f"{item.path.relative_to(ROOT)}: missing {list(item.missing)[:5]}, stale {list(item.stale)[:5]}, "
        f"untranslated {list(item.untranslated)[:5]}"
        for item in drift
    )


def test_the_catalogs_hold_the_messages_people_read() -> None:
    assert len(_catalog(Language.ES)) > 300


@pytest.mark.parametrize("language", list(Language))
def test_every_translation_keeps_the_placeholders_of_its_message(language: Language) -> None:
    """A translation that drops, renames or invents a {placeholder} would fail when it is shown."""
    wrong = []
    for message in _catalog(language):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)  # type: ignore[attr-defined]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)  # type: ignore[attr-defined]
        wanted = set().union(*(_placeholders(one) for one in ids))
        for translated in strings:
            # A singular form may say "one" in words instead of {n}; nothing else may go missing.
            have = _placeholders(translated)
            if not have <= wanted or wanted - have - {"n"}:
                wrong.append((ids[0], translated))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize("language", list(Language))
def test_every_message_renders_in_every_language(language: Language) -> None:
    words = Words(language)
    for message in _catalog(Language.EN):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)  # type: ignore[attr-defined]
        params = {name: "x" for one in ids for name in _placeholders(one)}
        if len(ids) == 2:
            for count in (0, 1, 2, 5):
                assert words.n((ids[0], ids[1]), count, **{**params, "n": count})
        else:
            assert words(ids[0], **params)


def test_spanish_is_spanish() -> None:
    """The Spanish catalog translates, not copies: most messages differ from their English."""
    messages = _catalog(Language.ES)
    same = [m.id for m in messages if m.string == m.id and len(str(m.id)) > 12]  # type: ignore[attr-defined]
    assert len(same) < len(messages) // 20, same[:10]


# --- no words outside the catalog ---


def literals_outside_the_catalog(source: str) -> Iterator[tuple[int, str]]:
    """The string literals in this module's source that read as words to a person and are not
    catalog messages, docstrings, log lines or exception messages (for the developer)."""
    tree = ast.parse(source)
    skipped: set[int] = set()

    def skip(node: ast.AST) -> None:
        skipped.update(id(inner) for inner in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skip(body[0])
        elif isinstance(node, ast.Raise | ast.Assert):
            skip(node)
        elif isinstance(node, ast.Call) and _is_super_init(node):
            skip(node)  # an exception's message, for the developer, like a raise
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in CATALOG_CALLS or name in LOG_CALLS:
                skip(node)
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        text = PLACEHOLDER.sub(" ", node.value).strip()
        if WORDS.search(text) and node.value not in NOT_WORDS:
            yield node.lineno, node.value


def test_the_lint_finds_a_new_untranslated_text() -> None:
    source = '''
"""A module."""
from bot.i18n import N_
GOOD = N_("Your offer is ready")
def f(update):
    """Says hi."""
    log.info("sent a message to %s", update)
    reply(update, "Sorry, that didn't work")
    return {"text": f"Offer {update}: taken by another driver.", "reply_markup": None}
'''
    found = [text for _, text in literals_outside_the_catalog(source)]
    assert found == ["Sorry, that didn't work", "Offer ", ": taken by another driver."]


def _is_super_init(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
    )


def _modules() -> Iterator[Path]:
    for package in catalogs.SOURCES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_words_a_person_reads_live_outside_the_catalog() -> None:
    found = []
    for path in _modules():
        name = path.relative_to(ROOT).as_posix()
        if name in OPERATOR_MODULES:
            continue
        found += [f"{name}:{line}: {text!r}" for line, text in literals_outside_the_catalog(path.read_text())]
    assert not found, "\n".join(found)
