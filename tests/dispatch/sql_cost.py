"""What a piece of work costs the database: the statements it sends and the rows they bring back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from storage.db import Database


@dataclass
class SqlCost:
    statements: list[str] = field(default_factory=list)
    rows: int = 0


@contextmanager
def sql_cost(db: Database) -> Iterator[SqlCost]:
    """Every statement sent while the block runs (an executemany counts once), and every row
    they returned: both async drivers' cursors hold a query's rows once it has run."""
    cost = SqlCost()

    def sent(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        cost.statements.append(statement)

    def returned(_conn: Any, cursor: Any, *_args: Any) -> None:
        cost.rows += len(cursor._rows)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", sent)
    event.listen(engine, "after_cursor_execute", returned)
    try:
        yield cost
    finally:
        event.remove(engine, "before_cursor_execute", sent)
        event.remove(engine, "after_cursor_execute", returned)
