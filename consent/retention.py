"""Retention: find what must go, at the earliest of its limits, and sweep it away.

A template is kept while the consent it was enrolled under is in force and inside its purposes'
retention period (a guardian's, also no later than a grace period after its person comes of age
without consenting in their own name: :mod:`consent.coming_of_age`); a subject while some
consent is (or, before their first consent, while an enrolment link would last:
:func:`consent.policies.awaits_first_consent_until`), and never longer than N years after their
last interaction. The clock is injected, so the rule is
tested by moving time, not by waiting.

It also finishes the erasures a crash or a dead worker interrupted
(:func:`consent.erasure.finish_interrupted`, as start-up does) and a regulator's destruction
order that a crash interrupted (:func:`consent.declaration.finish_destruction`).
The same sweep prunes the access log
(:mod:`consent.log_retention`), deletes spent one-time links and challenges (photo approvals
excepted: they are proof), forgets what people in probes left
(:func:`consent.probe_consent.forget_spent`), deletes expired page sessions
(:mod:`consent.page_sessions`) and deletes proof whose five years are over
(:mod:`consent.proof_retention`).

A consent ends at its row's end, or sooner when its signed receipt says so: a row whose expiry
or retention a database writer pushed out keeps its templates no longer than its person agreed
(:mod:`consent.receipt_ends`, which says how that is checked without verifying every receipt
at every sweep, nor in the sweep's write transaction: :func:`read_receipts`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, defer, selectinload, undefer

from optinface.consent import (
    audit_seals,
    authority,
    ledger_alterations,
    log_retention,
    page_sessions,
    passkeys,
    probe_consent,
    proof_retention,
    subject_acts,
)
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.authority import Mismatch
from optinface.consent.coming_of_age import request_own_consent
from optinface.consent.declaration import finish_destruction
from optinface.consent.erasure import destroy_ended_templates, erase_each, finish_interrupted
from optinface.consent.errors import ConsentExpired
from optinface.consent.policies import erasure_due, held_to_its_limits, in_force
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ErasureReason, SweepReport
from optinface.consent.tables import AuditEvent, Consent, ConsentStatus, Subject, SubjectStatus

logger = logging.getLogger(__name__)

READ_CHUNK = 500
"""Consents read at a time by :func:`read_receipts`. A read waits for no writer and no writer
waits for it (:meth:`consent.db.Database.reading`), but on SQLite a snapshot held open keeps a
checkpoint from emptying the WAL (an erasure's waits for it: :func:`consent.db.checkpoint_wal`),
so the rows and the receipts they need (several kB of JSON each) are loaded in short reads of
this many, and verified outside them."""

_RECEIPTS_APART = (defer(Consent.receipt), defer(Consent.withdrawal_receipt))
"""Loading options that leave a consent's receipts (several kB of JSON each) unread until
asked for: the sweep reads a receipt only where it is to be verified."""


def read_receipts(runtime: Runtime, *, now: datetime) -> None:
    """Verify the receipts of the consents in force before the sweep's write transaction, so
    that it holds the ledger's lock only to verify those whose row changed meanwhile
    (:meth:`ReceiptEnds.read <consent.receipt_ends.ReceiptEnds.read>`). The slices need not
    agree with each other nor with the write transaction: that judges every row as it finds
    it, and what it finds changed it verifies again."""
    runtime.receipt_ends.read(_unread(runtime, now=now),
                              public_key=runtime.keys.receipt_keys)


def _unread(runtime: Runtime, *, now: datetime) -> Iterator[tuple[Consent, str]]:
    """The consents in force whose receipts were not read as their rows are now, each with its
    subject's pseudonym and its receipt loaded; ``READ_CHUNK`` rows read at a time in order of
    id, each read's transaction over before its consents are handed on."""
    ends = runtime.receipt_ends
    after = ""
    while True:
        with runtime.db.reading() as session:
            chunk = session.execute(
                select(Consent, Subject.pseudonym)
                .join(Subject, Consent.subject_id == Subject.id)
                .where(held_to_its_limits(), in_force(now), Consent.id > after)
                .order_by(Consent.id).limit(READ_CHUNK)
                .options(*_RECEIPTS_APART, selectinload(Consent.purposes))).all()
            unread = [(consent, pseudonym) for consent, pseudonym in chunk
                      if ends.unread(consent, pseudonym)]
            if unread:  # their receipts, into the rows already loaded
                session.scalars(select(Consent).where(
                    Consent.id.in_([consent.id for consent, _ in unread]))
                    .options(undefer(Consent.receipt))).all()
        yield from unread
        if len(chunk) < READ_CHUNK:
            return
        after = chunk[-1][0].id


def due_for_erasure(
    runtime: Runtime, session: Session, *, now: datetime, actor: Actor | None
) -> tuple[list[tuple[str, ErasureReason]], int]:
    """The (pseudonym, reason) pairs to erase now, and how many consents just ended.

    Consents past their expiry, their purposes' retention, (a guardian's) the person's coming
    of age or their signed receipt's end are marked expired on the way (in the caller's
    transaction): either way they can authorise nothing more, and the templates enrolled under
    them are then destroyed by ``erasure.destroy_ended_templates``. A consent found ending later
    than its receipt is chained (``authority_mismatch``, use ``retention``) once.
    """
    subjects = list(session.scalars(
        select(Subject)
        .where(held_to_its_limits())  # whatever status a database writer gave them
        .options(selectinload(Subject.consents).options(  # a receipt: only where verified
            *_RECEIPTS_APART, selectinload(Consent.purposes)))  # (a row changed meanwhile)
    ))
    survey = runtime.receipt_ends.survey(
        ((consent, subject.pseudonym) for subject in subjects for consent in subject.consents
         if consent.status == ConsentStatus.ACTIVE and consent.ends_at > now),
        public_key=runtime.keys.receipt_keys, now=now)
    for consent, mismatch in survey.found:
        if not _said(session, consent.id, mismatch):
            authority.report(runtime, session, actor=actor, row_id=consent.id,
                             problem=str(mismatch), use=RETENTION, purpose=None,
                             outcome=ConsentExpired.code)
    for consent in survey.ended:  # before erasure_due: they no longer keep their subject
        consent.status = ConsentStatus.EXPIRED
    due: list[tuple[str, ErasureReason]] = []
    expired = len(survey.ended)
    for subject in subjects:
        reason = erasure_due(subject, runtime.settings, now=now)  # before the marks below:
        if reason is not None:  # they name the limit
            due.append((subject.pseudonym, reason))
        for consent in subject.consents:
            if consent.status == ConsentStatus.ACTIVE and consent.ends_at <= now:
                consent.status = ConsentStatus.EXPIRED
                expired += 1
    return due, expired


RETENTION = "retention"
"""The use a consent ending later than its receipt is reported under by the sweep."""

KNOWN_STATUSES = tuple(str(status) for status in SubjectStatus)
"""The statuses the service writes; any other was written in the database alone."""


def flag_unknown_statuses(runtime: Runtime, session: Session, *, actor: Actor | None) -> int:
    """How many subjects carry a status the service never writes (``dormant``, set by SQL):
    each logged as an error at every sweep, and chained once as ``subject_status_unknown``
    naming the subject (the log's earlier such event naming them found by the subjects'
    column). Nothing else is done here: the status keeps no one from the retention rules
    (:func:`consent.policies.held_to_its_limits`), and no search finds them (the galleries
    take active subjects only). The value itself is logged, never chained: it is whatever the
    writer typed."""
    found = session.execute(select(Subject.id, Subject.pseudonym, Subject.status).where(
        Subject.status.not_in(KNOWN_STATUSES))).all()
    for subject_id, pseudonym, status in found:
        logger.error("subject id %s has the status %r, which this service never writes (edited"
                     " in the database): its consents and templates still end at their limits",
                     subject_id, status[:40])  # never the pseudonym: a log outlives an erasure
        if not session.scalar(select(exists().where(
                AuditEvent.action == str(AuditAction.SUBJECT_STATUS_UNKNOWN),
                audit_seals.mentions(pseudonym)))):
            runtime.audit(session, Entry(action=AuditAction.SUBJECT_STATUS_UNKNOWN, actor=actor,
                                         subjects=[pseudonym]))
    return len(found)


def _said(session: Session, consent_id: str, mismatch: Mismatch) -> bool:
    """Whether a sweep already chained ``mismatch`` for this consent (at an earlier start):
    said once, not at every start. Only the sweep's reports are read (their outcome)."""
    reported = session.scalars(select(AuditEvent.details).where(
        AuditEvent.action == str(AuditAction.AUTHORITY_MISMATCH),
        AuditEvent.outcome == ConsentExpired.code))
    return any(isinstance(details, dict) and details.get("use") == RETENTION
               and details.get("consent_id") == consent_id
               and details.get("mismatch") == str(mismatch) for details in reported)


def next_consent_end(runtime: Runtime, *, after: datetime) -> datetime | None:
    """When the next consent still active ends after ``after`` (its expiry, its purposes'
    retention, a guardian's end, or its receipt's end where the last sweep found it sooner than
    its row's), or None: the sweeper wakes then, so that what the end takes away goes at that
    moment rather than at the next periodic sweep (the gates refuse it from that moment
    already). ``after`` is the last sweep's time, not now: an end that passed while the sweeper
    was busy (a long sweep or rotation) is still ahead of that sweep, and is swept at once
    rather than an interval later."""
    with runtime.db.reading() as session:
        row_end = session.scalar(select(func.min(Consent.ends_at))
                                 .where(in_force(after)))
    ends = [end for end in (row_end, runtime.receipt_ends.next_end()) if end is not None]
    return min(ends, default=None)


def sweep(runtime: Runtime, *, actor: Actor | None) -> SweepReport:
    """Erase every subject past a limit, and the templates of every consent past one while
    another keeps their subject; audited (``actor`` is None for the scheduler)."""
    now = runtime.clock.now()
    read_receipts(runtime, now=now)
    with runtime.db.transaction() as session:
        ledger_alterations.flag(runtime, session, actor=actor)  # each erasure refuses on them
        unknown = flag_unknown_statuses(runtime, session, actor=actor)  # before it erases them
        due, expired = due_for_erasure(runtime, session, now=now, actor=actor)
    # Erasures begun and interrupted (here, or on a worker that died) are finished first, as
    # at start-up; then a regulator's destruction a crash interrupted: the order covers them.
    # One that raises is reported and left for the next sweep; the others and the rest go on.
    erasures = finish_interrupted(runtime, actor=actor) + finish_destruction(runtime, actor=actor)
    # Each asked again as it is erased: a consent given since this transaction keeps its subject.
    erasures += erase_each(runtime, due, actor=actor, unless_kept=True)
    with runtime.db.transaction() as session:
        destroyed = destroy_ended_templates(runtime, session, now=now, actor=actor)
        asked = request_own_consent(runtime, session, actor=actor)
        pruned = log_retention.prune(runtime, session, now=now, actor=actor)
        one_time_rows = passkeys.forget_spent_challenges(session, now=now,
                                                         keep_used=(subject_acts.CAPTURE,))
        probe_rows = probe_consent.forget_spent(session, settings=runtime.settings, now=now)
        old_proof = proof_retention.forget_old_proof(runtime, session, now=now)
        page_rows = page_sessions.forget_expired(session, now=now)
        page_sessions.forget_expired_tokens(session, now=now)
        runtime.audit(session, Entry(action=AuditAction.SWEEP, actor=actor,
                                     details={"erased": len(erasures.receipts),
                                              "erasures_unfinished": erasures.unfinished,
                                              "consents_expired": expired,
                                              "templates_destroyed": destroyed,
                                              "own_consent_requested": asked,
                                              "log_events_pruned": pruned,
                                              "one_time_rows_deleted": one_time_rows,
                                              "probe_rows_deleted": probe_rows,
                                              "proof_rows_deleted": old_proof,
                                              "page_sessions_deleted": page_rows,
                                              "subjects_status_unknown": unknown}))
    if destroyed or runtime.db.checkpoint_owed:  # owed: one a long read held off
        runtime.db.checkpoint()
    return SweepReport(ran_at=now, consents_expired=expired, templates_destroyed=destroyed,
                       erasures=erasures.receipts, erasures_unfinished=erasures.unfinished,
                       own_consent_requested=asked)
