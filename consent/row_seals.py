"""Row seals: the rows that grant something carry a keyed MAC the key store alone can make.

A passkey credential lets whoever holds its private key act as the person; a subject's opt-in
puts them in every 1:N gallery; a register declaration opens matching. Each is one row of the
ledger, which whoever holds a copy of the database can write: plant their own passkey for a
person, set ``searchable``, change the material a declaration covers. The HMAC key lives in
the key store, apart from the data (:mod:`consent.keys`), so each such row is sealed when the
service writes it, with HMAC-SHA256 under that key over exactly the fields that grant
something, and each use checks the seal: a row written or edited without the key store grants
nothing (:func:`passkey_sealed`, :func:`opted_in`, :func:`declaration_sealed`).

Rows written before the seals existed (migration 0030) are sealed once, at the first start
after the upgrade, and that adoption is chained with its counts (:func:`adopt_once`): from then
on an unsealed row grants nothing. Whoever holds the key store can seal anything, and a row
planted before the upgrade was sealed with the others; an opt-in's seal names no time, so a
seal copied from an older copy of the same person's row opts them in again (the witness
journal's opt-outs, replayed at start, undo that): see the README, "Keys, backups and erasure".
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import canonical_json
from optinface.consent.errors import PasskeyUnsealed
from optinface.consent.keys import KeyRing
from optinface.consent.runtime import Runtime
from optinface.consent.tables import AuditEvent, PasskeyCredential, RegisterDeclaration, Subject


class RowKind(StrEnum):
    """What a seal vouches for; each kind is its own HMAC domain, so no seal passes for
    another kind's."""

    PASSKEY = "passkey"
    OPT_IN = "opt-in"
    DECLARATION = "declaration"


def seal(keys: KeyRing, kind: RowKind, fields: Mapping[str, Any]) -> str:
    """The seal of a row of ``kind`` whose granting fields are ``fields`` (canonical JSON)."""
    return keys.keyed_hash(canonical_json(dict(fields)).decode("utf-8"),
                           domain=f"row-seal:{kind}")


def matches(keys: KeyRing, kind: RowKind, fields: Mapping[str, Any], found: str | None) -> bool:
    """Whether ``found`` is the seal of these fields (constant time); a missing one never is."""
    return found is not None and hmac.compare_digest(found, seal(keys, kind, fields))


# Passkeys -------------------------------------------------------------------------------------
def _passkey_fields(session: Session, credential: PasskeyCredential) -> dict[str, Any]:
    """Whose passkey, in which capacity, and the public key that checks its signatures. The
    subject by pseudonym: a row moved to another subject's id is another subject's."""
    subject = (session.get(Subject, credential.subject_id)
               if credential.subject_id is not None else None)
    return {"id": credential.id, "subject": subject.pseudonym if subject else None,
            "capacity": credential.capacity, "publicKey": credential.public_key.hex()}


def seal_passkey(keys: KeyRing, session: Session, credential: PasskeyCredential) -> None:
    credential.seal = seal(keys, RowKind.PASSKEY, _passkey_fields(session, credential))


def passkey_sealed(keys: KeyRing, session: Session, credential: PasskeyCredential) -> bool:
    return matches(keys, RowKind.PASSKEY, _passkey_fields(session, credential), credential.seal)


def require_sealed_passkey(keys: KeyRing, session: Session,
                           credential: PasskeyCredential) -> None:
    """Refuse (:class:`PasskeyUnsealed`) a passkey the service did not register: it signs
    nothing, wherever a passkey signs. ``details.subject`` names whose it claims to be, for the
    refused event: only someone who wrote the database can present such a row."""
    if not passkey_sealed(keys, session, credential):
        fields = _passkey_fields(session, credential)
        raise PasskeyUnsealed(
            "this passkey was not registered through this service (its record carries no valid"
            " seal): it signs nothing here", details={"subject": fields["subject"],
                                                      "capacity": credential.capacity})


# The opt-in to 1:N search ---------------------------------------------------------------------
def _opt_in_fields(pseudonym: str) -> dict[str, Any]:
    return {"subject": pseudonym, "searchable": True}


def set_opt_in(keys: KeyRing, subject: Subject, searchable: bool) -> None:
    """Opt ``subject`` in (sealed) or out (the seal goes with it: a seal left on an opted-out
    row would opt them in again with a bare ``searchable = true``)."""
    subject.searchable = searchable
    subject.searchable_seal = (seal(keys, RowKind.OPT_IN, _opt_in_fields(subject.pseudonym))
                               if searchable else None)


class OptIn(Protocol):
    """What the opt-in is read from: a subject's row, or a query's row of those columns."""

    @property
    def pseudonym(self) -> str: ...
    @property
    def searchable(self) -> bool: ...
    @property
    def searchable_seal(self) -> str | None: ...


def opted_in(keys: KeyRing, subject: OptIn) -> bool:
    """Whether ``subject`` opted in to 1:N search: ``searchable``, and sealed by the service
    when they signed it (:func:`set_opt_in`). The one test of an opt-in."""
    return bool(subject.searchable) and matches(
        keys, RowKind.OPT_IN, _opt_in_fields(subject.pseudonym), subject.searchable_seal)


# Register declarations ------------------------------------------------------------------------
def _declaration_fields(declaration: RegisterDeclaration) -> dict[str, Any]:
    """What the matching gate reads of a declaration: the material it covers and the times its
    period runs from."""
    return {"id": declaration.id, "materialSha256": declaration.material_sha256,
            "declaredOn": declaration.declared_on.isoformat(),
            "recordedAt": declaration.recorded_at.astimezone(UTC).isoformat(),
            "periodDays": declaration.period_days}


def seal_declaration(keys: KeyRing, declaration: RegisterDeclaration) -> None:
    """Seal a declaration once it has its id (after a flush)."""
    declaration.seal = seal(keys, RowKind.DECLARATION, _declaration_fields(declaration))


def declaration_sealed(keys: KeyRing, declaration: RegisterDeclaration) -> bool:
    return matches(keys, RowKind.DECLARATION, _declaration_fields(declaration),
                   declaration.seal)


# Adoption, once -------------------------------------------------------------------------------
def adopt_once(runtime: Runtime) -> dict[str, int] | None:
    """At the first start with seals (after migration 0030, or a new ledger's first), seal
    every row that grants something and chain ``row_seals_adopted`` with the counts; the
    counts, or None when the log holds that event already. The event is the mark: in the
    hash chain and the witness's checkpoints, so it can be neither removed to seal rows planted
    since, nor added to skip an adoption, without the log's verification failing. Checked in
    the write transaction that seals, so several workers starting at once adopt once."""
    keys = runtime.keys
    with runtime.db.transaction() as session:
        if session.scalar(select(exists().where(
                AuditEvent.action == str(AuditAction.ROW_SEALS_ADOPTED)))):
            return None
        credentials = list(session.scalars(select(PasskeyCredential)))
        for credential in credentials:
            seal_passkey(keys, session, credential)
        subjects = list(session.scalars(select(Subject).where(Subject.searchable.is_(True))))
        for subject in subjects:
            set_opt_in(keys, subject, True)
        declarations = list(session.scalars(select(RegisterDeclaration)))
        for declaration in declarations:
            seal_declaration(keys, declaration)
        counts = {"passkeys": len(credentials), "opt_ins": len(subjects),
                  "declarations": len(declarations)}
        runtime.audit(session, Entry(action=AuditAction.ROW_SEALS_ADOPTED, actor=None,
                                     details=counts))
        return counts
