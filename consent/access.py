"""The right of access: everything held about a subject, as data.

No time window and no frequency limit: every consent (withdrawn ones too), every receipt,
every template's existence and model, and every audit event naming the
subject, including each verify and identify that involved them whatever the outcome (a 1:1
verify that found no candidate too), with the caller's key and purpose and whether the caller
declared it would base a decision about the person on it (P-39.1 s. 12.1); the purposes' texts,
recipients, retention dates, the matching logic, the rights and the person in charge (GDPR
art. 15(1)(a)-(h), 15(2); P-39.1 s. 27). Never another subject's pseudonym or score, nor the
size of the gallery searched. The JSON of :class:`AccessExport` is the interface; the pages
render it for people in their language (``api/web/export.py``), so its prose is kept here as
English source strings.

The templates themselves (the vectors) are in it only when the person asks for that copy with
their own sign-in (:data:`roles.OWN_COPIES`, :func:`template_vectors`): a copy that leaks lets
anyone who runs the same public model recognise them, so it is never made by default, nor for
an operator.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import (
    audit_redaction,
    audit_seal_tree,
    consents,
    disclosures,
    ledger,
    matching,
    passkeys,
    review,
    rights_requests,
    spent_rights,
    subject_acts,
    transparency,
)
from optinface.consent.accountability import accountability
from optinface.consent.audit import AuditAction, Entry, event_bytes
from optinface.consent.audit_seals import Seal, mentions, seal_of
from optinface.consent.policies import (
    OWN_CONSENT_GRACE_DAYS,
    inactivity_limit,
)
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AccessEvent,
    AccessExport,
    AuditEventPublic,
    ConsentCapacity,
    ExportedPurpose,
    MatchingLogic,
    PasskeyPublic,
    PasskeyResponse,
    PurposePublic,
    RetentionDate,
    ReviewPublic,
    ReviewStatus,
    SearchInvolvement,
    SearchOutcome,
    SubjectPublic,
    TemplateVector,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import (
    AuditEvent,
    ConsentStatus,
    Purpose,
    PurposeWithdrawal,
    Subject,
    Template,
)

# English source strings of the prose the export carries (the pages translate them, see
# ``api/web/export.py``); the JSON keeps the English, formatted.
SOURCE = ("you: the photos you (or the holder of parental authority) submitted at enrolment;"
          " photos are discarded once the template is made")
EVERYTHING = "everything held about you"
EVERYTHING_RULE = "{years} years after your last interaction at most"
CONSENT_HELD = "consent {consent_id} and its templates"
CONSENT_RULE = "the consent's expiry or its purposes' retention, whichever comes first"
GUARDIAN_CONSENT_RULE = ("the consent's expiry, its purposes' retention or {days} days after you"
                         " reach the age of consent, whichever comes first; a consent in your"
                         " own name to all its uses, given before, takes over its templates")
REFUSED = "refused: {code}"
IDENTIFIED = "identified (confirmed by verifiers)"
CANDIDATE = "candidate ({status}), not an identification"
NOT_REVIEWED = "not reviewed"


def refusal_code(outcome: str) -> str | None:
    """The error code in a refused search's ``outcome`` as :data:`REFUSED` writes it, else None:
    the pages translate the code, so they read it back here, beside the wording that wrote it."""
    before, _, after = REFUSED.partition("{code}")
    if not (outcome.startswith(before) and outcome.endswith(after)):
        return None
    return outcome.removeprefix(before).removesuffix(after) or None


SEARCHES = {"verify", "identify"}


def own_view(event: AuditEvent, pseudonym: str) -> AccessEvent:
    """The event as its subject may see it: their own pseudonym only, no gallery size, no
    query, no other candidate's score (:data:`audit_redaction.REDACTED_DETAILS`). An event
    chained with a commitment to those details shows it in their place, so it still matches
    its hash and its Merkle leaf (:mod:`consent.audit_redaction`); one chained with a root over
    its seals shows their own seal alone, the root and the path between them, so no count of
    the others is left (:mod:`consent.audit_seal_tree`); one chained before seal roots shows
    the other subjects' seals without their salts (hashes no one can link to them, their
    number visible); one chained before commitments, whose hashed bytes the view changes, says
    it cannot be checked."""
    public = AuditEventPublic.model_validate(event)
    mine = seal_of(event, pseudonym)
    seals = None if public.subject_seals is None else [
        s if s["hash"] == mine else Seal(hash=s["hash"], salt=None) for s in public.subject_seals]
    rooted = _seal_opening(event, mine)
    seal_root, seal_proof = rooted if rooted is not None else (None, None)
    if rooted is not None:
        seals = [s for s in seals or () if s["hash"] == mine]
    redacted = (audit_redaction.commitment(event.details)
                if audit_redaction.committed(event.details) else None)
    view = AccessEvent(**{
        **public.model_dump(), "subjects": [pseudonym], "subject_seals": seals,
        "details": audit_seal_tree.public_details(audit_redaction.shown_details(public.details)),
        "redacted": redacted, "seal_root": seal_root, "seal_proof": seal_proof})
    # An event chained with a seal root hashes it, and its details less the redacted ones,
    # both shown as they are; so does a committed and sealed event (every one the service
    # chained since commitments) hash its seals' hashes and ``redacted``: its view matches
    # it, and is not serialised twice to say so. One unsealed (by SQL) hashes the pseudonyms
    # the view replaces, so it is compared like those from before commitments.
    matches = rooted is not None or (redacted is not None and seals is not None)
    differs = not matches and event_bytes(view) != event_bytes(event)
    return view.model_copy(update={"redacted_before_commitments": differs})


def _seal_opening(event: AuditEvent, mine: str | None) -> tuple[str, list[str]] | None:
    """The seal root of an event chained with one, and the path to it from ``mine`` (none,
    from a seal the event does not hold: an edit, which the path then fails to show); None
    for an event of an earlier form."""
    if event.subject_seals is None or not audit_seal_tree.committed(event.details):
        return None
    hashes = [s["hash"] for s in event.subject_seals]
    if mine not in hashes:
        return audit_seal_tree.root(hashes, event.details[audit_seal_tree.SALT]), []
    return audit_seal_tree.opening(hashes, event.details[audit_seal_tree.SALT],
                                   hashes.index(mine))


def _involvement(event: AuditEvent, pseudonym: str,
                 reviews: dict[str, ReviewPublic]) -> SearchInvolvement | None:
    """A search as its subject sees it; "identified" only once verifiers confirmed it."""
    refused = event.action == "refused" and event.details.get("attempted") in SEARCHES
    if event.action not in SEARCHES and not refused:
        return None
    mine = seal_of(event, pseudonym)
    score = (event.details.get("scores") or {}).get(mine)
    checked = reviews.get((event.details.get("review_ids") or {}).get(mine, ""))
    if refused:
        outcome = REFUSED.format(code=event.outcome)
    elif score is None:
        outcome = SearchOutcome.NO_CANDIDATE
    elif checked is not None and checked.status == ReviewStatus.CONFIRMED:
        outcome = IDENTIFIED
    else:
        outcome = CANDIDATE.format(status=checked.status if checked else NOT_REVIEWED)
    return SearchInvolvement(
        seq=event.seq, at=event.at,
        operation=str(event.details.get("attempted", event.action)),
        outcome=outcome,
        purpose=event.purpose, actor_key_id=event.actor_key_id, actor_role=event.actor_role,
        score=round(score, 2) if score is not None else None,
        review_status=checked.status if checked else None,
        verifiers=checked.verifiers if checked else [],
        # Written only on searches that answered; a refusal answered nothing to decide on.
        decision_use=event.details.get("decision_use") is True,
    )


def _retention(subject: Subject, settings: ConsentSettings) -> list[RetentionDate]:
    years = settings.retention_years_after_last_interaction
    dates = [RetentionDate(
        what=EVERYTHING, rule=EVERYTHING_RULE.format(years=years),
        until=inactivity_limit(subject, settings))]
    for consent in subject.consents:
        rule = (CONSENT_RULE if consent.guardian_until is None
                else GUARDIAN_CONSENT_RULE.format(days=OWN_CONSENT_GRACE_DAYS))
        dates.append(RetentionDate(what=CONSENT_HELD.format(consent_id=consent.id),
                                   until=consent.ends_at, rule=rule))
    return dates


def template_vectors(runtime: Runtime, session: Session, subject: Subject) -> list[TemplateVector]:
    """The subject's templates as the recognizer computed them, oldest first: each opened with
    their data key and taken out of the deployment's rotation, the space a copy is of use in
    elsewhere (GDPR art. 20). The caller authorises the person's own request."""
    rows = list(session.scalars(
        select(Template).where(Template.subject_id == subject.id).order_by(Template.id)))
    if not rows:
        return []  # and no data key is made for a subject who has no template
    key = ledger.data_key(session, subject, keys=runtime.keys, now=runtime.clock.now())
    raw = runtime.protector.unprotect(
        np.stack([ledger.open_template(row, subject, key=key) for row in rows]))
    models = runtime.pipeline.models
    return [TemplateVector(template_id=row.id, model_id=row.model_id,
                           model_sha256=spec.sha256 if (spec := models.get(row.model_id)) else None,
                           vector=vector.tolist())
            for row, vector in zip(rows, raw, strict=True)]


def build_export(
    session: Session,
    *,
    subject: Subject,
    settings: ConsentSettings,
    public_key: ReceiptKeys,
    logic: MatchingLogic,
    now: datetime,
    vectors: list[TemplateVector] | None = None,
) -> AccessExport:
    """Everything GDPR art. 15(1)(a)-(h) and 15(2) and P-39.1 s. 27 give access to; with
    ``vectors`` (:func:`template_vectors`), the person's copy of their templates too."""
    events = list(session.scalars(
        select(AuditEvent).where(mentions(subject.pseudonym)).order_by(AuditEvent.seq)
    ))
    # A purpose withdrawn from a consent that goes on leaves it, but the events still name it.
    withdrawn = session.scalars(select(Purpose).join(
        PurposeWithdrawal, PurposeWithdrawal.purpose_id == Purpose.id
    ).where(PurposeWithdrawal.subject_id == subject.id))
    purposes = {p.id: p for c in subject.consents for p in c.purposes} | {
        p.id: p for p in withdrawn}
    held = consents.all_public(subject, public_key=public_key, now=now)
    in_force = {purpose for c in held if c.status == ConsentStatus.ACTIVE for purpose in c.purposes}
    reviews = {r.id: r for r in review.of_candidate(session, subject.pseudonym)}
    return AccessExport(
        generated_at=now,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        accountability=accountability(settings),
        purposes=[ExportedPurpose(**PurposePublic.model_validate(p).model_dump(),
                                  in_force=p.id in in_force) for p in purposes.values()],
        recipients=list(settings.recipients),
        source=SOURCE,
        retention=_retention(subject, settings),
        matching_logic=logic,
        searches=[s for s in (_involvement(e, subject.pseudonym, reviews) for e in events) if s],
        rights_requests=rights_requests.of_subject(session, subject, now=now),
        disclosures=disclosures.of_subject(session, subject.pseudonym),
        subject=SubjectPublic.model_validate(subject),
        passkeys=[PasskeyPublic(capacity=ConsentCapacity(c.capacity), registered_at=c.created_at)
                  for c in passkeys.credentials_of(session, subject)],
        consents=held,
        templates=ledger.templates_public(session, subject),
        template_vectors=vectors,
        events=[own_view(event, subject.pseudonym) for event in events],
    )


def export(runtime: Runtime, *, actor: Actor, pseudonym: str, vectors: bool,
           signed: PasskeyResponse | None) -> AccessExport:
    """The subject's export (:func:`build_export`), audited in its own transaction: the event
    names the templates copied (``vectors``, never a vector) and the person's signature of the
    copy (``signed``: a ``template_copy`` act), and the export carries its own event's
    inclusion proof. The caller authorised ``actor``."""
    now = runtime.clock.now()
    # Its challenge spent, signed once the transaction committed, before it answers.
    with spent_rights.witnessed(runtime), runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        signature = {} if signed is None or not vectors else {
            "signed": subject_acts.signed_right(session, runtime, subject, signed,
                                                act=subject_acts.TEMPLATE_COPY, actor=actor,
                                                now=now)}
        copies = template_vectors(runtime, session, subject) if vectors else None
        copied = {} if copies is None else {
            "template_vectors": [copy.template_id for copy in copies], **signature}
        runtime.audit(session, Entry(action=AuditAction.EXPORT, actor=actor,
                                     subjects=[pseudonym], details=copied))
        # Built after the export event, so its own inclusion proof is among the proofs.
        built = build_export(session, subject=subject, settings=runtime.settings,
                             public_key=runtime.keys.receipt_keys,
                             logic=matching.matching_logic(runtime), now=now, vectors=copies)
        return transparency.with_inclusion_proofs(session, built, runtime.log, now=now)
