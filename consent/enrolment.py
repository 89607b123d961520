"""Enrolment: a consented subject's photo becomes an encrypted template row and an index entry.

Gates first, so no face is processed without consent; the same gates again in the writing
transaction, since a withdrawal may commit while the embedding is computed. The photo and its
raw embedding live only in this call's frames.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from optinface.consent import alternative, changefeed, declaration, ledger, policies
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.changefeed import ChangeOp
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import TemplatePublic
from optinface.consent.tables import Consent, Subject


def _consented(runtime: Runtime, session: Session, pseudonym: str,
               consent_id: str) -> tuple[Subject, Consent]:
    """The subject and the consent, once the consent is shown to authorise enrolment now."""
    declaration.require_not_suspended(session)
    subject = ledger.get_subject(session, pseudonym, keys=runtime.keys)
    alternative.require_biometrics_accepted(subject)
    consent = ledger.get_consent(session, subject=subject, consent_id=consent_id)
    policies.require_enrol_consent(subject, consent, now=runtime.clock.now(),
                                   settings=runtime.settings)
    return subject, consent


def enrol(runtime: Runtime, *, actor: Actor, pseudonym: str, consent_id: str,
          image: bytes) -> TemplatePublic:
    """Embed the one face in ``image`` and store it under ``consent_id``; audited."""
    with runtime.db.transaction() as session:
        _consented(runtime, session, pseudonym, consent_id)
    embedding = runtime.pipeline.embed_single(image)
    protected = runtime.protector.protect(embedding.vector[None, :])[0]
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        subject, consent = _consented(runtime, session, pseudonym, consent_id)
        key = ledger.data_key(session, subject, keys=runtime.keys, now=now)
        template = ledger.add_template(
            session, subject=subject, consent=consent, protected=protected,
            model_id=embedding.model_id, quality=embedding.face.score, key=key, now=now,
        )
        subject.last_interaction_at = now
        runtime.audit(session, Entry(action=AuditAction.ENROL, actor=actor, subjects=[pseudonym],
                                     details={"template_id": template.id,
                                              "consent_id": consent_id,
                                              "model_id": template.model_id}))
        # Inside the transaction: if the index write fails, the ledger row is rolled back.
        runtime.index.add([template.id], protected[None, :])
        changefeed.record(session, ChangeOp.ADD, [template.id], now=now)  # other workers
        public = ledger.template_public(template, pseudonym=pseudonym)
    if runtime.index.additions_since_save() >= runtime.settings.index_save_every:
        runtime.index.save()  # bounds what start-up reconciliation has to re-add
    return public
