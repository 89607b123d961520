"""``optinface keys rotate-receipt-key``: a new receipt key, the old one retired.

A receipt key that leaked can be replaced: a new Ed25519 key signs every receipt, register and
record of processing from then on; the old key's private half is destroyed in the key store
(its file shredded, or its token object destroyed) and its public half kept there, with its
retirement time and the reason, as a retired key (:mod:`consent.receipt_keys`), which
``/.well-known/optinface-keys.json`` and the register publish and against which every receipt
it signed before is still checked. The act is chained as ``receipt_key_rotated`` (the old and
new key ids and the reason, never key material) in the transaction that writes the key store,
before it commits, so a key store that refuses the write leaves the ledger as it was.

The key store is written before the ledger commits, and nothing makes the two one write: a
commit that fails (or a crash before it) leaves the key rotated and the log without its
``receipt_key_rotated``. Every start (the command run again included) chains once each
rotation the key store's retired record holds and the log does not, as
``receipt_key_rotation_adopted`` (:func:`adopt_unlogged`, logged as a warning): never the
other order, which would log a rotation a refusing key store never made.

The operator's own act, where the data directory and the key store are: on SQLite with the
server stopped (the data directory's lock); on PostgreSQL other workers may run, each asking
the key store for the key in force before it signs or checks (:mod:`consent.receipt_key_in_force`).

The material of a version 2 declaration names the receipt key (:func:`consent.declaration.
deployment`), so under such a declaration the rotation is a material change: the register
warns, and matching waits for a new declaration, as for any other (the command says so first).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import new_key
from optinface.consent.identifiers import require_reason
from optinface.consent.keys import SIGNING_KEY_NAME, public_key_of
from optinface.consent.receipt_key_in_force import put_in_force, reload
from optinface.consent.receipt_keys import (
    RETIRED_KEYS_NAME,
    RetiredKey,
    retired_from,
    with_retired,
)
from optinface.consent.receipts import published_key
from optinface.consent.runtime import Runtime
from optinface.consent.tables import AuditEvent

logger = logging.getLogger(__name__)

LOGGED = (AuditAction.RECEIPT_KEY_ROTATED, AuditAction.RECEIPT_KEY_ROTATION_ADOPTED)
"""The events that hold a rotation: the command's own, or its adoption at a start."""


@dataclass(frozen=True, slots=True)
class ReceiptKeyRotated:
    """What the rotation did: the key ids as published, and when the old key was retired."""

    old_key_id: str
    new_key_id: str
    retired_at: str
    new_public_key: str


def rotate(runtime: Runtime, *, reason: str) -> ReceiptKeyRotated:
    """Replace the receipt key (see the module docstring).

    Raises:
        InvalidRequest: ``reason`` is not one line naming no subject; nothing is changed.
        KeyStoreUnusable: the key store refused a write; the ledger is left as it was.
    """
    require_reason(reason)
    seed = new_key()
    new_public = public_key_of(seed)
    new_id = published_key(new_public).key_id
    with runtime.db.transaction() as session:
        # Under the ledger's lock: the key in force and the record as the key store holds them
        # now (another process may have rotated since this one loaded them: a stale record
        # would drop that rotation), and a retirement time no receipt signed before it, under
        # this lock, is dated after.
        keys, now = reload(runtime), runtime.clock.now()
        old_id = published_key(keys.public_key).key_id
        record = with_retired(keys.retired, RetiredKey(public_key=keys.public_key,
                                                       retired_at=now, reason=reason))
        runtime.audit(session, Entry(action=AuditAction.RECEIPT_KEY_ROTATED, actor=None,
                                     details=_details(keys.public_key, new_public, reason)))
        # The retired key first: a crash before the new key leaves the old one in force, and
        # one after, every receipt it signed checked against it.
        keys.store.put_secret(RETIRED_KEYS_NAME, record)
        keys.store.put_secret(SIGNING_KEY_NAME, seed)  # the old private half destroyed
    put_in_force(runtime, seed, retired_from(record))
    return ReceiptKeyRotated(old_key_id=old_id, new_key_id=new_id, retired_at=now.isoformat(),
                             new_public_key=new_public)


def _details(old_public: str, new_public: str, reason: str) -> dict[str, str]:
    """What the log says of a rotation: the key ids as published and the reason, never key
    material."""
    return {"old_key_id": published_key(old_public).key_id,
            "new_key_id": published_key(new_public).key_id, "reason": reason}


def adopt_unlogged(runtime: Runtime) -> list[str]:
    """At start: chain, as ``receipt_key_rotation_adopted``, each rotation the key store holds
    whose ``receipt_key_rotated`` never committed (see the module docstring), once, and log it
    as a warning. Returns the retired key ids adopted.

    A retired key is one the log holds when an event of :data:`LOGGED` names it as the old
    key; the key that replaced it is the next retired one, or the key in force. One that is
    the key in force is no rotation: a rotation stopped between the record and the new key,
    rolled back, which the command run again finishes and chains.
    """
    keys = runtime.keys
    after = [*(key.public_key for key in keys.retired), keys.public_key][1:]
    rotations = [(key, new) for key, new in zip(keys.retired, after, strict=True)
                 if key.public_key != keys.public_key]
    if not rotations:
        return []
    with runtime.db.transaction() as session:  # serialised: workers starting together chain once
        logged = {details.get("old_key_id") for details in session.scalars(
            select(AuditEvent.details).where(AuditEvent.action.in_(LOGGED)))}
        adopted = [(key, new) for key, new in rotations
                   if published_key(key.public_key).key_id not in logged]
        for key, new in adopted:
            runtime.audit(session, Entry(
                action=AuditAction.RECEIPT_KEY_ROTATION_ADOPTED, actor=None,
                details={**_details(key.public_key, new, key.reason),
                         "retired_at": key.retired_at.isoformat()}))
    ids = [published_key(key.public_key).key_id for key, _ in adopted]
    if ids:
        logger.warning("receipt keys %s were retired in the key store with no"
                       " receipt_key_rotated in the log (its commit failed, or the ledger was"
                       " restored from before): chained now as receipt_key_rotation_adopted", ids)
    return ids
