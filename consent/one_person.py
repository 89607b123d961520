"""One person per subject: a cap on templates, and every enrolment after the first must be the
same face as the subject's templates, so one subject token cannot enrol several people."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.errors import FaceMismatch, TemplateLimit
from optinface.consent.ledger import decrypt_template
from optinface.consent.tables import Subject, Template
from optinface.engine.types import Vector


def require_same_person(
    session: Session, subject: Subject, protected: Vector, *, model_id: str, key: bytes,
    threshold: float, max_templates: int, replacing: int | None = None,
) -> None:
    """Refuse a template past the cap, or one that matches none of the subject's templates.

    Compared in the protected space (the rotation keeps cosine similarity); templates of
    another model cannot be compared and are not counted as evidence either way. A template
    being replaced (``replacing``, see :mod:`consent.rectification`) leaves the count, and is
    evidence only when it is the subject's last: a poor template should not decide, but
    replacing the only one must not swap the person behind the subject.
    """
    templates = list(session.scalars(select(Template).where(Template.subject_id == subject.id)))
    kept = [t for t in templates if t.id != replacing]
    if len(kept) >= max_templates:
        raise TemplateLimit(
            f"subject {subject.pseudonym} already has {len(kept)} templates",
            details={"subject": subject.pseudonym, "max_templates": max_templates})
    comparable = [t for t in kept or templates if t.model_id == model_id]
    if not comparable:
        return
    probe = np.asarray(protected, dtype=np.float32)
    probe = probe / (np.linalg.norm(probe) or 1.0)
    best = -1.0
    for template in comparable:
        vector = decrypt_template(template, key=key)
        best = max(best, float(vector @ probe / (np.linalg.norm(vector) or 1.0)))
    if best < threshold:
        raise FaceMismatch(
            f"this face does not match the templates of {subject.pseudonym}: one person per "
            "subject", details={"subject": subject.pseudonym, "threshold": threshold})
