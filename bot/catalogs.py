"""Keeps the message catalogs in step with the code: `python -m bot.catalogs` extracts every marked
message into bot/locale/storerun.pot and merges it into each language's .po (`--check` only reports)."""

from __future__ import annotations

import argparse
import copy
import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, KEYWORDS, LOCALE_DIR, LOCALES, po_path
from storage.records import Language

ROOT = Path(__file__).resolve().parent.parent
# The packages whose messages people read: the bot renders, the domain names what it renders.
SOURCES = ("bot", "dispatch")
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
# The English catalog is the source text itself; its .po says so explicitly, message by message.
SOURCE_LANGUAGE = Language.EN
COMMENT_TAGS = ("Translators:",)
HEADER = "# storerun's messages. Written by `python -m bot.catalogs`; translators fill in the msgstr lines."


def extract() -> Catalog:
    """Every message marked in the sources (N_, Np_, _, ngettext), with its translator comments."""
    template = _new_catalog(None)
    for package in SOURCES:
        found = extract_from_dir(
            ROOT / package,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            template.add(
                message,
                locations=[(f"{package}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def _new_catalog(language: Language | None) -> Catalog:
    return Catalog(
        locale=LOCALES[language] if language else None,
        domain=DOMAIN,
        header_comment=HEADER,
        project="storerun",
        copyright_holder="storerun",
        charset="utf-8",
        fuzzy=False,
    )


def _text(catalog: Catalog, *, omit_header: bool = False) -> str:
    out = io.BytesIO()
    # No locations and sorted: the files change when a message does, not when a line moves.
    write_po(out, catalog, no_location=True, sort_output=True, omit_header=omit_header, width=100)
    return out.getvalue().decode("utf-8")


def _read(path: Path, language: Language | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=LOCALES[language] if language else None, domain=DOMAIN)


@dataclass(frozen=True, slots=True)
class Drift:
    """What differs between the code's messages and a catalog file."""

    path: Path
    missing: tuple[str, ...]  # in the code, not in the file
    stale: tuple[str, ...]  # in the file, no longer in the code
    untranslated: tuple[str, ...]  # in the file without a translation (or marked fuzzy)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.untranslated)


def _ids(catalog: Iterable[object]) -> set[str]:
    return {_key(message.id) for message in catalog if message.id}  # type: ignore[attr-defined]


def _key(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def drift(template: Catalog | None = None) -> list[Drift]:
    """How far each catalog file is from the code's messages; all clean means nothing to do."""
    template = template or extract()
    wanted = _ids(template)
    found = [_compare(TEMPLATE, None, wanted)]
    for language in Language:
        found.append(_compare(po_path(language), language, wanted))
    return found


def _compare(path: Path, language: Language | None, wanted: set[str]) -> Drift:
    if not path.exists():
        return Drift(path, tuple(sorted(wanted)), (), ())
    catalog = _read(path, language)
    have = _ids(catalog)
    untranslated: list[str] = []
    if language is not None:
        for message in catalog:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy or not all(strings):
                untranslated.append(_key(message.id))
    return Drift(
        path, tuple(sorted(wanted - have)), tuple(sorted(have - wanted)), tuple(sorted(untranslated))
    )


def update(template: Catalog | None = None) -> list[Path]:
    """Write the .pot and merge it into each .po (translations kept, new messages left to translate,
    gone ones dropped); English is filled with its source text. Returns the files written."""
    template = template or extract()
    written = [_write(TEMPLATE, _text(template))]
    for language in Language:
        path = po_path(language)
        catalog = _read(path, language) if path.exists() else _new_catalog(language)
        # A copy each: the merge takes the template's messages in, and English fills them in.
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language is SOURCE_LANGUAGE:
            for message in catalog:
                if message.id:
                    message.string = message.id
        written.append(_write(path, _text(catalog)))
    return written


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.catalogs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report what is out of date; change nothing")
    args = parser.parse_args(argv)
    template = extract()
    if not args.check:
        for path in update(template):
            print(f"wrote {path.relative_to(ROOT)}")
    status = 0
    for item in drift(template):
        name = item.path.relative_to(ROOT)
        if item.clean:
            print(f"{name}: up to date ({len(_ids(template))} messages)")
            continue
        status = 1
        print(
            f"{name}: {len(item.missing)} missing, {len(item.stale)} stale, "
            f"{len(item.untranslated)} to translate"
        )
        for message in [*item.missing, *item.untranslated][:20]:
            print(f"  {message[:100]!r}")
    return status


if __name__ == "__main__":
    sys.exit(main())
