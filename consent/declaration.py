"""The declaration of the biometric database to the regulator (LCCJTI art. 45) and its orders.

Québec requires a database of biometric characteristics to be declared to the Commission
d'accès à l'information at least 60 days before it is put into service, and lets the Commission
suspend it or order its destruction. Three rules follow, checked before every enrolment and
match:

- Matching opens only ``declaration_period_days`` (60, configurable only upward) after the
  recorded declaration date.
- A declaration covers what it described: it records the SHA-256 of the register's material
  fields (purposes, characteristic, models and their hashes, the accuracy operating point,
  hosting location, retention, security measures, recipients, and the transfer safeguards once
  stated) and, since material version 2, of the deployment it describes: the controller and
  the public keys that sign its receipts and checkpoints, as ``/.well-known`` publishes them, so
  another deployment with the same purposes has another hash (red team 7, #10). When any of
  them changes, the hash differs and new matching is refused until a new declaration has run
  its own period. A declaration recorded before version 2 is still checked against the material
  it hashed (version 1: no deployment), and the register says that it binds neither.
- A regulator's order in force suspends enrolment and matching; a destruction order also
  destroys every template (one signed erasure receipt per subject, see :mod:`consent.erasure`).

Outside demo mode, the privacy impact assessment of the register as it stands comes first, for
enrolment as for matching (collecting a template is the processing it must precede: GDPR art.
35(1), P-39.1 s. 3.3), and the first template waits for a declaration recorded: storing it
creates the database whose creation is disclosed (LCCJTI art. 45). One rule each
(:func:`state`), asked by both gates (:func:`require_in_service`,
:func:`require_enrolment_open`).

Every match checks the first two twice (before the face is processed, and in the transaction
that commits its audit event): :class:`RegisterReads` keeps the register's rows between
requests while a digest of them and of the log's order events, read in the checking
transaction, is unchanged (:mod:`consent.table_fingerprint`), so a check loads and checks no row
when nothing changed, whoever writes the database. The orders in force are also set against the
chained log's (:mod:`consent.order_anchor`) and, at every check, the witness journal's
(:mod:`consent.journal_ends`): an order deleted or edited in the database, or whose row never
committed, refuses matching.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import (
    erasure_journal,
    operating_point,
    operator_texts,
    order_anchor,
    retention_policy,
    row_seals,
    table_fingerprint,
)
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import canonical_json
from optinface.consent.erasure import Erasures, erase_each
from optinface.consent.erasure_journal import OrderLifted, OrderPlaced
from optinface.consent.errors import (
    AssessmentOutdated,
    DeclarationPeriodRunning,
    DeclarationUnsealed,
    InvalidRequest,
    NotDeclared,
    OrderInForce,
    RedeclarationRequired,
    RegulatorOrdersAltered,
    SuspendedByRegulator,
)
from optinface.consent.identifiers import require_reference
from optinface.consent.keys import KeyRing
from optinface.consent.moments import require_day_in_span
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.residue import storage_measure
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ErasureReason, OperatingPoint
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import (
    AuditEvent,
    OperatorText,
    Purpose,
    RegisterDeclaration,
    RegulatorOrder,
    Subject,
)
from optinface.engine.errors import EngineError
from optinface.engine.manifest import ModelSpec
from optinface.engine.thresholds import Threshold

if TYPE_CHECKING:
    from optinface.consent.clock import Clock
    from optinface.consent.journal_ends import JournalEnds

logger = logging.getLogger(__name__)

BIOMETRIC_CHARACTERISTIC = (
    "face: 512-dimensional ArcFace templates, protected by a secret rotation and encrypted;"
    " no images kept"
)
MEASURES = (
    "AES-256-GCM template encryption under per-subject keys wrapped by a master key",
    "template protection by a secret orthogonal rotation (fingerprint in the register)",
    "hash-chained audit log with Ed25519-signed checkpoints",
    "API keys and subject tokens stored as keyed hashes; role-based access",
)
ADMIN_MFA_MEASURE = ("a second factor for admins: admin-only acts over the API need a short"
                     " step-up signed with the admin key's own passkey (WebAuthn)")


def security_measures(settings: ConsentSettings) -> list[str]:
    """The register's security measures; the fourth says what the ledger's backend keeps of
    an erased row (:mod:`consent.residue`). The admins' second factor (:mod:`consent.admin_mfa`)
    only once it is on: a deployment that never set it keeps the material it declared."""
    return [*MEASURES[:3], storage_measure(settings.url), *MEASURES[3:],
            *([ADMIN_MFA_MEASURE] if settings.admin_mfa else [])]


class OrderKind(StrEnum):
    SUSPEND = "suspend"  # enrolment and matching stop
    DESTROY = "destroy"  # the same, and every template is destroyed


def journaled_kind(entry: OrderPlaced | OrderLifted) -> OrderKind | None:
    """The kind of order the journal's line leaves in force under its reference; None: none."""
    if isinstance(entry, OrderLifted):
        return None
    return OrderKind.DESTROY if entry.destroy else OrderKind.SUSPEND


def _purpose_material(purpose: Purpose) -> dict[str, Any]:
    return {"id": purpose.id, "name": purpose.name, "description": purpose.description,
            "legal_basis": purpose.legal_basis, "operations": sorted(purpose.operations),
            "retention_days": purpose.retention_days, "study": purpose.study}


def _purposes_material(session: Session) -> list[dict[str, Any]]:
    return [_purpose_material(p) for p in session.scalars(select(Purpose).order_by(Purpose.id))]


MATERIAL_VERSION = 2
"""The material a new declaration hashes: 2 binds the deployment (:func:`deployment`); 1, what
declarations recorded before hashed, does not, and is still what those are checked against."""


RECEIPT_KEY = "receipts"
"""Under which name the material's ``signing_keys`` holds the receipt key."""


def signing_keys(keys: KeyRing, receipt_keys: ReceiptKeys | None = None) -> dict[str, str]:
    """The deployment's public signing keys, base64, as ``/.well-known/optinface-keys.json``
    publishes them: the receipts' (the one in force in the key store: ``receipt_keys`` as the
    caller read them for its request, else :attr:`KeyRing.receipt_keys`, a read of its own)
    and the checkpoints'."""
    checkpoint = keys.checkpoint.public_key().public_bytes_raw()
    return {RECEIPT_KEY: (keys.receipt_keys if receipt_keys is None else receipt_keys).current,
            "checkpoints": base64.b64encode(checkpoint).decode()}


def deployment(settings: ConsentSettings, keys: dict[str, str]) -> dict[str, Any]:
    """What material version 2 adds: which deployment is declared, its controller and the
    public keys anyone checks its receipts and checkpoints with (:func:`signing_keys`). Changing
    either is a material change: a declaration covers the keys it named, no others."""
    return {"material_version": MATERIAL_VERSION,
            "controller": {"name": settings.controller_name,
                           "contact": settings.controller_contact},
            "signing_keys": keys}


def named_signing_key(material: Mapping[str, Any]) -> str | None:
    """The receipt key a material names (:func:`deployment`), the one that signs the register
    (:mod:`consent.signed_documents`); None for a material of version 1, which names no key,
    or one not of this shape."""
    keys = material.get("signing_keys")
    named = keys.get(RECEIPT_KEY) if isinstance(keys, dict) else None
    return named if isinstance(named, str) else None


def material_fields(
    session: Session, *, settings: ConsentSettings, models: dict[str, ModelSpec],
    keys: KeyRing,
) -> dict[str, Any]:
    """What a declaration made now describes: a change to any of it needs a new declaration.

    Live counts and the rotation's fingerprint are left out on purpose: enrolling people or
    rotating keys changes no declared characteristic of the database (the epoch and rotation
    keys are not published; the signing keys are, and are material).
    """
    return _material(_purposes_material(session), settings=settings, models=models,
                     accuracy=operating_point.in_force(settings, models).stated,
                     translations=operator_texts.all_translations(session),
                     deployed=deployment(settings, signing_keys(keys)))


def _material(purposes: list[dict[str, Any]], *, settings: ConsentSettings,
              models: dict[str, ModelSpec], accuracy: OperatingPoint,
              translations: dict[str, dict[str, str]],
              deployed: dict[str, Any] | None) -> dict[str, Any]:
    """The material, of version 2 with ``deployed`` (:func:`deployment`), of version 1
    without it (the older declarations' hash)."""
    # What readers of another language are told of the purposes, recipients and safeguards,
    # only once a translation is stated (consent.operator_texts): a deployment that never
    # translated keeps the hash it declared and assessed.
    stated = operator_texts.material(
        operator_texts.places(purposes, settings, declared=True), translations)
    return {
        "purposes": purposes,
        "characteristic": BIOMETRIC_CHARACTERISTIC,
        "models": sorted(
            ({"id": m.id, "role": str(m.role), "sha256": m.sha256} for m in models.values()),
            key=lambda m: m["id"],
        ),
        # How many false matches are accepted, and who confirms one: as declared and assessed.
        "accuracy": accuracy.model_dump(mode="json"),
        "hosting": settings.hosting.model_dump(),
        "retention": retention_policy.database_rules(settings),
        "security_measures": security_measures(settings),
        "recipients": [r.model_dump() for r in settings.recipients],
        # Only once stated: a deployment that never set it keeps the hash it declared and
        # assessed. The transfers themselves follow from the hosting, already material.
        **({"transfer_safeguards": settings.transfer_safeguards}
           if settings.transfer_safeguards else {}),
        **({"translations": stated} if stated else {}),
        **(deployed or {}),
    }


def material_sha256(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields)).hexdigest()


@dataclass(frozen=True, slots=True)
class DeclarationState:
    """Whether the database may be used today, and the reason when it may not."""

    declaration: RegisterDeclaration | None
    current_sha256: str
    """The material's hash now, in the version the declaration in force hashed (version 2
    where there is none, or it covers neither version)."""
    material: dict[str, Any]
    """The material ``current_sha256`` hashes (:func:`material_sha256`), as the register
    states it for a reader to hash again."""
    material_version: int
    """The version of ``current_sha256``: 1 where the declaration in force covers the material
    of before (:data:`MATERIAL_VERSION`), which binds neither the deployment nor its keys."""
    bound_sha256: str
    """The material's hash now in version 2 (:data:`MATERIAL_VERSION`): what a new
    declaration would record."""
    in_service_from: date | None
    order: RegulatorOrder | None
    accuracy: operating_point.InForce
    refusal: NotDeclared | EngineError | None
    """Why matching is refused today, if it is."""
    before_enrolment: NotDeclared | None
    """Why no template may be stored today, beyond the orders (:func:`require_enrolment_open`):
    outside demo mode, an assessment that does not cover the register (the same refusal
    matching gives), then no declaration that counts. Collecting a face template is the
    processing an assessment must precede (GDPR art. 35(1), P-39.1 s. 3.3), and storing the
    first creates the database whose creation is disclosed (LCCJTI art. 45); the 60 days gate
    matching only. A demonstration enrols before it declares, as it always did."""

    @property
    def in_service(self) -> bool:
        return self.refusal is None

    @property
    def threshold(self) -> Threshold:
        """The threshold a match in service applies: the one the material it checked hashed."""
        calibrated = self.accuracy.calibrated
        assert isinstance(calibrated, Threshold), "a database in service has its threshold"
        return calibrated


_LATEST_DECLARATION = select(RegisterDeclaration).order_by(RegisterDeclaration.id.desc()).limit(1)


def latest_declaration(session: Session) -> RegisterDeclaration | None:
    return session.scalars(_LATEST_DECLARATION).first()


REGISTER_TABLES = (Purpose.__table__, RegisterDeclaration.__table__, RegulatorOrder.__table__,
                   OperatorText.__table__)
"""The tables the gate reads; any change to a row of one of them is a new version of the
register."""
ORDER_EVENTS = table_fingerprint.rows_where(AuditEvent.__table__, "action",
                                            order_anchor.ACTIONS_READ, name="order_events")
"""The log's events the gate sets the orders against (:mod:`consent.order_anchor`), found by
the action's index: any change to one of them (an order or a lift chained, one deleted or
edited) is a new version too, even where the register's rows are back as they were before it
(an order's row deleted, by SQL or by a trigger as it is inserted)."""
_REGISTER_FINGERPRINT = table_fingerprint.statement((*REGISTER_TABLES, ORDER_EVENTS))


@dataclass(frozen=True, slots=True)
class RegisterRows:
    """What the gate reads from the ledger: the purposes' material, the operator's
    translations, the latest declaration (and whether its seal holds: :mod:`consent.row_seals`),
    the order in force, the reference and kind of each order whose row is in force, and the
    references of the orders whose rows are not what the chained log says
    (:mod:`consent.order_anchor`) or the journal (:meth:`RegisterReads.rows`). Kept between
    requests by :class:`RegisterReads` (read-only use)."""

    purposes: list[dict[str, Any]]
    translations: dict[str, dict[str, str]]
    declaration: RegisterDeclaration | None
    order: RegulatorOrder | None
    sealed: bool
    orders_altered: list[str]
    in_force: frozenset[tuple[str, str]]
    signing_keys: dict[str, str]
    """The deployment's public signing keys (:func:`signing_keys`), part of the material."""

    def unlike_journal(self, journal: Mapping[str, OrderPlaced | OrderLifted]) -> list[str]:
        """The references the journal leaves in force (its last line an order placed) that
        no row in force holds as that kind: deleted, or never committed, or changed. An order
        the journal lifted whose row is still in force is not one: that row refuses anyway."""
        return sorted(reference for reference, entry in journal.items()
                      if (kind := journaled_kind(entry)) is not None
                      and (reference, str(kind)) not in self.in_force)

    @classmethod
    def read(cls, session: Session, keys: KeyRing,
             receipt_keys: ReceiptKeys | None = None) -> RegisterRows:
        """The rows as this transaction holds them; ``receipt_keys`` as :func:`signing_keys`'s."""
        declaration = latest_declaration(session)
        every_order = orders(session)
        altered = order_anchor.altered(session, keys.hmac_key, every_order)
        if altered:
            logger.error("the regulator's orders in the database are not those the audit log"
                         " chained (%s): enrolment and matching are refused until the orders"
                         " are applied again", ", ".join(altered))
        # Kept past this transaction (RegisterReads): out of its session, so a rollback there
        # (a match refused after its gates) cannot expire them under another request's feet.
        for row in (declaration, *every_order):
            if row is not None:
                session.expunge(row)
        return cls(purposes=_purposes_material(session),
                   translations=operator_texts.all_translations(session),
                   declaration=declaration,
                   # The newest unlifted one (they are listed oldest first).
                   order=next((o for o in reversed(every_order) if o.lifted_at is None), None),
                   sealed=declaration is None or row_seals.declaration_sealed(keys, declaration),
                   orders_altered=altered,
                   in_force=frozenset((o.reference, o.kind) for o in every_order
                                      if o.lifted_at is None),
                   signing_keys=signing_keys(keys, receipt_keys))


class RegisterReads:
    """The register's rows, loaded and checked once per version of the register instead of
    twice a match.

    A version is the digest of the rows of :data:`REGISTER_TABLES` and of the log's
    :data:`ORDER_EVENTS`, read by one statement in the checking transaction
    (:mod:`consent.table_fingerprint`): any change to a row, whoever makes it (this process,
    another worker, a ``sqlite3`` shell on the file, with or without triggers), is a new
    version, read and checked again, so the copy is valid on PostgreSQL with several workers
    too. The events are part of it because the rows alone can come back to a version kept
    before an order: its row deleted, or removed by a trigger in the very transaction that
    inserted it, while its event stays chained (red team 5, F1). The settings, models and
    operating point, the other half of the material, are not kept: they are hashed again on
    every check (microseconds), so an operator's changed setting or a new calibration is seen
    at once too.

    Every check also sets the rows in force against the witness journal's orders (``journal``,
    followed as it grows, a ``stat`` when it did not): an order journaled before it commits
    whose row and event are both gone (a rewritten log, a copy restored from before it under a
    running worker), or never committed, is still in force, as the next start would place it
    again (:mod:`consent.order_replay`).

    An order being applied is journaled before its transaction commits, so a check in that
    window (on any worker, or another thread of this one) finds it missing too: logged as a
    warning when first seen, as an error only when the same orders are still missing at a check
    :data:`MISSING_PERSISTS` or more later (:meth:`_say`), so an order applied under traffic
    pages no one.
    """

    def __init__(self, keys: KeyRing, journal: JournalEnds, clock: Clock) -> None:
        self._keys = keys
        self._journal = journal
        self._clock = clock
        # Replaced whole, never mutated: a reader on another thread sees the old pair or the new.
        self._kept: tuple[str, RegisterRows] | None = None
        self._missing: _Missing | None = None  # the journal's orders last found missing

    def with_keys(self, keys: KeyRing) -> RegisterReads:
        """These reads for a new receipt key (a rotation): the declared material names it, so
        nothing kept is kept."""
        return RegisterReads(keys, self._journal, self._clock)

    def rows(self, session: Session, *, receipt_keys: ReceiptKeys | None = None) -> RegisterRows:
        """The rows as of this transaction (loaded again if they changed since), their
        ``orders_altered`` naming the journal's orders in force that no row holds too;
        ``receipt_keys``: as the caller read them for its request (else read here, once)."""
        if receipt_keys is None:
            receipt_keys = self._keys.receipt_keys
        version = table_fingerprint.fingerprint(session, _REGISTER_FINGERPRINT)
        kept = self._kept
        if kept is not None and kept[0] == version:
            rows = kept[1]
        else:
            rows = RegisterRows.read(session, self._keys, receipt_keys)
            self._kept = (version, rows)
        # Kept rows name the receipt key of when they were read: another worker's rotation
        # changes no row, so the key in force is asked again (the key store, where shared).
        if rows.signing_keys != (keys := signing_keys(self._keys, receipt_keys)):
            rows = replace(rows, signing_keys=keys)
        missing = [reference for reference in rows.unlike_journal(self._journal.orders())
                   if reference not in rows.orders_altered]
        self._say(missing)
        return replace(rows, orders_altered=[*missing, *rows.orders_altered]) if missing else rows

    def _say(self, missing: list[str]) -> None:
        """A warning when the journal's orders the rows lack change (not at every check), an
        error once when the same ones are still missing :data:`MISSING_PERSISTS` later."""
        now, seen, references = self._clock.now(), self._missing, tuple(missing)
        if not references:
            self._missing = None
        elif seen is None or seen.references != references:
            logger.warning("the witness journal keeps regulator's orders in force that no row in"
                           " force holds (%s: committing at this moment, or deleted with their"
                           " events, or never committed): enrolment and matching are refused"
                           " meanwhile", ", ".join(missing))
            self._missing = _Missing(references, since=now)
        elif not seen.said_as_error and now - seen.since >= MISSING_PERSISTS:
            logger.error("the witness journal keeps regulator's orders in force that no row in"
                         " force holds, still after %d s (%s: deleted with their events, or"
                         " never committed): enrolment and matching are refused until each is"
                         " applied again", (now - seen.since).total_seconds(), ", ".join(missing))
            self._missing = replace(seen, said_as_error=True)


MISSING_PERSISTS = timedelta(seconds=1)
"""How long the journal's orders may be missing from the rows before it is an error: far longer
than an order's commit takes, which the rows lack meanwhile."""


@dataclass(frozen=True, slots=True)
class _Missing:
    """The journal's orders a check found no row in force for, since when, and whether an
    error said so already."""

    references: tuple[str, ...]
    since: datetime
    said_as_error: bool = False


# Why matching is refused: English source strings (the dashboard shows them in the reader's
# language through the register's warning).
SUSPENDED = ("suspended by the regulator's order {reference} ({kind}):"
             " enrolment and matching are refused")
UNDECLARED = ("the biometric database has not been declared; matching is refused until it is,"
              " and outside demo mode enrolment too")
REDECLARE = ("the register changed since the declaration of {declared_on} (purposes, models,"
             " operating point, hosting, retention, security, recipients, transfer"
             " safeguards, the controller or the signing keys): new matching is refused until a"
             " new declaration has run its period")
UNSEALED = ("the declaration of {declared_on} does not carry this service's seal (its material"
            " hash or dates were written into the database from outside): it does not count, and"
            " matching (outside demo mode, enrolment too) is refused until the register is"
            " declared again")
PERIOD_RUNNING = ("declared on {declared_on}: the database may not be put into service before"
                  " {start} ({days} days)")
UNASSESSED = ("the privacy impact assessment {reference} does not cover the register as it"
              " stands (purposes, models, operating point, hosting, retention, security,"
              " recipients or transfer safeguards): enrolment and matching are refused until an"
              " assessment of it is in force")
ORDERS_ALTERED = ("the regulator's orders in the database are not those the audit log chained"
                  " or the witness journal recorded ({references}: deleted, lifted or changed"
                  " from outside the service, or never committed): enrolment and matching are"
                  " refused until each order they hold in force is applied again under its"
                  " reference")
REFUSALS = (ORDERS_ALTERED, SUSPENDED, UNASSESSED, UNDECLARED, UNSEALED, REDECLARE,
            PERIOD_RUNNING)


def state(
    rows: RegisterRows, *, settings: ConsentSettings, models: dict[str, ModelSpec], today: date
) -> DeclarationState:
    """Whether the database is in service ``today``, and the first reason it is not.

    The reasons are checked in order of precedence: orders whose rows are not what the log
    chained (:mod:`consent.order_anchor`), a regulator's order in force, no threshold
    calibrated at the configured false-match rate (the engine's own refusal, before the
    material it changes), outside demo mode a privacy impact assessment of other material
    (``pia_material_sha256``), no declaration, a declaration whose seal does not hold (edited
    or written without the key store: it does not count), a register whose material hash no
    longer matches the declared one, then a declaration period still running. The hash is
    recomputed from the live settings, models and thresholds file on every call, so a changed
    setting or a new calibration closes matching at once.

    A declaration of the material of version 1 (recorded before the deployment was material)
    is checked against the material of that version; any other, and the hash a new one would
    record, against the version 2 material, so a key or controller changed after a version 2
    declaration is a material change. An assessment counts if it assessed the bound (version
    2) material, or the material of the declaration in force: one of version 1 only while a
    version 1 declaration is, since it assessed neither the controller nor the keys. Its
    refusal names the bound material's hash, the one to assess.
    """
    accuracy = operating_point.in_force(settings, models)
    materials = {version: _material(
        rows.purposes, settings=settings, models=models, accuracy=accuracy.stated,
        translations=rows.translations,
        deployed=deployment(settings, rows.signing_keys) if version > 1 else None)
        for version in (1, MATERIAL_VERSION)}
    hashes = {version: material_sha256(material) for version, material in materials.items()}
    declaration, order = rows.declaration, rows.order
    version = next((v for v, digest in hashes.items()
                    if declaration is not None and declaration.material_sha256 == digest),
                   MATERIAL_VERSION)
    current = hashes[version]
    in_service_from = service_start(declaration, settings=settings) if declaration else None
    assessment = _unassessed(settings, assessed=(current, hashes[MATERIAL_VERSION]),
                             bound=hashes[MATERIAL_VERSION])
    unrecorded = _unrecorded(rows)
    refusal: NotDeclared | EngineError | None = None
    if (stopped := suspension(rows)) is not None:
        refusal = stopped
    elif isinstance(accuracy.calibrated, EngineError):
        refusal = accuracy.calibrated
    elif (unopened := assessment or unrecorded) is not None:
        refusal = unopened
    elif declaration is not None and declaration.material_sha256 != current:
        refusal = RedeclarationRequired(
            REDECLARE.format(declared_on=declaration.declared_on),
            details={"declared_sha256": declaration.material_sha256, "current_sha256": current})
    elif declaration is not None and in_service_from is not None and today < in_service_from:
        refusal = DeclarationPeriodRunning(
            PERIOD_RUNNING.format(declared_on=declaration.declared_on, start=in_service_from,
                                  days=declaration.period_days),
            details={"in_service_from": in_service_from.isoformat()})
    before_enrolment = None if settings.demo_mode else assessment or unrecorded
    return DeclarationState(declaration=declaration, current_sha256=current,
                            material=materials[version],
                            material_version=version, bound_sha256=hashes[MATERIAL_VERSION],
                            in_service_from=in_service_from, order=order, accuracy=accuracy,
                            refusal=refusal, before_enrolment=before_enrolment)


def _unassessed(settings: ConsentSettings, *, assessed: tuple[str, str],
                bound: str) -> AssessmentOutdated | None:
    """Outside demo mode, the refusal while the privacy impact assessment in force
    (``pia_material_sha256``) covers none of the ``assessed`` hashes (the material of the
    declaration in force, the bound one); it names the ``bound`` hash, the one to assess."""
    if settings.demo_mode or settings.pia_material_sha256 in assessed:
        return None
    return AssessmentOutdated(UNASSESSED.format(reference=settings.pia_reference),
                              details={"assessed_sha256": settings.pia_material_sha256,
                                       "current_sha256": bound})


def _unrecorded(rows: RegisterRows) -> NotDeclared | None:
    """The refusal while no declaration counts: none recorded, or the latest without this
    service's seal (edited, or written without the key store)."""
    declaration = rows.declaration
    if declaration is None:
        return NotDeclared(UNDECLARED)
    if not rows.sealed:
        return DeclarationUnsealed(UNSEALED.format(declared_on=declaration.declared_on),
                                   details={"declaration_id": declaration.id})
    return None


def record_assessment(runtime: Runtime) -> None:
    """Chain the PIA's settings (reference, the document's SHA-256, the material it assessed)
    at start-up whenever they change. The matching gate trusts what the operator configured:
    the document itself is not read here, so the log dates each change, for an auditor to set
    against the signed document."""
    settings = runtime.settings
    with runtime.db.transaction() as session:
        runtime.audit_if_changed(session, Entry(
            action=AuditAction.ASSESSMENT_RECORDED, actor=None,
            details={"reference": settings.pia_reference, "document_sha256": settings.pia_sha256,
                     "material_sha256": settings.pia_material_sha256}))


def service_start(declaration: RegisterDeclaration, *, settings: ConsentSettings) -> date:
    """The first day matching may run: the declaration period counted from the day the
    regulator received it, but never from before the day this system recorded the register it
    hashes, since that register did not exist earlier: a backdated date would otherwise open
    matching at once. Demo mode, which every page and ``/healthz`` state, lets a demonstration
    record a declaration as if sent a period ago."""
    start = declaration.declared_on
    if not settings.demo_mode:
        start = max(start, declaration.recorded_at.date())
    return start + timedelta(days=declaration.period_days)


def require_in_service(
    rows: RegisterRows, *, settings: ConsentSettings, models: dict[str, ModelSpec], today: date
) -> DeclarationState:
    """Raise the reason matching is refused today, if any; else the state in service, whose
    declaration names the reference database a search checks (:func:`reference_database`) and
    whose threshold is the one to match at (the one its material hashed)."""
    found = state(rows, settings=settings, models=models, today=today)
    if found.refusal is not None:
        raise found.refusal
    return found


def reference_database(in_service: DeclarationState) -> dict[str, str]:
    """The declared biometric database a search checked, for its log record (AI Act art.
    12(3)(b)): the declaration in force (the regulator's reference and date) and the SHA-256 of
    the register's material it declared, which is the material at the time of the search."""
    declaration = in_service.declaration
    assert declaration is not None, "only a database in service is searched"
    return {"declaration": declaration.reference,
            "declared_on": declaration.declared_on.isoformat(),
            "material_sha256": in_service.current_sha256}


def orders_altered(references: list[str]) -> RegulatorOrdersAltered:
    return RegulatorOrdersAltered(ORDERS_ALTERED.format(references=", ".join(references)),
                                  details={"orders": references})


ORDER_REFUSALS = (SuspendedByRegulator, RegulatorOrdersAltered)
"""What :func:`suspension` refuses with: the codes a route that chains only some of its
refusals chains (a verifier's confirmation, :func:`consent.refusals.chained`)."""


def suspension(rows: RegisterRows) -> SuspendedByRegulator | RegulatorOrdersAltered | None:
    """The regulator's stop, if one holds: an order in force, or orders whose rows are not what
    the log chained or the journal recorded. The one definition: the matching gate
    (:func:`state`) asks it first, and every act that leads to enrolment or matching asks it
    through :func:`require_not_suspended`."""
    if rows.orders_altered:
        return orders_altered(rows.orders_altered)
    order = rows.order
    if order is None:
        return None
    return SuspendedByRegulator(SUSPENDED.format(reference=order.reference, kind=order.kind),
                                details={"order": order.reference, "kind": order.kind})


def require_not_suspended(runtime: Runtime, session: Session, *,
                          receipt_keys: ReceiptKeys | None = None) -> RegisterRows:
    """Refuse, in the caller's transaction (so before it spends or stores anything, and an
    order committed meanwhile is seen), an act that leads to enrolment or matching while the
    regulator's order suspends them (:func:`suspension`): an enrolment, a capture's approval,
    a probe consent's link, signature or use, a verifier's confirmation. It waits for no
    declaration (:func:`require_enrolment_open` adds what an enrolment waits for). What a person
    does for themselves (a subject shell, a consent, a withdrawal, an erasure, an access
    export) never asks it: their rights do not wait on an order. ``receipt_keys``: as the
    caller read them for its request (else read here). Returns the rows it checked, for a
    caller that asks the matching gate next in the same transaction (read once)."""
    rows = runtime.register_reads.rows(session, receipt_keys=receipt_keys)
    if (refusal := suspension(rows)) is not None:
        raise refusal
    return rows


def require_enrolment_open(runtime: Runtime, session: Session, *,
                           receipt_keys: ReceiptKeys | None = None) -> None:
    """Raise the reason no template may be stored today, if any: the regulator's stop
    (:func:`require_not_suspended`), then, outside demo mode, those of
    :attr:`DeclarationState.before_enrolment` (the assessment matching waits for, then a
    declaration recorded). Not the declaration period, nor a register changed since its
    declaration: consent and enrolment may precede service, matching may not."""
    rows = require_not_suspended(runtime, session, receipt_keys=receipt_keys)
    refusal = state(rows, settings=runtime.settings, models=runtime.pipeline.models,
                    today=runtime.clock.now().date()).before_enrolment
    if refusal is not None:
        raise refusal


def declared_long_enough_ago(today: date, settings: ConsentSettings) -> date:
    """The latest declaration date that puts the database in service ``today``.

    For tests and the demo, which record a declaration as if it had been sent to the regulator
    that long ago; a real deployment records the date the regulator actually received it.
    """
    return today - timedelta(days=settings.declaration_period_days)


def declare(runtime: Runtime, *, actor: Actor, declared_on: date, reference: str) -> None:
    """Record a declaration of the register as it stands now, chained as ``register_declared``
    with the material's hash and the period that must run before matching opens.

    A declaration dated in the future is refused: the period runs from the day the regulator
    received it, which cannot be after the day it is recorded. The row is sealed
    (:mod:`consent.row_seals`): only a declaration recorded here counts. The caller authorised
    ``actor``.
    """
    require_reference(reference)
    require_day_in_span(declared_on, field="date")
    now = runtime.clock.now()
    if declared_on > now.date():
        raise InvalidRequest("a declaration cannot be dated in the future",
                             details={"declared_on": declared_on.isoformat()})
    settings, keys = runtime.settings, runtime.keys
    with runtime.db.transaction() as session:
        row = RegisterDeclaration(
            declared_on=declared_on, reference=reference, recorded_at=now,
            recorded_by=actor.key_id,
            material_sha256=material_sha256(material_fields(
                session, settings=settings, models=runtime.pipeline.models, keys=keys)),
            period_days=settings.declaration_period_days,
        )
        session.add(row)
        session.flush()  # the seal covers the id
        row_seals.seal_declaration(keys, row)
        runtime.audit(session, Entry(action=AuditAction.REGISTER_DECLARED, actor=actor,
                                     details={"declared_on": declared_on.isoformat(),
                                              "reference": reference,
                                              "material_sha256": row.material_sha256,
                                              "material_version": MATERIAL_VERSION,
                                              "period_days": row.period_days}))


def _in_force(session: Session, reference: str) -> list[RegulatorOrder]:
    return list(session.scalars(
        select(RegulatorOrder).where(RegulatorOrder.reference == reference,
                                     RegulatorOrder.lifted_at.is_(None))
        .order_by(RegulatorOrder.id)))


def record_order(
    session: Session, *, reference: str, kind: OrderKind, now: datetime, recorded_by: str | None
) -> RegulatorOrder:
    """Insert the order's row; from then on it is in force until lifted (see
    :func:`apply_order` for the audit and the destruction it may require).

    A reference names one order: while an order under it is in force, another (a repeat, or
    another kind) is refused with ``order_in_force`` before anything is written. The check
    runs in the caller's write transaction, which every other writer waits for
    (:mod:`consent.db`), so two workers applying one order at once record it once. Once
    lifted, the reference may be applied again (the regulator reinstating its order).
    """
    require_reference(reference)
    if in_force := _in_force(session, reference):
        raise OrderInForce(
            f"order {reference} is in force already ({in_force[0].kind}, recorded on"
            f" {in_force[0].recorded_at.date().isoformat()}): a reference names one order,"
            " so nothing was recorded",
            details={"order": reference, "kind": in_force[0].kind})
    row = RegulatorOrder(reference=reference, kind=str(kind), recorded_at=now,
                         recorded_by=recorded_by)
    session.add(row)
    session.flush()
    return row


def apply_order(runtime: Runtime, *, actor: Actor, reference: str, destroy: bool) -> None:
    """Record a regulator's order (audited); with ``destroy``, erase every subject, each with
    its signed receipt (:func:`finish_destruction`). Journaled before it commits (a refused
    repeat is not), so a copy of the ledger restored from before is placed under it again
    (:mod:`consent.order_replay`): a restore must not lift it."""
    kind = OrderKind.DESTROY if destroy else OrderKind.SUSPEND
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        record_order(session, reference=reference, kind=kind, now=now, recorded_by=actor.key_id)
        erasure_journal.record(runtime, erasure_journal.OrderPlaced(
            reference=reference, destroy=destroy, at=now))
        runtime.audit(session, Entry(action=AuditAction.REGULATOR_ORDER, actor=actor,
                                     details={"order": reference, "kind": str(kind)}))
    if destroy:
        finish_destruction(runtime, actor=actor)


def lift_audited(runtime: Runtime, *, actor: Actor, reference: str) -> None:
    """Lift the order in force under ``reference`` (:func:`lift_order`, audited), journaled
    before it commits, so a copy restored from before the lift lifts it again."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        lift_order(session, reference=reference, now=now)
        erasure_journal.record(runtime, erasure_journal.OrderLifted(reference=reference, at=now))
        runtime.audit(session, Entry(action=AuditAction.REGULATOR_ORDER_LIFTED, actor=actor,
                                     details={"order": reference}))


def finish_destruction(runtime: Runtime, *, actor: Actor | None) -> Erasures:
    """Erase every subject that a destroy order in force found when it was recorded, adding
    the templates destroyed to the order's row; the receipts of those erased here.

    The order commits before its erasures, one transaction each; a process killed among them
    leaves the rest, so the sweep calls this too (the server runs it at start and then
    periodically) and finishes the order. A subject created since the order is not the
    order's: while it is in force nobody is enrolled, so they hold no template.
    """
    with runtime.db.transaction() as session:
        due = [(order.id, list(session.scalars(select(Subject.pseudonym).where(
                    Subject.created_at <= order.recorded_at))))
               for order in session.scalars(select(RegulatorOrder).where(
                   RegulatorOrder.kind == str(OrderKind.DESTROY),
                   RegulatorOrder.lifted_at.is_(None)))]
    erasures = Erasures()
    for order_id, pseudonyms in due:
        erased = erase_each(runtime, ((p, ErasureReason.REGULATOR_ORDER) for p in pseudonyms),
                            actor=actor)
        if erased.receipts:
            with runtime.db.transaction() as session:
                row = session.get(RegulatorOrder, order_id)
                assert row is not None  # orders are never deleted
                row.templates_destroyed += sum(e.templates_destroyed for e in erased.receipts)
        erasures += erased
    return erasures


def lift_order(session: Session, *, reference: str, now: datetime) -> list[RegulatorOrder]:
    """Mark the order in force under ``reference`` lifted; ``invalid_request`` if none is
    (never recorded, or lifted already).

    Every row in force under it is lifted: a ledger written before :func:`record_order`
    refused repeats may hold one order twice, and lifting one row would leave the database
    suspended by the other."""
    rows = _in_force(session, reference)
    if not rows:
        raise InvalidRequest(f"no order {reference} is in force (never recorded, or lifted"
                             " already)", details={"order": reference})
    for row in rows:
        row.lifted_at = now
    return rows


def orders(session: Session) -> list[RegulatorOrder]:
    return list(session.scalars(select(RegulatorOrder).order_by(RegulatorOrder.id)))
