"""The end of a key epoch that erasure receipts promised, kept beside its key in the key store.

An erasure receipt states ``copiesUndecryptableAt``: when the epoch key that wraps the erased
person's key in every earlier copy of the ledger is destroyed, counted from the epoch's start
with ``OPTINFACE_KEY_EPOCH_HOURS`` as in force at the erasure. A restart with a larger setting
would move the rotation later, and the key would outlive a promise already signed (red team 7,
#2). So the first promise made for an epoch is kept in the key store (outside the data
directory: SQL on the ledger cannot move it, and it goes where the epoch key goes), and the
epoch ends no later (:func:`consent.epochs.next_boundary`, the one definition of both). A
setting raised past it is logged once per process and chained once per epoch as
``key_epoch_hours_raised`` (times and hours only); the register warns of it while the epoch
lasts (:func:`raised`). The record is destroyed with the epoch key.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry, log_time, parse_log_time
from optinface.consent.keystore import KeyStore
from optinface.consent.tables import AuditEvent

if TYPE_CHECKING:  # the runtime chains the finding
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)


def _name(epoch: int) -> str:
    return f"epoch-{epoch}-promise"


DAMAGED = datetime.min.replace(tzinfo=UTC)
"""What a damaged record reads as: a promise already due, so the epoch rotates at once (and
the rotation destroys the record), never as none, which could let the epoch outlive it."""


def promised(store: KeyStore, epoch: int) -> datetime | None:
    """The earliest end an erasure receipt stated for ``epoch``, or None when none did
    (:data:`DAMAGED` for a record that is not a time with its zone, logged as an error)."""
    value = store.read_secret(_name(epoch))
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        at = None
    if at is None or at.tzinfo is None:
        logger.error("the promised end of key epoch %d in the key store is damaged: the epoch"
                     " is due at once", epoch)
        return DAMAGED
    return at


def keep(store: KeyStore, epoch: int, at: datetime) -> None:
    """Record ``at`` as what a receipt promised for ``epoch``, unless one promised earlier.

    Written before the receipt's transaction commits: a rollback leaves a promise no receipt
    made, which can only bring the rotation forward."""
    first = promised(store, epoch)
    if first is None or at < first:
        store.put_secret(_name(epoch), at.isoformat().encode("ascii"))


def forget(store: KeyStore, epochs: list[int]) -> None:
    """Destroy the records of ``epochs``, whose keys are destroyed: their promises are kept."""
    for epoch in epochs:
        store.destroy_secret(_name(epoch))


def flag_raised(runtime: Runtime, session: Session, *, epoch: int, promised_at: datetime,
                setting_ends_at: datetime) -> None:
    """Log (once per process) and chain (once per epoch) that ``OPTINFACE_KEY_EPOCH_HOURS``
    now ends ``epoch`` after what its receipts promised: it still ends then."""
    said = ("key_epoch_hours_raised", epoch)
    if said in runtime.errors_said:
        return
    hours = runtime.settings.key_epoch_hours
    runtime.error_once(
        logger, said,
        "OPTINFACE_KEY_EPOCH_HOURS is %s, which would end key epoch %d at %s, but erasure receipts"
        " promised its destruction at %s: it is destroyed then, and the setting counts from the"
        " next epoch", hours, epoch, setting_ends_at.isoformat(), promised_at.isoformat())
    if _event(session, epoch) is None:
        runtime.audit(session, Entry(
            action=AuditAction.KEY_EPOCH_HOURS_RAISED, actor=None,
            details={"epoch": epoch, "key_epoch_hours": hours,
                     "promised_at": log_time(promised_at),
                     "setting_ends_at": log_time(setting_ends_at)}))


def _event(session: Session, epoch: int) -> dict[str, object] | None:
    """The details of the ``key_epoch_hours_raised`` event naming ``epoch``, if chained."""
    return next((details for details in session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.action == str(AuditAction.KEY_EPOCH_HOURS_RAISED))
        .order_by(AuditEvent.seq.desc()))
        if isinstance(details, dict) and details.get("epoch") == epoch), None)


def raised(session: Session, epoch: int) -> datetime | None:
    """For the register, without writing: the end receipts promised for ``epoch`` (the
    ledger's current one) when a setting raised past it was chained, else None."""
    found = _event(session, epoch)
    return None if found is None else parse_log_time(found.get("promised_at"))
