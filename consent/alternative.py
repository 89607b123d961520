"""The non-biometric alternative: a person may choose it instead of their face.

The CAI's biometrics guidance and GDPR art. 7(4) make consent to biometrics free only when the
service is also offered without them. What the alternative is (a card, a code, a person at a
desk) is the operator's setting, shown in every notice and receipt; this module records that a
subject chose it. From then on their face is not used: templates already made are destroyed at
once and enrolment is refused (``alternative_chosen``) until they enrol again through a new
subject.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import erasure_journal, ledger_alterations, row_seals
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.erasure import Destroyed, destroy_templates, templates_gone
from optinface.consent.errors import AlternativeChosen
from optinface.consent.ledger import get_subject, tombstone_hash
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import AlternativeChosenResult, SubjectPublic
from optinface.consent.tables import Subject, Template


def choose_alternative(
    runtime: Runtime, session: Session, *, subject: Subject, now: datetime
) -> Destroyed:
    """Record the choice and destroy the subject's templates; the caller audits and commits."""
    subject.alternative_chosen_at = now
    row_seals.set_opt_in(runtime.keys, subject, False, at=now)
    subject.last_interaction_at = now
    labels = set(session.scalars(select(Template.id).where(Template.subject_id == subject.id)))
    # A restored copy makes the choice again and destroys the templates again.
    erasure_journal.record(runtime, erasure_journal.AlternativeTaken(
        subject_hash=tombstone_hash(runtime.keys, subject.pseudonym), at=now))
    erasure_journal.record_templates(runtime, session, labels)
    destroyed = destroy_templates(runtime, session, labels)
    # Before the answer: the choice is recorded and the templates gone, as the ledger holds
    # them, and nothing on its tables can undo that at the commit.
    ledger_alterations.require_held(session, [
        (Subject.__tablename__, (Subject.id == subject.id)
         & Subject.alternative_chosen_at.is_(None)), *templates_gone(labels)])
    return destroyed


def choose(runtime: Runtime, *, actor: Actor, pseudonym: str) -> AlternativeChosenResult:
    """Record the choice now, destroy the templates, audit it; the WAL is checkpointed after."""
    with runtime.db.transaction() as session:
        row = get_subject(session, pseudonym, runtime=runtime)
        destroyed = choose_alternative(runtime, session, subject=row, now=runtime.clock.now())
        runtime.audit(session, Entry(action=AuditAction.ALTERNATIVE_CHOSEN, actor=actor,
                                     subjects=[pseudonym],
                                     details={"templates_erased": destroyed.templates}))
        public = SubjectPublic.model_validate(row)
    runtime.db.checkpoint()
    return AlternativeChosenResult(subject=public,
                                   alternative=runtime.settings.non_biometric_alternative,
                                   templates_destroyed=destroyed.templates)


def require_biometrics_accepted(subject: Subject) -> None:
    if subject.alternative_chosen_at is not None:
        raise AlternativeChosen(
            f"subject {subject.pseudonym} chose the non-biometric alternative on"
            f" {subject.alternative_chosen_at.date()}: their face is not used",
            details={"subject": subject.pseudonym})
