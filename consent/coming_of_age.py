"""Coming of age: a minor whose guardian consented is asked for their own consent, and the
guardian's consent ends if they do not give it in time.

The age bracket is declared with its date (``Subject.age_declared_on``), never estimated from
a face; it guarantees a lower bound only, which grows by a year each year
(:func:`consent.policies.age_at_least`). Once it reaches the age of consent of their
jurisdiction, their guardian's consent no longer speaks for them. A guardian's consent is
therefore given with its end already fixed (``Consent.guardian_until``, from
:func:`consent.policies.guardian_until`): that day plus a grace period. It is one of the limits
of ``Consent.ends_at``, so the gates refuse it from then on without waiting for a sweep, and the
sweep ends it like an expiry (reason ``came_of_age``): the templates enrolled under it are
destroyed, and a subject left with no consent is erased with a signed receipt.

On the day, the sweeper marks the subject (``own_consent_requested_at``, shown in their portal
and their export with that date) and audits the request. Their own passkey, registered with
their own enrolment link, then signs a consent in their own name, which the capacity gate now
accepts; once their own consents cover every purpose of the guardian's, that one no longer ends
by coming of age (:func:`take_over`), only by its own expiry, which for a minor is short
(:func:`consent.policies.max_consent_days`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import policies
from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ConsentCapacity
from optinface.consent.settings import Jurisdiction
from optinface.consent.tables import Consent, ConsentStatus, Subject, SubjectStatus


def _in_force(consents: Iterable[Consent], capacity: ConsentCapacity, *,
              now: datetime) -> list[Consent]:
    return [c for c in consents if c.given_by == str(capacity)
            and policies.consent_status(c, now=now) is ConsentStatus.ACTIVE]


def request_own_consent(runtime: Runtime, session: Session, *, actor: Actor | None) -> int:
    """Mark and audit every minor who has come of age under a guardian's consent, with the
    date their own consent is due by; how many."""
    now = runtime.clock.now()
    asked = 0
    subjects = session.scalars(select(Subject).where(
        Subject.status == SubjectStatus.ACTIVE, Subject.own_consent_requested_at.is_(None),
        Subject.age_declared_on.is_not(None)))
    for subject in subjects:
        minimum = policies.age_of_consent(Jurisdiction(subject.jurisdiction), runtime.settings)
        guardians = _in_force(subject.consents, ConsentCapacity.PARENTAL_AUTHORITY, now=now)
        if policies.age_at_least(subject, today=now.date()) < minimum or not guardians:
            continue
        subject.own_consent_requested_at = now
        due = [c.guardian_until for c in guardians if c.guardian_until is not None]
        runtime.audit(session, Entry(action=AuditAction.OWN_CONSENT_REQUESTED, actor=actor,
                                     subjects=[subject.pseudonym],
                                     details={"age_of_consent": minimum,
                                              "own_consent_by": log_time(min(due))
                                              if due else None}))
        asked += 1
    return asked


def take_over(subject: Subject, given: Consent, *, now: datetime) -> list[str]:
    """The guardian's consents in force whose every purpose the person's own consents in force
    now cover: they no longer end by coming of age; their ids. ``given`` is the consent just
    recorded, by the person or by their guardian (then it covers nothing of its own).

    The caller commits with ``given``.
    """
    consents = [*(c for c in subject.consents if c.id != given.id), given]
    covered = {p.id for c in _in_force(consents, ConsentCapacity.SELF, now=now)
               for p in c.purposes}
    kept = []
    for consent in _in_force(consents, ConsentCapacity.PARENTAL_AUTHORITY, now=now):
        if consent.guardian_until is not None and {p.id for p in consent.purposes} <= covered:
            consent.guardian_until = None
            kept.append(consent.id)
    return kept
