"""How a simulated person, or a test, finds the bot's words in a chat: by the catalog's message, as
the bot renders it, never by English copied next to the code that looks for it.

A message is a template with named parameters ("Offer #{id}: {answer}"), already in the reader's
language. `part` gives its leading text up to the first parameter the reader cannot know, to look
for; `pattern` matches all of it, each unknown parameter a named group to read a value back out.
Nothing here imports the bot: the templates are handed in.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator

from sandbox.emulator import ChatMessage


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
