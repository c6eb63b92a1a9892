"""The /export files' header rows: a catalog message for every column, the codes themselves in English."""

from __future__ import annotations

import pytest

from bot.export_words import DRIVER_HEADERS, HEADERS, OFFER_HEADERS, csv_header
from bot.i18n import Words
from dispatch.exports import COLUMNS, DRIVER_COLUMNS, OFFER_COLUMNS, ExportKind
from storage.records import Language


class Marked(Words):
    """Words that show which text came from the catalog: every message between « and »."""

    def __call__(self, message: str, **params: object) -> str:
        return f"«{super().__call__(message, **params)}»"


def test_every_column_has_a_name_in_the_catalog_and_nothing_else_does() -> None:
    assert list(OFFER_HEADERS) == list(OFFER_COLUMNS)
    assert list(DRIVER_HEADERS) == list(DRIVER_COLUMNS)
    assert set(HEADERS) == set(ExportKind)


@pytest.mark.parametrize("kind", list(ExportKind))
def test_in_english_the_header_is_the_column_codes_as_files_always_had(kind: ExportKind) -> None:
    assert csv_header(Words(Language.EN), kind) == list(COLUMNS[kind])


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(ExportKind))
def test_the_header_is_each_columns_message_in_the_readers_language(
    language: Language, kind: ExportKind
) -> None:
    t = Words(language)

    assert csv_header(Marked(language), kind) == [f"«{t(HEADERS[kind][column])}»" for column in COLUMNS[kind]]
