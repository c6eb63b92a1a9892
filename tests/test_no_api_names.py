"""The domain says what to deliver, the bot decides the call: no Bot API method name appears in
dispatch/ or storage/.

Every module there is parsed with `ast` (nothing is imported) and every string in it is looked at:
literals, docstrings and the text of f-strings; comments are read with `tokenize`. A Bot API
method is a lowerCamelCase word with one of the API's verbs ("sendMessage", "editMessageText",
"answerCallbackQuery", "getMe"); what is delivered is a storage.records.Delivery, and
bot.sender.API_METHODS maps each to its call.

storage/migrations is left out on purpose: 0014 converts the outbox's old method names into
kinds, and it must name the values it converts.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from bot.sender import API_METHODS
from storage.records import Delivery

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("dispatch", "storage")
# Migrations name the method names they convert (see the module docstring).
EXCLUDED = (ROOT / "storage" / "migrations",)

VERBS = (
    "send|edit|answer|delete|set|get|forward|copy|pin|unpin|ban|unban|restrict|promote|approve"
    "|decline|stop|leave|export|create|revoke|upload|close|log|verify|remove|refund|gift|post"
)
API_METHOD = re.compile(rf"\b(?:{VERBS})[A-Z][A-Za-z]+\b")


def _sources() -> Iterator[Path]:
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not any(path.is_relative_to(excluded) for excluded in EXCLUDED):
                yield path


def _texts(source: str) -> Iterator[tuple[int, str]]:
    """Every string constant (f-strings' literal parts included) and every comment, by line."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def _api_names(path: Path) -> list[str]:
    found = []
    for line, text in _texts(path.read_text(encoding="utf-8")):
        for name in API_METHOD.findall(text):
            found.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    return found


def test_the_pattern_knows_a_method_name_when_it_sees_one() -> None:
    source = '"""Send it."""\nX = "sendMessage"  # then editMessageText\nY = f"{X} getMe"\nZ = "settle"\n'
    names = [name for _, text in _texts(source) for name in API_METHOD.findall(text)]
    assert sorted(names) == ["editMessageText", "getMe", "sendMessage"]


def test_the_scan_sees_both_layers_and_skips_only_migrations() -> None:
    scanned = {path.relative_to(ROOT).parts[0] for path in _sources()}
    assert scanned == set(SCANNED)
    assert (ROOT / "storage" / "repos.py") in set(_sources())
    assert not any("migrations" in path.parts for path in _sources())


def test_no_bot_api_method_name_in_dispatch_or_storage() -> None:
    found = [hit for path in _sources() for hit in _api_names(path)]
    assert found == [], "Bot API method names below the bot (say what is delivered instead):\n" + "\n".join(
        found
    )


def test_the_bot_has_a_call_for_every_delivery() -> None:
    assert set(API_METHODS) == set(Delivery)
    assert all(API_METHOD.fullmatch(method) for method in API_METHODS.values())
