"""The README and docs/ stay true to the code and point at nothing outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings
from dispatch.lifecycle import TRANSITIONS

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_lifecycle_table_of_the_design_page_is_the_codes() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    rows = re.findall(r"^\| (\w+) \| (\w+) \| (\w+) \|$", design, flags=re.MULTILINE)
    documented = {(before, action, after) for before, action, after in rows if before != "from"}
    assert documented == {
        (before.value, action.value, after.value) for (before, action), after in TRANSITIONS.items()
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_is_a_file_of_the_repository(page: Path) -> None:
    text = page.read_text()
    targets = [target for target in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in target]
    for target in targets:
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{page.name} links to {target}"
    assert "../" not in text and "/work/" not in text


def test_the_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= listed
