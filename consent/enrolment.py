"""Enrolment: a consented subject's photo becomes an encrypted template row and an index entry.

Only the photo of a capture session the person approved with their passkey (its SHA-256 is in
the statement they signed) is enrolled, once. Gates first, so no face is processed without
consent; the same gates again in the writing transaction, since a withdrawal may commit while
the embedding is computed. The photo and its raw embedding live only in this call's frames: the
capture session holds the photo's hash, never the photo (the desk uploads it only once
approved). The consent is asked of its signed receipt too (:mod:`consent.authority`): a row
widened with the database alone enrols nothing. One person per subject: see
:mod:`consent.one_person` (a subject left with no template to compare with enrols again only
from a capture session the desk opened, as its signed statement says). A capture may replace a
template (rectification): see :mod:`consent.rectification`.

The index changes with the ledger or not at all: when the writing transaction fails once the
index was touched (the replaced template removed, or the new one added), the labels it touched
are brought back in line with what the ledger holds (:func:`consent.reconcile.index_as_in_ledger`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from optinface.consent import (
    alternative,
    authority,
    captures,
    changefeed,
    declaration,
    erasure_journal,
    ledger,
    policies,
    reconcile,
    rectification,
    subject_acts,
)
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.changefeed import ChangeOp
from optinface.consent.errors import ChallengeInvalid
from optinface.consent.matching import threshold
from optinface.consent.one_person import require_same_person
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import TemplatePublic
from optinface.consent.tables import Ceremony, Consent, Subject


def _consented(runtime: Runtime, session: Session, pseudonym: str, capture_id: str,
               photo_sha256: str, *, keys: ReceiptKeys,
               ) -> tuple[Subject, Consent, int | None, Ceremony]:
    """The subject, the consent, the template the photo replaces (if the subject approved
    a rectification) and the capture session's row, once the approved capture session is shown
    to name this photo and its consent to authorise enrolment now (opening a capture checks a
    passkey signature, a seal and the log: done once per transaction); ``keys``: the receipt
    keys the enrolment read once (the consent's receipt is checked against them, the register
    names them)."""
    declaration.require_enrolment_open(runtime, session, receipt_keys=keys)
    subject = ledger.get_subject(session, pseudonym, runtime=runtime)
    alternative.require_biometrics_accepted(subject)
    capture = captures.open_capture(runtime, session, subject, capture_id,
                                   now=runtime.clock.now())
    statement = capture.statement or {}
    if statement.get("photoSha256") != photo_sha256:
        raise ChallengeInvalid("this is not the photo the subject approved",
                               details={"capture_id": capture_id})
    consent = ledger.get_consent(session, subject=subject, consent_id=statement["consentId"])
    policies.require_enrol_consent(subject, consent, now=runtime.clock.now(),
                                   settings=runtime.settings, keys=runtime.keys)
    authority.require_backed(consent, pseudonym=pseudonym, public_key=keys)
    replaces = statement.get("replaces")
    if replaces is not None:
        rectification.require_replaceable(session, subject, consent, replaces)
    return subject, consent, replaces, capture


def enrol(runtime: Runtime, *, actor: Actor, pseudonym: str, capture_id: str,
          image: bytes, spent: Callable[[], None] = lambda: None) -> TemplatePublic:
    """Embed the one face of the approved photo and store it under the capture's consent; the
    template the capture replaces, if any, is destroyed in the same transaction. ``spent`` is
    called once that transaction, which spends the capture, committed: the caller signs it
    into the witness folder before it answers (:func:`consent.spent_rights.witnessed`)."""
    photo_sha256 = hashlib.sha256(image).hexdigest()
    # Once an enrolment, for both checks: on a shared ledger each read is a key-store read. A
    # rotation in between can only refuse this consent's receipt (the new key is not among
    # these), never pass one the keys in force would not.
    keys = runtime.keys.receipt_keys
    with runtime.db.transaction() as session:
        _consented(runtime, session, pseudonym, capture_id, photo_sha256, keys=keys)
    embedding = runtime.pipeline.embed_single(image)
    protected = runtime.protector.protect(embedding.vector[None, :])[0]
    now = runtime.clock.now()
    touched: list[int] = []  # the index labels changed before the commit
    try:
        with runtime.db.transaction() as session:
            subject, consent, replaces, capture = _consented(runtime, session, pseudonym,
                                                             capture_id, photo_sha256, keys=keys)
            key = ledger.data_key(session, subject, keys=runtime.keys, now=now)
            require_same_person(session, subject, protected, model_id=embedding.model_id,
                                key=key, keys=runtime.keys, journal=runtime.journal_ends,
                                threshold=threshold(runtime).threshold,
                                max_templates=runtime.settings.max_templates_per_subject,
                                opened_at_desk=subject_acts.opened_at_desk(capture.statement),
                                replacing=replaces)
            capture.consumed_at = now
            first = subject.first_enrolled_at is None
            template = ledger.add_template(
                session, subject=subject, consent=consent, protected=protected,
                model_id=embedding.model_id, quality=embedding.face.score, key=key,
                keys=runtime.keys, now=now,
            )
            subject.last_interaction_at = now
            runtime.audit(session, Entry(action=AuditAction.ENROL, actor=actor,
                                         subjects=[pseudonym],
                                         details={"template_id": template.id,
                                                  "consent_id": consent.id,
                                                  "capture_id": capture_id,
                                                  "photo_sha256": photo_sha256,
                                                  "model_id": template.model_id}))
            touched = [template.id] if replaces is None else [replaces, template.id]
            if replaces is not None:
                rectification.replace(runtime, session, actor=actor, pseudonym=pseudonym,
                                      replaced=replaces, replacement=template.id,
                                      capture_id=capture_id)
            # Last, after the ledger's writes and their read-back: a refused replacement
            # leaves no vector the ledger does not hold.
            runtime.index.add([template.id], protected[None, :])
            changefeed.record(session, ChangeOp.ADD, [template.id], now=now)  # other workers
            if first:  # last before the commit: a line whose act then fails errs to the desk
                journal_first_enrolment(runtime, pseudonym, at=now)
            public = ledger.template_public(template, pseudonym=pseudonym)
    except Exception:
        if touched:
            reconcile.index_as_in_ledger(runtime, touched)
        raise
    spent()
    if replaces is not None:
        runtime.db.checkpoint()  # the replaced row's old pages must not linger in the WAL
    if runtime.index.additions_since_save() >= runtime.settings.index_save_every:
        runtime.index.save()  # bounds what start-up reconciliation has to re-add
    return public


def journal_first_enrolment(runtime: Runtime, pseudonym: str, *, at: datetime) -> None:
    """Journal the subject's first enrolment in the witness folder before it commits, by the
    pseudonym's keyed hash alone (:class:`consent.erasure_journal.Enrolled`): the row's
    "never enrolled", and its seal, put back from a copy taken before now, then make no
    self-service enrolment a first one (:mod:`consent.one_person`). A line written for an
    enrolment that does not commit after it (a refused commit, a crash) sends the person's
    next enrolment with nothing to compare to the desk: the safe side. A journal that cannot
    be written refuses the enrolment (``witness_unusable``). A step of its own, so that the
    version before these lines is this service without it (its tests, and its cost in
    ``benchmarks/bench_first_use.py``)."""
    erasure_journal.record(runtime, erasure_journal.Enrolled(
        subject_hash=ledger.tombstone_hash(runtime.keys, pseudonym), at=at))
