"""Rectification: a new photo replaces a poor template of the same subject and consent.

The right to rectify (Law 25 s. 28, C.C.Q. art. 40) applied to a template: the subject names, in
the capture statement they sign with the photo's SHA-256, the template the new one replaces, so
the desk can neither replace a template the person did not choose nor enrol a photo they
approved as a replacement as an extra one. The replaced template must be the subject's and
enrolled under the capture's consent, whose being in force is the enrolment's own gate: a
template of an ended consent is never "rectified" into a live one. It is checked when the desk
opens the capture and again in the enrolment's writing transaction (another replacement may
have taken it meanwhile).

The old template is destroyed by the erasure's own path (:func:`consent.erasure.destroy_templates`:
index slot scrubbed in memory and in the saved file, row deleted) in the transaction that stores
the new one, so the subject never holds both past the cap, nor neither.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from optinface.consent import erasure_journal, ledger_alterations
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.erasure import destroy_templates, templates_gone
from optinface.consent.errors import TemplateNotReplaceable
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.tables import Consent, Subject, Template


def require_replaceable(session: Session, subject: Subject, consent: Consent,
                        template_id: int) -> None:
    """Refuse unless ``subject`` holds the template ``template_id`` under ``consent``.

    Another subject's template is refused as unknown: its existence is not theirs to learn.
    """
    template = session.get(Template, template_id)
    if template is None or template.subject_id != subject.id:
        raise TemplateNotReplaceable(
            f"subject {subject.pseudonym} has no template {template_id}",
            details={"template_id": template_id, "problem": "unknown"})
    if template.consent_id != consent.id:
        raise TemplateNotReplaceable(
            f"template {template_id} was enrolled under another consent than {consent.id}",
            details={"template_id": template_id, "problem": "other_consent"})


def replace(runtime: Runtime, session: Session, *, actor: Actor, pseudonym: str,
            replaced: int, replacement: int, capture_id: str) -> None:
    """Destroy ``replaced`` now that ``replacement`` is stored, and chain the event naming
    both (ids only). Journaled first, so a restored copy destroys it again. The caller commits,
    then checkpoints the WAL, as every destruction does."""
    erasure_journal.record_templates(runtime, session, [replaced])
    destroy_templates(runtime, session, [replaced])
    ledger_alterations.require_held(session, templates_gone([replaced]))
    runtime.audit(session, Entry(action=AuditAction.TEMPLATE_REPLACED, actor=actor,
                                 subjects=[pseudonym],
                                 details={"template_id": replaced, "replaced_by": replacement,
                                          "capture_id": capture_id}))
