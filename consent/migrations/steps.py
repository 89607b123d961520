"""Reversible schema steps the migrations share, each written once with its undo beside it.

A step is the ``(upgrade, downgrade)`` pair a migration assigns at module level
(``upgrade, downgrade = add_columns('subjects', ...)``): Alembic asks only that a version file
have callables of those names. Writing the undo next to the change, once, keeps a downgrade from
forgetting an index or dropping columns in another order than the upgrade added them.

Migrations run on deployed ledgers long after they were written, so what a step emits must
never change: a migration that needs something else gets a new function here, not a new
behaviour of an old one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

Step = tuple[Callable[[], None], Callable[[], None]]
"""``(upgrade, downgrade)``: the second undoes the first."""


def public_id() -> sa.Column[str]:
    """The ``id`` primary key of a row known by a random public identifier
    (``consent.ledger.new_id``: a prefix and 20 hex digits), 40 characters in every table."""
    return sa.Column("id", sa.String(length=40), primary_key=True)


def cascading_reference(column: str, table: str, *, nullable: bool) -> sa.Column[int]:
    """An integer ``column`` naming a row of ``table`` by its ``id``: deleting that row deletes
    this one (``ON DELETE CASCADE``), so nothing of it outlives what it belongs to."""
    return sa.Column(column, sa.Integer(), sa.ForeignKey(f"{table}.id", ondelete="CASCADE"),
                     nullable=nullable)


def add_columns(table: str, *columns: sa.Column[Any]) -> Step:
    """Add ``columns`` to ``table``, dropped again in reverse order.

    Plain ``ALTER TABLE``, never a batch table copy: with foreign keys on, dropping the old
    table during a copy cascades into the tables pointing at it (see migration 0003), and the
    large, append-only audit log is never copied."""

    def upgrade() -> None:
        for column in columns:
            op.add_column(table, column)

    def downgrade() -> None:
        for column in reversed(columns):
            op.drop_column(table, column.name)

    return upgrade, downgrade


def add_index(table: str, *columns: str, name: str | None = None) -> Step:
    """An index on ``columns`` of ``table``, named as SQLAlchemy names a column's
    ``index=True`` (``ix_<table>_<first column>``, what ``consent.tables`` declares) unless
    ``name`` is given."""
    index = name or f"ix_{table}_{columns[0]}"

    def upgrade() -> None:
        op.create_index(index, table, list(columns))

    def downgrade() -> None:
        op.drop_index(index, table_name=table)

    return upgrade, downgrade


def create_table(name: str, *elements: SchemaItem, indexed: Sequence[str] = (),
                 **options: Any) -> Step:
    """A new table of ``elements`` (columns and constraints) with an index on each column
    ``indexed`` (:func:`add_index`); the downgrade drops the indexes, then the table.
    ``options`` go to the table (``sqlite_autoincrement``)."""

    def upgrade() -> None:
        op.create_table(name, *elements, **options)

    def downgrade() -> None:
        op.drop_table(name)

    return combine((upgrade, downgrade), *(add_index(name, column) for column in indexed))


def combine(*steps: Step) -> Step:
    """One step of several: upgraded in the order given, undone in the reverse order, so
    that what a later step builds on is still there when its undo runs."""

    def upgrade() -> None:
        for step_up, _ in steps:
            step_up()

    def downgrade() -> None:
        for _, step_down in reversed(steps):
            step_down()

    return upgrade, downgrade
