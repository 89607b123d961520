"""The change feed: how one worker's enrolments and erasures reach every other worker's index.

Several ``optinface serve`` workers may share one PostgreSQL ledger; each holds its own index
replica (:mod:`consent.replica`). Every transaction that adds a template to the index or
destroys one also appends a row to ``index_changes`` (sequence number, ``add``/``remove``,
template id: nothing biometric) and ``NOTIFY``s :data:`CHANNEL`. PostgreSQL delivers the
notification when the transaction commits, never before, so a replica woken by it always finds
the row. Ledger transactions are serialised (:mod:`consent.db`), so sequence numbers are handed
out in commit order and a replica that reads "everything after my last number" misses nothing,
whether it was woken, polled, or down for a week.

Only a shared ledger records changes: the embedded SQLite default has one process and one
index, and nothing would ever read the feed.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from optinface.consent.tables import IndexChange

CHANNEL = "optinface_index"


class ChangeOp(StrEnum):
    ADD = "add"
    REMOVE = "remove"


def shared(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def record(session: Session, op: ChangeOp, labels: Collection[int], *, now: datetime) -> None:
    """Append ``labels`` to the feed in the caller's transaction, and wake the other workers
    when it commits (nothing on SQLite, see the module docstring)."""
    if not labels or not shared(session):
        return
    session.execute(insert(IndexChange), [
        {"op": str(op), "template_id": label, "at": now} for label in sorted(labels)])
    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def head(session: Session) -> int:
    """The last sequence number handed out (0 for an empty feed)."""
    return session.scalar(select(func.max(IndexChange.seq))) or 0


def changes_after(session: Session, seq: int, *, limit: int) -> list[tuple[int, ChangeOp, int]]:
    """Up to ``limit`` changes after ``seq``, oldest first: (seq, op, template id)."""
    rows = session.execute(
        select(IndexChange.seq, IndexChange.op, IndexChange.template_id)
        .where(IndexChange.seq > seq).order_by(IndexChange.seq).limit(limit))
    return [(s, ChangeOp(op), label) for s, op, label in rows]
