"""The desks receive their collaborators in their constructors; none reaches through a shared object."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import dispatch
from bot.texts import Catalog
from dispatch.admin import AdminDesk
from dispatch.clock import FakeClock
from dispatch.dispatcher import Dispatch, Rules
from dispatch.drivers import DriverDesk
from dispatch.offers import OfferDesk
from dispatch.stores import StoreDesk
from dispatch.why import FairnessDesk
from storage.db import Database

DESKS = (OfferDesk, DriverDesk, StoreDesk, AdminDesk, FairnessDesk)
PACKAGE = Path(dispatch.__file__).parent


def _holds_the_dispatch(node: ast.expr) -> bool:
    """`self.dispatch`, `self._dispatch`, or any `x.dispatch`: an object holding the front door."""
    return isinstance(node, ast.Attribute) and node.attr.lstrip("_") == "dispatch"


def _reaches_through_dispatch(tree: ast.AST) -> list[int]:
    """Lines that keep the Dispatch on self or go through it to get at something else
    (`self.dispatch`, `d.dispatch.clock`, `self._dispatch.offers`)."""
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (
            _holds_the_dispatch(node.value)
            or (_holds_the_dispatch(node) and isinstance(node.value, ast.Name) and node.value.id == "self")
        )
    )


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_no_dispatch_module_reaches_through_the_dispatch(module: Path) -> None:
    assert _reaches_through_dispatch(ast.parse(module.read_text(), str(module))) == []


def test_the_check_catches_a_reach_through() -> None:
    source = "class A:\n    def f(self):\n        return self.dispatch.clock.now()\n"
    assert _reaches_through_dispatch(ast.parse(source)) != []
    assert _reaches_through_dispatch(ast.parse("self._dispatch.offers.on_deadline()")) != []


@pytest.mark.parametrize("desk", DESKS, ids=lambda desk: desk.__name__)
def test_each_desk_takes_its_collaborators_not_the_dispatch(desk: type) -> None:
    parameters = list(inspect.signature(desk).parameters.values())
    assert parameters, desk
    for parameter in parameters:
        assert parameter.annotation is not inspect.Parameter.empty, parameter
        # Annotations are strings here (postponed evaluation): match the name, not the class.
        assert not re.search(r"\bDispatch\b", str(parameter.annotation)), parameter


def test_the_front_door_wires_each_desk_with_the_shared_collaborators(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'storerun.db'}")  # opened lazily: never here
    clock = FakeClock()
    rules = Rules()
    front = Dispatch(db, clock, Catalog(clock), rules=rules, admin_ids=[7, 5])
    for desk in (front.offers, front.drivers, front.stores, front.admin, front.fairness):
        assert not hasattr(desk, "dispatch"), desk
        assert (desk.db, desk.clock, desk.outbound) == (db, clock, front.outbound), desk
    for desk in (front.offers, front.stores, front.admin, front.fairness):
        assert desk.rules is rules
    assert front.offers.planner is front.planner
    assert front.offers.admin_ids == front.drivers.admin_ids == front.fairness.admin_ids == frozenset({5, 7})
    assert front.drivers.offers is front.offers and front.stores.offers is front.offers
    assert front.admin.offers is front.offers and front.admin.driver_desk is front.drivers
