"""OptinFace: the one door through which the API, the CLI and notebooks use the consent core.

A table of contents: each public method authorises the actor and hands the use case to the
module that owns it (:mod:`consent.consents`, :mod:`consent.enrolment`, :mod:`consent.matching`,
:mod:`consent.erasure`, :mod:`consent.access`, :mod:`consent.register`, :mod:`consent.reviews`,
:mod:`consent.rotation`). Each use case chains its audit event in its own transaction; refusals
are audited too (:mod:`consent.refusals`) and then raised unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from optinface.consent import (
    access,
    activity,
    admin_mfa,
    after_erasure,
    alternative,
    anomalies,
    apikeys,
    break_glass,
    client_certificates,
    consent_form,
    consents,
    declaration,
    disclosures,
    enrolment,
    enrolment_lines,
    enrolment_links,
    epochs,
    handover,
    incidents,
    key_renewal,
    ledger,
    ledger_alterations,
    log_clock,
    log_reseal,
    log_retention,
    log_seals,
    matching,
    operating_point,
    operator_texts,
    page_sessions,
    policies,
    probe_consent,
    prune_records,
    purpose_withdrawal,
    receipt_key_in_force,
    receipt_rotation,
    retention_policy,
    review,
    rights_requests,
    rotation,
    row_seals,
    spent_rights,
    subject_acts,
    subject_tokens,
    transfers,
    transparency,
    witness,
    witness_binding,
    witness_gate,
)
from optinface.consent.accountability import accountability, notice_public
from optinface.consent.audit import AuditAction, AuditLog, Entry
from optinface.consent.audit import newest as newest_event
from optinface.consent.auth_failures import FailureTally
from optinface.consent.clock import Clock, SystemClock
from optinface.consent.db import OWED_RETRY_WAIT_MS, Database, lock_wait_ended
from optinface.consent.declaration import RegisterReads
from optinface.consent.epochs import EpochReport
from optinface.consent.erasure import erase_requested
from optinface.consent.errors import (
    ConsentError,
    NotFound,
    PasskeyUnsealed,
    SubjectCredentialRequired,
)
from optinface.consent.identifiers import require_identifiers
from optinface.consent.incidents import Audience
from optinface.consent.journal_ends import JournalEnds
from optinface.consent.key_check import (
    check_values,
    keys_needed,
    newest_signed,
    newest_signed_checkpoint,
    refuse_a_store_behind,
    refuse_foreign_keys,
)
from optinface.consent.key_rows import KeyRows
from optinface.consent.keys import IndexKeyWrap, KeyRing, load_protector
from optinface.consent.keystore import open_key_store
from optinface.consent.live_replay import LiveReplay, void_spent
from optinface.consent.lock import DataDirLock
from optinface.consent.reads import ReadFilters, Reads, chain_reads
from optinface.consent.receipt_ends import ReceiptEnds
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.receipt_rotation import ReceiptKeyRotated
from optinface.consent.receipts import published_key
from optinface.consent.reconcile import reconcile
from optinface.consent.refusals import audited, chained
from optinface.consent.register import build_register, render_register, vitals
from optinface.consent.replica import Replica
from optinface.consent.retention import next_consent_end, sweep
from optinface.consent.roles import Actor, Permission, Role, authorize
from optinface.consent.ropa import build_ropa
from optinface.consent.rotation import RotationReport
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AccessExport,
    AdminPasskeyAsk,
    AdminPasskeyChallenge,
    AdminPasskeyLink,
    AdminPasskeyRegistered,
    AdminPasskeyResponse,
    AlternativeChosenResult,
    AnomalyAlert,
    ApiKeyCreated,
    ApiKeyPublic,
    AuditFilter,
    AuditPage,
    BreakGlassPublic,
    CaptureAct,
    CapturePublic,
    ChainStatus,
    CheckpointPublic,
    ConsentCapacity,
    ConsentGiven,
    ConsentLedger,
    ConsentPublic,
    ConsistencyProof,
    DisclosureCreate,
    DisclosureMade,
    DisclosurePublic,
    EnrolmentLink,
    ErasureReason,
    ErasureReceipt,
    IncidentCreate,
    IncidentNotice,
    IncidentPublic,
    KeyEpochPublic,
    KeyName,
    LinkSecret,
    MatchResult,
    NoticeCreate,
    NoticePublic,
    Operation,
    OperatorTextPublic,
    PasskeyChallenge,
    PasskeyRegistered,
    PasskeyResponse,
    PendingCapture,
    PrivacyStatement,
    ProbeConsentLink,
    ProbeConsentPublic,
    ProbeConsentRequest,
    ProbeLinkRequest,
    PublishedKey,
    PurposeCreate,
    PurposePublic,
    PurposeWithdrawalPublic,
    ReconcileReport,
    Register,
    RetentionPolicyPublic,
    ReviewDecisionCreate,
    ReviewPublic,
    RightsRequestAnswer,
    RightsRequestCreate,
    RightsRequestPublic,
    Ropa,
    SearchCount,
    SignedErasureReceipt,
    SignedIn,
    StepUp,
    SubjectAct,
    SubjectCreate,
    SubjectCreated,
    SubjectPublic,
    SubjectTokenPublic,
    SweepReport,
    TemplatePublic,
    TombstonePublic,
    TranslationLanguage,
    WithdrawalResult,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.signed_documents import signed
from optinface.consent.tables import Consent
from optinface.consent.wording import Say, english
from optinface.engine import core_dumps
from optinface.engine.errors import IndexCorrupt
from optinface.engine.files import shred_path
from optinface.engine.manifest import require_model_dir
from optinface.engine.pipeline import FacePipeline
from optinface.engine.protection import TemplateProtector
from optinface.engine.thresholds import load_thresholds
from optinface.engine.types import VectorIndex

logger = logging.getLogger(__name__)
T = TypeVar("T")
_ACT_PERMISSIONS = {"consent": Permission.GIVE_CONSENT, "withdraw": Permission.WITHDRAW_CONSENT,
                    "searchable": Permission.UPDATE_SUBJECT,
                    subject_acts.DISCLOSE: Permission.AUTHORISE_DISCLOSURE,
                    subject_acts.ERASE: Permission.ERASE,
                    subject_acts.TEMPLATE_COPY: Permission.EXPORT_VECTORS,
                    subject_acts.SUBJECT_TOKEN: Permission.UPDATE_SUBJECT}


def _open_index(settings: ConsentSettings, *, dim: int, key: bytes,
                key_wrap: IndexKeyWrap) -> tuple[VectorIndex, str | None]:
    """The saved index; an empty one, and why, when the file is unusable.

    The index is a cache of the ledger, so reconciliation refills an empty one: better than
    refusing to start, and a damaged file of biometric vectors is not worth keeping.
    """
    from optinface.engine.index import HnswIndex  # the engine's default backend

    try:
        return HnswIndex.open(settings, dim=dim, key=key, key_wrap=key_wrap), None
    except IndexCorrupt as error:
        if "key" in error.details:  # what every erasure does to the files of stopped workers
            logger.warning("index file deleted and rebuilt from the ledger: %s", error)
        else:
            logger.error("index file unusable, deleted and rebuilt from the ledger: %s (saved"
                         " under another index key or rotation, e.g. before an upgrade or a"
                         " re-key, or damaged)", error)
        shred_path(settings.index_path)
        return (HnswIndex.from_settings(settings, dim=dim, key=key, key_wrap=key_wrap),
                str(error))


def _open_keys(settings: ConsentSettings, db: Database, *, require_witness: bool,
               adopt_witness: str | None,
               ) -> tuple[KeyRing, TemplateProtector, AuditLog, witness_binding.Binding]:
    """The keys, checked against the ledger, which is migrated meanwhile; keys are made for a
    new ledger only (:mod:`consent.key_check`); the witness the key store knows, or the one
    the operator adopts (:mod:`consent.witness_binding`). ``require_witness``,
    ``adopt_witness``: see :meth:`OptinFace.open`.
    """
    witness.refuse_entangled(settings.witness_dir, settings.data_dir)
    witnessed = witness.latest_witnessed(settings.witness_dir)  # first: a worker may commit now
    newest = newest_signed_checkpoint(db)
    needed = keys_needed(db, witness_dir=settings.witness_dir, signed=newest is not None)
    if not needed:  # a ledger with no event
        witness.refuse_for_a_new_ledger(settings.witness_dir, witnessed=witnessed)
    found = witness.survey(settings.witness_dir, newest)
    if require_witness:  # before anything is written there, or the keys made
        break_glass.require_the_witness_at_start(settings.witness_dir, found)
    store = open_key_store(settings, create=not needed)
    try:
        found, hashed = witness_binding.admit(store, settings.witness_dir, found,
                                              adopt=adopt_witness)
        # Another worker may rotate the receipt key: its checks and signatures ask the store.
        keys = dataclasses.replace(KeyRing.open(store, needed=needed), shared=db.shared)
        db.open()
        held = store.epochs()  # listed once: each listing searches a PKCS#11 token
        with db.transaction() as session:
            ledger_alterations.refuse(session)  # before anything is written: see its module
            refuse_a_store_behind(session, held, witnessed=witnessed)
            if recovered := rotation.finish_interrupted_rekey(store, session,
                                                             index_path=settings.index_path):
                logger.warning("%s", recovered)
            protector = load_protector(store)
            refuse_foreign_keys(session, keys, held, check_values(keys.hmac_key, protector),
                                new_ledger=not needed)
        log = transparency.open_audit_log(settings, keys, found=found)  # pins
        return keys, protector, log, witness_binding.Binding(
            store, settings.witness_dir, adopted=found.act is not None, hashed=hashed)
    except BaseException:
        store.close()
        raise


def _wire(
    settings: ConsentSettings,
    *,
    pipeline: FacePipeline | None,
    clock: Clock | None,
    index: VectorIndex | None,
    require_witness: bool,
    adopt_witness: str | None,
) -> tuple[Runtime, str | None]:
    """The runtime on an open data folder, and why the saved index was discarded (if it was)."""
    db = Database(settings.url)
    try:
        with db.first_use():  # several workers on one ledger: one creates the shared keys
            keys, protector, log, binding = _open_keys(settings, db,
                                                       require_witness=require_witness,
                                                       adopt_witness=adopt_witness)
    except BaseException:
        db.close_refused()  # a refused start leaves no -wal or -shm file, nor a ledger it made
        raise
    pipeline = pipeline or FacePipeline.from_settings(settings)
    index, discarded = ((index, None) if index is not None
                        else _open_index(settings, dim=pipeline.embedding_size,
                                         key=keys.index_file_key(protector),
                                         key_wrap=IndexKeyWrap(keys.store)))
    journal_ends, clock = JournalEnds(settings.witness_dir), clock or SystemClock()
    runtime = Runtime(settings=settings, db=db, keys=keys, index=index,
                      clock=clock, pipeline=pipeline,
                      protector=protector, log=log,
                      register_reads=RegisterReads(keys, journal_ends, clock),
                      key_rows=KeyRows(db), journal_ends=journal_ends,
                      receipt_ends=ReceiptEnds(), witness_binding=binding,
                      live_replay=LiveReplay(),
                      auth_failures=FailureTally(
                          window=timedelta(seconds=settings.auth_failure_audit_seconds)))
    db.admit = runtime.live_replay.admit
    with db.transaction() as session:
        not_as_witnessed = [transparency.record_rollback(runtime, session),  # before the rest
                            transparency.record_rewrite(runtime, session),
                            transparency.record_adoption(runtime, session)]
        if runtime.live_replay.found_at_start():  # a copy loaded behind the last worker
            void_spent(runtime, session)  # its rights spent since: signed when spent
        last = newest_event(session)
        log_clock.check_at_start(runtime.clock.now(), None if last is None else last.at)
    # Never on a log its witness does not vouch for (log_seals, prune_records, row_seals).
    if (through := log_seals.adopt_once(runtime,
                                        log_sound=not any(not_as_witnessed))) is not None:
        logger.info("audit log seals adopted (once), through event %d", through)
    with db.transaction() as session:  # events appended since the witness last signed
        not_as_witnessed.append(log_seals.record_unsealed(runtime, session))
    if (adopted_prunes := prune_records.adopt_once(
            runtime, actions=log_retention.ACTIONS,
            log_sound=not any(not_as_witnessed))) is not None:
        logger.info("emptied audit events adopted as pruned (once): %d", adopted_prunes)
    row_seals.adopt_all(runtime, log_sound=not any(not_as_witnessed))  # before any row's use
    if (lines := enrolment_lines.adopt_once(  # after the enrolment seals it asks
            runtime, log_sound=not any(not_as_witnessed))) is not None:
        logger.info("enrolment lines adopted (once): %s", lines)
    epochs.finish_interrupted_rotation(runtime)  # after every refusal: it destroys keys
    receipt_rotation.adopt_unlogged(runtime)  # a rotation whose commit failed: chained now
    with db.transaction() as session:
        epochs.start_epoch(runtime, session)
    return runtime, discarded


SETTLE_SECONDS = 60.0
"""How long :meth:`OptinFace.settle` waits for the change-feed follower by default: a poll
(``replica.POLL_SECONDS``) and a whole save (1.5 s at 100k vectors), with room for a slow disk."""
CLOSE_LOCK_WAIT_SECONDS = 10.0
"""How long each of the close's own writes waits for the ledger's write lock on PostgreSQL
(:meth:`OptinFace._close_writes`), as long as it waits for a stuck replay
(``live_replay.CLOSE_WAIT_SECONDS``) or follower (``replica.STOP_WAIT_SECONDS``)."""


class OptinFace:
    """The consent-first face-matching service.

    Attributes:
        runtime: The live wiring (ledger, keys, engine, index) the use-case modules work on.
        lock: The data folder's lock, held until :meth:`close` (or the process's death).
    """

    def __init__(self, *, runtime: Runtime, lock: DataDirLock) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = runtime.clock
        self.lock = lock
        self.last_reconcile: ReconcileReport | None = None
        self.replica: Replica | None = None
        # Published by open(): the settings, hence the policy, are fixed for the process's life.
        self.policy_in_force: RetentionPolicyPublic | None = None

    # Life cycle -------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        settings: ConsentSettings,
        *,
        pipeline: FacePipeline | None = None,
        clock: Clock | None = None,
        index: VectorIndex | None = None,
        require_witness: bool = False,
        adopt_witness: str | None = None,
    ) -> OptinFace:
        """Lock the data folder, create it and the keys on first run, migrate, load the index,
        reconcile.

        ``require_witness``: refuse, before anything is written in the witness folder or the
        key store, a witness folder that does not hold the ledger's newest signed checkpoint
        (:func:`consent.break_glass.require_the_witness_at_start`): break-glass's start, whose
        opening must reach the deployment's own witness. Otherwise such a folder is taken up,
        and chained as ``witness_adopted`` when it pinned no key, where the key store knows no
        witness yet (an upgrade's first start).

        ``adopt_witness``: the operator's reason for taking the witness folder up in place of
        the deployment's witness, lost for good (``optinface audit adopt-witness``): chained as
        ``witness_adopted`` with what the key store had seen of the erasure journal. Without
        it a folder other than the witness the key store recorded is refused
        (:mod:`consent.witness_binding`).

        Raises:
            DataDirInUse: Another process has the data folder open (see :mod:`consent.lock`).
            DataDirUnusable: The data folder cannot be created or written.
            WitnessUnusable: ``require_witness`` and the folder does not hold it; the folder is
                not the witness the key store recorded (and no ``adopt_witness``); among others.
            ModelIntegrityError: ``model_dir`` is not a folder (before anything is made).
            ManifestUnreadable: The thresholds file is not one (before anything is made): else
                the service would start only to refuse every match.
        """
        core_dumps.forbid()  # before any key or template is read in this process
        require_model_dir(settings.model_dir)
        load_thresholds(settings.thresholds_path)
        lock = DataDirLock.acquire(settings.data_dir)
        try:
            runtime, discarded = _wire(settings, pipeline=pipeline, clock=clock, index=index,
                                       require_witness=require_witness,
                                       adopt_witness=adopt_witness)
            service = cls(runtime=runtime, lock=lock)
            # Several workers on a shared ledger: this one's index is a replica (consent.replica).
            replica = Replica(runtime, model_id=runtime.pipeline.model_id) if runtime.db.shared \
                else None
            if replica is not None:
                replica.catch_up()  # the feed since this replica's last save
            service.last_reconcile = reconcile(runtime, model_id=runtime.pipeline.model_id,
                                               index_discarded=discarded)
            key_renewal.renew_due(runtime)  # after the reconciliation drops lost keys
            service.policy_in_force = retention_policy.publish(runtime)  # before any consent
            declaration.record_assessment(runtime)
            if replica is not None:
                replica.follow()
                service.replica = replica
        except BaseException:
            lock.release()
            raise
        logger.info("optinface open: %s", service.last_reconcile)
        service.runtime.live_replay.go_live()  # a restore found from here is replayed at once
        if service.runtime.live_replay.found_at_start():  # also by a step after _wire's check
            with service.runtime.db.transaction() as session:  # (voiding twice costs nothing)
                void_spent(service.runtime, session)
        service.witness_audit()  # after an upgrade or a crash, the witness catches up at once
        return service

    def close(self) -> None:
        """Save the index (it is a cache of the ledger) and release the data folder."""
        try:
            # A restore found from here: the next start's. A replay stuck in the database is
            # not waited for past a bound; the index it may be changing is then not saved.
            replay_ended = self.runtime.live_replay.close()
            if replay_ended:
                self._close_writes()
            else:  # its transaction holds the ledger's write lock: each write would wait for it
                logger.error("the close writes nothing to the ledger while the replay holds its"
                             " write lock: the failed logins tallied since the last flush are"
                             " not chained, and the next start witnesses the log")
            self.runtime.tail.forget()  # and the log is no longer this service's to append to
            self.runtime.index.settle()  # a save an erasure left running uses the key store
            if self.replica is not None:
                # Stops following; saves the index and its feed position.
                self.replica.close(save=replay_ended)
            elif replay_ended:
                self.runtime.index.save()
            self.runtime.db.close()
            self.runtime.keys.store.close()
        finally:
            self.lock.release()

    def _close_writes(self) -> None:
        """The close's own writes: the failed logins tallied since the last flush, then the
        witness (after the last events: it holds the whole log). Each waits at most
        :data:`CLOSE_LOCK_WAIT_SECONDS` for the ledger's write lock, which another worker's hung
        transaction may hold; past that they are skipped, said in an error line, and the close
        goes on (the tally is lost; the next start witnesses the log)."""
        try:
            with self.runtime.db.bounded_lock_waits(CLOSE_LOCK_WAIT_SECONDS):
                self.flush_auth_failures()
                # The witness alone: the periodic round's key check loads a key for signatures
                # no one will ask of a closing service, and a key store that cannot be read
                # then must not skip the index's save and the stores' close below.
                transparency.witness(self.runtime)
        except DBAPIError as error:
            if not lock_wait_ended(error):
                raise
            logger.error("the close wrote nothing more to the ledger: its write lock was held"
                         " past the wait allowed (%.0f s on PostgreSQL, the busy timeout on"
                         " SQLite); the failed logins tallied since the last flush are not"
                         " chained, and the next start witnesses the log",
                         CLOSE_LOCK_WAIT_SECONDS)

    def settle(self, *, within: float = SETTLE_SECONDS) -> None:
        """Return once this service's index and its file are at rest: no background save of
        the index owed or running (one an erasure here began), and, on a shared ledger, every
        change-feed entry that existed at the call applied by this service's follower, with
        the saves that applying them (or another worker's erasure, which destroys every index
        file's key) required done.

        Why: on PostgreSQL the follower's thread applies the feed and saves the index whole
        whenever it scrubbed or found its file's key destroyed, so a save may begin after
        :meth:`HnswIndex.settle` returned. Whoever reads the data directory next (an erasure
        check, a copy of the folder) must meet neither a temporary file renamed away nor an
        index file whose key was just destroyed, nor miss a removal still on its way.

        A replay of the erasure journal owed to a restore found while running
        (:mod:`consent.live_replay`) is waited for first: it changes both.

        Raises:
            FollowerStuck: The follower did not get there within ``within`` seconds.
            LedgerRestored: That replay had not ended within ``within`` seconds.
        """
        self.runtime.live_replay.settle(within=within)
        # First: while that save is owed the file's key is gone, which the follower saves for.
        self.runtime.index.settle()
        if self.replica is not None:
            self.replica.settle(within=within)

    @property
    def pipeline(self) -> FacePipeline:
        """The detector and recognizer in use."""
        return self.runtime.pipeline

    @property
    def witness_stalled(self) -> bool:
        """Whether the witness folder refuses checkpoints (:attr:`consent.witness.Witness.
        stalled`): read without a lock, so the API asks it on its event loop and hops to a
        thread for :meth:`require_witnessing` only then."""
        return self.runtime.log.witness.stalled is not None

    def require_witnessing(self) -> None:
        """Refuse a new act while the witness folder refuses checkpoints, after trying it once
        more at most once a second (:func:`consent.witness_gate.require_witnessing`): what the
        API asks before every request but those that pass (``api.deps.get_service``).

        Raises:
            WitnessStalled: the folder still refuses them; nothing was done.
        """
        witness_gate.require_witnessing(self.runtime)

    def witness_audit(self) -> None:
        """Sign the log's head and copy it to the witness folder, if it moved since the last
        witnessed checkpoint: at start and every ``audit_witness_interval_seconds`` (the close
        calls the witness alone).
        Each time, the log is first compared with the checkpoints any worker signed into the
        folder since (a worker idle since before a restored copy finds it so within an
        interval: :func:`consent.transparency.record_departures`), then with this process's
        tail (:func:`consent.transparency.witness`, also called as a single-use right is
        spent: :mod:`consent.spent_rights`).

        Then, on a shared ledger, the key store's retired record is asked (one small read,
        :func:`consent.receipt_key_in_force.in_force`): a worker that signs nothing loads the
        key in force, dropping a receipt key another worker's rotation retired, within an
        interval of it rather than at its next signature. The witness's round and not the
        sweep's: both run on every worker, but this one every ``audit_witness_interval_seconds``
        (a minute by default, at most ten, a bound the register states), the sweep an hour by
        default and up to a day. After the witness, so a key store that cannot be read
        delays no checkpoint."""
        transparency.witness(self.runtime)
        receipt_key_in_force.in_force(self.runtime)

    @property
    def index(self) -> VectorIndex:
        """The live search index (a cache of the ledger's templates)."""
        return self.runtime.index

    @property
    def public_key(self) -> str:
        """The Ed25519 public key that checks every receipt this service signs (checkpoints have
        their own key: :meth:`published_keys`)."""
        return self.runtime.keys.public_key

    @property
    def receipt_keys(self) -> ReceiptKeys:
        """What a stored receipt is checked against: the receipt key and those it replaced
        (:mod:`consent.receipt_keys`)."""
        return self.runtime.keys.receipt_keys

    def published_keys(self, keys: ReceiptKeys | None = None) -> list[PublishedKey]:
        """The keys anyone may check receipts and checkpoints with; public, nothing personal.
        ``keys``: the receipt keys as the caller read them for its request (else read here:
        on a shared ledger each read is a key-store read)."""
        keys = self.receipt_keys if keys is None else keys
        return [published_key(keys.current),
                transparency.published_checkpoint_key(self.runtime.log)]

    def retired_keys(self, keys: ReceiptKeys | None = None) -> list[PublishedKey]:
        """The receipt keys a rotation replaced, each with its ``retired_at``, oldest first;
        never the key in force (a rotation stopped halfway retired it and still signs with it:
        :func:`consent.receipt_rotation.adopt_unlogged` skips it too). ``keys``: as
        :meth:`published_keys`'s."""
        keys = self.receipt_keys if keys is None else keys
        return [published_key(key.public_key, retired_at=key.retired_at)
                for key in keys.retired if key.public_key != keys.current]

    def rotate_receipt_key(self, *, reason: str) -> ReceiptKeyRotated:
        """A new receipt key, the old one's private half destroyed and its public half retired:
        the operator's own act with the key store, every server stopped, chained with
        ``reason`` (:mod:`consent.receipt_rotation`)."""
        return receipt_rotation.rotate(self.runtime, reason=reason)

    def _read(self) -> AbstractContextManager[Session]:
        """The session of every read method: waits for no writer and writes nothing
        (:meth:`consent.db.Database.reading`); the chaining of a read (``audit_read``) is a
        write transaction of its own, after it."""
        return self.runtime.db.reading()

    @contextmanager
    def reading(self, *, actor: Actor | None, view: str, filters: ReadFilters = None,
                offset: int | None = None) -> Iterator[Reads]:
        """Chain what the block reads of personal data, passing the :class:`Reads` it yields
        to the read methods, as one ``audit_read`` event naming ``view`` (a page or a file
        built from several lists) once the block has run (see :mod:`consent.reads`); ``actor``
        None: the operator's own read on the command line, chained with no key."""
        found = Reads.of(actor, view, filters, offset)
        yield found
        chain_reads(self.runtime, found)

    def _noted(self, actor: Actor | None, into: Reads | None, name: str, returned: int, *,
               subjects: Iterable[str] = (), filters: ReadFilters = None,
               offset: int | None = None) -> None:
        """Note a read of list ``name`` into the caller's ``into``, or, without one, chain it
        as its own ``audit_read`` event with ``filters`` and ``offset``."""
        if into is not None:
            into.note(name, returned, subjects=subjects)
            return
        with self.reading(actor=actor, view=name, filters=filters, offset=offset) as alone:
            alone.note(name, returned, subjects=subjects)

    # Keys and authentication ------------------------------------------------------------------
    def create_api_key(self, *, actor: Actor | None, role: Role, name: str,
                       client_cert_pem: str | None = None,
                       client_ca_pem: bytes | None = None,
                       over_api: bool = False) -> ApiKeyCreated:
        """A new key; ``actor=None`` only bootstraps the first admin key of an empty system. A
        researcher's or verifier's key is bound to ``client_cert_pem`` when given, and must be,
        to a certificate it issued, where the server verifies client certificates against the
        CA bundle ``client_ca_pem`` (:func:`consent.client_certificates.binding_for`).
        ``over_api``: the HTTP API's, which makes no admin key where ``admin_mfa`` is on (the
        command line does). Answered once witnessed (:func:`consent.spent_rights.
        witness_committed`): a key no witnessed checkpoint covers is never handed out."""
        if actor is not None:
            authorize(actor, Permission.MANAGE_KEYS)
        if over_api:
            admin_mfa.require_operator_for_admin_key(self.settings, role)
        made = apikeys.create_audited(self.runtime, actor=actor, role=role, name=name,
                                      client_cert_pem=client_cert_pem,
                                      client_ca_pem=client_ca_pem)
        spent_rights.witness_committed(
            self.runtime, act=f"key {made.key_id} was made",
            then="revoke it (its secret is shown to no one) and make another")
        return made

    def list_api_keys(self, *, actor: Actor) -> list[ApiKeyPublic]:
        """Every API key ever created, revoked ones included (never their secrets)."""
        authorize(actor, Permission.MANAGE_KEYS)
        with self._read() as session:
            return apikeys.list_public(session)

    def revoke_api_key(self, *, actor: Actor, key_id: str) -> None:
        """Revoke a key at once; its later uses are refused and audited."""
        authorize(actor, Permission.MANAGE_KEYS)
        with chained(self.runtime, ledger_alterations.UNDONE, actor=actor,
                     action=AuditAction.KEY_REVOKED):
            apikeys.revoke_audited(self.runtime, actor=actor, key_id=key_id)

    def open_break_glass(self, *, reason: str,
                         hours: int = break_glass.DEFAULT_HOURS) -> ApiKeyCreated:
        """An admin key that expires in ``hours``, for whoever holds the data directory and the
        key store when no admin key can act: no actor, but chained with ``reason`` and
        witnessed at once (see :mod:`consent.break_glass`)."""
        return break_glass.open_audited(self.runtime, reason=reason, hours=hours)

    def reseal_rows(self, *, reason: str, dry_run: bool = False) -> row_seals.Resealed:
        """Seal every row that grants something again: the operator's own act with the key
        store, chained with ``reason``; ``dry_run`` lists the rows without a valid seal and
        seals nothing (see :func:`consent.row_seals.reseal`)."""
        return row_seals.reseal(self.runtime, reason=reason, dry_run=dry_run)

    def reseal_log(self, *, reason: str, dry_run: bool = False) -> log_reseal.LogResealed:
        """Seal again the witnessed events without a valid keyed seal (a migration round trip
        below 0031), only on a log as its witness signed it: the operator's own act with the
        key store, chained with ``reason``; ``dry_run`` names them and seals nothing (see
        :mod:`consent.log_reseal`)."""
        return log_reseal.reseal(self.runtime, reason=reason, dry_run=dry_run)

    def authenticate(self, secret: str) -> Actor:
        """The actor behind an API key or subject token; failures are audited without the secret."""
        return apikeys.authenticate_audited(self.runtime, secret)

    def authenticate_kept(self, secret: str) -> Actor | None:
        """:meth:`authenticate` when it needs neither a read nor a write of the ledger (a key
        whose row is kept, on SQLite); None when only :meth:`authenticate` can answer, refusals
        included (it audits them): for a caller that must not block, such as the API's guard on
        its event loop."""
        return apikeys.authenticate_kept(self.runtime, secret)

    def refuse_client_certificate(self, actor: Actor) -> NoReturn:
        """Refuse ``actor``'s key for the client certificate its connection presented (none,
        or not the one the key is bound to: :func:`consent.client_certificates.admits`), with
        the one refusal of every credential, tallied in the audit log like the others."""
        apikeys.refuse_audited(self.runtime, apikeys.AuthFailure(
            client_certificates.REFUSAL_REASON, key_id=actor.key_id))

    # An admin's second factor (consent.admin_mfa) ------------------------------------------------
    def issue_admin_passkey_link(self, *, key_id: str) -> AdminPasskeyLink:
        """The operator's one-time link for the admin key ``key_id`` to register its passkey
        (the first, or one replacing a passkey lost): the command line's act, as break-glass
        is; audited."""
        admin_mfa.require_on(self.settings)
        return admin_mfa.issue_link(self.runtime, key_id=key_id)

    def needs_step_up(self, actor: Actor, permission: Permission) -> bool:
        """Whether ``actor`` must step up for ``permission`` (no read: cheap on every request)."""
        return admin_mfa.needs_step_up(self.settings, actor, permission)

    def require_step_up(self, actor: Actor, permission: Permission, token: str | None) -> None:
        """Refuse, tallied as a failed credential, an admin-only act that ``token`` does not
        step up for ``actor``'s key where ``admin_mfa`` is on (a break-glass key is exempt)."""
        admin_mfa.require_step_up(self.runtime, actor, permission, token)

    def admin_passkey_options(self, *, actor: Actor,
                              body: AdminPasskeyAsk) -> AdminPasskeyChallenge:
        """Creation options for the admin key's passkey: on the operator's link, or with the
        approval its current passkey is to sign."""
        self._second_factor(actor)
        return admin_mfa.registration_options(self.runtime, actor=actor, body=body)

    def register_admin_passkey(self, *, actor: Actor,
                               body: AdminPasskeyResponse) -> AdminPasskeyRegistered:
        """Bind the verified passkey to the admin key (replacing its earlier one on the
        operator's link or with its approval); journaled and audited."""
        self._second_factor(actor)
        with self._passkey_act(actor=actor, action=AuditAction.ADMIN_PASSKEY_REGISTERED):
            return admin_mfa.register(self.runtime, actor=actor, body=body)

    def step_up_options(self, *, actor: Actor) -> PasskeyChallenge:
        """A challenge for the admin key's own passkey."""
        self._second_factor(actor)
        return admin_mfa.step_up_options(self.runtime, actor=actor)

    def step_up(self, *, actor: Actor, body: PasskeyResponse) -> StepUp:
        """The admin key's step-up token, once its passkey signed the challenge; audited."""
        self._second_factor(actor)
        with self._passkey_act(actor=actor, action=AuditAction.ADMIN_STEPPED_UP):
            return admin_mfa.step_up(self.runtime, actor=actor, body=body)

    def _signed(self, work: Callable[[], T], *, actor: Actor, action: AuditAction,
                subjects: list[str]) -> T:
        """A person's passkey-signed act: its refusals chained (:func:`audited`), and its
        challenge, a spent single-use right, signed into the witness folder before it answers
        (:func:`spent_rights.witnessed`, outside the audit so a committed act is never chained
        as refused)."""
        with spent_rights.witnessed(self.runtime):
            return audited(self.runtime, work, actor=actor, action=action, subjects=subjects)

    @contextmanager
    def _passkey_act(
        self, *, actor: Actor | None, action: AuditAction,
        refused: tuple[type[ConsentError], ...] = (PasskeyUnsealed,),
    ) -> Iterator[None]:
        """A passkey act that chains only the ``refused`` named (by default a passkey the
        service never sealed, :func:`chained`: anyone can fail a sign-in, only a database
        writer can present that one), its challenge signed into the witness folder before it
        answers, as :meth:`_signed`'s."""
        with spent_rights.witnessed(self.runtime), chained(self.runtime, refused,
                                                           actor=actor, action=action):
            yield

    def _second_factor(self, actor: Actor) -> None:
        """The passkey's own acts: an admin's, and only while ``admin_mfa`` is on."""
        authorize(actor, Permission.SECOND_FACTOR)
        admin_mfa.require_on(self.settings)

    def flush_auth_failures(self) -> None:
        """Chain the failed authentications tallied since the last ``login_failure`` event into
        the audit log (see :mod:`consent.auth_failures`); the server's sweeper calls it."""
        apikeys.flush_failures(self.runtime)

    # Purposes and notices ---------------------------------------------------------------------
    def create_purpose(self, *, actor: Actor, body: PurposeCreate) -> PurposePublic:
        """A purpose subjects can consent to (its operations, retention and study)."""
        authorize(actor, Permission.MANAGE_PURPOSES)
        with self.runtime.db.transaction() as session:
            purpose = ledger.create_purpose(session, body, now=self.clock.now())
            self.runtime.audit(session, Entry(action=AuditAction.PURPOSE_CREATED, actor=actor,
                                              purpose=purpose.id, details={"name": purpose.name}))
            return PurposePublic.model_validate(purpose)

    def list_purposes(self, *, actor: Actor) -> list[PurposePublic]:
        """Every purpose, oldest first."""
        authorize(actor, Permission.READ_PURPOSES)
        with self._read() as session:
            return [PurposePublic.model_validate(p) for p in ledger.purposes(session)]

    def publish_notice(self, *, actor: Actor, body: NoticeCreate) -> NoticePublic:
        """Publish a versioned notice; consents record its SHA-256."""
        authorize(actor, Permission.MANAGE_PURPOSES)
        with self.runtime.db.transaction() as session:
            notice = ledger.publish_notice(session, body, now=self.clock.now())
            self.runtime.audit(session, Entry(action=AuditAction.NOTICE_PUBLISHED, actor=actor,
                                              details={"notice_id": notice.id,
                                                       "sha256": notice.sha256}))
            return notice_public(notice, self.settings)

    def list_notices(self, *, actor: Actor) -> list[NoticePublic]:
        """Every published notice, oldest first."""
        authorize(actor, Permission.READ_PURPOSES)
        with self._read() as session:
            return [notice_public(n, self.settings) for n in ledger.notices(session)]

    def privacy_statement(self) -> PrivacyStatement:
        """The public privacy page's content (no authentication: nothing personal in it)."""
        with self._read() as session:
            purposes = [PurposePublic.model_validate(p) for p in ledger.purposes(session)]
        policy = self.retention_policy()
        return PrivacyStatement(accountability=accountability(self.settings), purposes=purposes,
                                recipients=self.settings.recipients,
                                disclosures=disclosures.RULE, retention_policy=policy,
                                source=access.SOURCE, matching=matching.MATCHING_DESCRIPTION,
                                accuracy=operating_point.in_force(
                                    self.settings, self.pipeline.models).stated,
                                transfers=transfers.transfers(self.settings))

    def retention_policy(self, sha256: str | None = None) -> RetentionPolicyPublic:
        """A retention policy version ever in force, by the SHA-256 a receipt names, or the one
        in force now (public)."""
        in_force = self.policy_in_force
        assert in_force is not None  # published by open()
        if sha256 is None or sha256 == in_force.sha256:
            return in_force
        with self._read() as session:
            return retention_policy.version(session, sha256)

    def retention_policies(self) -> list[RetentionPolicyPublic]:
        """Every retention policy version ever in force, oldest first (public)."""
        with self._read() as session:
            return retention_policy.versions(session)

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
        """Store the person's new passkey; the link is used up."""
        with spent_rights.witnessed(self.runtime):  # its challenge spent, signed before it answers
            credential, _, pseudonym = enrolment_links.register(self.runtime, body,
                                                                kind=enrolment_links.ENROLMENT)
            return enrolment_links.registered(credential, pseudonym)

    def sign_in_options(self) -> PasskeyChallenge:
        """A sign-in challenge for ``navigator.credentials.get``."""
        return enrolment_links.sign_in_options(self.runtime)

    def sign_in(self, body: PasskeyResponse) -> SignedIn:
        """The person's passkey opens their subject; their own token is issued to them. Of its
        refusals only a passkey the service never registered is chained: anyone can fail a
        sign-in, only whoever wrote the database can present that one."""
        with self._passkey_act(actor=None, action=AuditAction.PASSKEY_SIGN_IN):
            return enrolment_links.sign_in(self.runtime, body)

    def sign_in_to_page(self, body: PasskeyResponse, *,
                        lifetime: timedelta) -> tuple[SignedIn, str]:
        """The portal's sign-in, refused and chained as :meth:`sign_in`: the person's token is
        issued for a page session alone, which expires with it and revokes it when it ends;
        the session's id, for the cookie alone."""
        with self._passkey_act(actor=None, action=AuditAction.PASSKEY_SIGN_IN):
            return enrolment_links.sign_in_to_page(self.runtime, body, lifetime=lifetime)

    def issue_subject_token(self, *, actor: Actor, signed: PasskeyResponse) -> SignedIn:
        """Another API token for the signed-in subject (the portal shows it to them once),
        signed with their passkey (a ``subject_token`` act): a bearer credential that erases
        them or copies their templates is never the session's alone. A refusal is chained."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=actor.subject)
        return self._signed(
            lambda: enrolment_links.issue_token(self.runtime, actor=actor, signed=signed),
            actor=actor, action=AuditAction.SUBJECT_TOKEN_ISSUED,
            subjects=[actor.subject] if actor.subject else [])

    def subject_tokens(self, *, actor: Actor, subject: str) -> list[SubjectTokenPublic]:
        """The person's live API tokens of their capacity, never a secret: their own token (or
        page session) only, an operator's key is refused ``subject_credential_required``."""
        authorize(actor, Permission.READ_TOKENS, subject=subject)
        return subject_tokens.listed(self.runtime, actor=actor, pseudonym=subject)

    def revoke_subject_tokens(self, *, actor: Actor, subject: str, token_id: str | None,
                              in_portal: bool = False) -> list[str]:
        """Revoke the person's token ``token_id``, or every live one, refused at once by every
        worker and journaled; the ids revoked. Outside the portal (``in_portal``: its page
        session, a passkey sign-in, which keeps its own token when it revokes all) a token
        revokes itself or all, never one other (``revoke_other_in_portal``). A refusal is
        chained."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        return audited(self.runtime,
                       lambda: subject_tokens.revoke(self.runtime, actor=actor,
                                                     pseudonym=subject, token_id=token_id,
                                                     in_portal=in_portal),
                       actor=actor, action=AuditAction.SUBJECT_TOKEN_REVOKED,
                       subjects=[subject])

    def challenge(self, *, actor: Actor, subject: str, act: SubjectAct,
                  say: Say = english) -> PasskeyChallenge:
        """The statement the person is asked to sign for ``act``, and its WebAuthn options; a
        consent's carries the consent form's wording in ``say``'s language, the one the person
        read (:mod:`consent.consent_form`).

        A capture session (``enrol``) may be opened by the desk; every other act only by the
        subject's own token.
        """
        permission = (Permission.OPEN_CAPTURE if isinstance(act, CaptureAct)
                      else _ACT_PERMISSIONS[act.act])
        authorize(actor, permission, subject=subject)
        witness_gate.require_witnessing_unless_ending(self.runtime, act.model_dump,
                                                      act=f"a challenge for a {act.act} act")
        return audited(self.runtime,
                       lambda: subject_acts.challenge(self.runtime, actor=actor,
                                                      pseudonym=subject, act=act, say=say),
                       actor=actor, action=AuditAction.CHALLENGE, subjects=[subject])

    def consent_form(self, say: Say = english) -> dict[str, Any]:
        """The consent form's wording in ``say``'s language, with its SHA-256: what the portal
        shows above the boxes and a consent's passkey signs (public: nothing personal)."""
        with self._read() as session:
            return consent_form.wording(session, self.settings, say)

    def shown_texts(self, say: Say) -> operator_texts.Shown:
        """The operator's texts as ``say``'s reader is shown them, for a page to show and mark
        (:class:`operator_texts.Shown`; public: ``/privacy`` shows them)."""
        with self._read() as session:
            return operator_texts.shown(session, self.settings, say)

    def translations(self, language: TranslationLanguage) -> dict[str, str]:
        """English text -> the translation into ``language`` a reader is shown of it (the
        table's, else the settings' French: :func:`operator_texts.translations`), for the
        documents the core writes; public, as ``/privacy`` shows them."""
        with self._read() as session:
            return operator_texts.translations(session, self.settings, language)

    def operator_texts(self, *, language: TranslationLanguage, actor: Actor | None = None,
                       missing: bool = False) -> list[OperatorTextPublic]:
        """Every English text the operator typed that consent forms show, with its translation
        into ``language`` (null where there is none yet: its readers are shown the English);
        ``missing``: only those. Public texts (``/privacy`` states them): ``actor`` is
        authorised when given (the API's callers), the operator's start and command line
        read them as the system."""
        if actor is not None:
            authorize(actor, Permission.READ_PURPOSES, subject=actor.subject)
        with self._read() as session:
            listed = operator_texts.listing(session, self.settings, language)
        return [t for t in listed if t.text is None] if missing else listed

    def translate_operator_text(self, *, actor: Actor, language: TranslationLanguage,
                                source_sha256: str, text: str) -> OperatorTextPublic:
        """Set the translation of one of those texts, chained; it enters the register's
        material (but for the access log's hold, the person in charge's title and the
        alternative), so matching waits for a new declaration (:mod:`consent.operator_texts`)."""
        authorize(actor, Permission.MANAGE_PURPOSES)
        return operator_texts.translate(self.runtime, actor=actor, language=language,
                                        key=source_sha256, text=text, now=self.clock.now())

    def approve_capture(self, *, actor: Actor, subject: str,
                        signed: PasskeyResponse) -> CapturePublic:
        """The subject approves, with their passkey, enrolling one photo (by its SHA-256)."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        return self._signed(
            lambda: subject_acts.approve_capture(self.runtime, actor=actor, pseudonym=subject,
                                                 response=signed),
            actor=actor, action=AuditAction.CAPTURE_APPROVED, subjects=[subject])

    def pending_captures(self, *, actor: Actor, subject: str) -> list[PendingCapture]:
        """Capture sessions the desk opened for ``subject``, waiting for their approval."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        return subject_acts.pending_captures(self.runtime, actor=actor, pseudonym=subject)

    def get_subject(self, *, actor: Actor, subject: str) -> SubjectPublic:
        """The subject's public record (refused for an erased pseudonym); an operator's read
        is chained (``audit_read`` naming the subject), the subject's own is not."""
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._read() as session:
            found = SubjectPublic.model_validate(
                ledger.get_subject(session, subject, runtime=self.runtime)
            )
        self._noted(actor, None, "subject", 1, subjects=[subject])
        return found

    def longest_consent_days(self, *, actor: Actor, subject: str) -> int:
        """How many days a consent to ``subject`` signed today may last (a minor's less): the
        portal offers no duration that the signature would then be refused for."""
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._read() as session:
            found = ledger.get_subject(session, subject, runtime=self.runtime)
            return policies.max_consent_days(found, self.settings,
                                             today=self.runtime.clock.now().date())

    def templates(self, *, actor: Actor, subject: str) -> list[TemplatePublic]:
        """The subject's templates, never their vectors: what a capture may name to replace.
        An operator's read is chained like :meth:`get_subject`'s."""
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._read() as session:
            row = ledger.get_subject(session, subject, runtime=self.runtime)
            found = ledger.templates_public(session, row)
        self._noted(actor, None, "templates", len(found), subjects=[subject])
        return found

    def set_searchable(self, *, actor: Actor, subject: str,
                       signed: PasskeyResponse) -> SubjectPublic:
        """Opt in to or out of 1:N galleries: the subject's signed choice, audited. An opt-out
        is done while the witness folder refuses checkpoints, an opt-in is not
        (:mod:`consent.ending_acts`)."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        witness_gate.require_witnessing_unless_ending(
            self.runtime, lambda: subject_acts.asked(self.runtime, signed.ceremony_id),
            act="an opt-in to search")
        return self._signed(
            lambda: subject_acts.set_searchable(self.runtime, actor=actor, pseudonym=subject,
                                                response=signed),
            actor=actor, action=AuditAction.SUBJECT_UPDATED, subjects=[subject])

    def choose_alternative(self, *, actor: Actor, subject: str) -> AlternativeChosenResult:
        """The person chooses the non-biometric alternative instead (see
        :mod:`consent.alternative`): their templates go now, enrolment is refused from then."""
        authorize(actor, Permission.UPDATE_SUBJECT, subject=subject)
        with chained(self.runtime, ledger_alterations.UNDONE, actor=actor,
                     action=AuditAction.ALTERNATIVE_CHOSEN):
            return alternative.choose(self.runtime, actor=actor, pseudonym=subject)

    def give_consent(self, *, actor: Actor, subject: str,
                     signed: PasskeyResponse) -> ConsentGiven:
        """Record the consent the person signed with their passkey; the receipt embeds their
        signature."""
        authorize(actor, Permission.GIVE_CONSENT, subject=subject)
        return self._signed(
            lambda: consents.give(self.runtime, actor=actor, pseudonym=subject, response=signed),
            actor=actor, action=AuditAction.CONSENT_GIVEN, subjects=[subject])

    def list_consents(self, *, actor: Actor, subject: str,
                      keys: ReceiptKeys | None = None) -> list[ConsentPublic]:
        """The subject's consents, oldest first, each with its status now. An operator's read
        is chained like :meth:`get_subject`'s. ``keys``: the receipt keys as the caller read
        them for its act (else read here: on a shared ledger each read is a key-store read)."""
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        keys = self.receipt_keys if keys is None else keys
        with self._read() as session:
            row = ledger.get_subject(session, subject, runtime=self.runtime)
            found = consents.all_public(row, public_key=keys, now=self.clock.now())
        self._noted(actor, None, "consents", len(found), subjects=[subject])
        return found

    def withdraw_consent(self, *, actor: Actor, subject: str, consent_id: str,
                         signed: PasskeyResponse) -> WithdrawalResult:
        """Withdraw at once, signed like the consent; templates enrolled under it go now; no
        consent left: erase all."""
        authorize(actor, Permission.WITHDRAW_CONSENT, subject=subject)
        return self._signed(
            lambda: consents.withdraw(self.runtime, actor=actor, pseudonym=subject,
                                      consent_id=consent_id, response=signed),
            actor=actor, action=AuditAction.CONSENT_WITHDRAWN, subjects=[subject])

    def withdraw_purpose(self, *, actor: Actor, subject: str, consent_id: str,
                         purpose_id: str, signed: PasskeyResponse) -> WithdrawalResult:
        """Withdraw one purpose of a consent (consent.purpose_withdrawal), signed by the person
        (a ``withdraw`` act naming the purpose); its last purpose withdraws the consent itself,
        like :meth:`withdraw_consent`."""
        authorize(actor, Permission.WITHDRAW_CONSENT, subject=subject)
        with self._passkey_act(actor=actor, action=AuditAction.CONSENT_WITHDRAWN,
                               refused=(PasskeyUnsealed, *ledger_alterations.UNDONE)):
            narrowed = purpose_withdrawal.narrow(self.runtime, actor=actor, pseudonym=subject,
                                                 consent_id=consent_id, purpose_id=purpose_id,
                                                 response=signed)
        if narrowed is None:
            ended = self.withdraw_consent(actor=actor, subject=subject, consent_id=consent_id,
                                          signed=signed)
            if ended.subject_erased:
                return ended  # the erasure receipt is the record; nothing may name them now
            receipt = purpose_withdrawal.record_ended(self.runtime, pseudonym=subject,
                                                      consent_id=consent_id, purpose_id=purpose_id)
            return ended.model_copy(update={"purpose_withdrawal": receipt})
        # Listed with the keys the narrowing read: the act reads them once.
        consent = next(c for c in self.list_consents(actor=actor, subject=subject,
                                                     keys=narrowed.keys)
                       if c.id == consent_id)
        return WithdrawalResult(consent=consent, templates_erased=0, subject_erased=False,
                                purpose_withdrawal=narrowed.withdrawal)

    # The pages' sessions (consent.page_sessions) ----------------------------------------------
    def open_page_session(self, *, area: str, secret: str, subject: str | None,
                          lifetime: timedelta) -> str:
        """A signed-in page session carrying ``secret`` (which the caller authenticated), kept
        where every worker finds it; its id, for the cookie alone. ``subject``: the person's
        pseudonym, so their erasure ends it."""
        return page_sessions.open_session(self.runtime, area=area, secret=secret,
                                          subject=subject, lifetime=lifetime)

    def page_session(self, session_id: str, area: str) -> page_sessions.OpenSession | None:
        """The live session of ``area`` that ``session_id`` opens, on any worker, or None.

        Raises:
            SubjectErased: its subject was erased since (said once; the session is gone).
        """
        return page_sessions.find(self.runtime, session_id, area)

    def end_page_session(self, session_id: str, *, logged_out: bool = True) -> None:
        """End the session; the subject token issued for it (the portal's) is revoked. Only a
        log-out (``logged_out``) reads back that the ledger kept the end
        (:func:`consent.page_sessions.end`)."""
        page_sessions.end(self.runtime, session_id, logged_out=logged_out)

    def sign_in_token(self, area: str) -> str:
        """A sign-in form's CSRF token, MACed under the key store's key (never the ledger's)."""
        return page_sessions.sign_in_token(self.runtime.keys, area=area, now=self.clock.now())

    def sign_in_token_valid(self, token: str, area: str) -> bool:
        """Whether a posted sign-in form carries a token :meth:`sign_in_token` made for
        ``area``, still fresh: any other text is refused, never raised on."""
        return page_sessions.sign_in_token_valid(self.runtime.keys, token, area=area,
                                                 now=self.clock.now())

    def keep_erasure_receipt(self, erasure: ErasureReceipt) -> str:
        """A one-time code that fetches ``erasure``'s signed receipt again (a day, twice), for
        the person whose session the erasure ended (consent.after_erasure)."""
        return after_erasure.issue_code(self.runtime, subject_hash=erasure.subject_hash)

    def erasure_receipt_by_code(self, code: str) -> SignedErasureReceipt:
        """The signed erasure receipt a one-time code opens; no credential, the person is gone.
        Served only once checked against the live receipt key and its tombstone, else
        ``erasure_receipt_altered`` (chained)."""
        return after_erasure.fetch(self.runtime, code)

    def purpose_withdrawals(self, *, actor: Actor, subject: str) -> list[PurposeWithdrawalPublic]:
        """The subject's signed receipts of purposes withdrawn from consents they keep. An
        operator's read is chained like :meth:`get_subject`'s."""
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._read() as session:
            row = ledger.get_subject(session, subject, runtime=self.runtime)
            found = purpose_withdrawal.for_subject(session, row,
                                                   public_key=self.runtime.keys.receipt_keys)
        self._noted(actor, None, "purpose_withdrawals", len(found), subjects=[subject])
        return found

    # Probe consents (consent.probe_consent) ----------------------------------------------------
    def request_probe_consent(self, *, actor: Actor,
                              body: ProbeConsentRequest) -> ProbeConsentLink:
        """A one-time link for the person in the probe: one image, one purpose, this key.

        A verify's link names a subject, but its answer is the same whatever that pseudonym is
        (see :mod:`consent.probe_consent`); a refusal (an unknown purpose or notice) is chained
        like a search's, naming no one, and the enumeration alerts count it, and the verify
        links that no subject signed (:mod:`consent.anomalies`).
        """
        authorize(actor, Permission.CREATE_PROBE_CONSENT)
        return audited(self.runtime,
                       lambda: probe_consent.request(self.runtime, actor=actor, body=body),
                       actor=actor, action=AuditAction.PROBE_CONSENT_REQUESTED,
                       purpose=body.purpose_id, probe_sha256=body.probe_sha256)

    def probe_link_request(self, body: LinkSecret, say: Say = english) -> ProbeLinkRequest:
        """What a probe link asks, for its page to show before the person agrees or declines
        (the link is the key; reading uses nothing up), the purpose as ``say``'s reader is
        shown it."""
        return probe_consent.asked(self.runtime, body, say)

    def probe_registration_options(self, body: LinkSecret) -> PasskeyChallenge:
        """Options for the person in the probe to create a passkey (the link is the key)."""
        return enrolment_links.registration_options(self.runtime, body,
                                                    kind=probe_consent.PROBE)

    def probe_subject_challenge(self, body: LinkSecret) -> PasskeyChallenge:
        """A verify's link, opened by the subject compared with: the statement to sign with a
        passkey they registered (the link is the key; see :mod:`consent.probe_consent`), or
        ``purpose_not_consented`` for every subject who may not sign it, whatever the reason."""
        return probe_consent.subject_challenge(self.runtime, body)

    def register_probe_passkey(self, body: PasskeyResponse) -> PasskeyChallenge:
        """The person in the probe registered a passkey: here is the statement to sign."""
        with spent_rights.witnessed(self.runtime):  # its challenge spent, signed before it answers
            credential, link, _ = enrolment_links.register(self.runtime, body,
                                                           kind=probe_consent.PROBE)
            return probe_consent.challenge(self.runtime, credential, link)

    def sign_probe_consent(self, body: PasskeyResponse) -> ProbeConsentPublic:
        """The probe consent the person signed; single use, this image, purpose and key."""
        with self._passkey_act(actor=None, action=AuditAction.PROBE_CONSENT_CREATED):
            return probe_consent.sign(self.runtime, body)

    # Enrolment and matching -------------------------------------------------------------------
    def enrol(self, *, actor: Actor, subject: str, capture_id: str | None,
              image: bytes) -> TemplatePublic:
        """Enrol the photo of a capture session the subject approved with their passkey (see
        consent.enrolment); without one, ``subject_credential_required``. A capture that
        replaces a template rectifies it: that template is destroyed (consent.rectification)."""
        authorize(actor, Permission.ENROL, subject=subject)
        if capture_id is None:
            raise SubjectCredentialRequired(
                "enrolment needs a capture session approved by the subject's passkey",
                details={"subject": subject})
        with spent_rights.witnessed(self.runtime) as spent:  # after the act, before it answers
            return audited(self.runtime,
                           lambda: enrolment.enrol(self.runtime, actor=actor, pseudonym=subject,
                                                   capture_id=capture_id, image=image,
                                                   spent=spent),
                           actor=actor, action=AuditAction.ENROL, subjects=[subject])

    def verify(self, *, actor: Actor, subject: str, purpose_id: str, probe_consent_id: str,
               image: bytes, daily_quota: int | None = None,
               decision_use: bool = False) -> MatchResult:
        """1:1: is the person in ``image`` the subject? Only with the subject's consent to it.

        Counts against the same daily quota as identify (see :mod:`consent.quota`).
        ``decision_use``: as for :meth:`identify`.
        """
        return self._match(actor=actor, operation=Operation.VERIFY, subject=subject, k=1,
                           purpose_id=purpose_id, probe_consent_id=probe_consent_id,
                           image=image, daily_quota=daily_quota, decision_use=decision_use)

    def identify(self, *, actor: Actor, purpose_id: str, probe_consent_id: str, image: bytes,
                 k: int = 5, daily_quota: int | None = None,
                 decision_use: bool = False) -> MatchResult:
        """1:N within the purpose's gallery: opted-in subjects whose consent covers it.

        With ``daily_quota``, the actor's key, and the purpose over all keys, may make that many
        matching attempts (searches and refusals) per UTC day, counted from the audit log;
        beyond it, ``rate_limited``.
        The API passes its setting; ``None`` (the operator's own scripts) sets no quota.
        With ``decision_use`` (the caller will base a decision about the person on the answer),
        the answer carries ``automated_decision`` and the notice the caller must relay
        (P-39.1 s. 12.1, :mod:`consent.automated_decisions`).
        """
        return self._match(actor=actor, operation=Operation.IDENTIFY, subject=None, k=k,
                           purpose_id=purpose_id, probe_consent_id=probe_consent_id,
                           image=image, daily_quota=daily_quota, decision_use=decision_use)

    def _match(self, *, actor: Actor, operation: Operation, subject: str | None, k: int,
               purpose_id: str, probe_consent_id: str, image: bytes, daily_quota: int | None,
               decision_use: bool) -> MatchResult:
        """A verify's or an identify's one path (:func:`consent.matching.match`): the
        operation's permission, the probe consent's spend witnessed before it answers, and the
        attempt audited, a refusal included (a verify's naming its subject)."""
        authorize(actor, Permission(str(operation)))
        with spent_rights.witnessed(self.runtime) as spent:  # before it answers
            return audited(
                self.runtime,
                lambda: matching.match(self.runtime, actor=actor, operation=operation,
                                       purpose_id=purpose_id, probe_consent_id=probe_consent_id,
                                       image=image, subject=subject, k=k,
                                       daily_quota=daily_quota, decision_use=decision_use,
                                       spent=spent),
                actor=actor, action=AuditAction(str(operation)), purpose=purpose_id,
                subjects=None if subject is None else [subject],
                probe_sha256=hashlib.sha256(image).hexdigest(), daily_quota=daily_quota)

    # Erasure, access, retention ---------------------------------------------------------------
    def erase(self, *, actor: Actor, subject: str, reason: ErasureReason,
              signed: PasskeyResponse | None = None) -> ErasureReceipt:
        """Destroy the subject's templates, keys and identifying data; signed receipt.

        With ``signed``, the person's own erasure signed with their passkey (an ``erase``
        act; the portal's always is): checked and spent before anything is destroyed, then
        named in the ``erase`` event and the receipt (:func:`subject_acts.signed_right`)."""
        authorize(actor, Permission.ERASE, subject=subject)
        with spent_rights.witnessed(self.runtime):  # its challenge spent, signed before it answers
            signature = None if signed is None else audited(
                self.runtime,
                lambda: subject_acts.sign_right(self.runtime, actor=actor, pseudonym=subject,
                                                act=subject_acts.ERASE, response=signed),
                actor=actor, action=AuditAction.ERASE, subjects=[subject])
            return erase_requested(self.runtime, pseudonym=subject, reason=reason, actor=actor,
                                   signed_by=signature)

    def export(self, *, actor: Actor, subject: str, vectors: bool = False,
               signed: PasskeyResponse | None = None) -> AccessExport:
        """Everything held about the subject (right of access); the export itself is audited.

        With ``vectors``, the person's own copy of their templates too: their own sign-in (or
        their guardian's) only, an operator key is refused ``subject_credential_required``; the
        event names the templates copied, never a vector. With ``signed`` (the portal's copy
        always), the person's passkey signed this copy (a ``template_copy`` act), checked in
        the export's transaction and named in its event."""
        authorize(actor, Permission.EXPORT, subject=subject)
        if vectors:
            authorize(actor, Permission.EXPORT_VECTORS, subject=subject)
        return access.export(self.runtime, actor=actor, pseudonym=subject, vectors=vectors,
                             signed=signed)

    def disclose(self, *, actor: Actor, subject: str, body: DisclosureCreate) -> DisclosureMade:
        """Disclose the subject's record (the minimal :class:`DisclosedRecord`, never a vector)
        to one recipient on a BIPA 15(d) basis: the person's own (signed with their passkey) or
        the controller's, under law or a warrant (an administrator); recorded, audited and
        listed in the export (:mod:`consent.disclosures`)."""
        authorize(actor, disclosures.permission_for(body.legal_basis), subject=subject)
        return self._signed(
            lambda: handover.disclose(self.runtime, actor=actor, pseudonym=subject, body=body),
            actor=actor, action=AuditAction.DISCLOSURE, subjects=[subject])

    def list_disclosures(self, *, actor: Actor, subject: str) -> list[DisclosurePublic]:
        """The subject's disclosures, oldest first: whoever may read their export may read
        these, which it lists too. An operator's read is chained like :meth:`get_subject`'s."""
        authorize(actor, Permission.EXPORT, subject=subject)
        with self._read() as session:
            ledger.get_subject(session, subject, runtime=self.runtime)
            found = disclosures.of_subject(session, subject)
        self._noted(actor, None, "disclosures", len(found), subjects=[subject])
        return found

    def request_right(self, *, actor: Actor, subject: str,
                      body: RightsRequestCreate) -> RightsRequestPublic:
        """Record a rights request; it is due in 30 days (see :mod:`consent.rights_requests`)."""
        authorize(actor, Permission.REQUEST_RIGHTS, subject=subject)
        return rights_requests.request(self.runtime, actor=actor, pseudonym=subject, body=body)

    def answer_right(self, *, actor: Actor, request_id: str,
                     body: RightsRequestAnswer) -> RightsRequestPublic:
        """Record the answer to a rights request, or its reasoned refusal (a late answer stays
        flagged overdue)."""
        authorize(actor, Permission.ANSWER_REQUESTS)
        return rights_requests.answer(self.runtime, actor=actor, request_id=request_id,
                                      body=body)

    def requests_of(self, *, actor: Actor, subject: str) -> list[RightsRequestPublic]:
        """The subject's own requests and complaints, oldest first, each with its deadline.
        An operator's read is chained like :meth:`get_subject`'s."""
        authorize(actor, Permission.READ_SUBJECT, subject=subject)
        with self._read() as session:
            row = ledger.get_subject(session, subject, runtime=self.runtime)
            found = rights_requests.of_subject(session, row, now=self.clock.now())
        self._noted(actor, None, "subject_requests", len(found), subjects=[subject])
        return found

    def rights_requests(self, *, actor: Actor,
                        reads: Reads | None = None) -> list[RightsRequestPublic]:
        """Every request with its deadline, open ones first; ``due_soon`` flags one with a
        week or less left, ``overdue`` a late one. The read is chained (``audit_read``), or
        noted in ``reads``."""
        authorize(actor, Permission.ANSWER_REQUESTS)
        with self._read() as session:
            found = rights_requests.all_requests(session, now=self.clock.now())
        self._noted(actor, reads, "rights_requests", len(found))
        return found

    # Human review -----------------------------------------------------------------------------
    def pending_reviews(self, *, actor: Actor) -> list[ReviewPublic]:
        """Candidates awaiting a verifier's decision, oldest first; the read is chained
        (``audit_read``: the candidates are people a search proposed)."""
        authorize(actor, Permission.REVIEW_CANDIDATES)
        with self._read() as session:
            found = review.pending(session)
        self._noted(actor, None, "pending_reviews", len(found))
        return found

    def decide_review(self, *, actor: Actor, review_id: str,
                      body: ReviewDecisionCreate) -> ReviewPublic:
        """A verifier confirms or rejects a candidate (see :mod:`consent.review`); a
        confirmation a regulator's order refuses is chained, the route's other refusals are
        not."""
        authorize(actor, Permission.REVIEW_CANDIDATES)
        with chained(self.runtime, declaration.ORDER_REFUSALS, actor=actor,
                     action=AuditAction.REVIEW_DECIDED):
            return review.decide(self.runtime, actor=actor, review_id=review_id, body=body)

    # Incidents --------------------------------------------------------------------------------
    def record_incident(self, *, actor: Actor, body: IncidentCreate) -> IncidentPublic:
        """Record a confidentiality incident; its 72-hour clock starts at awareness."""
        authorize(actor, Permission.MANAGE_INCIDENTS)
        return incidents.record(self.runtime, actor=actor, body=body)

    def incident_notified(self, *, actor: Actor, incident_id: str, audience: Audience,
                          delay_reason: str | None = None) -> IncidentPublic:
        """Record that the regulator, or the persons concerned, were notified now; after 72
        hours, the regulator's with the reasons for the delay."""
        authorize(actor, Permission.MANAGE_INCIDENTS)
        return incidents.mark_notified(self.runtime, actor=actor, incident_id=incident_id,
                                       audience=audience, delay_reason=delay_reason)

    def incidents(self, *, actor: Actor, reads: Reads | None = None) -> list[IncidentPublic]:
        """The incident register, newest first, each with its notification clock. The read is
        chained (``audit_read``: an incident's texts may name the people it touched), or noted
        in ``reads``."""
        authorize(actor, Permission.READ_INCIDENTS)
        with self._read() as session:
            found = incidents.all_incidents(session, now=self.clock.now())
        self._noted(actor, reads, "incidents", len(found))
        return found

    def incident_notice(self, *, actor: Actor, incident_id: str, audience: Audience,
                        say: Say = english) -> IncidentNotice:
        """The notice for the regulator or for the persons concerned, from the record, in the
        words ``say`` gives (:mod:`consent.wording`); the read is chained like the register's."""
        authorize(actor, Permission.READ_INCIDENTS)
        with self._read() as session:
            found = incidents.notice(session, incident_id=incident_id, audience=audience,
                                     settings=self.settings, now=self.clock.now(), say=say)
        self._noted(actor, None, "incident_notice", 1,
                    filters={"incident_id": incident_id, "audience": str(audience)})
        return found

    def sweep(self, *, actor: Actor | None = None) -> SweepReport:
        """Erase every subject past a retention limit, and the templates of every consent past
        one while another keeps their subject (the scheduler calls it with no actor)."""
        if actor is not None:
            authorize(actor, Permission.SWEEP)
        return sweep(self.runtime, actor=actor)

    @property
    def checkpoint_owed(self) -> bool:
        """Whether the last WAL checkpoint was held off by a read, so the WAL may still hold
        deleted pages (:attr:`consent.db.Database.checkpoint_owed`; never on PostgreSQL)."""
        return self.runtime.db.checkpoint_owed

    def pay_owed_checkpoint(self) -> bool:
        """Checkpoint the WAL again where one is owed, waiting for reads briefly
        (:data:`consent.db.OWED_RETRY_WAIT_MS`): whether none is owed now. The sweeper calls
        it on a back-off, so an erasure's pages a long read held in the WAL leave it soon after
        that read ends, not at the next sweep."""
        return not self.runtime.db.checkpoint_owed \
            or self.runtime.db.checkpoint(wait_ms=OWED_RETRY_WAIT_MS)

    # Keys of the deployment -------------------------------------------------------------------
    def rotate_epoch(self, *, actor: Actor | None = None) -> EpochReport:
        """Re-wrap every subject key under a new epoch key and destroy the older epoch keys:
        copies made before an erasure become undecryptable for the erased subject."""
        if actor is not None:
            authorize(actor, Permission.MANAGE_KEYS)
        return epochs.rotate_epoch(self.runtime, actor=actor)

    def seconds_to_epoch_boundary(self) -> float:
        """Seconds until the current epoch is due for rotation (the scheduler waits this)."""
        return epochs.seconds_to_boundary(self.runtime)

    def seconds_to_next_consent_end(self, *, swept_at: datetime | None = None) -> float | None:
        """Seconds until the next consent ends that was in force at the last sweep
        (``swept_at``; now when unknown), negative when that end has passed unswept; None when
        there is none (the scheduler sweeps at the next end)."""
        now = self.clock.now()
        ends = next_consent_end(self.runtime, after=swept_at or now)
        return None if ends is None else (ends - now).total_seconds()

    def key_epochs(self, *, actor: Actor) -> list[KeyEpochPublic]:
        """Every epoch with its creation and destruction time: where an erasure receipt's
        ``copiesUndecryptableAt`` can be checked once passed."""
        authorize(actor, Permission.READ_LEDGER)
        with self._read() as session:
            return [KeyEpochPublic.model_validate(row) for row in epochs.history(session)]

    def rekey_templates(self, *, actor: Actor) -> RotationReport:
        """A new template-protection key; every template re-protected and the index rebuilt."""
        authorize(actor, Permission.MANAGE_KEYS)
        return rotation.rekey_templates(self.runtime, actor=actor)

    # Audit, register, reviewer views ----------------------------------------------------------
    def audit_events(self, *, actor: Actor | None, filters: AuditFilter, offset: int = 0,
                     limit: int = 100, newest_first: bool = False,
                     reads: Reads | None = None) -> AuditPage:
        """One page of the matching events, counted and cut in SQL (see consent.activity).

        The read is itself chained into the log (``audit_read``: who, which filters, how many
        events), after the page is taken: reading who was searched is access to personal data.
        With ``reads`` (a page or file built from several reads), it is noted there instead.
        ``actor`` None: the operator's own read where the data directory and the key store are
        (``optinface audit export``), chained with no key, as the reseals are.
        """
        page, _ = self._audit_page(actor, filters, offset=offset, limit=limit,
                                   newest_first=newest_first, reads=reads)
        return page

    def sign_audit_head(self, *, actor: Actor | None) -> int:
        """Sign the log's head for an export of the whole log, unless a checkpoint ends there
        already (:func:`consent.transparency.signed_head`); the size signed, which the export
        reads up to (:meth:`audit_export_page`'s ``through``) and whose note it carries on its
        last event, as the access export carries the checkpoint it signs."""
        if actor is not None:
            authorize(actor, Permission.READ_AUDIT)
        with self.runtime.db.transaction() as session:
            return transparency.signed_head(self.runtime, session, now=self.clock.now())

    def audit_export_page(self, *, actor: Actor | None, filters: AuditFilter, offset: int,
                          limit: int, reads: Reads, signed: bool,
                          through: int | None = None) -> tuple[AuditPage, witness.Signed | None]:
        """One page of an export of the log, oldest first, noted in ``reads`` as
        :meth:`audit_events` notes it, none past event ``through`` where given (the head
        :meth:`sign_audit_head` signed); with ``signed``, on the export's last page, the newest
        checkpoint signed as a note whose tree ends at or before its last event, read in the
        page's transaction: what the JSON export carries. A note is public (no personal data),
        so reading it is not noted."""
        return self._audit_page(actor, filters, offset=offset, limit=limit,
                                newest_first=False, reads=reads, signed=signed, through=through)

    def _audit_page(self, actor: Actor | None, filters: AuditFilter, *, offset: int,
                    limit: int, newest_first: bool, reads: Reads | None,
                    signed: bool = False,
                    through: int | None = None) -> tuple[AuditPage, witness.Signed | None]:
        if actor is not None:
            authorize(actor, Permission.READ_AUDIT)
        with self._read() as session:
            page = activity.audit_page(session, filters, offset=offset, limit=limit,
                                       newest_first=newest_first, through=through)
            last = bool(page.events) and offset + len(page.events) >= page.total
            note = (newest_signed(session, through=page.events[-1].seq)
                    if signed and last else None)
        self._noted(actor, reads, "audit_events", len(page.events), filters=filters,
                    offset=offset, subjects=[filters.subject] if filters.subject else [])
        return page, note

    def anomaly_alerts(self, *, actor: Actor) -> list[AnomalyAlert]:
        """Researcher keys whose last 24 hours of searches form an enumeration pattern (see
        :mod:`consent.anomalies`); keys and counts only, like the search counts."""
        authorize(actor, Permission.READ_AUDIT)
        with self._read() as session:
            return anomalies.alerts(session, now=self.clock.now())

    def break_glass_openings(self, *, actor: Actor) -> list[BreakGlassPublic]:
        """The break-glass openings of the last :data:`consent.break_glass.REVIEW_DAYS` days,
        newest first, with what was done under each key."""
        authorize(actor, Permission.READ_AUDIT)
        since = self.clock.now() - timedelta(days=break_glass.REVIEW_DAYS)
        with self._read() as session:
            return break_glass.openings(session, since=since)

    def search_counts(self, *, actor: Actor, since: datetime | None = None,
                      until: datetime | None = None) -> list[SearchCount]:
        """Searches per UTC hour and purpose, for the reviewer's day-by-purpose table."""
        authorize(actor, Permission.READ_AUDIT)
        with self._read() as session:
            return activity.searches_by_hour(session, since=since, until=until)

    def audit_outcomes(self, *, actor: Actor) -> list[str]:
        """The outcomes the log holds, for the reviewer's filter (their codes, sorted)."""
        authorize(actor, Permission.READ_AUDIT)
        with self._read() as session:
            return activity.outcomes(session)

    def key_names(self, *, actor: Actor) -> list[KeyName]:
        """The names behind the key ids of the log (the reviewer reads who, not ``key_…``)."""
        authorize(actor, Permission.READ_AUDIT)
        with self._read() as session:
            return activity.key_names(session)

    def verify_audit(self, *, actor: Actor | None = None) -> ChainStatus:
        """Check the hash chain, the signed checkpoints and, with the key store the service
        holds, every event's keyed seal (:mod:`consent.log_seals`), over the whole log."""
        if actor is not None:
            authorize(actor, Permission.READ_AUDIT)
        with self._read() as session:
            return transparency.verify_running(session, self.runtime.log,
                                               seal_key=self.runtime.keys.hmac_key)

    def audit_consistency(self, *, actor: Actor, first: int,
                          second: int | None = None) -> ConsistencyProof:
        """Proof that the log of ``second`` events (default: all) extends the one of ``first``:
        a reviewer holding two checkpoints checks it without reading the log."""
        authorize(actor, Permission.READ_AUDIT)
        with self._read() as session:
            return transparency.consistency(session, first=first, second=second)

    def audit_checkpoint(self, *, actor: Actor) -> CheckpointPublic:
        """A signed checkpoint of the log up to this request, also witnessed: for a reviewer
        to keep and later check with ``optinface audit verify --against``; never answered
        unless the witness folder took it."""
        authorize(actor, Permission.CHECKPOINT_AUDIT)
        now = self.clock.now()
        with self.runtime.db.transaction() as session:
            self.runtime.audit(session, Entry(action=AuditAction.CHECKPOINT, actor=actor))
            row = self.runtime.log.checkpoint(session, now=now)
            public = transparency.checkpoint_public(session, row, self.runtime.log)
        spent_rights.require_witnessed(self.runtime, public.tree_size,
                                       act="the checkpoint was signed", then="ask for one again")
        return public

    def register(self, *, actor: Actor | None = None) -> Register:
        """The register of the biometric database, generated from the live system and signed
        by the receipt key (:mod:`consent.signed_documents`)."""
        if actor is not None:
            authorize(actor, Permission.READ_REGISTER)
        ring = receipt_key_in_force.in_force(self.runtime)  # signed with the key in force
        with self._read() as session:
            return signed(ring, self._register(session, ring.loaded_receipt_keys))

    def _register(self, session: Session, keys: ReceiptKeys) -> Register:
        """The register, naming the receipt ``keys`` its caller read once for the request (on
        a shared ledger each read is a key-store read): those of the ring that signs it."""
        return build_register(session, settings=self.settings,
                              rows=self.runtime.register_reads.rows(session, receipt_keys=keys),
                              keys=self.runtime.keys,
                              models=self.runtime.pipeline.models,
                              model_id=self.runtime.pipeline.model_id,
                              rotation_fingerprint=self.runtime.protector.fingerprint,
                              signing_keys=self.published_keys(keys),
                              retired_keys=self.retired_keys(keys),
                              now=self.clock.now())

    def ropa(self, *, actor: Actor | None = None, say: Say = english) -> Ropa:
        """The record of processing activities (GDPR art. 30(1)), built from the register of
        the same reading, so it names the material SHA-256 it describes, signed as the register
        is; whoever may read the register may read it. Its statements are in the words ``say``
        gives (the core's English for the JSON)."""
        if actor is not None:
            authorize(actor, Permission.READ_REGISTER)
        ring = receipt_key_in_force.in_force(self.runtime)  # signed with the key in force
        with self._read() as session:
            return signed(ring, build_ropa(
                self._register(session, ring.loaded_receipt_keys),
                joint_controller=self.settings.joint_controller,
                disclosed=disclosures.recipients_and_grounds(session), say=say))

    def declaration_state(self) -> declaration.DeclarationState:
        """The declaration in force and the material version it binds, as the gate reads them:
        no figure counted (every template's seal, in the register), nothing signed. What
        ``optinface keys rotate-receipt-key`` states before it asks."""
        with self._read() as session:
            rows = self.runtime.register_reads.rows(session)
        return declaration.state(rows, settings=self.settings, models=self.pipeline.models,
                                 today=self.clock.now().date())

    def render_register(self, register: Register, say: Say = english) -> str:
        """The register as Markdown, for the regulator, in the words ``say`` gives."""
        return render_register(register, say)

    def declare(self, *, actor: Actor, date: date, reference: str) -> Register:
        """Record the declaration of the register as it stands (see :mod:`consent.declaration`):
        matching opens once its period has run, while the register is unchanged."""
        authorize(actor, Permission.DECLARE)
        declaration.declare(self.runtime, actor=actor, declared_on=date, reference=reference)
        return self.register(actor=None)

    def apply_regulator_order(self, *, actor: Actor, reference: str,
                              destroy: bool = False) -> Register:
        """A regulator's order: enrolment and matching stop; with ``destroy``, every subject's
        templates are destroyed, each with its signed erasure receipt. While an order under
        ``reference`` is in force, a repeat is refused (``order_in_force``): nothing is
        recorded, nothing destroyed."""
        authorize(actor, Permission.DECLARE)
        declaration.apply_order(self.runtime, actor=actor, reference=reference, destroy=destroy)
        return self.register(actor=None)

    def lift_regulator_order(self, *, actor: Actor, reference: str) -> Register:
        """Record that the regulator lifted order ``reference`` (audited): enrolment and
        matching resume unless another order is in force; nothing a destroy order erased comes
        back. ``invalid_request`` when no order under it is in force (nothing recorded).
        Returns the register as it now stands."""
        authorize(actor, Permission.DECLARE)
        declaration.lift_audited(self.runtime, actor=actor, reference=reference)
        return self.register(actor=None)

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports: models, providers, counts, declaration (the register's
        cheap figures, :func:`consent.register.vitals`)."""
        with self._read() as session:
            vital = vitals(session, settings=self.settings,
                           rows=self.runtime.register_reads.rows(session),
                           models=self.runtime.pipeline.models,
                           model_id=self.runtime.pipeline.model_id, now=self.clock.now())
        return {
            "status": "ok",
            "models": {m.id: m.sha256 for m in self.runtime.pipeline.models.values()},
            "model_id": self.runtime.pipeline.model_id,
            "active_providers": self.runtime.pipeline.active_providers,
            "subjects": vital.subjects,
            "templates": vital.template_rows,
            "templates_needing_reenrolment": vital.stale_rows,
            "index_entries": self.runtime.index.count(),
            "declared": vital.declared,
            "in_service": vital.in_service,
            "demo_mode": self.settings.demo_mode,
            "replica_seq": self.replica.seq if self.replica is not None else None,
        }

    def consent_ledger(self, *, actor: Actor, reads: Reads | None = None) -> ConsentLedger:
        """Every consent with its status now, and the counts per status and purpose; the read
        is chained (``audit_read``), or noted in ``reads``."""
        authorize(actor, Permission.READ_LEDGER)
        with self._read() as session:
            rows = session.scalars(select(Consent).order_by(Consent.obtained_at))
            keys = self.receipt_keys  # once a list: on a shared ledger a key-store read
            found = activity.ledger_summary(
                [consents.public(self.runtime, c, keys=keys) for c in rows],
                purpose_withdrawal.withdrawn_purposes(session))
        self._noted(actor, reads, "consent_ledger", len(found.consents))
        return found

    def erasures(self, *, actor: Actor, since: datetime | None = None,
                 until: datetime | None = None,
                 reads: Reads | None = None) -> list[TombstonePublic]:
        """Tombstones erased in ``[since, until)`` (all by default), oldest first; the read is
        chained (``audit_read``), or noted in ``reads``."""
        authorize(actor, Permission.READ_LEDGER)
        with self._read() as session:
            found = [TombstonePublic.model_validate(t)
                     for t in activity.tombstones(session, since=since, until=until)]
        self._noted(actor, reads, "erasures", len(found), filters={
            name: moment.isoformat() for name, moment in (("since", since), ("until", until))
            if moment is not None})
        return found

    def erasure(self, *, actor: Actor, subject_hash: str,
                reads: Reads | None = None) -> TombstonePublic:
        """One tombstone and its signed receipt, by the hash its receipt names; the read is
        chained (``audit_read``, naming the hash), or noted in ``reads``."""
        authorize(actor, Permission.READ_LEDGER)
        require_identifiers(subject_hash=subject_hash)
        with self._read() as session:
            found = activity.tombstone(session, subject_hash)
            if found is None:
                raise NotFound(f"no erasure with subject hash {subject_hash}")
            tomb = TombstonePublic.model_validate(found)
        self._noted(actor, reads, "erasure", 1, subjects=[subject_hash])
        return tomb
