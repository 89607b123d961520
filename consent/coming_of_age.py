"""Coming of age: a minor whose guardian consented is asked for their own consent.

The age bracket is declared with its date (``Subject.age_declared_on``), never estimated from
a face; it guarantees a lower bound only, which grows by a year each year
(:func:`consent.policies.age_at_least`). Once it reaches the age of consent of their
jurisdiction, their guardian's consent no longer speaks for them: the sweeper marks the subject
(``own_consent_requested_at``, shown in their portal and their export) and audits the request.
Their own passkey, registered with their own enrolment link, then signs a consent in their own
name, which the capacity gate now accepts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import policies
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ConsentCapacity
from optinface.consent.settings import Jurisdiction
from optinface.consent.tables import Subject, SubjectStatus


def _guardian_consented(subject: Subject, *, now: datetime) -> bool:
    return any(c.given_by == str(ConsentCapacity.PARENTAL_AUTHORITY)
               and policies.consent_status(c, now=now) == "active" for c in subject.consents)


def request_own_consent(runtime: Runtime, session: Session, *, actor: Actor | None) -> int:
    """Mark and audit every minor who has come of age under a guardian's consent; how many."""
    now = runtime.clock.now()
    asked = 0
    subjects = session.scalars(select(Subject).where(
        Subject.status == SubjectStatus.ACTIVE, Subject.own_consent_requested_at.is_(None),
        Subject.age_declared_on.is_not(None)))
    for subject in subjects:
        minimum = policies.age_of_consent(Jurisdiction(subject.jurisdiction), runtime.settings)
        if (policies.age_at_least(subject, today=now.date()) < minimum
                or not _guardian_consented(subject, now=now)):
            continue
        subject.own_consent_requested_at = now
        runtime.audit(session, Entry(action=AuditAction.OWN_CONSENT_REQUESTED, actor=actor,
                                     subjects=[subject.pseudonym],
                                     details={"age_of_consent": minimum}))
        asked += 1
    return asked
