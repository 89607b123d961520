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

The feed is also a table the database's owner can write. A replica therefore never trusts it
alone (:mod:`consent.replica`): a number missing below the head (a row deleted, by an outside
trigger say, or a change rolled back after it took its number) or a head behind the replica's
position, or a row at that position other than the one it applied (an older dump restored), has
it reconcile its whole index with the ledger instead.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from optinface.consent.tables import Base, IndexChange

CHANNEL = "optinface_index"


class ChangeOp(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class Change(NamedTuple):
    """One row of the feed, as a replica compares it with the one it applied last: a restored
    dump's row at the same number names another template or was written at another time."""

    seq: int
    op: str  # a ChangeOp as the service writes it; anything else is an edit
    template_id: int
    at: datetime


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


_ROWS = select(IndexChange.seq, IndexChange.op, IndexChange.template_id, IndexChange.at)


def changes_from(session: Session, seq: int, *, limit: int) -> list[Change]:
    """Up to ``limit`` changes from ``seq`` on, that one included, oldest first."""
    rows = session.execute(_ROWS.where(IndexChange.seq >= seq).order_by(IndexChange.seq)
                           .limit(limit))
    return [Change(*row) for row in rows]


def labels_after(session: Session, seq: int) -> set[int]:
    """The templates the changes after ``seq`` name: what a replica that applied up to
    ``seq`` has still to apply."""
    return set(session.scalars(select(IndexChange.template_id).where(IndexChange.seq > seq)))


def newest(session: Session) -> Change | None:
    """The feed's last row (None for an empty feed)."""
    row = session.execute(_ROWS.order_by(IndexChange.seq.desc()).limit(1)).first()
    return None if row is None else Change(*row)


def loading(session: Session) -> bool:
    """Whether a plain dump is being loaded over the ledger: some table of the ledger lacks
    its primary key (or is not there). ``psql -f`` of a ``pg_dump`` (``pg_restore`` too, but
    for ``--single-transaction``) creates each table, copies every table's rows, and only then
    adds the keys; until then the tables a replica would reconcile with are half there, and a
    row it wrote (its ``replica_reconciled`` event) could take a number the dump's rows then
    repeat, so that the key, and the rest of the restore, fail."""
    names = sorted(Base.metadata.tables)
    keyed = session.scalar(text(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid = ANY("
        "SELECT to_regclass(name) FROM unnest(CAST(:names AS text[])) AS name)"),
        {"names": names})
    return (keyed or 0) < len(names)
