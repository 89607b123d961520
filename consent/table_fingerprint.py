"""A digest of some tables' rows, read in the transaction that uses a copy of them.

A cache of rows kept between requests is valid only while the rows are as they were read. A
counter of this process's writes (:mod:`consent.table_writes`) misses every other writer: a
``sqlite3`` shell on the file, another process, another PostgreSQL worker. A version table bumped
by database triggers misses a writer that turns triggers off for its own connection (the
``sqlite3`` shell's ``.dbconfig enable_trigger off``, PostgreSQL's triggers dropped or disabled by
the tables' owner). A digest of the rows themselves, read in the very transaction that serves the
copy, misses no writer: the copy is served only if the rows it was read from are still, byte for
byte, what the database holds now.

It costs one statement, a ``UNION ALL`` of each row's columns as text: meant for small tables
(the register's few purposes, declarations, orders and translations) and for the few rows of a
large one that an index finds (:func:`rows_where`: the log's order events), far cheaper than
loading them into objects and checking their seals, which it spares when nothing changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import reduce

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    FromClause,
    String,
    cast,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session

# Control characters no column of ours holds (PostgreSQL's text holds no NUL at all).
_NULL = "\x1e"  # a NULL column, told apart from an empty string
_BETWEEN = "\x1f"  # between two columns


def _constant(text: str) -> ColumnElement[str]:
    """``text`` written into the statement, not bound: a statement with no parameters is
    executed as it is, with none to process on each call."""
    return literal_column(f"'{text}'", String)


def _row_text(table: FromClause) -> ColumnElement[str]:
    columns = [func.coalesce(cast(column, String), _constant(_NULL)) for column in table.columns]
    return reduce(lambda text, column: text + _constant(_BETWEEN) + column, columns,
                  _constant(str(table.description)))


def rows_where(table: FromClause, column: str, values: Sequence[str], *, name: str) -> FromClause:
    """The rows of ``table`` whose ``column`` holds one of ``values``, named ``name``, for
    :func:`statement`: the values written into the statement, as :func:`_constant` writes."""
    assert not any("'" in value for value in values), "a value quoted into the statement"
    return select(table).where(table.c[column].in_([_constant(value) for value in values])) \
        .subquery(name)


def statement(tables: Sequence[FromClause]) -> CompoundSelect:
    """The statement :func:`fingerprint` runs for ``tables``: built once per cache."""
    return union_all(*(select(_row_text(table).label("row")) for table in tables))


def fingerprint(session: Session, rows: CompoundSelect) -> str:
    """SHA-256 of the rows ``rows`` (a :func:`statement`) reads in ``session``'s transaction,
    in an order of their own (the database returns them in any)."""
    digest = hashlib.sha256()
    for text in sorted(session.scalars(rows)):
        digest.update(text.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
