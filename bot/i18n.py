"""The message catalogs and the reader's locale: words, plurals, times, days and money by Babel."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton
from babel.dates import format_time as babel_time
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

from storage.records import Language

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "storerun"
# The region of the pilot: its people read US English or US Spanish, and pay is in dollars.
LOCALES = {Language.EN: "en_US", Language.ES: "es_US"}
CURRENCY = "USD"
# CLDR puts a narrow no-break space before AM/PM; a plain one reads the same and is what people type.
_NARROW_SPACE = "\u202f"


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; it is translated where it is shown."""
    return message


def Np_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a plural form for the catalog; `Words.n` picks the form for a count."""
    return singular, plural


# How the catalog's messages are found in the code (pybabel's -k): N_ and the plural pair Np_.
KEYWORDS = {"_": None, "N_": None, "Np_": (1, 2), "ngettext": (1, 2)}


def language_of(code: str | None) -> Language:
    """The language for Telegram's `language_code`: Spanish for any "es" variant, English otherwise."""
    return Language.ES if (code or "").lower().split("-")[0] == "es" else Language.EN


def po_path(language: Language) -> Path:
    return LOCALE_DIR / language.value / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: Language) -> NullTranslations:
    """A language's catalog, compiled from its .po in memory when first asked for (no build step).
    Without its .po a language reads the msgids themselves, which are the English text."""
    path = po_path(language)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=LOCALES[language], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class Words:
    """One language's words: catalog messages with their parameters, plurals, and Babel's formats."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.locale = Locale.parse(LOCALES[language])
        self._catalog = translations(language)

    def __call__(self, message: str, **params: object) -> str:
        """A catalog message (marked with N_ where it is defined) in this language, filled in."""
        text = self._catalog.gettext(message)
        return text.format(**params) if params else text

    def n(self, forms: tuple[str, str], count: int, **params: object) -> str:
        """A message with a plural form (marked with Np_) for `count`; `{n}` in it is the count."""
        singular, plural = forms
        return self._catalog.ngettext(singular, plural, count).format(**{**params, "n": count})

    # --- formats ---

    def clock(self, at: time) -> str:
        """A wall time without the zone: "2:30 PM", "2:30 p.m."."""
        return babel_time(at, "short", locale=self.locale).replace(_NARROW_SPACE, " ")

    def _period(self, at: time) -> str:
        return babel_time(at, "a", locale=self.locale)

    def time(self, instant: datetime, tz: str) -> str:
        """An instant as local time with the zone's abbreviation: "2:15 PM PST"."""
        local = instant.astimezone(ZoneInfo(tz))
        return f"{self.clock(local.time())} {local.tzname()}"

    def day(self, day: date) -> str:
        """A local day with its weekday: "Thu, Nov 26", "jue, 26 de nov"."""
        return format_skeleton("MMMEd", day, locale=self.locale)

    def month_day(self, day: date, *, year: bool = False) -> str:
        """A local date: "Nov 26", "26 nov" (with the year: "Nov 26, 2026")."""
        return format_skeleton("yMMMd" if year else "MMMd", day, locale=self.locale)

    def window(self, start: datetime, end: datetime, tz: str, *, now: datetime) -> str:
        """A window as "2:00–2:30 PM PST", with its day first ("Thu, Nov 26, ") unless that is
        today in the zone at `now`: every caller says when now is, so tomorrow never reads as today."""
        zone = ZoneInfo(tz)
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        start_clock, end_clock = self.clock(local_start.time()), self.clock(local_end.time())
        if local_start.tzname() != local_end.tzname():
            # Only a window across a DST change gets here; each end keeps its own abbreviation.
            text = f"{start_clock} {local_start.tzname()}–{end_clock} {local_end.tzname()}"
        elif local_start.date() == local_end.date() and self._period(local_start.time()) == self._period(
            local_end.time()
        ):
            short = babel_time(local_start.time(), "h:mm", locale=self.locale)
            text = f"{short}–{end_clock} {local_end.tzname()}"
        else:
            text = f"{start_clock}–{end_clock} {local_end.tzname()}"
        if local_start.date() != now.astimezone(zone).date():
            text = f"{self.day(local_start.date())}, {text}"
        return text

    def days(self, first: date, last: date) -> str:
        """Local days as "Nov 25", "Nov 19 – Nov 25", or with years when they differ."""
        if first == last:
            return self.month_day(last)
        with_year = first.year != last.year
        return f"{self.month_day(first, year=with_year)} – {self.month_day(last, year=with_year)}"

    def pay(self, cents: int) -> str:
        """An amount in dollars: "$18.50"."""
        return format_currency(cents / 100, CURRENCY, locale=self.locale)

    def percent(self, share: float) -> str:
        """A share as a whole percentage: "71%", "71 %"."""
        return format_percent(share, locale=self.locale).replace("\xa0", " ")

    def number(self, value: float) -> str:
        """A number as the locale writes it, with up to three decimals: "15", "0.6"."""
        return format_decimal(value, locale=self.locale)

    def either(self, items: Sequence[str]) -> str:
        """Alternatives in the locale's words: "A1 or B2", "A1, B2, or C3"."""
        return format_list(list(items), style="or", locale=self.locale)

    def decimal(self, value: float, places: int = 2) -> str:
        """A number with a fixed count of decimals, in the locale's digits: "0.21"."""
        return format_decimal(value, "0." + "0" * places, locale=self.locale)

    def duration(self, seconds: float) -> str:
        """A duration as "45s", "1m 40s" or "2h 5m" (units read the same in both languages)."""
        whole = round(seconds)
        if whole < 60:
            return f"{whole}s"
        if whole < 3600:
            return f"{whole // 60}m {whole % 60}s"
        return f"{whole // 3600}h {whole % 3600 // 60}m"
