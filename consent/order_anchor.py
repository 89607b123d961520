"""The regulator's orders in force as the chained audit log says, set against the rows.

A regulator's order is a row of ``regulator_orders``, which whoever holds the database can
delete, or mark lifted, or turn from a destruction into a suspension: the register would then
say no order is in force and matching would resume. Every order the service records, and every
lift, is chained in the same transaction as a ``regulator_order`` / ``regulator_order_lifted``
event carrying the order's reference (and kind), and each event carries its keyed seal, which
only the key store makes (:mod:`consent.log_seals`). So the orders in force are also what the
log says: the last vouched-for event of each reference an order, not a lift. Rows that say
otherwise (an order of the log missing, lifted or of another kind; one the log never chained)
were written from outside the service, and the gate refuses matching and enrolment
(:class:`consent.errors.RegulatorOrdersAltered`) until they agree again: an order deleted is
applied again under its reference (it is then in force, as the log says, and may be lifted).

An event counts only if its chain hash is the hash of its content (details written in place
are not) and its keyed seal holds, or it precedes the log seals' adoption point; one that does
not is a finding of its own (an order event edited to vanish must not lift its order). An event
whose action itself was rewritten is not read here: the chain's checks find it (``audit
verify``, and the witness at start).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction
from optinface.consent.log_seals import adoption_point, vouched
from optinface.consent.tables import AuditEvent, RegulatorOrder

_ORDER_EVENTS = (select(AuditEvent)
                 .where(AuditEvent.action.in_((AuditAction.REGULATOR_ORDER,
                                               AuditAction.REGULATOR_ORDER_LIFTED)))
                 .order_by(AuditEvent.seq))


def in_force_per_log(session: Session, seal_key: bytes) -> tuple[dict[str, str], list[int]]:
    """Reference -> kind of each order the log's vouched-for events leave in force, and the
    sequence numbers of the order and lift events not vouched for (edited or planted)."""
    adopted = adoption_point(session, seal_key)
    in_force: dict[str, str] = {}
    unvouched: list[int] = []
    for event in session.scalars(_ORDER_EVENTS):
        reference = event.details.get("order")
        if not (isinstance(reference, str) and vouched(seal_key, event, adopted=adopted)):
            unvouched.append(event.seq)
        elif event.action == AuditAction.REGULATOR_ORDER:
            in_force[reference] = str(event.details.get("kind"))
        else:
            in_force.pop(reference, None)
    return in_force, unvouched


def altered(session: Session, seal_key: bytes, rows: Iterable[RegulatorOrder]) -> list[str]:
    """What makes the orders' rows other than the log says: the references the two disagree
    on (sorted), then each order or lift event not vouched for (``event N``); empty when the
    rows are as the log says."""
    per_log, unvouched = in_force_per_log(session, seal_key)
    per_rows = {row.reference: row.kind for row in rows if row.lifted_at is None}
    return [*sorted(reference for reference in per_log.keys() | per_rows.keys()
                    if per_log.get(reference) != per_rows.get(reference)),
            *(f"event {seq}" for seq in unvouched)]
