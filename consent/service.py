"""OptinFace: the one door through which the API, the CLI and notebooks use the consent core.

Every public method authorises the actor, applies the gates, does the work and chains an audit
event in the same transaction. Refusals are audited too (in their own transaction, since the
refused work is rolled back) and then raised unchanged.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optinface.consent import (
    access,
    activity,
    alternative,
    apikeys,
    changefeed,
    declaration,
    epochs,
    ledger,
    policies,
    purpose_withdrawal,
    rights_requests,
)
from optinface.consent.accountability import accountability
from optinface.consent.audit import AuditAction, Entry, sign_checkpoint, verify_chain
from optinface.consent.changefeed import ChangeOp
from optinface.consent.clock import Clock, SystemClock
from optinface.consent.crypto import canonical_json
from optinface.consent.db import Database
from optinface.consent.epochs import EpochReport
from optinface.consent.erasure import destroy_ended_templates, destroy_templates, erase_subject
from optinface.consent.errors import (
    ConsentError,
    DataDirUnusable,
    InvalidRequest,
    NotFound,
    QuotaExceeded,
)
from optinface.consent.identifiers import require_identifiers
from optinface.consent.keys import KeyRing, load_protector
from optinface.consent.keystore import open_key_store
from optinface.consent.lock import DataDirLock
from optinface.consent.quota import require_identify_quota
from optinface.consent.receipts import consent_receipt, published_key
from optinface.consent.reconcile import reconcile
from optinface.consent.register import build_register, render_register
from optinface.consent.replica import Replica
from optinface.consent.roles import Actor, Permission, Role, authorize
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AccessExport,
    AlternativeChosenResult,
    ApiKeyCreated,
    ApiKeyPublic,
    AuditEventPublic,
    AuditFilter,
    AuditPage,
    Candidate,
    ChainStatus,
    CheckpointPublic,
    ConsentCreate,
    ConsentGiven,
    ConsentLedger,
    ConsentPublic,
    Decision,
    ErasureReason,
    ErasureReceipt,
    ExportFormat,
    KeyEpochPublic,
    KeyName,
    MatchingLogic,
    MatchResult,
    NoticeCreate,
    NoticePublic,
    Operation,
    PrivacyStatement,
    ProbeConsentCreate,
    ProbeConsentPublic,
    PublishedKey,
    PurposeCreate,
    PurposePublic,
    PurposeWithdrawalPublic,
    ReconcileReport,
    Register,
    RightsRequestCreate,
    RightsRequestPublic,
    SearchCount,
    SubjectCreate,
    SubjectCreated,
    SubjectPublic,
    SweepReport,
    TemplatePublic,
    TombstonePublic,
    WithdrawalResult,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.sweeper import due_for_erasure
from optinface.consent.tables import (
    ApiKey,
    AuditEvent,
    Consent,
    ConsentStatus,
    Notice,
    ProbeConsent,
    Purpose,
    RegulatorOrder,
    Subject,
    Template,
)
from optinface.engine.errors import EngineError, IndexCorrupt, ModelMismatch
from optinface.engine.files import shred_path
from optinface.engine.pipeline import FacePipeline
from optinface.engine.protection import TemplateProtector
from optinface.engine.thresholds import Threshold, threshold_for
from optinface.engine.types import VectorIndex

logger = logging.getLogger(__name__)
T = TypeVar("T")
EMBEDDING_DIM = 512


def _open_index(settings: ConsentSettings) -> tuple[VectorIndex, str | None]:
    """The saved index; an empty one, and why, when the file is unusable.

    The index is a cache of the ledger, so reconciliation refills an empty one: better than
    refusing to start, and a damaged file of biometric vectors is not worth keeping.
    """
    from optinface.engine.index import HnswIndex  # the engine's default backend

    try:
        return HnswIndex.open(settings, dim=EMBEDDING_DIM), None
    except IndexCorrupt as error:
        logger.error("index file unusable, deleted and rebuilt from the ledger: %s", error)
        shred_path(settings.index_path)
        return HnswIndex.from_settings(settings, dim=EMBEDDING_DIM), str(error)


class OptinFace:
    """The consent-first face-matching service."""

    def __init__(
        self,
        *,
        settings: ConsentSettings,
        pipeline: FacePipeline,
        clock: Clock,
        runtime: Runtime,
        protector: TemplateProtector,
        lock: DataDirLock,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.clock = clock
        self.runtime = runtime
        self._protector = protector
        self._lock = lock
        self.last_reconcile: ReconcileReport | None = None
        self.replica: Replica | None = None

    # Life cycle -------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        settings: ConsentSettings,
        *,
        pipeline: FacePipeline | None = None,
        clock: Clock | None = None,
        index: VectorIndex | None = None,
    ) -> OptinFace:
        """Lock the data folder, create it and the keys on first run, migrate, load the index,
        reconcile.

        Raises:
            DataDirInUse: Another process has the data folder open (see :mod:`consent.lock`).
        """
        try:
            # Only the service's user may even list what the data directory holds.
            settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            settings.data_dir.chmod(0o700)
            lock = DataDirLock.acquire(settings.data_dir)
        except PermissionError as error:
            message = f"data directory {settings.data_dir}: {error.strerror}"
            raise DataDirUnusable(message) from error
        except (FileExistsError, NotADirectoryError) as error:
            raise DataDirUnusable(f"data directory {settings.data_dir} is not a folder") from error
        try:
            return cls._open_locked(settings, lock=lock, pipeline=pipeline, clock=clock,
                                    index=index)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(
        cls,
        settings: ConsentSettings,
        *,
        lock: DataDirLock,
        pipeline: FacePipeline | None,
        clock: Clock | None,
        index: VectorIndex | None,
    ) -> OptinFace:
        keys = KeyRing.open(open_key_store(settings))
        db = Database(settings.url)
        db.open()
        index, discarded = (index, None) if index is not None else _open_index(settings)
        runtime = Runtime(
            settings=settings,
            db=db,
            keys=keys,
            index=index,
            clock=clock or SystemClock(),
        )
        service = cls(
            settings=settings,
            pipeline=pipeline or FacePipeline.from_settings(settings),
            clock=runtime.clock,
            runtime=runtime,
            protector=load_protector(keys.store),
            lock=lock,
        )
        with db.transaction() as session:
            epochs.record_current(runtime, session)  # the epoch's clock starts on first use
        # Several workers on a shared ledger: this one's index is a replica (consent.replica).
        replica = Replica(runtime, model_id=service.pipeline.model_id) if db.shared else None
        if replica is not None:
            replica.catch_up()  # the feed since this replica's last save
        service.last_reconcile = reconcile(runtime, model_id=service.pipeline.model_id,
                                           index_discarded=discarded)
        if replica is not None:
            replica.follow()
            service.replica = replica
        logger.info("optinface open: %s", service.last_reconcile)
        return service

    def close(self) -> None:
        try:
            if self.replica is not None:
                self.replica.close()  # stops following; saves the index and its feed position
            else:
                self.runtime.index.save()
            self.runtime.db.close()
            self.runtime.keys.store.close()
        finally:
            self._lock.release()

    @property
    def index(self) -> VectorIndex:
        return self.runtime.index

    @property
    def public_key(self) -> str:
        return self.runtime.keys.public_key

    def published_keys(self) -> list[PublishedKey]:
        """The keys anyone may check receipts and checkpoints with; public, nothing personal."""
        return [published_key(self.public_key)]

    # Plumbing ---------------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self.runtime.db.transaction() as session:
            yield session

    def _audit(self, session: Session, entry: Entry) -> None:
        self.runtime.audit(session, entry)

    def _guarded(
        self,
        work: Callable[[], T],
        *,
        actor: Actor | None,
        action: AuditAction,
        purpose: str | None = None,
        subjects: list[str] | None = None,
        probe_sha256: str | None = None,
        daily_quota: int | None = None,
    ) -> T:
        """Run ``work``; a refusal is chained into the audit log, then raised unchanged.

        With ``daily_quota`` (identify), the refused attempt counts against the quota too: if
        concurrent attempts spent the quota meanwhile, it is recorded and raised as
        ``rate_limited`` instead, so the attempts counted never exceed the quota. Identifiers
        that cannot be ones are refused first, unrecorded: the log never holds what a caller
        made up at any length.
        """
        require_identifiers(purpose=purpose, subjects=subjects)
        try:
            return work()
        except (ConsentError, EngineError) as refusal:
            raised: ConsentError | EngineError = refusal
            with self._write() as session:
                if not isinstance(refusal, QuotaExceeded):
                    try:
                        self._check_quota(session, actor, daily_quota)
                    except QuotaExceeded as spent:
                        raised = spent
                self._audit(
                    session,
                    Entry(
                        action=AuditAction.REFUSED,
                        actor=actor,
                        outcome=raised.code,
                        purpose=purpose,
                        subjects=subjects or [],
                        probe_sha256=probe_sha256,
                        details={"attempted": str(action)},
                    ),
                )
            if raised is refusal:
                raise
            raise raised from refusal

    def _check_quota(self, session: Session, actor: Actor | None, daily_quota: int | None) -> None:
        """In the transaction that appends the attempt's audit event (see :mod:`consent.quota`)."""
        if daily_quota is not None and actor is not None:
            require_identify_quota(session, key_id=actor.key_id, limit=daily_quota,
                                   now=self.clock.now())

    def _consent_public(self, consent: Consent) -> ConsentPublic:
        return ledger.consent_public(
            consent,
            public_key=self.public_key,
            status=policies.consent_status(consent, now=self.clock.now()),
        )

    # Keys and authentication ------------------------------------------------------------------
    def create_api_key(self, *, actor: Actor | None, role: Role, name: str) -> ApiKeyCreated:
        """A new key; ``actor=None`` only bootstraps the first admin key of an empty system."""
        with self._write() as session:
            if actor is None:
                if session.scalar(select(func.count()).select_from(ApiKey)):
                    raise InvalidRequest("bootstrap is only possible while no API key exists")
                if role is not Role.ADMIN:
                    raise InvalidRequest("the bootstrap key must be an admin key")
            else:
                authorize(actor, Permission.MANAGE_KEYS)
            if role is Role.SUBJECT:
                raise InvalidRequest("subject tokens are issued with subjects, never as API keys")
            row, secret = apikeys.create_api_key(
                session, role=role, name=name, keys=self.runtime.keys, now=self.clock.now()
            )
            self._audit(
                session,
                Entry(action=AuditAction.KEY_CREATED, actor=actor,
                      details={"key_id": row.id, "role": str(role), "name": name}),
            )
            return ApiKeyCreated(**_key_public(row).model_dump(), secret=secret)

    def list_api_keys(self, *, actor: Actor) -> list[ApiKeyPublic]:
        authorize(actor, Permission.MANAGE_KEYS)
        with self._write() as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at))
            return [_key_public(k) for k in rows]

    def revoke_api_key(self, *, actor: Actor, key_id: str) -> None:
        authorize(actor, Permission.MANAGE_KEYS)
        with self._write() as session:
            apikeys.revoke_api_key(session, key_id=key_id, now=self.clock.now())
            self._audit(session, Entry(action=AuditAction.KEY_REVOKED, actor=actor,
                                       details={"key_id": key_id}))

    def authenticate(self, secret: str) -> Actor:
        """The actor behind an API key or subject token; failures are audited without the secret."""
        try:
            with self._write() as session:
                return apikeys.authenticate(
                    session, secret, keys=self.runtime.keys, now=self.clock.now()
                )
        except apikeys.AuthFailure as failure:
            with self._write() as session:
                self._audit(
                    session,
                    Entry(
                        action=AuditAction.LOGIN_FAILURE,
                        actor=None,
                        outcome=failure.code,
                        details={"key_id": failure.key_id, **failure.details},
                    ),
                )
            raise

    # Purposes and notices ---------------------------------------------------------------------
    def create_purpose(self, *, actor: Actor, body: PurposeCreate) -> PurposePublic:
        authorize(actor, Permission.MANAGE_PURPOSES)
        with self._write() as session:
            purpose = ledger.create_purpose(session, body, now=self.clock.now())
            self._audit(session, Entry(action=AuditAction.PURPOSE_CREATED, actor=actor,
                                       purpose=purpose.id, details={"name": purpose.name}))
            return PurposePublic.model_validate(purpose)

    def list_purposes(self, *, actor: Actor) -> list[PurposePublic]:
        authorize(actor, Permission.READ_PURPOSES, subject=actor.subject)
        with self._write() as session:
            rows = session.scalars(select(Purpose).order_by(Purpose.created_at))
            return [PurposePublic.model_validate(p) for p in rows]

    def publish_notice(self, *, actor: Actor, body: NoticeCreate) -> NoticePublic:
        authorize(actor, Permission.MANAGE_PURPOSES)
        with self._write() as session:
            notice = ledger.publish_notice(session, body, now=self.clock.now())
            self._audit(session, Entry(action=AuditAction.NOTICE_PUBLISHED, actor=actor,
                                       details={"notice_id": notice.id, "sha256": notice.sha256}))
            return self._notice_public(notice)

    def list_notices(self, *, actor: Actor) -> list[NoticePublic]:
        authorize(actor, Permission.READ_PURPOSES, subject=actor.subject)
        with self._write() as session:
            rows = session.scalars(select(Notice).order_by(Notice.published_at))
            return [self._notice_public(n) for n in rows]

    def _notice_public(self, notice: Notice) -> NoticePublic:
        return NoticePublic.model_validate(notice).model_copy(
            update={"accountability": accountability(self.settings)})

    def privacy_statement(self) -> PrivacyStatement:
        """The public privacy page's content (no authentication: nothing personal in it)."""
        with self._write() as session:
            purposes = [PurposePublic.model_validate(p) for p in session.scalars(
                select(Purpose).order_by(Purpose.created_at))]
        return PrivacyStatement(accountability=accountability(self.settings), purposes=purposes,
                                retention_rules=declaration.retention_rules(self.settings))

    # Subjects and consents --------------------------------------------------------------------
    def create_subject(self, *, actor: Actor, body: SubjectCreate) -> SubjectCreated:
        authorize(actor, Permission.CREATE_SUBJECT)
        now = self.clock.now()
        with self._write() as session:
            subject = ledger.create_subject(
                session, body, default_jurisdiction=self.settings.jurisdiction, now=now
            )
            token = apikeys.issue_subject_token(
                session, subject=subject, keys=self.runtime.keys, now=now,
                days=self.settings.subject_token_days,
            )
            self._audit(session, Entry(action=AuditAction.SUBJECT_CREATED, actor=actor,
                                       subjects=[subject.pseudonym],
                                       details={"age_category": subject.age_category,
                                                "jurisdiction": subject.jurisdiction}))
            return SubjectCreated(
                pseudonym=subject.pseudonym,
                subject=SubjectPublic.model_validate(subject),
                subject_token=token,
                token_expires_at=now + timedelta(days=self.settings.subject_token_days),
            )

    def get_subject(self, *, actor: Actor, subject: str) -> SubjectPublic:
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._write() as session:
            return SubjectPublic.model_validate(
                ledger.get_subject(session, subject, keys=self.runtime.keys)
            )

    def set_searchable(self, *, actor: Actor, subject: str, searchable: bool) -> SubjectPublic:
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            row.searchable = searchable
            row.last_interaction_at = self.clock.now()
            self._audit(session, Entry(action=AuditAction.SUBJECT_UPDATED, actor=actor,
                                       subjects=[subject], details={"searchable": searchable}))
            return SubjectPublic.model_validate(row)

    def choose_alternative(self, *, actor: Actor, subject: str) -> AlternativeChosenResult:
        """The person chooses the non-biometric alternative instead (see
        :mod:`consent.alternative`): their templates go now, enrolment is refused from then."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            destroyed = alternative.choose_alternative(self.runtime, session, subject=row,
                                                       now=self.clock.now())
            self._audit(session, Entry(action=AuditAction.ALTERNATIVE_CHOSEN, actor=actor,
                                       subjects=[subject],
                                       details={"templates_erased": destroyed.templates}))
            public = SubjectPublic.model_validate(row)
        self.runtime.db.checkpoint()
        return AlternativeChosenResult(subject=public,
                                       alternative=self.settings.non_biometric_alternative,
                                       templates_destroyed=destroyed.templates)

    def give_consent(self, *, actor: Actor, subject: str, body: ConsentCreate) -> ConsentGiven:
        authorize(actor, Permission.GIVE_CONSENT, subject=subject)
        return self._guarded(lambda: self._give_consent(actor, subject, body), actor=actor,
                             action=AuditAction.CONSENT_GIVEN, subjects=[subject])

    def _give_consent(self, actor: Actor, pseudonym: str, body: ConsentCreate) -> ConsentGiven:
        now = self.clock.now()
        if body.expires_at <= now or body.expires_at > now + timedelta(
            days=self.settings.max_consent_days
        ):
            raise InvalidRequest(
                f"a consent must expire in the future and within {self.settings.max_consent_days}"
                " days", details={"max_consent_days": self.settings.max_consent_days})
        with self._write() as session:
            subject = ledger.get_subject(session, pseudonym, keys=self.runtime.keys)
            policies.require_capacity(subject, body.given_by, self.settings)
            purposes = [ledger.get_purpose(session, p) for p in dict.fromkeys(body.purposes)]
            notice = ledger.get_notice(session, body.notice_id)
            consent = ledger.record_consent(
                session, subject=subject, body=body, purposes=purposes, notice=notice, now=now
            )
            consent.receipt = consent_receipt(
                receipt_id=consent.id,
                timestamp=now,
                jurisdiction=subject.jurisdiction,
                method=consent.method,
                controller=self.settings.controller_name,
                contact=self.settings.controller_contact,
                pseudonym=subject.pseudonym,
                purposes=[
                    {"purposeId": p.id, "purpose": p.name, "description": p.description,
                     "legalBasis": p.legal_basis, "operations": p.operations,
                     "retentionDays": p.retention_days, "study": p.study,
                     "purposeCategory": ["biometric identification"], "consentType": "EXPLICIT",
                     "piiCategory": ["face template"], "primaryPurpose": True,
                     "termination": consent.expires_at.isoformat(), "thirdPartyDisclosure": False}
                    for p in purposes
                ],
                policy_url=self.settings.policy_url,
                accountability=accountability(self.settings),
                notice={"id": notice.id, "version": notice.version, "language": body.language,
                        "sha256": notice.sha256},
                public_key=self.public_key,
                expires_at=consent.expires_at,
            )
            consent.receipt_signature = self.runtime.keys.sign(canonical_json(consent.receipt))
            subject.last_interaction_at = now
            self._audit(session, Entry(action=AuditAction.CONSENT_GIVEN, actor=actor,
                                       subjects=[pseudonym],
                                       details={"consent_id": consent.id,
                                                "purposes": [p.id for p in purposes],
                                                "given_by": consent.given_by}))
            public = self._consent_public(consent)
        assert public.receipt is not None
        return ConsentGiven(consent=public, receipt=public.receipt)

    def list_consents(self, *, actor: Actor, subject: str) -> list[ConsentPublic]:
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            return [self._consent_public(c) for c in sorted(row.consents,
                                                            key=lambda c: c.obtained_at)]

    def withdraw_consent(self, *, actor: Actor, subject: str, consent_id: str) -> WithdrawalResult:
        """Withdraw at once; templates enrolled under it go now; no consent left: erase all."""
        authorize(actor, Permission.WITHDRAW_CONSENT, subject=subject)
        now = self.clock.now()
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            consent = ledger.get_consent(session, subject=row, consent_id=consent_id)
            if consent.withdrawn_at is not None:
                # Withdrawing again changes nothing: the first withdrawal's time stays the record.
                return WithdrawalResult(consent=self._consent_public(consent), templates_erased=0,
                                        subject_erased=False, erasure=None)
            consent.status = ConsentStatus.WITHDRAWN
            consent.withdrawn_at = now
            row.last_interaction_at = now
            labels = set(session.scalars(select(Template.id).where(
                Template.consent_id == consent_id)))
            destroyed = destroy_templates(self.runtime, session, labels)
            remaining = [c for c in row.consents
                         if policies.consent_status(c, now=now) is ConsentStatus.ACTIVE]
            self._audit(session, Entry(action=AuditAction.CONSENT_WITHDRAWN, actor=actor,
                                       subjects=[subject],
                                       details={"consent_id": consent_id,
                                                "templates_erased": destroyed.templates}))
            public = self._consent_public(consent)
        self.runtime.db.checkpoint()
        erasure = None
        if not remaining:
            erasure = erase_subject(self.runtime, pseudonym=subject,
                                    reason=ErasureReason.WITHDRAWAL, actor=actor)
            public = public.model_copy(update={"subject": erasure.subject_hash, "receipt": None,
                                               "guardian_name": None})
        return WithdrawalResult(consent=public, templates_erased=destroyed.templates,
                                subject_erased=erasure is not None, erasure=erasure)

    def withdraw_purpose(self, *, actor: Actor, subject: str, consent_id: str,
                         purpose_id: str) -> WithdrawalResult:
        """Withdraw one purpose of a consent (consent.purpose_withdrawal); its last purpose
        withdraws the consent itself, like :meth:`withdraw_consent`."""
        authorize(actor, Permission.WITHDRAW_CONSENT, subject=subject)
        narrowed = purpose_withdrawal.narrow(self.runtime, actor=actor, pseudonym=subject,
                                             consent_id=consent_id, purpose_id=purpose_id)
        if narrowed is None:
            return self.withdraw_consent(actor=actor, subject=subject, consent_id=consent_id)
        consent = next(c for c in self.list_consents(actor=actor, subject=subject)
                       if c.id == consent_id)
        return WithdrawalResult(consent=consent, templates_erased=0, subject_erased=False,
                                purpose_withdrawal=narrowed)

    def is_last_purpose(self, *, actor: Actor, subject: str, consent_id: str,
                        purpose_id: str) -> bool:
        """Whether withdrawing this purpose ends the consent (the page asks to confirm)."""
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        return purpose_withdrawal.is_last_purpose(self.runtime, pseudonym=subject,
                                                  consent_id=consent_id, purpose_id=purpose_id)

    def purpose_withdrawals(self, *, actor: Actor, subject: str) -> list[PurposeWithdrawalPublic]:
        """The subject's signed receipts of purposes withdrawn from consents they keep."""
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            return purpose_withdrawal.for_subject(session, row, public_key=self.public_key)

    def create_probe_consent(self, *, actor: Actor, body: ProbeConsentCreate) -> ProbeConsentPublic:
        """The consent of the person in a probe image: one search, one purpose."""
        authorize(actor, Permission.CREATE_PROBE_CONSENT)
        now = self.clock.now()
        if body.expires_at <= now:
            raise InvalidRequest("a probe consent must expire in the future")
        with self._write() as session:
            ledger.get_purpose(session, body.purpose_id)
            ledger.get_notice(session, body.notice_id)
            probe = ProbeConsent(
                id=ledger.new_id("prb"), purpose_id=body.purpose_id, notice_id=body.notice_id,
                method=str(body.method), evidence_sha256=ledger.sha256_text(body.evidence),
                obtained_at=now, expires_at=body.expires_at, created_by=actor.key_id,
            )
            session.add(probe)
            session.flush()
            self._audit(session, Entry(action=AuditAction.PROBE_CONSENT_CREATED, actor=actor,
                                       purpose=body.purpose_id,
                                       details={"probe_consent_id": probe.id}))
            return ProbeConsentPublic.model_validate(probe)

    # Enrolment and matching -------------------------------------------------------------------
    def enrol(self, *, actor: Actor, subject: str, consent_id: str, image: bytes) -> TemplatePublic:
        authorize(actor, Permission.ENROL, subject=subject)
        return self._guarded(lambda: self._enrol(actor, subject, consent_id, image), actor=actor,
                             action=AuditAction.ENROL, subjects=[subject])

    def _enrol(self, actor: Actor, pseudonym: str, consent_id: str, image: bytes) -> TemplatePublic:
        now = self.clock.now()
        with self._write() as session:  # gates first: no face is processed without consent
            declaration.require_not_suspended(session)
            subject = ledger.get_subject(session, pseudonym, keys=self.runtime.keys)
            alternative.require_biometrics_accepted(subject)
            consent = ledger.get_consent(session, subject=subject, consent_id=consent_id)
            policies.require_enrol_consent(subject, consent, now=now, settings=self.settings)
        embedding = self.pipeline.embed_single(image)
        protected = self._protector.protect(embedding.vector[None, :])[0]
        with self._write() as session:
            declaration.require_not_suspended(session)
            subject = ledger.get_subject(session, pseudonym, keys=self.runtime.keys)
            alternative.require_biometrics_accepted(subject)
            consent = ledger.get_consent(session, subject=subject, consent_id=consent_id)
            policies.require_enrol_consent(subject, consent, now=now, settings=self.settings)
            key = ledger.data_key(session, subject, keys=self.runtime.keys, now=now)
            template = ledger.add_template(
                session, subject=subject, consent=consent, protected=protected,
                model_id=embedding.model_id, quality=embedding.face.score, key=key, now=now,
            )
            subject.last_interaction_at = now
            self._audit(session, Entry(action=AuditAction.ENROL, actor=actor,
                                       subjects=[pseudonym],
                                       details={"template_id": template.id,
                                                "consent_id": consent_id,
                                                "model_id": template.model_id}))
            # Inside the transaction: if the index write fails, the ledger row is rolled back.
            self.runtime.index.add([template.id], protected[None, :])
            changefeed.record(session, ChangeOp.ADD, [template.id], now=now)  # other workers
            public = ledger.template_public(template, pseudonym=pseudonym)
        if self.runtime.index.additions_since_save() >= self.settings.index_save_every:
            self.runtime.index.save()  # bounds what start-up reconciliation has to re-add
        return public

    def _threshold(self) -> Threshold:
        return threshold_for(self.settings.thresholds_path, model_id=self.pipeline.model_id,
                             fmr=self.settings.match_fmr)

    def _match_gates(self, session: Session, *, purpose_id: str, probe_consent_id: str,
                     operation: Operation) -> tuple[Purpose, Threshold]:
        declaration.require_in_service(session, settings=self.settings,
                                       models=self.pipeline.models, today=self.clock.now().date())
        purpose = ledger.get_purpose(session, purpose_id)
        policies.require_operation(purpose, operation)
        policies.require_probe_consent(session.get(ProbeConsent, probe_consent_id),
                                       probe_consent_id=probe_consent_id, purpose=purpose,
                                       now=self.clock.now())
        return purpose, self._threshold()

    def verify(self, *, actor: Actor, subject: str, purpose_id: str, probe_consent_id: str,
               image: bytes) -> MatchResult:
        """1:1: is the person in ``image`` the subject? Only with the subject's consent to it."""
        authorize(actor, Permission.VERIFY)
        probe_sha = hashlib.sha256(image).hexdigest()
        return self._guarded(
            lambda: self._match(actor, Operation.VERIFY, purpose_id, probe_consent_id, image,
                                subject=subject, k=1, daily_quota=None),
            actor=actor, action=AuditAction.VERIFY, purpose=purpose_id, subjects=[subject],
            probe_sha256=probe_sha)

    def identify(self, *, actor: Actor, purpose_id: str, probe_consent_id: str, image: bytes,
                 k: int = 5, daily_quota: int | None = None) -> MatchResult:
        """1:N within the purpose's gallery: opted-in subjects whose consent covers it.

        With ``daily_quota``, the actor's key may make that many identify attempts (searches
        and refusals) per UTC day, counted from the audit log; beyond it, ``rate_limited``.
        The API passes its setting; ``None`` (the operator's own scripts) sets no quota.
        """
        authorize(actor, Permission.IDENTIFY)
        probe_sha = hashlib.sha256(image).hexdigest()
        return self._guarded(
            lambda: self._match(actor, Operation.IDENTIFY, purpose_id, probe_consent_id, image,
                                subject=None, k=k, daily_quota=daily_quota),
            actor=actor, action=AuditAction.IDENTIFY, purpose=purpose_id,
            probe_sha256=probe_sha, daily_quota=daily_quota)

    def _match(self, actor: Actor, operation: Operation, purpose_id: str, probe_consent_id: str,
               image: bytes, *, subject: str | None, k: int,
               daily_quota: int | None) -> MatchResult:
        with self._write() as session:
            # Early and cheap: a spent key is refused before the embedding is computed.
            self._check_quota(session, actor, daily_quota)
            self._match_gates(session, purpose_id=purpose_id, probe_consent_id=probe_consent_id,
                              operation=operation)
        # The probe's image and vector live only in this frame: never stored, never logged.
        vector = self._protector.protect(self.pipeline.embed_single(image).vector[None, :])[0]
        now = self.clock.now()
        with self._write() as session:
            # Exact: this transaction also appends the search's audit event.
            self._check_quota(session, actor, daily_quota)
            purpose, threshold = self._match_gates(
                session, purpose_id=purpose_id, probe_consent_id=probe_consent_id,
                operation=operation)
            probe = session.get(ProbeConsent, probe_consent_id)
            assert probe is not None
            probe.used_at = now
            allowed = self._allowed(session, purpose, subject=subject, now=now)
            hits = (self.runtime.index.search(vector, k=min(k, len(allowed)), allowed=allowed)
                    if allowed else [])
            owners = dict(session.execute(
                select(Template.id, Subject.pseudonym).join(Subject).where(
                    Template.id.in_([h.label for h in hits]))).all())
            best: dict[str, float] = {}
            for hit in hits:
                if hit.score >= threshold.threshold and hit.label in owners:
                    pseudonym = owners[hit.label]
                    best[pseudonym] = max(best.get(pseudonym, -1.0), hit.score)
            candidates = [Candidate(subject=s, score=v)
                          for s, v in sorted(best.items(), key=lambda item: -item[1])]
            result = MatchResult(
                decision=Decision.MATCH if candidates else Decision.NO_MATCH,
                threshold=threshold.threshold, fmr=threshold.fmr, fnmr=threshold.fnmr,
                model_id=self.pipeline.model_id, purpose_id=purpose_id, candidates=candidates)
            self._audit(session, Entry(
                action=AuditAction(str(operation)), actor=actor, outcome=str(result.decision),
                # A verify involves its claimed subject whatever the outcome: named so their
                # access export shows a no_match too.
                purpose=purpose_id, subjects=list(best) if subject is None else [subject],
                probe_sha256=hashlib.sha256(image).hexdigest(),
                details={"probe_consent_id": probe_consent_id, "k": k,
                         "claimed_subject": subject, "gallery_size": len(allowed),
                         "scores": {p: round(v, 2) for p, v in best.items()}}))
            return result

    def _allowed(self, session: Session, purpose: Purpose, *, subject: str | None,
                 now: datetime) -> set[int]:
        if subject is None:
            return policies.gallery_labels(session, purpose, model_id=self.pipeline.model_id,
                                           now=now)
        row = ledger.get_subject(session, subject, keys=self.runtime.keys)
        policies.require_verify_consent(session, row, purpose, now=now)
        models = policies.claimed_templates(session, row, purpose, now=now)
        usable = {label for label, model in models.items() if model == self.pipeline.model_id}
        if models and not usable:
            raise ModelMismatch(
                f"subject {subject} was enrolled with another model; re-enrolment needed",
                details={"subject": subject, "model_id": self.pipeline.model_id})
        return usable

    # Erasure, access, retention ---------------------------------------------------------------
    def erase(self, *, actor: Actor, subject: str, reason: ErasureReason) -> ErasureReceipt:
        authorize(actor, Permission.ERASE, subject=subject)
        return erase_subject(self.runtime, pseudonym=subject, reason=reason, actor=actor)

    def export(self, *, actor: Actor, subject: str) -> AccessExport:
        authorize(actor, Permission.EXPORT, subject=subject)
        now = self.clock.now()
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            self._audit(session, Entry(action=AuditAction.EXPORT, actor=actor, subjects=[subject]))
            return access.build_export(session, subject=row, settings=self.settings,
                                       public_key=self.public_key, logic=self._logic(),
                                       now=now)

    def _logic(self) -> MatchingLogic:
        """The matching logic as an export states it (GDPR art. 15(1)(h))."""
        try:
            threshold: Threshold | None = self._threshold()
        except EngineError:
            threshold = None  # not calibrated: matching is refused, and the export says so
        return MatchingLogic(
            model_id=self.pipeline.model_id,
            threshold=threshold.threshold if threshold else None,
            fmr=threshold.fmr if threshold else None,
            fnmr=threshold.fnmr if threshold else None,
            description="your photo becomes a 512-number template (ArcFace); a probe photo is"
            " compared by cosine similarity with the templates of people who consented to the"
            " search's purpose; only scores at or above the threshold are candidates, and a"
            " candidate is never a decision on its own")

    def request_right(self, *, actor: Actor, subject: str,
                      body: RightsRequestCreate) -> RightsRequestPublic:
        """Record a rights request; it is due in 30 days (see :mod:`consent.rights_requests`)."""
        authorize(actor, Permission.REQUEST_RIGHTS, subject=subject)
        now = self.clock.now()
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            request = rights_requests.record_request(session, subject=row, body=body, now=now)
            self._audit(session, Entry(action=AuditAction.RIGHTS_REQUESTED, actor=actor,
                                       subjects=[subject],
                                       details={"request_id": request.id, "kind": request.kind,
                                                "due_at": request.due_at.isoformat()}))
            return rights_requests.public(request, now=now)

    def answer_right(self, *, actor: Actor, request_id: str, answer: str) -> RightsRequestPublic:
        authorize(actor, Permission.ANSWER_REQUESTS)
        now = self.clock.now()
        with self._write() as session:
            request = rights_requests.answer_request(session, request_id=request_id,
                                                     answer=answer, answered_by=actor.key_id,
                                                     now=now)
            self._audit(session, Entry(action=AuditAction.RIGHTS_ANSWERED, actor=actor,
                                       subjects=[request.subject_ref],
                                       details={"request_id": request_id}))
            return rights_requests.public(request, now=now)

    def rights_requests(self, *, actor: Actor) -> list[RightsRequestPublic]:
        """Every request with its deadline, open ones first; ``overdue`` flags a late one."""
        authorize(actor, Permission.ANSWER_REQUESTS)
        with self._write() as session:
            return rights_requests.all_requests(session, now=self.clock.now())

    def render_export(self, export: AccessExport, fmt: ExportFormat) -> str:
        return access.render(export, fmt)

    def sweep(self, *, actor: Actor | None = None) -> SweepReport:
        """Erase every subject past a retention limit, and the templates of every consent past
        one while another keeps their subject (the scheduler calls it with no actor)."""
        if actor is not None:
            authorize(actor, Permission.SWEEP)
        now = self.clock.now()
        with self._write() as session:
            due, expired = due_for_erasure(session, settings=self.settings, now=now)
        erasures = [erase_subject(self.runtime, pseudonym=p, reason=r, actor=actor) for p, r in due]
        with self._write() as session:
            destroyed = destroy_ended_templates(self.runtime, session, now=now, actor=actor)
            self._audit(session, Entry(action=AuditAction.SWEEP, actor=actor,
                                       details={"erased": len(erasures),
                                                "consents_expired": expired,
                                                "templates_destroyed": destroyed}))
        if destroyed:
            self.runtime.db.checkpoint()
        return SweepReport(ran_at=now, consents_expired=expired, templates_destroyed=destroyed,
                           erasures=erasures)

    # Key epochs (consent.epochs) ----------------------------------------------------------------
    def rotate_epoch(self, *, actor: Actor | None = None) -> EpochReport:
        """Re-wrap every subject key under a new epoch key and destroy the older epoch keys:
        copies made before an erasure become undecryptable for the erased subject."""
        if actor is not None:
            authorize(actor, Permission.MANAGE_KEYS)
        return epochs.rotate_epoch(self.runtime, actor=actor)

    def seconds_to_epoch_boundary(self) -> float:
        """Seconds until the current epoch is due for rotation (the scheduler waits this)."""
        return epochs.seconds_to_boundary(self.runtime)

    def key_epochs(self, *, actor: Actor) -> list[KeyEpochPublic]:
        """Every epoch with its creation and destruction time: where an erasure receipt's
        ``copiesUndecryptableAt`` can be checked once passed."""
        authorize(actor, Permission.READ_LEDGER)
        with self._write() as session:
            return [KeyEpochPublic.model_validate(row) for row in epochs.history(session)]

    # Audit, register, reviewer views ----------------------------------------------------------
    def audit_events(self, *, actor: Actor, filters: AuditFilter, offset: int = 0,
                     limit: int = 100, newest_first: bool = False) -> AuditPage:
        """One page of the matching events, counted and cut in SQL (see consent.activity)."""
        authorize(actor, Permission.READ_AUDIT)
        query = activity.filtered(filters)
        order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq
        with self._write() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(order).offset(offset).limit(limit))
            return AuditPage(events=[AuditEventPublic.model_validate(r) for r in rows],
                             total=total, offset=offset, limit=limit)

    def search_counts(self, *, actor: Actor, since: str | None = None,
                      until: str | None = None) -> list[SearchCount]:
        """Searches per UTC hour and purpose, for the reviewer's day-by-purpose table."""
        authorize(actor, Permission.READ_AUDIT)
        with self._write() as session:
            return activity.searches_by_hour(session, since=since, until=until)

    def audit_outcomes(self, *, actor: Actor) -> list[str]:
        authorize(actor, Permission.READ_AUDIT)
        with self._write() as session:
            return activity.outcomes(session)

    def key_names(self, *, actor: Actor) -> list[KeyName]:
        """The names behind the key ids of the log (the reviewer reads who, not ``key_…``)."""
        authorize(actor, Permission.READ_AUDIT)
        with self._write() as session:
            return activity.key_names(session)

    def verify_audit(self, *, actor: Actor | None = None) -> ChainStatus:
        if actor is not None:
            authorize(actor, Permission.READ_AUDIT)
        with self._write() as session:
            report = verify_chain(session, keys=self.runtime.keys)
        return ChainStatus(ok=report.ok, events=report.events, checkpoints=report.checkpoints,
                           first_bad_sequence=report.first_bad_sequence)

    def audit_checkpoint(self, *, actor: Actor) -> CheckpointPublic:
        authorize(actor, Permission.CHECKPOINT_AUDIT)
        now = self.clock.now()
        with self._write() as session:
            event = self.runtime.audit(session, Entry(action=AuditAction.CHECKPOINT, actor=actor))
            checkpoint = sign_checkpoint(session, event, now=now, keys=self.runtime.keys)
            return CheckpointPublic(seq=checkpoint.seq, hash=checkpoint.hash,
                                    signature=checkpoint.signature, public_key=self.public_key,
                                    at=checkpoint.at)

    def register(self, *, actor: Actor | None = None) -> Register:
        if actor is not None:
            authorize(actor, Permission.READ_REGISTER)
        with self._write() as session:
            return build_register(session, settings=self.settings, models=self.pipeline.models,
                                  model_id=self.pipeline.model_id,
                                  rotation_fingerprint=self._protector.fingerprint,
                                  public_key=self.public_key,
                                  now=self.clock.now())

    def render_register(self, register: Register) -> str:
        return render_register(register)

    def declare(self, *, actor: Actor, date: date, reference: str) -> Register:
        """Record the declaration of the register as it stands (see :mod:`consent.declaration`):
        matching opens once its period has run, while the register is unchanged."""
        authorize(actor, Permission.DECLARE)
        with self._write() as session:
            row = declaration.record_declaration(
                session, declared_on=date, reference=reference, settings=self.settings,
                models=self.pipeline.models, now=self.clock.now(), recorded_by=actor.key_id)
            self._audit(session, Entry(action=AuditAction.REGISTER_DECLARED, actor=actor,
                                       details={"declared_on": date.isoformat(),
                                                "reference": reference,
                                                "material_sha256": row.material_sha256,
                                                "period_days": row.period_days}))
        return self.register(actor=None)

    def apply_regulator_order(self, *, actor: Actor, reference: str,
                              destroy: bool = False) -> Register:
        """A regulator's order: enrolment and matching stop; with ``destroy``, every subject's
        templates are destroyed, each with its signed erasure receipt."""
        authorize(actor, Permission.DECLARE)
        kind = declaration.OrderKind.DESTROY if destroy else declaration.OrderKind.SUSPEND
        with self._write() as session:
            order = declaration.record_order(session, reference=reference, kind=kind,
                                             now=self.clock.now(), recorded_by=actor.key_id)
            order_id = order.id
            self._audit(session, Entry(action=AuditAction.REGULATOR_ORDER, actor=actor,
                                       details={"order": reference, "kind": str(kind)}))
            pseudonyms = list(session.scalars(select(Subject.pseudonym))) if destroy else []
        erased = [erase_subject(self.runtime, pseudonym=p, reason=ErasureReason.REGULATOR_ORDER,
                                actor=actor) for p in pseudonyms]
        if destroy:
            with self._write() as session:
                row = session.get(RegulatorOrder, order_id)
                assert row is not None
                row.templates_destroyed = sum(e.templates_destroyed for e in erased)
        return self.register(actor=None)

    def lift_regulator_order(self, *, actor: Actor, reference: str) -> Register:
        authorize(actor, Permission.DECLARE)
        with self._write() as session:
            declaration.lift_order(session, reference=reference, now=self.clock.now())
            self._audit(session, Entry(action=AuditAction.REGULATOR_ORDER_LIFTED, actor=actor,
                                       details={"order": reference}))
        return self.register(actor=None)

    def health(self) -> dict[str, Any]:
        register = self.register()
        return {
            "status": "ok",
            "models": {m.id: m.sha256 for m in register.models},
            "model_id": self.pipeline.model_id,
            "active_providers": self.pipeline.active_providers,
            "subjects": register.subjects,
            "templates": register.templates,
            "templates_needing_reenrolment": register.templates_needing_reenrolment,
            "index_entries": self.runtime.index.count(),
            "declared": register.declaration is not None,
            "in_service": register.in_service,
            "demo_mode": self.settings.demo_mode,
            "replica_seq": self.replica.seq if self.replica is not None else None,
        }

    def consent_ledger(self, *, actor: Actor) -> ConsentLedger:
        authorize(actor, Permission.READ_LEDGER)
        with self._write() as session:
            consents = [self._consent_public(c) for c in session.scalars(
                select(Consent).order_by(Consent.obtained_at))]
        by_purpose: dict[str, Counter[str]] = {}
        for consent in consents:
            for purpose in consent.purposes:
                by_purpose.setdefault(purpose, Counter())[consent.status] += 1
        return ConsentLedger(by_status=dict(Counter(c.status for c in consents)),
                             by_purpose={p: dict(c) for p, c in by_purpose.items()},
                             consents=consents)

    def erasures(self, *, actor: Actor, since: datetime | None = None,
                 until: datetime | None = None) -> list[TombstonePublic]:
        """Tombstones erased in ``[since, until)`` (all by default), oldest first."""
        authorize(actor, Permission.READ_LEDGER)
        with self._write() as session:
            return [TombstonePublic.model_validate(t)
                    for t in activity.tombstones(session, since=since, until=until)]

    def erasure(self, *, actor: Actor, subject_hash: str) -> TombstonePublic:
        """One tombstone and its signed receipt, by the hash its receipt names."""
        authorize(actor, Permission.READ_LEDGER)
        with self._write() as session:
            found = activity.tombstone(session, subject_hash)
            if found is None:
                raise NotFound(f"no erasure with subject hash {subject_hash}")
            return TombstonePublic.model_validate(found)


def _key_public(row: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(key_id=row.id, name=row.name, role=Role(row.role),
                        created_at=row.created_at, revoked_at=row.revoked_at)
