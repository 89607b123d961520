"""The ledger's tables (SQLAlchemy 2 declarative). The schema itself is created by Alembic."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    case,
    false,
    type_coerce,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out (SQLite has no time zones and would hand back naive ones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class JsonObject(TypeDecorator[dict[str, Any]]):
    """A JSON object out, whatever the column holds: a writer of the database may store a list
    or a number where the service writes objects, and the code that reads them (``.get``)
    must get a refusal or a finding from it, not fail. Anything else is handed back wrapped,
    ``{"not_an_object": value}``, so a hash or a signature over the row still fails on it."""

    impl = JSON
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        if value is None or isinstance(value, dict):
            return value
        return {"not_an_object": value}


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime,
                                                     dict[str, Any]: JsonObject}


class SubjectStatus(StrEnum):
    ACTIVE = "active"
    EXCLUDED = "excluded"  # erasure under way: invisible to every search already


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    ERASED = "erased"  # kept as proof of a past legal basis, subject replaced by its tombstone


consent_purposes = Table(
    "consent_purposes",
    Base.metadata,
    Column("consent_id", ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True),
    Column("purpose_id", ForeignKey("purposes.id"), primary_key=True),
)


class Purpose(Base):
    __tablename__ = "purposes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(200))
    operations: Mapped[list[str]] = mapped_column(JSON)
    retention_days: Mapped[int] = mapped_column(Integer)
    study: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OperatorText(Base):
    """The operator's translation of one English text it typed that consent forms show (a
    purpose's name, description or legal basis, a recipient's fields, the transfer safeguards):
    keyed by the English text itself (its SHA-256), so a text from the settings and one from a
    row are translated alike, and an English text changed leaves its old translation unused,
    never shown as current (see :mod:`consent.operator_texts`)."""

    __tablename__ = "operator_texts"

    language: Mapped[str] = mapped_column(String(20), primary_key=True)
    source_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("version", "language"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[str] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RetentionPolicy(Base):
    """A version of the public retention policy, kept from the day it first applied (see
    :mod:`consent.retention_policy`); consents name the version their person signed."""

    __tablename__ = "retention_policies"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_url: Mapped[str] = mapped_column(String(500))
    rules: Mapped[list[str]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Subject(Base):
    __tablename__ = "subjects"
    # AUTOINCREMENT: an erased subject's id is never given to another (migration 0038): what
    # is keyed by it (a wrapped data key put back by SQL, a seal) never passes to a newcomer.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=SubjectStatus.ACTIVE, index=True)
    age_category: Mapped[str] = mapped_column(String(30))
    jurisdiction: Mapped[str] = mapped_column(String(10))
    searchable: Mapped[bool] = mapped_column(Boolean, default=False)
    # The opt-in's seal (consent.row_seals): NULL when not opted in; without it, not searchable.
    searchable_seal: Mapped[str | None] = mapped_column(String(64))
    # When the person opted in, which the seal covers: an opt-out journaled since outranks it.
    searchable_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_interaction_at: Mapped[datetime] = mapped_column(UtcDateTime)
    erasure_reason: Mapped[str | None] = mapped_column(String(20))
    # The person chose the non-biometric alternative (consent.alternative): no face is used.
    alternative_chosen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The day the age bracket was declared: a bracket ages, and the sweeper reads it to ask a
    # minor for their own consent once they reach the age of consent.
    age_declared_on: Mapped[date | None] = mapped_column(Date)
    # The seal of what decides who consents for the subject (consent.row_seals, RowKind.AGE):
    # the bracket, its date and the jurisdiction. Without it the row decides no capacity.
    age_seal: Mapped[str | None] = mapped_column(String(64))
    own_consent_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the subject's first template was stored: set once (ledger.add_template), never
    # cleared while the subject exists. Once set, a subject with nothing to compare a face with
    # enrols again only at the desk (consent.one_person).
    first_enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The seal of the enrolment state (consent.row_seals, RowKind.ENROLMENT): made at creation
    # over "never enrolled", replaced at the first enrolment by the sealed first_enrolled_at.
    # A column cleared (or a seal removed) in the database makes no enrolment a first one.
    enrolment_seal: Mapped[str | None] = mapped_column(String(64))

    consents: Mapped[list[Consent]] = relationship(back_populates="subject")


class SubjectToken(Base):
    __tablename__ = "subject_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Whose passkey sign-in issued it: the subject (self) or their guardian.
    capacity: Mapped[str] = mapped_column(String(30), default="self")
    # The seal of what the token grants (consent.row_seals, RowKind.SUBJECT_TOKEN): its secret's
    # hash, whose it is (by pseudonym), the capacity and the expiry. Without it, it acts for no
    # one; a row moved to another subject is no longer the row sealed.
    seal: Mapped[str | None] = mapped_column(String(64))
    # The tombstone hash of the subject it was issued for (row_seals.owner_hash): their erasure
    # deletes it even where its subject_id was moved to someone else.
    owner_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # The keyed hash of the passkey whose sign-in or signed act issued it
    # (passkeys.audit_reference), shown to its person beside it; NULL: issued before 0039.
    credential_hash: Mapped[str | None] = mapped_column(String(64))
    # The UTC day it last authenticated (consent.token_use), for its person to spot a token
    # used where they did not use it: a day, never a time, an address or a route; NULL: not
    # since 0041. No seal covers it (it grants nothing), so editing it opens nothing.
    last_used_on: Mapped[date | None] = mapped_column(Date)
    # "ends_processing": issued by a sign-in while the witness was stalled, it may only end
    # processing (consent.ending_acts), sealed with the rest; NULL: not limited (from 0042).
    scope: Mapped[str | None] = mapped_column(String(20))


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # NULL once the subject is erased; subject_ref then holds the tombstone hash.
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("subjects.id", ondelete="SET NULL"), index=True
    )
    subject_ref: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"))
    notice_version: Mapped[str] = mapped_column(String(50))
    notice_sha256: Mapped[str] = mapped_column(String(64))
    # The retention policy version the person signed (a retention_policies row, published
    # before any consent could name it); NULL for consents given before policies were signed.
    # No foreign key: SQLite could not drop such a column again without copying the table.
    retention_policy_sha256: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(30))
    given_by: Mapped[str] = mapped_column(String(30))
    guardian_name: Mapped[str | None] = mapped_column(String(200))
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    obtained_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # obtained_at + the longest retention of its purposes, fixed when given: past it the consent
    # authorises nothing, exactly like past expires_at, without waiting for a sweep.
    retained_until: Mapped[datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A guardian's consent speaks for its person until this time only (the day their dated age
    # bracket reaches the age of consent, plus a grace period to consent themselves: see
    # consent.coming_of_age); NULL for the person's own consents, and once their own consent
    # covers every purpose of this one.
    guardian_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20), default=ConsentStatus.ACTIVE)
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JsonObject)
    receipt_signature: Mapped[str | None] = mapped_column(String(200))
    # The withdrawal's own signed evidence (the person's assertion), kept with the consent.
    withdrawal_receipt: Mapped[dict[str, Any] | None] = mapped_column(JsonObject)
    withdrawal_signature: Mapped[str | None] = mapped_column(String(200))
    # The signed receipt of its templates destroyed when it ended (by itself or withdrawn)
    # while another consent kept the subject (consent.end_receipts).
    end_receipt: Mapped[dict[str, Any] | None] = mapped_column(JsonObject)
    end_signature: Mapped[str | None] = mapped_column(String(200))

    subject: Mapped[Subject | None] = relationship(back_populates="consents")
    purposes: Mapped[list[Purpose]] = relationship(secondary=consent_purposes)

    @hybrid_property
    def ends_at(self) -> datetime:
        """When the consent stops authorising anything unless withdrawn first: the earliest of
        its expiry, its purposes' retention and, for a guardian's, ``guardian_until``. The one
        definition, in Python and in SQL."""
        limits = (self.expires_at, self.retained_until, self.guardian_until)
        return min(limit for limit in limits if limit is not None)

    @ends_at.inplace.expression
    @classmethod
    def _ends_at_expression(cls) -> ColumnElement[datetime]:
        return type_coerce(case(
            (and_(cls.guardian_until.is_not(None), cls.guardian_until < cls.expires_at,
                  cls.guardian_until < cls.retained_until), cls.guardian_until),
            (cls.retained_until < cls.expires_at, cls.retained_until),
            else_=cls.expires_at), UtcDateTime)


class Template(Base):
    __tablename__ = "templates"
    # AUTOINCREMENT: labels (template ids) are never reused, even after the highest is erased.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    model_id: Mapped[str] = mapped_column(String(100))
    quality: Mapped[float] = mapped_column(Float)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Keyed MAC of id, subject, consent and model (consent.row_seals): without it, never found.
    seal: Mapped[str | None] = mapped_column(String(64))
    # The tombstone hash of the subject it was enrolled for: what that subject's erasure finds
    # it by, wherever its subject_id was moved (consent.erasure).
    owner_hash: Mapped[str | None] = mapped_column(String(64), index=True)


class SubjectKey(Base):
    __tablename__ = "subject_keys"

    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    # The epoch key that wrapped it (consent.epochs); indexed for the re-wrap of one epoch.
    epoch: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Made before destructions renewed keys: renewed once at the next start (migration 0044,
    # consent.key_renewal.renew_due).
    renewal_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class KeyEpoch(Base):
    """When each epoch key was created and destroyed: what an erasure receipt's bound refers to.

    The ledger's newest epoch (here or in a subject key row) is the one new keys are wrapped
    under while the key store holds it; an epoch key newer than it is never wrapped under, and
    the next rotation destroys it (:func:`consent.epochs.finish_interrupted_rotation`).
    """

    __tablename__ = "key_epochs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ProbeConsent(Base):
    __tablename__ = "probe_consents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose_id: Mapped[str] = mapped_column(ForeignKey("purposes.id"))
    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"))
    method: Mapped[str] = mapped_column(String(30))
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    obtained_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(40))
    # Bound when the person in the probe signs it (consent.probe_consent): one image, one key.
    probe_sha256: Mapped[str | None] = mapped_column(String(64))
    researcher_key_id: Mapped[str | None] = mapped_column(String(40))
    # For a verify: the tombstone hash of the subject who signed it with their own passkey
    # (never the pseudonym, so an erasure leaves nothing here that names them).
    subject_ref: Mapped[str | None] = mapped_column(String(64))
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JsonObject)
    receipt_signature: Mapped[str | None] = mapped_column(String(200))


class PasskeyCredential(Base):
    """A WebAuthn public key registered by a person: the subject, their guardian, or the person
    in a probe (no subject then). Only the person's authenticator holds the private key."""

    __tablename__ = "passkey_credentials"

    id: Mapped[str] = mapped_column(String(1400), primary_key=True)  # base64url credential id
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    capacity: Mapped[str] = mapped_column(String(30))  # self, parental_authority, probe
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Keyed MAC of id, subject, capacity and public key (consent.row_seals): a row without a
    # valid one signs nothing.
    seal: Mapped[str | None] = mapped_column(String(64))


class OneTimeLink(Base):
    """A one-time, short-lived secret handed to a person: to register a passkey for a subject
    (or as their guardian), or to agree to be the person in one probe."""

    __tablename__ = "one_time_links"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # enrolment, probe or probe-subject
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    capacity: Mapped[str] = mapped_column(String(30))
    secret_hash: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JsonObject)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Ceremony(Base):
    """One WebAuthn challenge: single use, short-lived. For a signed act the challenge is the
    SHA-256 of ``statement``, so the person's signature commits to exactly what it authorises."""

    __tablename__ = "ceremonies"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # register, sign_in or an act
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    link_id: Mapped[str | None] = mapped_column(String(40))
    challenge: Mapped[str] = mapped_column(String(200))  # base64url
    statement: Mapped[dict[str, Any] | None] = mapped_column(JsonObject)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A capture session is approved first and consumed by the upload that matches its hash.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JsonObject)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # None: no expiry. A break-glass key expires hours after it opened (consent.break_glass).
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A relying party's key bound to its client certificate: the SHA-256 of the certificate's
    # DER, never the certificate (consent.client_certificates).
    client_cert_sha256: Mapped[str | None] = mapped_column(String(64))
    # Keyed MAC of every field above but created_at (consent.row_seals): a key whose row was
    # written or edited without the key store authenticates no one.
    seal: Mapped[str | None] = mapped_column(String(64))


class AdminPasskey(Base):
    """An admin key's second factor (consent.admin_mfa): its one passkey, and its current
    step-up. The credential's public key is in ``passkey_credentials``; of the step-up token
    only a keyed hash is kept, as of every secret."""

    __tablename__ = "admin_passkeys"

    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("passkey_credentials.id"),
                                               unique=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # One step-up at a time per key: a new one ends the previous.
    step_up_hash: Mapped[str | None] = mapped_column(String(64))
    step_up_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Over all the above, by the service alone (consent.row_seals, migration 0034).
    seal: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # The daily identify quota counts one key's, and one purpose's, attempts on one day
    # (consent.quota): each count reads the day's rows of its owner, never the whole log.
    __table_args__ = (Index("ix_audit_events_actor_action_at", "actor_key_id", "action", "at"),
                      Index("ix_audit_events_purpose_action_at", "purpose", "action", "at"))

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))  # ISO text: hashed exactly as stored
    actor_key_id: Mapped[str | None] = mapped_column(String(40))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30), index=True)
    purpose: Mapped[str | None] = mapped_column(String(40))
    subjects: Mapped[list[str]] = mapped_column(JSON)
    # Each subject's salted hash, which the chain covers in place of the pseudonym; NULL in
    # events from before migration 0019, which hash their pseudonyms (consent.audit_seals).
    subject_seals: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(40))
    probe_sha256: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JsonObject)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Set when retention removed the content (consent.log_retention): the Merkle leaf it had.
    pruned_leaf: Mapped[str | None] = mapped_column(String(64))
    # HMAC of ``hash`` under the key store's HMAC key (consent.log_seals): what a database writer
    # appending an event cannot make. NULL in events from before migration 0031.
    keyed_seal: Mapped[str | None] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed tree head: ``seq`` is the tree size, ``hash`` the chain hash of event ``seq``.

    ``note`` is the C2SP signed note (origin, size, root hash and signature); rows from before
    migration 0010 have none and were signed over (seq, hash) by the receipt key.
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class KeyCheck(Base):
    """A check value of one key store secret the ledger's data were made with, so that another
    deployment's is refused at start (:mod:`consent.key_check`); nothing of the key."""

    __tablename__ = "key_checks"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))


class Tombstone(Base):
    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(20))
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime)
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JsonObject)
    receipt_signature: Mapped[str | None] = mapped_column(String(200))


class ErasedCredential(Base):
    """A keyed hash of a passkey credential id of an erased subject (never the id itself), so a
    sign-in with it is told that the record was erased (:mod:`consent.after_erasure`)."""

    __tablename__ = "erased_credentials"

    credential_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tombstone_id: Mapped[int] = mapped_column(
        ForeignKey("tombstones.id", ondelete="CASCADE"), index=True
    )
    tombstone: Mapped[Tombstone] = relationship()


class ErasureReceiptCode(Base):
    """A one-time code that fetches a tombstone's signed receipt: its keyed hash only, with its
    expiry and the fetches left (:mod:`consent.after_erasure`)."""

    __tablename__ = "erasure_receipt_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tombstone_id: Mapped[int] = mapped_column(
        ForeignKey("tombstones.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fetches_left: Mapped[int] = mapped_column(Integer)


class PageSession(Base):
    """A signed-in page session (:mod:`consent.page_sessions`), kept where every worker reads
    it. No column opens it: the row is found by the SHA-256 of the cookie's session id, and
    what the session carries is sealed under a key derived from that id, which only the
    browser holds. The subject, for erasure, by tombstone hash; none for a reviewer."""

    __tablename__ = "page_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    area: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    subject_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # Set, and the sealed secret and subject hash dropped, by the subject's erasure: the page
    # says the record was erased, once, instead of asking them to sign in.
    erased: Mapped[bool] = mapped_column(Boolean, default=False)


class RegisterDeclaration(Base):
    __tablename__ = "register_declarations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    declared_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(40))
    # SHA-256 of the register's material fields when declared (consent.declaration); NULL for
    # declarations recorded before it was kept, which therefore need renewing.
    material_sha256: Mapped[str | None] = mapped_column(String(64))
    period_days: Mapped[int] = mapped_column(Integer, default=60)
    # Keyed MAC of id, material hash and dates (consent.row_seals): without it, no declaration.
    seal: Mapped[str | None] = mapped_column(String(64))


class PurposeWithdrawal(Base):
    """One purpose withdrawn from a consent that keeps its other purposes, with the signed
    receipt the person keeps. Goes with the subject on erasure (the receipt names the
    pseudonym); the audit chain keeps the fact."""

    __tablename__ = "purpose_withdrawals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    purpose_id: Mapped[str] = mapped_column(ForeignKey("purposes.id"))
    withdrawn_at: Mapped[datetime] = mapped_column(UtcDateTime)
    receipt: Mapped[dict[str, Any]] = mapped_column(JsonObject)
    receipt_signature: Mapped[str] = mapped_column(String(200))


class RegulatorOrder(Base):
    """A regulator's order on the database (LCCJTI art. 45): in force until lifted."""

    __tablename__ = "regulator_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(40))
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    templates_destroyed: Mapped[int] = mapped_column(Integer, default=0)


class IndexChange(Base):
    """One entry of the change feed that keeps every worker's index replica current
    (:mod:`consent.changefeed`): a template id added or removed, nothing biometric."""

    __tablename__ = "index_changes"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    op: Mapped[str] = mapped_column(String(10))
    template_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class RightsRequest(Base):
    """A request to exercise a right, with its 30-day deadline (consent.rights_requests)."""

    __tablename__ = "rights_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # NULL once the subject is erased; subject_ref then holds the tombstone hash.
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("subjects.id", ondelete="SET NULL"), index=True
    )
    subject_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    status: Mapped[str] = mapped_column(String(20))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(40))
    # A refusal's ground and written reasons (status "refused"); NULL for an answer.
    refusal_ground: Mapped[str | None] = mapped_column(String(30))
    refusal_reasons: Mapped[str | None] = mapped_column(Text)


class Disclosure(Base):
    """One disclosure of a subject's record, its legal basis and document, and the person's
    signature of it on their own bases (consent.disclosures)."""

    __tablename__ = "disclosures"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The pseudonym; the tombstone hash once the subject is erased (kept as proof).
    subject_ref: Mapped[str] = mapped_column(String(64), index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(30))
    document_reference: Mapped[str] = mapped_column(String(200))
    # Where the recipient is, and the area whose law protects the person that the disclosure
    # left with the controller's document allowing it (consent.transfers); NULL before 0024.
    recipient_country: Mapped[str | None] = mapped_column(String(2))
    recipient_region: Mapped[str | None] = mapped_column(String(200))
    area_left: Mapped[str | None] = mapped_column(String(20))
    transfer_assessment: Mapped[str | None] = mapped_column(String(200))
    disclosed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disclosed_by: Mapped[str] = mapped_column(String(40))
    # On the person's own grounds, their signature of the disclose statement (the WebAuthn
    # assertion, verifiable offline); NULL on the controller's and once the subject is erased
    # (the statement names the pseudonym).
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JsonObject)


class Incident(Base):
    """A confidentiality incident: the register kept at least 5 years (consent.incidents)."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    circumstances: Mapped[str] = mapped_column(Text)
    occurred_from: Mapped[datetime] = mapped_column(UtcDateTime)
    occurred_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    became_aware_at: Mapped[datetime] = mapped_column(UtcDateTime)
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    subjects_affected: Mapped[int | None] = mapped_column(Integer)
    affected_is_estimate: Mapped[bool] = mapped_column(Boolean)
    quebec_residents: Mapped[int | None] = mapped_column(Integer)
    involves_templates: Mapped[bool] = mapped_column(Boolean)
    risk_of_serious_injury: Mapped[bool] = mapped_column(Boolean)
    risk_assessment: Mapped[str] = mapped_column(Text)
    downgrade_reason: Mapped[str | None] = mapped_column(Text)
    measures_taken: Mapped[str] = mapped_column(Text)
    measures_suggested: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(40))
    keep_until: Mapped[datetime] = mapped_column(UtcDateTime)
    regulator_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Why the regulator heard after 72 hours (GDPR art. 33(1)); NULL when it heard in time.
    regulator_delay_reason: Mapped[str | None] = mapped_column(Text)
    subjects_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MatchReview(Base):
    """A candidate awaiting human review (consent.review): provisional until verifiers decide."""

    __tablename__ = "match_reviews"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    operation: Mapped[str] = mapped_column(String(20))
    purpose_id: Mapped[str] = mapped_column(String(40))
    searcher_key_id: Mapped[str] = mapped_column(String(40))
    # The pseudonym; it leads nowhere once the subject is erased, like the audit chain's.
    candidate: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20), index=True)
    confirmations_required: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReviewVote(Base):
    """One verifier's decision on one candidate; a key decides once per candidate."""

    __tablename__ = "review_votes"

    review_id: Mapped[str] = mapped_column(
        ForeignKey("match_reviews.id", ondelete="CASCADE"), primary_key=True
    )
    verifier_key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    decision: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
