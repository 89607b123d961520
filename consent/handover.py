"""Handing a subject's access export to a recipient: the use case of a disclosure.

The rules (who may disclose on which basis, what is recorded) are :mod:`consent.disclosures`'.
Here they meet in one transaction: the subject is found, the person's signature checked when
the basis is theirs, the disclosure recorded and chained into the audit log, and the export
built, so an export is never handed over without its record, and it lists the disclosure too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from optinface.consent import disclosures, ledger, passkeys, subject_acts
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import canonical_json
from optinface.consent.errors import InvalidRequest
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AccessExport,
    DisclosureCreate,
    DisclosureMade,
    DisclosurePublic,
)
from optinface.consent.tables import Subject

ExportOf = Callable[[Session, Subject, datetime], AccessExport]
"""Builds the subject's access export in the caller's transaction (the service's export)."""


def disclose(runtime: Runtime, *, actor: Actor, pseudonym: str, body: DisclosureCreate,
             export_of: ExportOf) -> DisclosureMade:
    """Record the disclosure and its audit event, and return it with the export to hand over.
    The caller has checked that ``actor`` may disclose on this basis
    (:func:`consent.disclosures.permission_for`)."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, keys=runtime.keys)
        signature = _authorisation(session, runtime, subject, body, actor=actor, now=now)
        row = disclosures.record(session, pseudonym=pseudonym, body=body, actor=actor, now=now)
        runtime.audit(session, Entry(
            action=AuditAction.DISCLOSURE, actor=actor, subjects=[pseudonym],
            details={"disclosure_id": row.id, "recipient": row.recipient,
                     "legal_basis": row.legal_basis,
                     "document_reference": row.document_reference, **signature}))
        return DisclosureMade(disclosure=DisclosurePublic.model_validate(row),
                              export=export_of(session, subject, now))


def _authorisation(session: Session, runtime: Runtime, subject: Subject, body: DisclosureCreate,
                   *, actor: Actor, now: datetime) -> dict[str, str]:
    """For the person's own bases, their verified signature of this very disclosure (the
    credential's keyed hash and the statement's SHA-256, for the log); for the controller's,
    none: a signature there would be a person's word the controller does not rest on."""
    if body.legal_basis not in disclosures.PERSONS_OWN:
        if body.signed is not None:
            raise InvalidRequest(f"a disclosure on {body.legal_basis} is the controller's act:"
                                 " it carries no signature", details={"field": "signed"})
        return {}
    if body.signed is None:
        raise InvalidRequest(f"a disclosure on {body.legal_basis} needs the person's signed"
                             f" {subject_acts.DISCLOSE} act", details={"field": "signed"})
    signed = subject_acts.complete(session, subject, body.signed, act=subject_acts.DISCLOSE,
                                   actor=actor, settings=runtime.settings, now=now)
    statement = signed.ceremony.statement or {}
    disclosures.require_signed(statement, body)
    return {"credential_hash": passkeys.audit_reference(runtime.keys, signed.credential),
            "statement_sha256": hashlib.sha256(canonical_json(statement)).hexdigest()}
