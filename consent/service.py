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
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optinface.consent import (
    access,
    apikeys,
    enrolment_links,
    ledger,
    policies,
    probe_consent,
    subject_acts,
)
from optinface.consent.audit import AuditAction, Entry, sign_checkpoint, verify_chain
from optinface.consent.clock import Clock, SystemClock
from optinface.consent.db import Database
from optinface.consent.erasure import destroy_ended_templates, destroy_templates, erase_subject
from optinface.consent.errors import (
    ChallengeInvalid,
    ConsentError,
    DataDirUnusable,
    InvalidRequest,
    QuotaExceeded,
    SubjectCredentialRequired,
)
from optinface.consent.keys import KeyRing
from optinface.consent.lock import DataDirLock
from optinface.consent.one_person import require_same_person
from optinface.consent.quota import require_identify_quota
from optinface.consent.reconcile import reconcile
from optinface.consent.register import build_register, render_register
from optinface.consent.roles import Actor, Permission, Role, authorize
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AccessExport,
    ApiKeyCreated,
    ApiKeyPublic,
    AuditEventPublic,
    AuditFilter,
    AuditPage,
    Candidate,
    CaptureAct,
    CapturePublic,
    ChainStatus,
    CheckpointPublic,
    ConsentCapacity,
    ConsentGiven,
    ConsentLedger,
    ConsentPublic,
    Decision,
    EnrolmentLink,
    ErasureReason,
    ErasureReceipt,
    ExportFormat,
    LinkSecret,
    MatchResult,
    NoticeCreate,
    NoticePublic,
    Operation,
    PasskeyChallenge,
    PasskeyRegistered,
    PasskeyResponse,
    PendingCapture,
    ProbeConsentLink,
    ProbeConsentPublic,
    ProbeConsentRequest,
    PurposeCreate,
    PurposePublic,
    ReconcileReport,
    Register,
    SignedIn,
    SubjectAct,
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
    Purpose,
    RegisterDeclaration,
    Subject,
    Template,
    Tombstone,
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
_ACT_PERMISSIONS = {"consent": Permission.GIVE_CONSENT, "withdraw": Permission.WITHDRAW_CONSENT,
                    "searchable": Permission.UPDATE_SUBJECT}


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
        keys = KeyRing.load_or_create(
            master_path=settings.master_key_path,
            signing_path=settings.signing_key_path,
            hmac_path=settings.hmac_key_path,
        )
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
            protector=TemplateProtector.load_or_create(settings.rotation_key_path),
            lock=lock,
        )
        service.last_reconcile = reconcile(runtime, model_id=service.pipeline.model_id,
                                           index_discarded=discarded)
        logger.info("optinface open: %s", service.last_reconcile)
        return service

    def close(self) -> None:
        try:
            self.runtime.index.save()
            self.runtime.db.close()
        finally:
            self._lock.release()

    @property
    def index(self) -> VectorIndex:
        return self.runtime.index

    @property
    def public_key(self) -> str:
        return self.runtime.keys.public_key

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
        ``rate_limited`` instead, so the attempts counted never exceed the quota.
        """
        try:
            return work()
        except (ConsentError, EngineError) as refusal:
            raised: ConsentError | EngineError = refusal
            with self._write() as session:
                if not isinstance(refusal, QuotaExceeded):
                    try:
                        self._check_quota(session, actor, daily_quota, purpose=purpose)
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

    def _check_quota(self, session: Session, actor: Actor | None, daily_quota: int | None,
                     *, purpose: str | None = None) -> None:
        """In the transaction that appends the attempt's audit event (see :mod:`consent.quota`)."""
        if daily_quota is not None and actor is not None:
            require_identify_quota(session, key_id=actor.key_id, limit=daily_quota,
                                   now=self.clock.now(), purpose=purpose)

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
            return NoticePublic.model_validate(notice)

    def list_notices(self, *, actor: Actor) -> list[NoticePublic]:
        authorize(actor, Permission.READ_PURPOSES, subject=actor.subject)
        with self._write() as session:
            rows = session.scalars(select(Notice).order_by(Notice.published_at))
            return [NoticePublic.model_validate(n) for n in rows]

    # Subjects, passkeys and the person's signed acts (consent.enrolment_links, subject_acts) ----
    def create_subject(self, *, actor: Actor, body: SubjectCreate) -> SubjectCreated:
        """A subject shell and the one-time links to hand over; never a credential."""
        authorize(actor, Permission.CREATE_SUBJECT)
        if body.searchable:
            raise SubjectCredentialRequired(
                "only the subject opts in to search, with their own passkey",
                details={"field": "searchable"})
        return enrolment_links.create_subject(self.runtime, actor=actor, body=body)

    def new_enrolment_link(self, *, actor: Actor, subject: str,
                           capacity: ConsentCapacity) -> EnrolmentLink:
        """Another link while no passkey of that capacity is registered (lost or expired)."""
        authorize(actor, Permission.CREATE_SUBJECT)
        return enrolment_links.new_enrolment_link(self.runtime, actor=actor, pseudonym=subject,
                                                  capacity=capacity)

    def passkey_registration_options(self, body: LinkSecret) -> PasskeyChallenge:
        """Options for ``navigator.credentials.create``; the one-time link is the credential."""
        return enrolment_links.registration_options(self.runtime, body,
                                                    kind=enrolment_links.ENROLMENT)

    def register_passkey(self, body: PasskeyResponse) -> PasskeyRegistered:
        credential, _, pseudonym = enrolment_links.register(self.runtime, body)
        return enrolment_links.registered(credential, pseudonym)

    def sign_in_options(self) -> PasskeyChallenge:
        return enrolment_links.sign_in_options(self.runtime)

    def sign_in(self, body: PasskeyResponse) -> SignedIn:
        """The person's passkey opens their subject; their own token is issued to them."""
        return enrolment_links.sign_in(self.runtime, body)

    def get_subject(self, *, actor: Actor, subject: str) -> SubjectPublic:
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._write() as session:
            return SubjectPublic.model_validate(
                ledger.get_subject(session, subject, keys=self.runtime.keys)
            )

    def challenge(self, *, actor: Actor, subject: str, act: SubjectAct) -> PasskeyChallenge:
        """The statement the person is asked to sign for ``act``, and its WebAuthn options.

        A capture session (``enrol``) may be opened by the desk; every other act only by the
        subject's own token.
        """
        permission = (Permission.OPEN_CAPTURE if isinstance(act, CaptureAct)
                      else _ACT_PERMISSIONS[act.act])
        authorize(actor, permission, subject=subject)
        return self._guarded(lambda: subject_acts.challenge(self.runtime, actor=actor,
                                                            pseudonym=subject, act=act),
                             actor=actor, action=AuditAction.CHALLENGE, subjects=[subject])

    def set_searchable(self, *, actor: Actor, subject: str,
                       signed: PasskeyResponse) -> SubjectPublic:
        """Opt in to or out of 1:N galleries: the subject's signed choice, audited."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        row = self._guarded(lambda: subject_acts.set_searchable(
            self.runtime, actor=actor, pseudonym=subject, response=signed),
            actor=actor, action=AuditAction.SUBJECT_UPDATED, subjects=[subject])
        return SubjectPublic.model_validate(row)

    def give_consent(self, *, actor: Actor, subject: str,
                     signed: PasskeyResponse) -> ConsentGiven:
        """Record the consent the person signed with their passkey (see consent.subject_acts)."""
        authorize(actor, Permission.GIVE_CONSENT, subject=subject)

        def work() -> ConsentGiven:
            consent = subject_acts.give_consent(self.runtime, actor=actor, pseudonym=subject,
                                                response=signed)
            with self._write() as session:
                public = self._consent_public(session.merge(consent))
            assert public.receipt is not None
            return ConsentGiven(consent=public, receipt=public.receipt)

        return self._guarded(work, actor=actor, action=AuditAction.CONSENT_GIVEN,
                             subjects=[subject])

    def list_consents(self, *, actor: Actor, subject: str) -> list[ConsentPublic]:
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            return [self._consent_public(c) for c in sorted(row.consents,
                                                            key=lambda c: c.obtained_at)]

    def withdraw_consent(self, *, actor: Actor, subject: str, consent_id: str,
                         signed: PasskeyResponse) -> WithdrawalResult:
        """Withdraw at once, signed like the consent; templates enrolled under it go now; no
        consent left: erase all."""
        authorize(actor, Permission.WITHDRAW_CONSENT, subject=subject)
        return self._guarded(lambda: self._withdraw(actor, subject, consent_id, signed),
                             actor=actor, action=AuditAction.CONSENT_WITHDRAWN,
                             subjects=[subject])

    def _withdraw(self, actor: Actor, subject: str, consent_id: str,
                  signed: PasskeyResponse) -> WithdrawalResult:
        now = self.clock.now()
        with self._write() as session:
            row = ledger.get_subject(session, subject, keys=self.runtime.keys)
            consent = ledger.get_consent(session, subject=row, consent_id=consent_id)
            if consent.withdrawn_at is not None:
                # Withdrawing again changes nothing: the first withdrawal's time stays the record.
                return WithdrawalResult(consent=self._consent_public(consent), templates_erased=0,
                                        subject_erased=False, erasure=None)
            subject_acts.sign_withdrawal(session, self.runtime, row, consent, actor=actor,
                                         response=signed, now=now)
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

    def approve_capture(self, *, actor: Actor, subject: str,
                        signed: PasskeyResponse) -> CapturePublic:
        """The subject approves, with their passkey, enrolling one photo (by its SHA-256)."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        return self._guarded(lambda: subject_acts.approve_capture(
            self.runtime, actor=actor, pseudonym=subject, response=signed),
            actor=actor, action=AuditAction.CAPTURE_APPROVED, subjects=[subject])

    def pending_captures(self, *, actor: Actor, subject: str) -> list[PendingCapture]:
        """Capture sessions the desk opened for ``subject``, waiting for their approval."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        return subject_acts.pending_captures(self.runtime, actor=actor, pseudonym=subject)

    def issue_subject_token(self, *, actor: Actor) -> SignedIn:
        """Another API token for the signed-in subject (the portal shows it to them once)."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=actor.subject)
        return enrolment_links.issue_token(self.runtime, actor=actor)

    # Probe consents (consent.probe_consent) ----------------------------------------------------
    def request_probe_consent(self, *, actor: Actor,
                              body: ProbeConsentRequest) -> ProbeConsentLink:
        """A one-time link for the person in the probe: one image, one purpose, this key."""
        authorize(actor, Permission.CREATE_PROBE_CONSENT)
        return probe_consent.request(self.runtime, actor=actor, body=body)

    def probe_registration_options(self, body: LinkSecret) -> PasskeyChallenge:
        return enrolment_links.registration_options(self.runtime, body,
                                                    kind=probe_consent.PROBE)

    def register_probe_passkey(self, body: PasskeyResponse) -> PasskeyChallenge:
        """The person in the probe registered a passkey: here is the statement to sign."""
        credential, link, _ = enrolment_links.register(self.runtime, body)
        return probe_consent.challenge(self.runtime, credential, link)

    def sign_probe_consent(self, body: PasskeyResponse) -> ProbeConsentPublic:
        return probe_consent.sign(self.runtime, body)

    # Enrolment and matching -------------------------------------------------------------------
    def enrol(self, *, actor: Actor, subject: str, capture_id: str | None,
              image: bytes) -> TemplatePublic:
        """Enrol the photo of a capture session the subject approved with their passkey.

        The upload must be the very photo approved (same SHA-256); the photo lives only in this
        call (see consent.one_person for the one-person-per-subject check).
        """
        authorize(actor, Permission.ENROL, subject=subject)
        if capture_id is None:
            raise SubjectCredentialRequired(
                "enrolment needs a capture session approved by the subject's passkey",
                details={"subject": subject})
        return self._guarded(lambda: self._enrol(actor, subject, capture_id, image),
                             actor=actor, action=AuditAction.ENROL, subjects=[subject])

    def _enrol(self, actor: Actor, pseudonym: str, capture_id: str,
               image: bytes) -> TemplatePublic:
        now = self.clock.now()
        photo_sha = hashlib.sha256(image).hexdigest()
        with self._write() as session:  # gates first: no face is processed without consent
            consent_id = self._capture_gates(session, pseudonym, capture_id, photo_sha, now=now)
        embedding = self.pipeline.embed_single(image)
        protected = self._protector.protect(embedding.vector[None, :])[0]
        with self._write() as session:
            consent_id = self._capture_gates(session, pseudonym, capture_id, photo_sha, now=now)
            subject = ledger.get_subject(session, pseudonym, keys=self.runtime.keys)
            consent = ledger.get_consent(session, subject=subject, consent_id=consent_id)
            key = ledger.data_key(session, subject, keys=self.runtime.keys, now=now)
            require_same_person(session, subject, protected, model_id=embedding.model_id,
                                key=key, threshold=self._threshold().threshold,
                                max_templates=self.settings.max_templates_per_subject)
            subject_acts.open_capture(session, subject, capture_id, now=now).consumed_at = now
            template = ledger.add_template(
                session, subject=subject, consent=consent, protected=protected,
                model_id=embedding.model_id, quality=embedding.face.score, key=key, now=now,
            )
            subject.last_interaction_at = now
            self._audit(session, Entry(action=AuditAction.ENROL, actor=actor,
                                       subjects=[pseudonym],
                                       details={"template_id": template.id,
                                                "consent_id": consent_id,
                                                "capture_id": capture_id,
                                                "photo_sha256": photo_sha,
                                                "model_id": template.model_id}))
            # Inside the transaction: if the index write fails, the ledger row is rolled back.
            self.runtime.index.add([template.id], protected[None, :])
            public = ledger.template_public(template, pseudonym=pseudonym)
        if self.runtime.index.additions_since_save() >= self.settings.index_save_every:
            self.runtime.index.save()  # bounds what start-up reconciliation has to re-add
        return public

    def _capture_gates(self, session: Session, pseudonym: str, capture_id: str, photo_sha: str,
                       *, now: datetime) -> str:
        """The approved capture's consent id, once the photo and the consent are checked."""
        subject = ledger.get_subject(session, pseudonym, keys=self.runtime.keys)
        capture = subject_acts.open_capture(session, subject, capture_id, now=now)
        statement = capture.statement or {}
        if statement.get("photoSha256") != photo_sha:
            raise ChallengeInvalid("this is not the photo the subject approved",
                                   details={"capture_id": capture_id})
        consent = ledger.get_consent(session, subject=subject, consent_id=statement["consentId"])
        policies.require_enrol_consent(subject, consent, now=now, settings=self.settings)
        return consent.id

    def _threshold(self) -> Threshold:
        return threshold_for(self.settings.thresholds_path, model_id=self.pipeline.model_id,
                             fmr=self.settings.match_fmr)

    def _match_gates(self, session: Session, *, purpose_id: str,
                     operation: Operation) -> tuple[Purpose, Threshold]:
        policies.require_declared(session)
        purpose = ledger.get_purpose(session, purpose_id)
        policies.require_operation(purpose, operation)
        return purpose, self._threshold()

    def verify(self, *, actor: Actor, subject: str, purpose_id: str, probe_consent_id: str,
               image: bytes, daily_quota: int | None = None) -> MatchResult:
        """1:1: is the person in ``image`` the subject? Only with the subject's consent to it.

        Counts against the same daily quota as identify (see :mod:`consent.quota`).
        """
        authorize(actor, Permission.VERIFY)
        probe_sha = hashlib.sha256(image).hexdigest()
        return self._guarded(
            lambda: self._match(actor, Operation.VERIFY, purpose_id, probe_consent_id, image,
                                subject=subject, k=1, daily_quota=daily_quota),
            actor=actor, action=AuditAction.VERIFY, purpose=purpose_id, subjects=[subject],
            probe_sha256=probe_sha, daily_quota=daily_quota)

    def identify(self, *, actor: Actor, purpose_id: str, probe_consent_id: str, image: bytes,
                 k: int = 5, daily_quota: int | None = None) -> MatchResult:
        """1:N within the purpose's gallery: opted-in subjects whose consent covers it.

        With ``daily_quota``, the actor's key, and the purpose over all keys, may make that many
        matching attempts (searches and refusals) per UTC day, counted from the audit log;
        beyond it, ``rate_limited``. The API passes its setting; ``None`` (the operator's own
        scripts) sets no quota.
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
        probe_sha = hashlib.sha256(image).hexdigest()
        with self._write() as session:
            # Early and cheap: a spent key is refused before the embedding is computed.
            self._check_quota(session, actor, daily_quota, purpose=purpose_id)
            # The first attempt consumes the probe consent, refused or not: committed here.
            refusal = probe_consent.consume(
                session, probe_consent_id, purpose=ledger.get_purpose(session, purpose_id),
                operation=operation, probe_sha256=probe_sha, key_id=actor.key_id,
                now=self.clock.now())
        if refusal is not None:
            raise refusal
        with self._write() as session:
            self._match_gates(session, purpose_id=purpose_id, operation=operation)
        # The probe's image and vector live only in this frame: never stored, never logged.
        vector = self._protector.protect(self.pipeline.embed_single(image).vector[None, :])[0]
        now = self.clock.now()
        with self._write() as session:
            # Exact: this transaction also appends the search's audit event.
            self._check_quota(session, actor, daily_quota, purpose=purpose_id)
            purpose, threshold = self._match_gates(session, purpose_id=purpose_id,
                                                   operation=operation)
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
                purpose=purpose_id, subjects=list(best),
                probe_sha256=probe_sha,
                details={"probe_consent_id": probe_consent_id, "k": k,
                         "claimed_subject": subject, "gallery_size": len(allowed)}))
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
                                       public_key=self.public_key, now=now)

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

    # Audit, register, reviewer views ----------------------------------------------------------
    def audit_events(self, *, actor: Actor, filters: AuditFilter, offset: int = 0,
                     limit: int = 100) -> AuditPage:
        authorize(actor, Permission.READ_AUDIT)
        query = select(AuditEvent)
        if filters.action:
            query = query.where(AuditEvent.action == str(filters.action))
        if filters.actor_key_id:
            query = query.where(AuditEvent.actor_key_id == filters.actor_key_id)
        if filters.purpose:
            query = query.where(AuditEvent.purpose == filters.purpose)
        if filters.subject:
            query = query.where(access.mentions(filters.subject))
        if filters.since:
            query = query.where(AuditEvent.at >= filters.since)
        if filters.until:
            query = query.where(AuditEvent.at < filters.until)
        with self._write() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(AuditEvent.seq).offset(offset).limit(limit))
            return AuditPage(events=[AuditEventPublic.model_validate(r) for r in rows],
                             total=total, offset=offset, limit=limit)

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
                                  now=self.clock.now())

    def render_register(self, register: Register) -> str:
        return render_register(register)

    def declare(self, *, actor: Actor, date: date, reference: str) -> Register:
        """Record the declaration to the regulator; matching is allowed from then on."""
        authorize(actor, Permission.DECLARE)
        with self._write() as session:
            session.add(RegisterDeclaration(declared_on=date, reference=reference,
                                            recorded_at=self.clock.now(),
                                            recorded_by=actor.key_id))
            self._audit(session, Entry(action=AuditAction.REGISTER_DECLARED, actor=actor,
                                       details={"declared_on": date.isoformat(),
                                                "reference": reference}))
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

    def erasures(self, *, actor: Actor) -> list[TombstonePublic]:
        authorize(actor, Permission.READ_LEDGER)
        with self._write() as session:
            return [TombstonePublic.model_validate(t) for t in session.scalars(
                select(Tombstone).order_by(Tombstone.erased_at))]


def _key_public(row: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(key_id=row.id, name=row.name, role=Role(row.role),
                        created_at=row.created_at, revoked_at=row.revoked_at)
