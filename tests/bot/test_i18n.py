"""The reader's locale: windows, days and money in each language, and the language a Telegram user reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot import i18n
from bot.i18n import Np_, Words, language_of
from storage.records import Language

LOS_ANGELES = "America/Los_Angeles"
NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # 12:00 PM PST on Wed Nov 25


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "today", "tomorrow", "across_noon"),
    [
        (Language.EN, "2:00–2:30 PM PST", "Thu, Nov 26, 2:00–2:30 PM PST", "11:30 AM–12:30 PM PST"),
        (
            Language.ES,
            "2:00–2:30 p.m. PST",
            "jue, 26 de nov, 2:00–2:30 p.m. PST",
            "11:30 a.m.–12:30 p.m. PST",
        ),
    ],
)
def test_a_window_names_its_day_unless_it_is_today_in_the_zone(
    language: Language, today: str, tomorrow: str, across_noon: str
) -> None:
    words = Words(language)
    assert words.window(at(25, 22), at(25, 22, 30), LOS_ANGELES, now=NOW) == today
    assert words.window(at(26, 22), at(26, 22, 30), LOS_ANGELES, now=NOW) == tomorrow
    assert words.window(at(25, 19, 30), at(25, 20, 30), LOS_ANGELES, now=NOW) == across_noon
    # 2:00 PM PST on Nov 25 is 22:00 UTC; at 9 PM PST it is 05:00 UTC on Nov 26, still Nov 25 there.
    assert words.window(at(25, 22), at(25, 22, 30), LOS_ANGELES, now=at(26, 5)) == today


@pytest.mark.parametrize(
    ("language", "fall_back", "spring_forward"),
    [
        (Language.EN, "1:30 AM PDT–1:45 AM PST", "Sun, Mar 8, 1:30 AM PST–3:30 AM PDT"),
        (Language.ES, "1:30 a.m. PDT–1:45 a.m. PST", "dom, 8 de mar, 1:30 a.m. PST–3:30 a.m. PDT"),
    ],
)
def test_a_window_across_a_dst_change_keeps_each_ends_zone(
    language: Language, fall_back: str, spring_forward: str
) -> None:
    words = Words(language)
    # Clocks fall back at 2:00 AM PDT on Nov 1, 2026 (09:00 UTC) and spring forward on Mar 8 (10:00 UTC).
    assert words.window(at(1, 8, 30), at(1, 9, 45), LOS_ANGELES, now=at(1, 8)) == fall_back
    march = words.window(at(8, 9, 30, month=3), at(8, 10, 30, month=3), LOS_ANGELES, now=at(7, 20, month=3))
    assert march == spring_forward


@pytest.mark.parametrize("language", list(Language))
def test_pay_is_in_dollars_in_both_languages(language: Language) -> None:
    words = Words(language)
    assert words.pay(1850) == "$18.50"
    assert words.pay(0) == "$0.00"
    assert words.pay(123456) == "$1,234.56"
    assert words.pay(-500) == "-$5.00"


@pytest.mark.parametrize(
    ("language", "one", "week", "new_year"),
    [
        (Language.EN, "Nov 25", "Nov 19 – Nov 25", "Dec 29, 2025 – Jan 4, 2026"),
        (Language.ES, "25 nov", "19 nov – 25 nov", "29 dic 2025 – 4 ene 2026"),
    ],
)
def test_days_read_as_a_day_or_a_span_with_years_only_when_they_differ(
    language: Language, one: str, week: str, new_year: str
) -> None:
    words = Words(language)
    assert words.days(date(2026, 11, 25), date(2026, 11, 25)) == one
    assert words.days(date(2026, 11, 19), date(2026, 11, 25)) == week
    assert words.days(date(2025, 12, 29), date(2026, 1, 4)) == new_year


@pytest.mark.parametrize(
    ("language", "time", "either"),
    [(Language.EN, "2:15 PM PST", "A1, B2, or C3"), (Language.ES, "2:15 p.m. PST", "A1, B2 o C3")],
)
def test_times_numbers_and_alternatives_follow_the_locale(language: Language, time: str, either: str) -> None:
    words = Words(language)
    assert words.time(at(25, 22, 15), LOS_ANGELES) == time
    assert words.either(["A1", "B2", "C3"]) == either
    assert words.percent(0.71) == "71%"
    assert words.decimal(0.213, 2) == "0.21"
    assert (words.number(15.0), words.number(0.6)) == ("15", "0.6")
    assert (words.duration(45), words.duration(100), words.duration(7500)) == ("45s", "1m 40s", "2h 5m")


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("es-US", Language.ES),
        ("es", Language.ES),
        ("ES", Language.ES),
        ("en", Language.EN),
        ("en-GB", Language.EN),
        (None, Language.EN),
        ("", Language.EN),
        ("pt-BR", Language.EN),
    ],
)
def test_a_telegram_users_language_code_picks_the_language(code: str | None, language: Language) -> None:
    assert language_of(code) is language


def test_messages_and_plurals_fill_in_their_parameters() -> None:
    words = Words(Language.EN)
    pair = Np_("{n} try left for {ref}", "{n} tries left for {ref}")
    assert words.n(pair, 1, ref="A1") == "1 try left for A1"
    assert words.n(pair, 0, ref="A1") == "0 tries left for A1"
    assert words("Hi {name}!", name="Ana") == "Hi Ana!"
    assert words("Braces {stay} without parameters") == "Braces {stay} without parameters"


def test_a_language_without_its_catalog_reads_the_msgids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        for language in Language:
            assert not i18n.po_path(language).exists()
            assert Words(language)("Hi {name}!", name="Ana") == "Hi Ana!"
            assert Words(language).n(("{n} copy", "{n} copies"), 2) == "2 copies"
    finally:
        i18n.translations.cache_clear()


SPANISH_PO = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

msgid "Hi {name}!"
msgstr "¡Hola, {name}!"

msgid "{n} copy"
msgid_plural "{n} copies"
msgstr[0] "{n} copia"
msgstr[1] "{n} copias"
"""


def test_a_language_with_its_catalog_reads_its_translations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.po_path(Language.ES).parent.mkdir(parents=True)
    i18n.po_path(Language.ES).write_text(SPANISH_PO, encoding="utf-8")
    i18n.translations.cache_clear()
    try:
        spanish = Words(Language.ES)
        assert spanish("Hi {name}!", name="Ana") == "¡Hola, Ana!"
        assert (spanish.n(("{n} copy", "{n} copies"), 1), spanish.n(("{n} copy", "{n} copies"), 3)) == (
            "1 copia",
            "3 copias",
        )
        assert spanish("Not in the catalog") == "Not in the catalog"
        assert Words(Language.EN)("Hi {name}!", name="Ana") == "Hi Ana!"
    finally:
        i18n.translations.cache_clear()
