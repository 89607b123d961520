"""Regulators' orders placed again, or lifted again, at the start after a restore.

A copy of the ledger restored from before an order lacks its row, and its chained
``regulator_order`` event with it: the restore rolls the log back too, so rows and log agree on
no order (:mod:`consent.order_anchor` finds nothing) and matching would resume (red team 4,
#1). Every order placed and every lift is therefore journaled in the witness folder before it
commits (:class:`~consent.erasure_journal.OrderPlaced`,
:class:`~consent.erasure_journal.OrderLifted`), and each start sets the journal's last word on
each reference it names against the rows in force: an order the journal leaves in force that
the rows do not hold (or hold as another kind) is placed again at the journal's time, and rows
in force under a reference the journal lifted last are lifted again at the lift's time. Each is
chained as the service chains it, with ``replayed``, so the rows and the log agree again. A
reference the journal does not name (an order placed before orders were journaled) is left as
it is.

A destroy order placed again needs no destruction of its own here: each subject it erased is an
erasure the journal names, replayed before this (:func:`consent.erasure_journal.pending`), and
one it had not reached yet is erased by the sweep that finishes the order
(:func:`consent.declaration.finish_destruction`), as after a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.declaration import journaled_kind, lift_order, record_order
from optinface.consent.erasure_journal import Entry as JournalLine
from optinface.consent.erasure_journal import OrderLifted, OrderPlaced
from optinface.consent.runtime import Runtime
from optinface.consent.tables import RegulatorOrder


def replay(runtime: Runtime, journal: Sequence[JournalLine], session: Session) -> tuple[int, int]:
    """Place again and lift again, in ``session``, the orders whose rows in force are not what
    the journal last left (a copy restored from before); how many of each."""
    last: dict[str, OrderPlaced | OrderLifted] = {}
    lifted_at: dict[str, datetime] = {}
    for entry in journal:
        if isinstance(entry, OrderPlaced | OrderLifted):
            last[entry.reference] = entry
        if isinstance(entry, OrderLifted):
            lifted_at[entry.reference] = entry.at
    if not last:
        return 0, 0
    in_force: dict[str, set[str]] = {}
    for row in session.execute(select(RegulatorOrder.reference, RegulatorOrder.kind)
                               .where(RegulatorOrder.reference.in_(list(last)),
                                      RegulatorOrder.lifted_at.is_(None))):
        in_force.setdefault(row.reference, set()).add(row.kind)
    placed = lifted = 0
    for reference, entry in last.items():
        kind = journaled_kind(entry)
        held = in_force.get(reference, set())
        if held == ({str(kind)} if kind else set()):
            continue
        if held:  # lifted since, or lifted and placed again as the other kind
            at = lifted_at.get(reference, entry.at)
            lift_order(session, reference=reference, now=at)
            runtime.audit(session, Entry(action=AuditAction.REGULATOR_ORDER_LIFTED, actor=None,
                                         details={"order": reference, "at": log_time(at),
                                                  "replayed": True}))
            lifted += 1
        if kind is not None:
            record_order(session, reference=reference, kind=kind, now=entry.at,
                         recorded_by=None)
            runtime.audit(session, Entry(action=AuditAction.REGULATOR_ORDER, actor=None,
                                         details={"order": reference, "kind": str(kind),
                                                  "at": log_time(entry.at), "replayed": True}))
            placed += 1
    return placed, lifted

