"""Reading and writing the ledger's rows: purposes, notices, subjects, consents, templates.

Functions take an open session (the caller owns the transaction) and never decide policy:
the gates live in :mod:`consent.policies`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optinface.consent import row_seals
from optinface.consent.crypto import new_key, open_sealed, seal
from optinface.consent.errors import (
    NotFound,
    NoticeExists,
    PurposeExists,
    SubjectDataUnreadable,
    SubjectErased,
)
from optinface.consent.identifiers import PSEUDONYM_PREFIX
from optinface.consent.keys import KeyRing, template_binding
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.schemas import (
    ConsentCapacity,
    ConsentMethod,
    ConsentPublic,
    NoticeCreate,
    PurposeCreate,
    SignedReceipt,
    SubjectCreate,
    TemplatePublic,
)
from optinface.consent.settings import Jurisdiction
from optinface.consent.tables import (
    Consent,
    KeyEpoch,
    Notice,
    Purpose,
    Subject,
    SubjectKey,
    SubjectStatus,
    Template,
    Tombstone,
)
from optinface.engine.types import Vector

if TYPE_CHECKING:  # the use cases hand their runtime in: its keys and the journal's ends
    from optinface.consent.runtime import Runtime

TOMBSTONE_DOMAIN = row_seals.TOMBSTONE_DOMAIN
"""How every pseudonym begins: what a text that must name no subject is checked for."""

logger = logging.getLogger(__name__)


def new_id(prefix: str) -> str:
    """A random public identifier; random so that ids reveal neither order nor count."""
    return f"{prefix}_{secrets.token_hex(10)}"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


tombstone_hash = row_seals.owner_hash
"""The keyed hash an erased subject is known by, and each of their templates carries."""


Row = TypeVar("Row")


def get_row(session: Session, table: type[Row], row_id: str, *, noun: str, field: str) -> Row:
    """The row of ``table`` with primary key ``row_id``, or :class:`NotFound` naming it as
    ``no {noun} {row_id}`` with ``{field: row_id}`` in its details."""
    row = session.get(table, row_id)
    if row is None:
        raise NotFound(f"no {noun} {row_id}", details={field: row_id})
    return row


def _inserted(session: Session, row: Row) -> Row:
    """``row`` added and flushed, so its generated id and defaults are set."""
    session.add(row)
    session.flush()
    return row


# Purposes and notices -------------------------------------------------------------------------
def create_purpose(session: Session, body: PurposeCreate, *, now: datetime) -> Purpose:
    """A new purpose; its name must be new too (notices, receipts and pages show names).

    Raises:
        PurposeExists: another purpose has this name.
    """
    taken = session.scalar(select(Purpose.id).where(Purpose.name == body.name))
    if taken is not None:
        raise PurposeExists(f"purpose {taken} is already named {body.name!r}",
                            details={"purpose_id": taken})
    purpose = Purpose(
        id=new_id("pur"),
        name=body.name,
        description=body.description,
        legal_basis=body.legal_basis,
        operations=sorted(str(operation) for operation in body.operations),
        retention_days=body.retention_days,
        study=body.study,
        created_at=now,
    )
    return _inserted(session, purpose)


def purposes(session: Session) -> list[Purpose]:
    """Every purpose, oldest first."""
    return list(session.scalars(select(Purpose).order_by(Purpose.created_at)))


def get_purpose(session: Session, purpose_id: str) -> Purpose:
    return get_row(session, Purpose, purpose_id, noun="purpose", field="purpose_id")


def publish_notice(session: Session, body: NoticeCreate, *, now: datetime) -> Notice:
    """Publish a notice; a version in a language is published once (consents cite its hash).

    Raises:
        NoticeExists: that version is already published in that language.
    """
    taken = session.scalar(select(Notice.id).where(Notice.version == body.version,
                                                   Notice.language == body.language))
    if taken is not None:
        raise NoticeExists(f"notice {taken} is version {body.version} in {body.language}",
                           details={"notice_id": taken})
    notice = Notice(
        id=new_id("ntc"),
        version=body.version,
        language=body.language,
        text=body.text,
        sha256=sha256_text(body.text),
        published_at=now,
    )
    return _inserted(session, notice)


def notices(session: Session) -> list[Notice]:
    """Every published notice, oldest first."""
    return list(session.scalars(select(Notice).order_by(Notice.published_at)))


def get_notice(session: Session, notice_id: str) -> Notice:
    return get_row(session, Notice, notice_id, noun="notice", field="notice_id")


# Subjects -------------------------------------------------------------------------------------
def create_subject(
    session: Session, body: SubjectCreate, *, jurisdiction: Jurisdiction, keys: KeyRing,
    now: datetime,
) -> Subject:
    """A new active subject under a random pseudonym, never searchable until they opt in.

    The pseudonym is random so that it carries no personal data and reveals no order; the age
    bracket carries its date, so the age it guarantees grows each year
    (:func:`consent.policies.age_at_least`). ``jurisdiction`` is the one resolved and accepted
    by the caller (:func:`consent.enrolment_links.create_subject`). The bracket, its date and
    the jurisdiction are sealed (:func:`row_seals.seal_age`): they decide who consents; and
    so is "never enrolled" (:func:`row_seals.seal_enrolment`): a first enrolment is the
    person's own only while that seal holds (:mod:`consent.one_person`).
    """
    subject = Subject(
        pseudonym=PSEUDONYM_PREFIX + secrets.token_hex(12),
        status=SubjectStatus.ACTIVE,
        age_category=str(body.age_category),
        age_declared_on=body.age_declared_on or now.date(),
        jurisdiction=str(jurisdiction),
        searchable=False,  # opting in is the subject's own signed act
        created_at=now,
        last_interaction_at=now,
    )
    row_seals.seal_age(keys, subject)
    row_seals.seal_enrolment(keys, subject)
    return _inserted(session, subject)


def get_subject(
    session: Session, pseudonym: str, *, runtime: Runtime, include_excluded: bool = False
) -> Subject:
    """The subject, or :class:`SubjectErased` for a tombstoned pseudonym, or :class:`NotFound`.

    The one way into a subject by its pseudonym (a token's is
    :func:`consent.apikeys.authenticate_audited`): a subject the erasure journal erased is
    refused too, whatever rows the ledger holds (a copy restored from before the erasure,
    behind the running service, or rows put back by SQL), until the journal's replay erases
    them again (:mod:`consent.journal_ends`, :mod:`consent.live_replay`).

    ``include_excluded``: the erasure's own reads, which find a subject whose erasure is
    under way, or due again from the journal, to finish it.
    """
    subject = session.scalar(select(Subject).where(Subject.pseudonym == pseudonym))
    if subject is not None and (include_excluded or (
            subject.status == SubjectStatus.ACTIVE
            and not runtime.journal_ends.erased(runtime.keys, pseudonym))):
        return subject
    erased = session.scalar(
        select(Tombstone.id).where(
            Tombstone.subject_hash == tombstone_hash(runtime.keys, pseudonym))
    )
    if erased is not None or subject is not None:
        raise SubjectErased(f"subject {pseudonym} is erased", details={"subject": pseudonym})
    raise NotFound(f"no subject {pseudonym}", details={"subject": pseudonym})


# Consents -------------------------------------------------------------------------------------
def record_consent(
    session: Session,
    *,
    subject: Subject,
    purposes: list[Purpose],
    notice: Notice,
    retention_policy_sha256: str,
    language: str,
    method: ConsentMethod,
    given_by: ConsentCapacity,
    evidence: bytes,
    expires_at: datetime,
    now: datetime,
) -> Consent:
    """Insert the consent row; the caller has already passed the gates and signs the receipt.

    The row keeps the SHA-256 of ``evidence``; the evidence itself travels in the signed
    receipt, which an erasure removes (it names the pseudonym), so the hash is what still
    shows afterwards that the person signed. ``retained_until`` is set by the longest
    retention among ``purposes``: the consent ends at that date or at ``expires_at``,
    whichever comes first.
    """
    consent = Consent(
        id=new_id("cns"),
        subject_id=subject.id,
        subject_ref=subject.pseudonym,
        notice_id=notice.id,
        notice_version=notice.version,
        notice_sha256=notice.sha256,
        retention_policy_sha256=retention_policy_sha256,
        language=language,
        method=str(method),
        given_by=str(given_by),
        guardian_name=None,
        evidence_sha256=hashlib.sha256(evidence).hexdigest(),
        obtained_at=now,
        expires_at=expires_at,
        retained_until=now + timedelta(days=max(p.retention_days for p in purposes)),
        purposes=purposes,
    )
    return _inserted(session, consent)


def get_consent(session: Session, *, subject: Subject, consent_id: str) -> Consent:
    consent = session.get(Consent, consent_id)
    if consent is None or consent.subject_id != subject.id:
        raise NotFound(f"no consent {consent_id} for {subject.pseudonym}",
                       details={"consent_id": consent_id, "subject": subject.pseudonym})
    return consent


def consent_public(consent: Consent, *, public_key: ReceiptKeys, status: str) -> ConsentPublic:
    """The consent as the API shows it, under the subject's pseudonym, with its signed receipts.

    ``status`` is passed in rather than computed here: when a consent ends is decided by
    :func:`consent.policies.consent_status` alone.
    """
    receipts = {name: SignedReceipt.served(signed, signature, keys=public_key)
                if signed is not None and signature is not None else None
                for name, signed, signature in (
                    ("receipt", consent.receipt, consent.receipt_signature),
                    ("withdrawal_receipt", consent.withdrawal_receipt,
                     consent.withdrawal_signature),
                    ("end_receipt", consent.end_receipt, consent.end_signature))}
    return ConsentPublic.model_validate(
        {
            **{column: getattr(consent, column) for column in ConsentPublic.model_fields
               if hasattr(consent, column)
               and column not in {"subject", "purposes", "status", *receipts}},
            "subject": consent.subject_ref,
            "purposes": sorted(purpose.id for purpose in consent.purposes),
            "status": status,
            **receipts,
        }
    )


# Templates ------------------------------------------------------------------------------------
def data_key(session: Session, subject: Subject, *, keys: KeyRing, now: datetime) -> bytes:
    """The subject's data key, created and stored wrapped under the current epoch on first use.

    Raises:
        SubjectDataUnreadable: The stored wrapped key does not open for this subject.
    """
    row = session.get(SubjectKey, subject.id)
    if row is not None:
        try:
            return keys.unwrap(row.wrapped, subject_id=subject.id, pseudonym=subject.pseudonym,
                               epoch=row.epoch)
        except ValueError as error:
            raise _unreadable(subject, "key") from error
    key = new_key()
    epoch, wrapped = wrap_data_key(session, subject, key, keys=keys)
    session.add(SubjectKey(subject_id=subject.id, wrapped=wrapped, epoch=epoch, created_at=now))
    return key


def wrap_data_key(session: Session, subject: Subject, key: bytes, *,
                  keys: KeyRing) -> tuple[int, bytes]:
    """(epoch, ``key`` wrapped under it) for ``subject``'s key row. Another worker on a shared
    ledger may have rotated since this one loaded its ring: the newest epoch the ledger records
    (read inside the serialised transaction, so a rotation either re-wraps the row or came
    first), never one being destroyed."""
    newest = session.scalar(select(func.max(KeyEpoch.id)))
    if newest is not None and newest > keys.epoch:
        keys = dataclasses.replace(keys, epoch=newest)
    return keys.wrap(key, subject_id=subject.id, pseudonym=subject.pseudonym)


def add_template(
    session: Session,
    *,
    subject: Subject,
    consent: Consent,
    protected: Vector,
    model_id: str,
    quality: float,
    key: bytes,
    keys: KeyRing,
    now: datetime,
) -> Template:
    """Store one protected vector encrypted under the subject's key, sealed as theirs under
    ``consent`` (:func:`row_seals.seal_template`); its id is the index label. The subject's
    first template ever dates ``first_enrolled_at``, which nothing clears, sealed
    (:func:`row_seals.seal_enrolment`): losing every template later, or the column cleared in
    the database, does not make the next enrolment a first one (:mod:`consent.one_person`)."""
    if subject.first_enrolled_at is None:
        subject.first_enrolled_at = now
        row_seals.seal_enrolment(keys, subject)
    template = Template(
        subject_id=subject.id,
        consent_id=consent.id,
        model_id=model_id,
        quality=quality,
        nonce=b"",
        ciphertext=b"",
        created_at=now,
    )
    session.add(template)
    session.flush()  # the id is bound into the ciphertext
    encrypt_template(template, protected, key=key)
    row_seals.seal_template(keys, template, pseudonym=subject.pseudonym)
    return template


def encrypt_template(template: Template, vector: Vector, *, key: bytes,
                     nonce: bytes | None = None) -> None:
    """Set ``template``'s ciphertext: ``vector`` under ``key``, bound to the template's id,
    subject and model (:func:`_binding`); a new nonce unless given, which only a new key may
    take (:func:`consent.crypto.seal`)."""
    template.nonce, template.ciphertext = seal(
        key, np.asarray(vector, dtype=np.float32).tobytes(), associated=_binding(template),
        nonce=nonce)


class SealedTemplate(Protocol):
    """What opening a template reads: a :class:`Template`, or a row of those columns (the
    start's rebuild reads rows, not objects: :func:`consent.reconcile.index_templates`)."""

    @property
    def id(self) -> int: ...
    @property
    def subject_id(self) -> int: ...
    @property
    def model_id(self) -> str: ...
    @property
    def nonce(self) -> bytes: ...
    @property
    def ciphertext(self) -> bytes: ...


def decrypt_template(template: SealedTemplate, *, key: bytes) -> Vector:
    """The protected vector of ``template``, opened with the subject's data key.

    The ciphertext is bound to the template id, subject and model, so a row copied to another
    subject or relabelled to another model raises ``ValueError`` instead of matching the wrong
    person.
    """
    plaintext = open_sealed(key, template.nonce, template.ciphertext,
                            associated=_binding(template))
    return np.frombuffer(plaintext, dtype=np.float32).copy()


def _binding(template: SealedTemplate) -> bytes:
    """What a template's ciphertext is bound to: its id, subject and model, so a row copied to
    another subject or relabelled to another model opens no more."""
    return template_binding(template_id=template.id, subject_id=template.subject_id,
                            model_id=template.model_id)


def open_template(template: Template, subject: Subject, *, key: bytes) -> Vector:
    """:func:`decrypt_template` for a use of the subject's own data (comparing a new face with
    theirs, exporting it).

    Raises:
        SubjectDataUnreadable: The template does not open under their key.
    """
    try:
        return decrypt_template(template, key=key)
    except ValueError as error:
        raise _unreadable(subject, "template") from error


def _unreadable(subject: Subject, what: str) -> SubjectDataUnreadable:
    logger.error("subject id %d: a stored %s does not open for them (changed in the database)",
                 subject.id, what)
    return SubjectDataUnreadable(
        f"a stored {what} of subject {subject.pseudonym} does not open for them (changed in the"
        " database without the key store)", details={"subject": subject.pseudonym, "what": what})


def templates_public(session: Session, subject: Subject) -> list[TemplatePublic]:
    """What the subject's templates are (ids, consent, model, quality, date), oldest first:
    what a person or the desk picks from to rectify one (:mod:`consent.rectification`)."""
    rows = session.scalars(
        select(Template).where(Template.subject_id == subject.id).order_by(Template.id))
    return [template_public(row, pseudonym=subject.pseudonym) for row in rows]


def template_public(template: Template, *, pseudonym: str) -> TemplatePublic:
    """The template's metadata for the API; the vector itself is never shown."""
    return TemplatePublic(
        id=template.id,
        subject=pseudonym,
        consent_id=template.consent_id,
        model_id=template.model_id,
        quality=template.quality,
        created_at=template.created_at,
    )
