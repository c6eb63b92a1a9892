"""How a simulated person, or a test, finds the bot's words in a chat: by the catalog's message, as
the bot renders it, never by English copied next to the code that looks for it.

A message is a template with named parameters ("Offer #{id}: {answer}"), already in the reader's
language. `part` gives its leading text up to the first parameter the reader cannot know, to look
for; `pattern` matches all of it, each unknown parameter a named group to read a value back out;
`marked` lists the messages one of the bot's functions marks inline (`N_`, `Np_`) rather than as
constants, and `message_in` / `plural_in` pick one of them. Nothing here imports the bot: the
templates and functions are handed in.
"""

from __future__ import annotations

import ast
import inspect
import re
import string
import textwrap
from collections.abc import Callable, Iterator

from sandbox.emulator import ChatMessage

# What marks a message for the catalog: a message, or a plural pair (singular, plural).
MARKERS = {"N_": 1, "Np_": 2}


def _fields(template: str) -> Iterator[tuple[str, str | None, str]]:
    """The template as (literal text, parameter or None, its format spec), in order."""
    for literal, field, spec, _ in string.Formatter().parse(template):
        yield literal, field, spec or ""


def part(template: str, **known: object) -> str:
    """The template filled in up to its first parameter not in `known`: the stable leading text of
    a message whose later parameters the reader cannot know ("📦 New offer " from "📦 New offer {title}…")."""
    text = []
    for literal, field, spec in _fields(template):
        text.append(literal)
        if field is None:
            continue
        if field not in known:
            break
        text.append(format(known[field], spec))
    return "".join(text)


def pattern(template: str, **known: object) -> re.Pattern[str]:
    """A regex for the whole filled-in template: a known parameter reads as given (or, given as a
    compiled pattern, as a named group of that form, like `code=re.compile(r"\\d{4}")`); an unknown
    one is a named group of anything on its line. Search a message's text with it."""
    regex = []
    seen: set[str] = set()
    items = list(_fields(template))
    for index, (literal, field, spec) in enumerate(items):
        regex.append(re.escape(literal))
        if field is None:
            continue
        value = known.get(field)
        if field in seen:
            regex.append(f"(?P={field})")
        elif isinstance(value, re.Pattern):
            regex.append(f"(?P<{field}>{value.pattern})")
        elif field in known:
            regex.append(re.escape(format(value, spec)))
        else:
            last = index == len(items) - 1 and not any(text or name for text, name, _ in items[index + 1 :])
            regex.append(f"(?P<{field}>.*)" if last else f"(?P<{field}>.*?)")
        seen.add(field)
    return re.compile("".join(regex))


def showing(found: re.Pattern[str] | str) -> Callable[[ChatMessage], bool]:
    """A message predicate (for `wait_for_message`): its text matches `found`, or contains it."""

    def matches(message: ChatMessage) -> bool:
        if message.text is None:
            return False
        return bool(found.search(message.text)) if isinstance(found, re.Pattern) else found in message.text

    return matches


def marked(function: Callable[..., object]) -> list[str | tuple[str, str]]:
    """The messages marked inline in a function's source, in the order written: each `N_` message,
    and each `Np_` pair. How to name a message the bot marks where it renders it, not as a constant."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    found: list[tuple[int, int, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS:
            texts = [
                argument.value
                for argument in node.args
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
            ]
            if len(texts) != MARKERS[node.func.id] or len(node.args) != len(texts):
                raise ValueError(f"{function.__qualname__}: a marked message that is not literal text")
            found.append((node.lineno, node.col_offset, texts))
    return [texts[0] if len(texts) == 1 else (texts[0], texts[1]) for *_, texts in sorted(found)]


def message_in(function: Callable[..., object], index: int = 0) -> str:
    """The message marked `index`-th (from 0, in the order written) in a function: a plain one."""
    message = marked(function)[index]
    if not isinstance(message, str):
        raise TypeError(f"{function.__qualname__} marks a plural pair there: {message[0]!r}")
    return message


def plural_in(function: Callable[..., object], index: int = 0) -> tuple[str, str]:
    """The message marked `index`-th in a function: a plural pair (singular, plural)."""
    message = marked(function)[index]
    if isinstance(message, str):
        raise TypeError(f"{function.__qualname__} marks a plain message there: {message!r}")
    return message
