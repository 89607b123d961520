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
accepts. The guardian's consent still ends on its day, whatever they sign: a consent of their own
that covers every purpose of the guardian's takes over the templates enrolled under it
(:func:`take_over`), which from then on last only as long as the person's own consent does, so
withdrawing it or letting it expire destroys them like any others (X-MIN 6).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from optinface.consent import policies, row_seals
from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.errors import AgeUnsealed
from optinface.consent.keys import KeyRing
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ConsentCapacity
from optinface.consent.settings import Jurisdiction
from optinface.consent.tables import Consent, ConsentStatus, Subject, SubjectStatus, Template

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TakeOver:
    """What a person's own consent took over from their guardian's: the guardian's consents
    (their ids) and the templates moved from under them (their ids)."""

    consents: list[str]
    templates: list[int]


def _in_force(consents: Iterable[Consent], capacity: ConsentCapacity, *,
              now: datetime) -> list[Consent]:
    return [c for c in consents if c.given_by == str(capacity)
            and policies.consent_status(c, now=now) is ConsentStatus.ACTIVE]


def request_own_consent(runtime: Runtime, session: Session, *, actor: Actor | None) -> int:
    """Mark and audit every minor who has come of age under a guardian's consent, with the
    date their own consent is due by; how many. A subject whose declared age carries no valid
    seal is not asked (an error is logged, :func:`row_seals.require_sealed_age`): no capacity
    is read from an edited row, and the guardian's consent still ends on its own
    ``guardian_until``, fixed when it was given."""
    now = runtime.clock.now()
    asked = 0
    subjects = session.scalars(select(Subject).where(
        Subject.status == SubjectStatus.ACTIVE, Subject.own_consent_requested_at.is_(None),
        Subject.age_declared_on.is_not(None)))
    for subject in subjects:
        guardians = _in_force(subject.consents, ConsentCapacity.PARENTAL_AUTHORITY, now=now)
        if not guardians:
            continue
        try:
            if policies.under_age_of_consent(subject, runtime.settings, today=now.date(),
                                             keys=runtime.keys):
                continue
        except AgeUnsealed:
            continue
        minimum = policies.age_of_consent(Jurisdiction(subject.jurisdiction), runtime.settings)
        subject.own_consent_requested_at = now
        due = [c.guardian_until for c in guardians if c.guardian_until is not None]
        runtime.audit(session, Entry(action=AuditAction.OWN_CONSENT_REQUESTED, actor=actor,
                                     subjects=[subject.pseudonym],
                                     details={"age_of_consent": minimum,
                                              "own_consent_by": log_time(min(due))
                                              if due else None}))
        asked += 1
    return asked


def take_over(session: Session, subject: Subject, given: Consent, *, keys: KeyRing,
              now: datetime) -> TakeOver:
    """Move to ``given``, a consent the person just gave in their own name, the templates of
    their guardian's consents in force whose every purpose it covers: the guardian's consent
    then ends on its ``guardian_until`` with nothing under it, and the templates answer to the
    person's own consent alone. Nothing moves for a guardian's consent, which keeps its limit.

    A template's ciphertext is bound to its id, subject and model
    (:func:`consent.keys.template_binding`), not to its consent, so moving it re-encrypts
    nothing; its seal names the consent, so each is sealed again under ``given``
    (:func:`row_seals.seal_template`), only those sealed as this subject's under the guardian's
    consent: a template another person's row was moved to by SQL is left as it is, unsealed.
    The caller audits the result and commits with ``given``.
    """
    if given.given_by != str(ConsentCapacity.SELF):
        return TakeOver(consents=[], templates=[])
    covered = {p.id for p in given.purposes}
    guardians = [c.id for c in _in_force(subject.consents, ConsentCapacity.PARENTAL_AUTHORITY,
                                         now=now)
                 if {p.id for p in c.purposes} <= covered]
    if not guardians:
        return TakeOver(consents=[], templates=[])  # an adult's consent: no query
    found = list(session.scalars(select(Template).where(
        Template.consent_id.in_(guardians), Template.subject_id == subject.id)
        .order_by(Template.id).options(load_only(  # no ciphertext
            Template.id, Template.consent_id, Template.model_id, Template.seal,
            Template.owner_hash))))
    moved = [t for t in found if row_seals.template_sealed(
        keys, template_id=t.id, pseudonym=subject.pseudonym, consent_id=t.consent_id,
        model_id=t.model_id, found=t.seal)]
    if len(moved) < len(found):  # moved here from another person by SQL: never sealed as theirs
        logger.error("templates %s under a guardian's consent of this subject carry no seal as"
                     " theirs: left unsealed, not taken over", [t.id for t in found
                                                                if t not in moved])
    for template in moved:
        template.consent_id = given.id
        row_seals.seal_template(keys, template, pseudonym=subject.pseudonym)
    return TakeOver(consents=guardians, templates=[t.id for t in moved])
