"""One person per subject: a cap on templates, and every enrolment after the first must be the
same face as the subject's templates, so one subject token cannot enrol several people.

"The first" is the subject's first template ever (``Subject.first_enrolled_at``), not the
first of those they hold now: once a withdrawal, an expiry, a rectification or a model change
has left a subject with no template a new face can be compared with, the face is checked by
no one's templates, so only a capture session the desk opened (a person at the desk checks who
stands there) enrols them again (``reenrol_at_desk``). Otherwise a subject could withdraw the
consent that holds their face and enrol anyone's under another with their own token (red team
6, finding 1).

"Enrolled before" is not the column alone, which a database writer can clear (and delete the
template rows with it): the service seals the subject's enrolment state with the key store's
HMAC key, "never enrolled" at creation and the first enrolment's time after it
(:func:`consent.row_seals.enrolment_sealed`). Nor is it the row and its seal together: a writer
can put back both as a copy taken before the first enrolment held them, and edit the subjects
the log's ``enrol`` events name. So the first enrolment is also journaled in the witness folder,
outside the database writer's reach, before it commits (:class:`consent.erasure_journal.Enrolled`,
naming the subject by its keyed tombstone hash). A self-service enrolment with nothing to
compare with counts the subject as enrolled before where the column says so, where column and
seal disagree (or the seal is missing), where the journal records their enrolment, or where a
chained ``enrol`` event names the subject (:func:`_enrolled_before`, cheapest first; subjects first
enrolled before the journal's line existed get theirs once at start,
:mod:`consent.enrolment_lines`, as their sealed column says: the log stays for those whose
column was cleared before that). The refusal is chained as every refusal is; the last three
are a database writer's doing, also logged as an error (never with the pseudonym: the
operator's log outlives an erasure).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction
from optinface.consent.audit_seals import mentions
from optinface.consent.errors import FaceMismatch, ReenrolAtDesk, TemplateLimit
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import open_template
from optinface.consent.row_seals import enrolment_sealed
from optinface.consent.tables import AuditEvent, Subject, Template
from optinface.engine.types import Vector

if TYPE_CHECKING:
    from optinface.consent.journal_ends import JournalEnds

logger = logging.getLogger(__name__)

ENROLLED = "first_enrolled_at"
"""The subject's row says they were enrolled before: the one evidence the service writes."""
UNSEALED = "enrolment_unsealed"
"""``first_enrolled_at`` is not the one the service sealed (or the seal is gone)."""
IN_THE_JOURNAL = "enrolled_in_journal"
"""The row says "never enrolled", sealed, but the witness folder's journal records the subject's
first enrolment (a row and seal put back from a copy taken before it)."""
IN_THE_LOG = "enrol_events"
"""The row says "never enrolled", sealed, but a chained ``enrol`` event names the subject."""
_SAID = {UNSEALED: "its enrolment seal does not hold",
         IN_THE_JOURNAL: "the witness folder's journal records its first enrolment",
         IN_THE_LOG: "the chained enrol events name it"}
"""How the operator's log says each database writer's evidence (never the pseudonym)."""


class _Named(Protocol):
    """What choosing the templates to compare with reads of each: a row, or only its ids."""

    @property
    def id(self) -> int: ...

    @property
    def model_id(self) -> str: ...


_T = TypeVar("_T", bound=_Named)


def _templates(session: Session, subject: Subject) -> list[Template]:
    return list(session.scalars(select(Template).where(Template.subject_id == subject.id)))


def _kept(templates: Sequence[_T], replacing: int | None) -> list[_T]:
    return [t for t in templates if t.id != replacing]


def _comparable(templates: Sequence[_T], *, model_id: str, replacing: int | None) -> list[_T]:
    """The templates a new face of ``model_id`` is compared with: those kept, or the one being
    replaced when it is the last (see :func:`require_same_person`); never another model's."""
    return [t for t in _kept(templates, replacing) or templates if t.model_id == model_id]


def _enrolled_before(session: Session, keys: KeyRing, journal: JournalEnds,
                     subject: Subject) -> str | None:
    """What shows ``subject`` was enrolled before, cheapest check first (:data:`ENROLLED`,
    :data:`UNSEALED`, :data:`IN_THE_JOURNAL`, :data:`IN_THE_LOG`), or None for a subject never
    enrolled. The log is read last, over the ``enrol`` events alone (``action`` is indexed):
    only where a first enrolment is about to be the person's own."""
    if subject.first_enrolled_at is not None:
        return ENROLLED
    if not enrolment_sealed(keys, subject):
        return UNSEALED
    if journal.enrolled(keys, subject.pseudonym):
        return IN_THE_JOURNAL
    if session.scalar(select(exists().where(AuditEvent.action == str(AuditAction.ENROL),
                                            mentions(subject.pseudonym)))):
        return IN_THE_LOG
    return None


def _require_desk_if_nothing_to_compare(session: Session, keys: KeyRing, journal: JournalEnds,
                                        subject: Subject, comparable: Sequence[_Named], *,
                                        opened_at_desk: bool) -> None:
    if comparable or opened_at_desk:
        return
    evidence = _enrolled_before(session, keys, journal, subject)
    if evidence is None:
        return
    if evidence != ENROLLED:  # a database writer's: said, never the pseudonym in the line
        logger.error("a subject's record says it was never enrolled, but %s: its"
                     " first_enrolled_at was written in the database without the key store or"
                     " put back from a copy (or never sealed: optinface keys reseal --dry-run"
                     " lists it); its enrolment"
                     " from its own capture is refused (reenrol_at_desk)",
                     _SAID[evidence])
    shown = ("carries an enrolment state this service did not seal (never sealed since an"
             " upgrade, or written in the database), so it may have been enrolled before,"
             if evidence == UNSEALED else "was enrolled before")
    raise ReenrolAtDesk(
        f"subject {subject.pseudonym} {shown} and holds no template to compare this face with:"
        " only a capture session the desk opens enrols them",
        details={"subject": subject.pseudonym})


def require_enrolment_route(session: Session, keys: KeyRing, subject: Subject, *,
                            journal: JournalEnds, model_id: str, opened_at_desk: bool,
                            replacing: int | None = None) -> None:
    """Refuse, before anyone signs, a capture session the subject opened themselves that the
    enrolment would refuse for want of a template to compare with (``reenrol_at_desk``). The
    enrolment asks again (:func:`require_same_person`): templates may go meanwhile. Only the
    templates' ids and models are read, never their ciphertexts."""
    named = session.execute(select(Template.id, Template.model_id)
                            .where(Template.subject_id == subject.id)).all()
    _require_desk_if_nothing_to_compare(
        session, keys, journal, subject,
        _comparable(named, model_id=model_id, replacing=replacing),
        opened_at_desk=opened_at_desk)


def require_same_person(
    session: Session, subject: Subject, protected: Vector, *, model_id: str, key: bytes,
    keys: KeyRing, journal: JournalEnds, threshold: float, max_templates: int,
    opened_at_desk: bool, replacing: int | None = None,
) -> None:
    """Refuse a template past the cap, or one that matches none of the subject's templates, or,
    when there is none to compare with and the subject was enrolled before, one whose capture
    session the desk did not open (``opened_at_desk``: see the module docstring; ``keys``
    checks the enrolment state's seal, ``journal`` is the witness folder's record of first
    enrolments, ``key`` is the subject's data key).

    Compared in the protected space (the rotation keeps cosine similarity); templates of
    another model cannot be compared and are not counted as evidence either way. A template
    being replaced (``replacing``, see :mod:`consent.rectification`) leaves the count, and is
    evidence only when it is the subject's last: a poor template should not decide, but
    replacing the only one must not swap the person behind the subject.
    """
    templates = _templates(session, subject)
    kept = _kept(templates, replacing)
    if len(kept) >= max_templates:
        raise TemplateLimit(
            f"subject {subject.pseudonym} already has {len(kept)} templates",
            details={"subject": subject.pseudonym, "max_templates": max_templates})
    comparable = _comparable(templates, model_id=model_id, replacing=replacing)
    _require_desk_if_nothing_to_compare(session, keys, journal, subject, comparable,
                                        opened_at_desk=opened_at_desk)
    if not comparable:
        return
    probe = np.asarray(protected, dtype=np.float32)
    probe = probe / (np.linalg.norm(probe) or 1.0)
    best = -1.0
    for template in comparable:
        vector = open_template(template, subject, key=key)
        best = max(best, float(vector @ probe / (np.linalg.norm(vector) or 1.0)))
    if best < threshold:
        raise FaceMismatch(
            f"this face does not match the templates of {subject.pseudonym}: one person per "
            "subject", details={"subject": subject.pseudonym, "threshold": threshold})
