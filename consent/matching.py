"""Matching: 1:1 verify and 1:N identify, inside the purpose's consented gallery only.

The probe's image and vector live only in this module's frames: never stored, never logged; the
audit event keeps the probe's SHA-256, the purpose, the caller and the pseudonyms returned.
The gallery is read from the ledger's rows; what a search returns is also asked of each
consent's signed receipt (:mod:`consent.authority`), so rows widened without the key store grant
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from optinface.consent import (
    apikeys,
    authority,
    automated_decisions,
    declaration,
    ledger,
    operating_point,
    policies,
    probe_consent,
    receipt_key_in_force,
    review,
    row_seals,
)
from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.errors import ConsentError
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.refusals import check_quota
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    Candidate,
    MatchingLogic,
    MatchResult,
    Operation,
    SearchOutcome,
)
from optinface.consent.tables import Consent, Purpose, Subject, Template
from optinface.engine.errors import EngineError, ModelMismatch
from optinface.engine.stopwatch import stage
from optinface.engine.thresholds import Threshold, threshold_for
from optinface.engine.types import SearchHit, Vector


def threshold(runtime: Runtime) -> Threshold:
    """The calibrated threshold of the loaded recognizer at the configured false-match rate."""
    return threshold_for(runtime.settings.thresholds_path, model_id=runtime.pipeline.model_id,
                         fmr=runtime.settings.match_fmr)


MATCHING_DESCRIPTION = (  # an English source string: the pages translate it
    "your photo becomes a 512-number template (ArcFace); a probe photo is compared by cosine"
    " similarity with the templates of people who consented to the search's purpose; only"
    " scores at or above the threshold are candidates, and a candidate is never a decision on"
    " its own"
)


def matching_logic(runtime: Runtime) -> MatchingLogic:
    """The matching logic as an access export states it (GDPR art. 15(1)(h)): the operating
    point the register declares (not calibrated: no threshold, matching is refused, and the
    export says so)."""
    point = operating_point.in_force(runtime.settings, runtime.pipeline.models).stated
    return MatchingLogic(
        model_id=point.model_id,
        threshold=point.threshold,
        fmr=point.fmr if point.threshold is not None else None,
        fnmr=point.fnmr,
        description=MATCHING_DESCRIPTION)


def _gates(runtime: Runtime, rows: declaration.RegisterRows, purpose: Purpose, *,
           operation: Operation) -> tuple[Threshold, declaration.DeclarationState]:
    """The threshold to match at and the declaration in force, or the gate's refusal: the
    threshold the checked material hashed, so a match applies only a declared one; ``rows``:
    the register's as this transaction read them, naming the key in force as the search read
    it."""
    in_service = declaration.require_in_service(rows, settings=runtime.settings,
                                                models=runtime.pipeline.models,
                                                today=runtime.clock.now().date())
    policies.require_operation(purpose, operation)
    return in_service.threshold, in_service


def _gallery(runtime: Runtime, session: Session, purpose: Purpose, *, subject: str | None,
             now: datetime) -> set[int]:
    """The labels a search may return: the purpose's gallery, or the claimed subject's."""
    model_id = runtime.pipeline.model_id
    if subject is None:
        return policies.gallery_labels(session, purpose, model_id=model_id, now=now)
    row = ledger.get_subject(session, subject, runtime=runtime)
    policies.require_verify_consent(session, row, purpose, now=now)
    models = policies.claimed_templates(session, row, purpose, now=now)
    usable = {label for label, model in models.items() if model == model_id}
    if models and not usable:
        raise ModelMismatch(
            f"subject {subject} was enrolled with another model; re-enrolment needed",
            details={"subject": subject, "model_id": model_id})
    return usable


_FOUND = (select(Template.id, Template.model_id, Template.seal, Subject, Consent)
          .join(Subject, Subject.id == Template.subject_id)
          .join(Consent, Consent.id == Template.consent_id)
          .where(Template.id.in_(bindparam("labels", expanding=True)))
          .options(selectinload(Consent.purposes)))
"""The templates found, with their owners and the consents they were enrolled under (built
once, like the gallery's query)."""


SEARCH_WIDENING = 64
"""How far past ``k`` a search may look for templates whose rows are backed: it asks the index
for ``k``, then twice as many while some it found were dropped, up to this many times ``k``
(seven searches at most). At that bound the answer holds the backed templates found, fewer than
``k``, and the search event counts those dropped (``dropped``); each of them was chained."""


class _Backing:
    """What a search asks of the rows behind the templates it finds, once per template, consent
    and subject however many times the search widens.

    A template counts when it is sealed as its owner's under the consent it was enrolled under
    (:func:`row_seals.template_sealed`), that consent is backed by its signed receipt
    (:mod:`consent.authority`) and ended nowhere in the erasure journal, and, for a 1:N search
    (``opt_in``), its owner's opt-in carries the seal of the act they signed
    (:func:`row_seals.opted_in`). The gallery is built from rows, which a write to the database
    alone can widen; each template, consent or opt-in found that its person did not sign is
    dropped and reported once, whether or not its template scored above the threshold, so the
    report does not tell a match.

    On a shared ledger the receipt keys the search read before the probe was embedded may be
    stale: another worker may rotate the receipt key meanwhile and sign a consent with the new
    one, whose receipt then fails these keys as :attr:`authority.Mismatch.SIGNATURE`. So the
    first receipt that fails so reads the keys in force again
    (:func:`receipt_key_in_force.in_force`) and is checked once more; only one that still fails
    is dropped and reported, a false tamper report otherwise. One extra read per search at most
    (a forged signature costs it, once); on SQLite none: no other process can rotate.
    """

    def __init__(self, runtime: Runtime, session: Session, *, actor: Actor, use: str,
                 purpose_id: str, opt_in: bool, receipt_keys: ReceiptKeys) -> None:
        self._runtime, self._session = runtime, session
        self._actor, self._use, self._purpose_id, self._opt_in = actor, use, purpose_id, opt_in
        self._receipt_keys = receipt_keys  # as the search read them, or read again once
        self._may_read_again = runtime.db.shared
        self.owners: dict[int, str | None] = {}
        """Each template asked about: its owner's pseudonym, or None when dropped."""
        self._consents: dict[str, bool] = {}  # by consent id: backed by its receipt
        self._opted_in: dict[str, bool] = {}  # by pseudonym: the opt-in sealed

    def ask(self, labels: list[int]) -> None:
        """Find the owners of those of ``labels`` not asked about yet (:attr:`owners`)."""
        labels = [label for label in labels if label not in self.owners]
        if not labels:
            return
        found = self._session.execute(_FOUND, {"labels": labels}).all()
        keys = self._runtime.keys
        unsealed = [row.id for row in found if not row_seals.template_sealed(
            keys, template_id=row.id, pseudonym=row.Subject.pseudonym,
            consent_id=row.Consent.id, model_id=row.model_id, found=row.seal)]
        if unsealed:
            self._report(row_id=None, problem=str(authority.Mismatch.TEMPLATE),
                         templates=unsealed)
        self.owners.update(dict.fromkeys(labels))  # a label the ledger no longer holds: none
        for row in found:
            if row.id not in unsealed and self._consent_backed(row.Consent, row.Subject) and (
                    not self._opt_in or self._opted_in_now(row.Subject)):
                self.owners[row.id] = row.Subject.pseudonym

    def _consent_backed(self, consent: Consent, subject: Subject) -> bool:
        if consent.id not in self._consents:
            keys = self._runtime.keys
            problem = self._receipt_problem(
                consent, subject) or self._runtime.journal_ends.problem(
                keys, consent_id=consent.id, purpose_id=self._purpose_id,
                pseudonym=subject.pseudonym)
            self._consents[consent.id] = problem is None
            if problem is not None:
                self._report(row_id=consent.id, problem=str(problem))
        return self._consents[consent.id]

    def _receipt_problem(self, consent: Consent, subject: Subject) -> authority.Mismatch | None:
        """Why the consent's signed receipt does not back it, checked again with the keys in
        force for the first signature that fails on a shared ledger (see the class)."""
        problem = authority.consent_problem(consent, pseudonym=subject.pseudonym,
                                            public_key=self._receipt_keys)
        if problem is not authority.Mismatch.SIGNATURE or not self._may_read_again:
            return problem
        self._may_read_again = False
        self._receipt_keys = receipt_key_in_force.in_force(self._runtime).loaded_receipt_keys
        return self._receipt_problem(consent, subject)

    def _opted_in_now(self, subject: Subject) -> bool:
        if subject.pseudonym not in self._opted_in:
            keys = self._runtime.keys
            problem = (str(authority.Mismatch.OPT_IN) if not row_seals.opted_in(keys, subject)
                       else self._runtime.journal_ends.opt_out_problem(
                           keys, pseudonym=subject.pseudonym,
                           opted_in_at=subject.searchable_since))
            self._opted_in[subject.pseudonym] = problem is None
            if problem is not None:
                self._report(row_id=None, problem=problem, subjects=[subject.pseudonym])
        return self._opted_in[subject.pseudonym]

    def _report(self, *, row_id: str | None, problem: str, subjects: Sequence[str] = (),
                templates: Sequence[int] = ()) -> None:
        authority.report(self._runtime, self._session, actor=self._actor, row_id=row_id,
                         problem=problem, use=self._use, purpose=self._purpose_id,
                         subjects=subjects, templates=templates)


def _nearest_backed(runtime: Runtime, backing: _Backing, vector: Vector, *, k: int,
                    allowed: set[int]) -> tuple[list[SearchHit], int]:
    """The ``k`` nearest templates of ``allowed`` whose rows are backed, best first, and how
    many nearer ones were dropped: the search widens while drops leave fewer than ``k``
    (:data:`SEARCH_WIDENING`). With nothing dropped it is one search of ``k``, as ever."""
    limit = min(k * SEARCH_WIDENING, len(allowed))
    asked = min(k, limit)
    while True:
        hits = runtime.index.search(vector, k=asked, allowed=allowed)
        backing.ask([hit.label for hit in hits])
        kept: list[SearchHit] = []
        dropped = 0
        for hit in hits:
            if len(kept) == k:
                break
            if backing.owners[hit.label] is None:
                dropped += 1
            else:
                kept.append(hit)
        # Fewer hits than asked: the index holds no more of the gallery; wider finds nothing.
        if len(kept) == k or asked >= limit or len(hits) < asked:
            return kept, dropped
        asked = min(2 * asked, limit)


def match(runtime: Runtime, *, actor: Actor, operation: Operation, purpose_id: str,
          probe_consent_id: str, image: bytes, subject: str | None, k: int,
          daily_quota: int | None, decision_use: bool,
          spent: Callable[[], None] = lambda: None) -> MatchResult:
    """Search ``image`` against the gallery (``subject`` set: that subject only); audited, with
    the use's start beside the event's own time, its end (AI Act art. 12(3)(a)).

    ``spent``: called once the probe consent's use committed, so that the caller signs it
    into the witness folder before it answers (:mod:`consent.spent_rights`).

    ``decision_use``: the caller declared it will base a decision about the person on the
    answer; the answer then carries the notice it must relay (:mod:`consent.automated_decisions`)
    and the event records the declaration, which the named subjects' exports show.
    """
    started_at = runtime.clock.now()
    probe_sha256 = hashlib.sha256(image).hexdigest()
    with stage("consent"), runtime.db.transaction() as session:
        # Early and cheap: a spent key is refused before the upload is taken in.
        check_quota(runtime, session, actor, daily_quota, purpose=purpose_id)
        ledger.get_purpose(session, purpose_id)
    # Once a search, for the probe consent's receipt, both gates and the gallery's receipts:
    # on a shared ledger each read is a key-store read. A rotation while the probe is embedded
    # is seen by the next request; within this one it can only refuse a receipt the new key
    # signed (that key is not among these), never pass one the keys in force would not, and a
    # gallery receipt so refused is checked once more with the keys read again (_Backing).
    receipt_keys = receipt_key_in_force.in_force(runtime).loaded_receipt_keys

    def spend() -> None:
        """Use the probe consent, once the engine admitted the image and read its header and
        before any pixel of it is decoded (a busy engine or a refused header spends nothing):
        refused or not, the use is committed, then the gates are checked; a refusal keeps it.
        A regulator's order is asked first and spends nothing: the person's consent was not
        what stopped the search, so it still serves once the order is lifted.
        Transactions are serialised, so of two attempts under one probe consent only the first
        gets here unrefused, and only it is processed."""
        refusal: ConsentError | EngineError | None
        with stage("consent"), runtime.db.transaction() as session:
            rows = declaration.require_not_suspended(runtime, session,
                                                     receipt_keys=receipt_keys)
            purpose = ledger.get_purpose(session, purpose_id)
            refusal = probe_consent.consume(
                session, probe_consent_id, purpose=purpose, operation=operation,
                probe_sha256=probe_sha256, key_id=actor.key_id, now=runtime.clock.now(),
                subject=subject, keys=runtime.keys, receipt_keys=receipt_keys,
                witness_dir=runtime.log.witness.directory)
            spends = refusal is None or refusal.details["problem"] not in probe_consent.UNSPENT
            if refusal is None:
                try:
                    _gates(runtime, rows, purpose, operation=operation)
                except (ConsentError, EngineError) as gate:
                    refusal = gate
        if spends:
            spent()
        if refusal is not None:
            raise refusal

    with stage("embed"):  # the biometric work, as the in-process side of a benchmark does it
        vector = runtime.protector.protect(
            runtime.pipeline.embed_single(image, before_decoding=spend).vector[None, :])[0]
    now = runtime.clock.now()
    with stage("search"), runtime.db.transaction() as session:
        # A key revoked while the probe was embedded searches nothing.
        apikeys.require_still_in_force(session, runtime.key_rows, actor, keys=runtime.keys,
                                       now=now)
        # Exact: this transaction also appends the search's audit event.
        check_quota(runtime, session, actor, daily_quota, purpose=purpose_id)
        purpose = ledger.get_purpose(session, purpose_id)
        calibrated, in_service = _gates(
            runtime, runtime.register_reads.rows(session, receipt_keys=receipt_keys), purpose,
            operation=operation)
        allowed = _gallery(runtime, session, purpose, subject=subject, now=now)
        k = min(k, runtime.settings.max_candidates)
        backing = _Backing(runtime, session, actor=actor, use=str(operation),
                           purpose_id=purpose_id, opt_in=subject is None,
                           receipt_keys=receipt_keys)
        hits, dropped = _nearest_backed(runtime, backing, vector, k=k, allowed=allowed)
        best: dict[str, float] = {}
        for hit in hits:
            pseudonym = backing.owners[hit.label]
            if hit.score >= calibrated.threshold and pseudonym is not None:
                best[pseudonym] = max(best.get(pseudonym, -1.0), hit.score)
        # Rounded: full-precision scores help hill-climbing attacks on the templates.
        ranked = [(s, round(v, 2)) for s, v in sorted(best.items(), key=lambda item: -item[1])]
        review_ids = review.open_reviews(session, operation=operation, purpose_id=purpose_id,
                                         searcher=actor, scores=ranked, now=now)
        candidates = [Candidate(subject=s, score=v, review_id=r)
                      for (s, v), r in zip(ranked, review_ids, strict=True)]
        result = MatchResult(
            outcome=SearchOutcome.CANDIDATES if candidates else SearchOutcome.NO_CANDIDATE,
            threshold=calibrated.threshold, fmr=calibrated.fmr, fnmr=calibrated.fnmr,
            model_id=runtime.pipeline.model_id, purpose_id=purpose_id, candidates=candidates,
            confirmations_required=review.CONFIRMATIONS[operation],
            automated_decision_notice=automated_decisions.notice(
                runtime.settings, confirmations_required=review.CONFIRMATIONS[operation])
            if decision_use else None)
        runtime.audit(session, Entry(
            action=AuditAction(str(operation)), actor=actor, outcome=str(result.outcome),
            # A verify involves its claimed subject whatever the outcome: named, so their
            # access export shows a no_candidate too. Scores at 2 decimals, for the export.
            purpose=purpose_id, subjects=list(best) if subject is None else [subject],
            probe_sha256=probe_sha256,
            details={"probe_consent_id": probe_consent_id, "started_at": log_time(started_at),
                     "k": k, "gallery_size": len(allowed), "decision_use": decision_use,
                     "reference_database": {**declaration.reference_database(in_service),
                                            "model_id": runtime.pipeline.model_id},
                     "scores": dict(ranked),
                     "review_ids": dict(zip([p for p, _ in ranked], review_ids, strict=True)),
                     **({"dropped": dropped} if dropped else {})}))
        return result
