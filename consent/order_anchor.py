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

The gate runs the check whenever the register's rows or the events it reads change
(:class:`consent.declaration.RegisterReads`), so an order whose row is deleted, by SQL or by a
trigger as it is inserted, is refused by every worker at its next match or enrolment. ``audit
verify`` runs it too, with the key store, on a log that otherwise verifies
(:func:`consent.audit_verify.verify_log`), and names each order the rows contradict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction
from optinface.consent.log_seals import adoption_point, vouched
from optinface.consent.tables import AuditEvent, RegulatorOrder

_ORDER_ACTIONS = (AuditAction.REGULATOR_ORDER, AuditAction.REGULATOR_ORDER_LIFTED)
ACTIONS_READ = (*_ORDER_ACTIONS, AuditAction.LOG_SEALS_ADOPTED)
"""The actions of the events the check reads (the orders, the lifts and the seals' adoption
point): a cache of its verdict is valid only while these events are as they were
(:class:`consent.declaration.RegisterReads`)."""
_ORDER_EVENTS = (select(AuditEvent)
                 .where(AuditEvent.action.in_(_ORDER_ACTIONS))
                 .order_by(AuditEvent.seq))


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One way the orders' rows are not what the log says."""

    name: str
    """The order's reference, or ``event N``: an order or lift event not vouched for."""
    seq: int | None
    """The event the rows contradict: the log's last word on the reference, or the event not
    vouched for; None: the log never named the reference (a row it never chained)."""
    what: str
    """In words, for ``audit verify``."""


def _per_log(session: Session, seal_key: bytes) -> tuple[dict[str, AuditEvent], list[int]]:
    """Reference -> the vouched-for order or lift event that is the log's last word on it, and
    the sequence numbers of the order and lift events not vouched for (edited or planted)."""
    adopted = adoption_point(session, seal_key)
    last: dict[str, AuditEvent] = {}
    unvouched: list[int] = []
    for event in session.scalars(_ORDER_EVENTS):
        reference = event.details.get("order")
        if isinstance(reference, str) and vouched(seal_key, event, adopted=adopted):
            last[reference] = event
        else:
            unvouched.append(event.seq)
    return last, unvouched


def _kind(event: AuditEvent | None) -> str | None:
    """The kind of order an event leaves in force; None: none (a lift, or no event)."""
    if event is None or event.action != AuditAction.REGULATOR_ORDER:
        return None
    return str(event.details.get("kind"))


def disagreements(session: Session, seal_key: bytes,
                  rows: Iterable[RegulatorOrder]) -> list[Disagreement]:
    """Where the orders' rows are other than the log says: the references the two disagree on
    (sorted), then each order or lift event not vouched for; empty when the rows are as the log
    says."""
    per_log, unvouched = _per_log(session, seal_key)
    per_rows = {row.reference: row.kind for row in rows if row.lifted_at is None}
    found = []
    for reference in sorted(per_log.keys() | per_rows.keys()):
        event = per_log.get(reference)
        logged, held = _kind(event), per_rows.get(reference)
        if logged == held:
            continue
        said = ("never chained" if event is None
                else f"lifted by event {event.seq}" if logged is None
                else f"in force as {logged} since event {event.seq}")
        found.append(Disagreement(
            name=reference, seq=None if event is None else event.seq,
            what=f"order {reference}: {said} in the log, "
                 + (f"in force as {held} in the rows" if held else "no row in force")))
    return [*found, *(Disagreement(name=f"event {seq}", seq=seq,
                                   what=f"event {seq}: an order or lift not as the service"
                                        " chained it") for seq in unvouched)]


def altered(session: Session, seal_key: bytes, rows: Iterable[RegulatorOrder]) -> list[str]:
    """The names of the :func:`disagreements`: what the gate refuses by."""
    return [found.name for found in disagreements(session, seal_key, rows)]
