"""A capture session the person approved: what it may still enrol, whatever its row says.

The desk opens a capture session naming a photo's SHA-256 (:mod:`consent.subject_acts`), the
person signs that statement with their passkey, and the desk then uploads the photo
(:mod:`consent.enrolment`). The ``ceremonies`` row keeps the approval, its use mark
(``consumed_at``) and its expiry, all of which a database writer can edit: clear the mark and
push the expiry out, and the same approval enrolled the same face again and again (red team 4,
finding 6). So a capture is judged on what that writer cannot make:

* the approval is the person's signature: the evidence verifies (:func:`passkeys.
  verify_evidence`), over the very statement the row names, with one of the subject's sealed
  passkeys;
* its lifetime counts from the statement they signed (``issuedAt``), by the rule every signed
  act follows (:func:`passkeys.require_signed_recently`), not from the row's ``expires_at``;
* it enrols once: an ``enrol`` event naming it in the chained audit log is a use, whatever
  ``consumed_at`` says. Hiding that event breaks the chain (``audit verify``), and it can only
  be found in the lifetime's window, so only the log's tail is read.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import passkeys, row_seals
from optinface.consent.audit import AuditAction, log_time
from optinface.consent.crypto import canonical_json
from optinface.consent.errors import ChallengeInvalid
from optinface.consent.runtime import Runtime
from optinface.consent.subject_acts import CAPTURE
from optinface.consent.tables import AuditEvent, Ceremony, PasskeyCredential, Subject

logger = logging.getLogger(__name__)


def _refused(capture_id: str, why: str) -> ChallengeInvalid:
    return ChallengeInvalid(f"capture session {capture_id} is {why}",
                            details={"capture_id": capture_id})


def open_capture(runtime: Runtime, session: Session, subject: Subject, capture_id: str, *,
                 now: datetime) -> Ceremony:
    """An approved, unused, unexpired capture session of ``subject`` (see the module
    docstring), else :class:`ChallengeInvalid`."""
    row = session.get(Ceremony, capture_id)
    if (row is None or row.kind != CAPTURE or row.subject_id != subject.id
            or row.evidence is None or row.consumed_at is not None or row.expires_at <= now):
        raise _refused(capture_id, "unknown, not approved by the subject, used or expired")
    statement = _approved(runtime, session, subject, row)
    passkeys.require_signed_recently(statement, at=now, ceremony_id=capture_id,
                                     settings=runtime.settings)
    issued = datetime.fromisoformat(statement["issuedAt"])
    lifetime = timedelta(seconds=runtime.settings.challenge_seconds)
    # From a lifetime before it was signed: another worker's clock may be a little behind.
    if _enrolled_from(session, capture_id, since=issued - lifetime):
        runtime.error_once(logger, ("capture reused", capture_id),
                           "capture session %s enrolled a template already (chained), though"
                           " its row says unused: the row was edited", capture_id)
        raise _refused(capture_id, "used")
    return row


def _approved(runtime: Runtime, session: Session, subject: Subject,
              row: Ceremony) -> dict[str, Any]:
    """The statement the row names, once its evidence shows the subject signed it with a
    passkey of theirs the service sealed; else refused. Evidence that is not a JSON object (a
    writer's list or string) approves nothing."""
    evidence = row.evidence if isinstance(row.evidence, dict) else {}
    statement = evidence.get("statement")
    credential = session.get(PasskeyCredential, str(evidence.get("credentialId", "")))
    if (not isinstance(statement, dict) or row.statement is None
            or canonical_json(statement) != canonical_json(row.statement)
            or not isinstance(statement.get("issuedAt"), str)
            or credential is None or credential.subject_id != subject.id
            or passkeys.b64url(credential.public_key) != evidence.get("credentialPublicKey")
            or not row_seals.passkey_sealed(runtime.keys, session, credential)
            or not passkeys.verify_evidence(evidence)):
        raise _refused(row.id, "not approved by the subject")
    return statement


def _enrolled_from(session: Session, capture_id: str, *, since: datetime) -> bool:
    """Whether an ``enrol`` event chained at ``since`` or later names ``capture_id``: the log's
    ``at`` text sorts in time order (:func:`audit.log_time`), so only that window is read."""
    found = session.scalars(select(AuditEvent.details).where(
        AuditEvent.action == AuditAction.ENROL, AuditEvent.at >= log_time(since)))
    return any(isinstance(details, dict) and details.get("capture_id") == capture_id
               for details in found)
