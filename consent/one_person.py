"""One person per subject: a cap on templates, and every enrolment after the first must be the
same face as the subject's templates, so one subject token cannot enrol several people.

"The first" is the subject's first template ever (``Subject.first_enrolled_at``), not the
first of those they hold now: once a withdrawal, an expiry, a rectification or a model change
has left a subject with no template a new face can be compared with, the face is checked by
no one's templates, so only a capture session the desk opened (a person at the desk checks who
stands there) enrols them again (``reenrol_at_desk``). Otherwise a subject could withdraw the
consent that holds their face and enrol anyone's under another with their own token (red team
6, finding 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.errors import FaceMismatch, ReenrolAtDesk, TemplateLimit
from optinface.consent.ledger import open_template
from optinface.consent.tables import Subject, Template
from optinface.engine.types import Vector


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


def _require_desk_if_nothing_to_compare(subject: Subject, comparable: Sequence[_Named], *,
                                        opened_at_desk: bool) -> None:
    if not comparable and subject.first_enrolled_at is not None and not opened_at_desk:
        raise ReenrolAtDesk(
            f"subject {subject.pseudonym} was enrolled before and holds no template to compare"
            " this face with: only a capture session the desk opens enrols them again",
            details={"subject": subject.pseudonym})


def require_enrolment_route(session: Session, subject: Subject, *, model_id: str,
                            opened_at_desk: bool, replacing: int | None = None) -> None:
    """Refuse, before anyone signs, a capture session the subject opened themselves that the
    enrolment would refuse for want of a template to compare with (``reenrol_at_desk``). The
    enrolment asks again (:func:`require_same_person`): templates may go meanwhile. Only the
    templates' ids and models are read, never their ciphertexts."""
    named = session.execute(select(Template.id, Template.model_id)
                            .where(Template.subject_id == subject.id)).all()
    _require_desk_if_nothing_to_compare(
        subject, _comparable(named, model_id=model_id, replacing=replacing),
        opened_at_desk=opened_at_desk)


def require_same_person(
    session: Session, subject: Subject, protected: Vector, *, model_id: str, key: bytes,
    threshold: float, max_templates: int, opened_at_desk: bool, replacing: int | None = None,
) -> None:
    """Refuse a template past the cap, or one that matches none of the subject's templates, or,
    when there is none to compare with and the subject was enrolled before, one whose capture
    session the desk did not open (``opened_at_desk``: see the module docstring).

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
    _require_desk_if_nothing_to_compare(subject, comparable, opened_at_desk=opened_at_desk)
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
