"""Row seals: the rows that grant something carry a keyed MAC the key store alone can make.

A passkey credential lets whoever holds its private key act as the person; a subject's opt-in
puts them in every 1:N gallery; a register declaration opens matching. Each is one row of the
ledger, which whoever holds a copy of the database can write: plant their own passkey for a
person, set ``searchable``, change the material a declaration covers, move a template to
another person or consent, make a key an admin's or a break-glass one. The HMAC key lives in
the key store, apart from the data (:mod:`consent.keys`), so each such row is sealed when the
service writes it, with HMAC-SHA256 under that key over exactly the fields that grant
something, and each use checks the seal: a row written or edited without the key store grants
nothing (:func:`passkey_sealed`, :func:`opted_in`, :func:`declaration_sealed`,
:func:`template_sealed`, :func:`api_key_sealed`, :func:`admin_passkey_sealed`: an admin key's
binding to its passkey, with its step-up's hash and expiry). A subject's declared age and
jurisdiction, which decide whether the person or their guardian consents, are sealed the same
way (:func:`age_sealed`): a child made an adult in the database consents for no one. A
subject token, the bearer credential a person's sign-in issues, is sealed over its secret's
hash, whose it is, its capacity and its expiry (:func:`subject_token_sealed`): one moved to
another subject in the database acts for no one, and it carries its subject's tombstone hash,
by which their erasure deletes it wherever it was moved. Whether a subject was enrolled before
(``first_enrolled_at``, which keeps a subject with no template to compare with away from a
self-service enrolment) is sealed too (:func:`enrolment_sealed`): cleared in the database, it
makes no enrolment a first one.

Rows written before the seals existed (migration 0030) are sealed once, at the first start
after the upgrade, and that adoption is chained with its counts (:func:`adopt_once`): from then
on an unsealed row grants nothing. The subjects' ages, sealed since migration 0035, are adopted
once the same way, under an event of their own (:func:`adopt_ages_once`), the subject
tokens, sealed since migration 0036, likewise (:func:`adopt_tokens_once`), and the subjects'
enrolment states, sealed since migration 0040 (:func:`adopt_enrolments_once`). Only a start that
found the log as its witness signed it adopts; any other chains that it did not, and no start
adopts after that, so that a log edited to lose the adoption's event gets nothing planted
sealed. Whoever holds the key store can seal
anything, and a row planted before the upgrade was sealed with the others; an opt-in's seal
names no time, so a seal copied from an older copy of the same person's row opts them in again
(the witness journal's opt-outs, replayed at start, undo that), and a revoked key's older row
copied back whole authenticates again (the journal's revocations, replayed at start, undo
that): see ``docs/keys-and-backups.md``. An admin key's bindings, sealed since
migration 0034, are adopted the same way, once, on a ledger whose rows were adopted before
(:func:`adopt_bindings_once`), and only those naming a passkey registered as an admin's.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session, load_only

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import canonical_json
from optinface.consent.errors import AgeUnsealed, PasskeyUnsealed
from optinface.consent.identifiers import require_reason
from optinface.consent.keys import KeyRing
from optinface.consent.tables import (
    AdminPasskey,
    ApiKey,
    AuditEvent,
    PasskeyCredential,
    RegisterDeclaration,
    Subject,
    SubjectToken,
    Template,
)

if TYPE_CHECKING:  # the runtime keeps the key rows, whose checks are here
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)

TOMBSTONE_DOMAIN = "tombstone"
"""The keyed hash an erased subject is known by (:func:`owner_hash`); ``consent.ledger`` names
the same."""


class RowKind(StrEnum):
    """What a seal vouches for; each kind is its own HMAC domain, so no seal passes for
    another kind's."""

    PASSKEY = "passkey"
    OPT_IN = "opt-in"
    DECLARATION = "declaration"
    TEMPLATE = "template"
    API_KEY = "api-key"
    ADMIN_PASSKEY = "admin-passkey"
    AGE = "age"
    SUBJECT_TOKEN = "subject-token"  # noqa: S105 (a seal's kind, not a secret)
    PURPOSE_WITHDRAWN = "purpose-withdrawn"  # a journal line (consent.purpose_withdrawal)
    ENROLMENT = "enrolment"  # whether, and since when, a subject was enrolled (one_person)


def seal(keys: KeyRing, kind: RowKind, fields: Mapping[str, Any]) -> str:
    """The seal of a row of ``kind`` whose granting fields are ``fields`` (canonical JSON)."""
    return keys.keyed_hash(canonical_json(dict(fields)).decode("utf-8"),
                           domain=f"row-seal:{kind}")


def matches(keys: KeyRing, kind: RowKind, fields: Mapping[str, Any], found: str | None) -> bool:
    """Whether ``found`` is the seal of these fields (constant time); a missing one never is."""
    return found is not None and hmac.compare_digest(found, seal(keys, kind, fields))


# Passkeys -------------------------------------------------------------------------------------
def _passkey_fields(session: Session, credential: PasskeyCredential) -> dict[str, Any]:
    """Whose passkey, in which capacity, and the public key that checks its signatures. The
    subject by pseudonym: a row moved to another subject's id is another subject's."""
    subject = (session.get(Subject, credential.subject_id)
               if credential.subject_id is not None else None)
    return {"id": credential.id, "subject": subject.pseudonym if subject else None,
            "capacity": credential.capacity, "publicKey": credential.public_key.hex()}


def seal_passkey(keys: KeyRing, session: Session, credential: PasskeyCredential) -> None:
    credential.seal = seal(keys, RowKind.PASSKEY, _passkey_fields(session, credential))


def passkey_sealed(keys: KeyRing, session: Session, credential: PasskeyCredential) -> bool:
    return matches(keys, RowKind.PASSKEY, _passkey_fields(session, credential), credential.seal)


def require_sealed_passkey(keys: KeyRing, session: Session,
                           credential: PasskeyCredential) -> None:
    """Refuse (:class:`PasskeyUnsealed`) a passkey the service did not register: it signs
    nothing, wherever a passkey signs. ``details.subject`` names whose it claims to be, for the
    refused event: only someone who wrote the database can present such a row."""
    if not passkey_sealed(keys, session, credential):
        fields = _passkey_fields(session, credential)
        raise PasskeyUnsealed(
            "this passkey was not registered through this service (its record carries no valid"
            " seal): it signs nothing here", details={"subject": fields["subject"],
                                                      "capacity": credential.capacity})


# The opt-in to 1:N search ---------------------------------------------------------------------
def _opt_in_fields(pseudonym: str, since: datetime | None) -> dict[str, Any]:
    return {"subject": pseudonym, "searchable": True, "since": _when(since)}


def set_opt_in(keys: KeyRing, subject: Subject, searchable: bool, *, at: datetime) -> None:
    """Opt ``subject`` in at ``at`` (sealed with that time) or out (the seal goes with it: a
    seal left on an opted-out row would opt them in again with a bare ``searchable = true``).
    The time lets a search tell an opt-in from one an opt-out journaled since outranks
    (:mod:`consent.journal_ends`): an older sealed row copied back carries an older time."""
    subject.searchable = searchable
    subject.searchable_since = at if searchable else None
    subject.searchable_seal = (seal(keys, RowKind.OPT_IN, _opt_in_fields(subject.pseudonym, at))
                               if searchable else None)


class OptIn(Protocol):
    """What the opt-in is read from: a subject's row, or a query's row of those columns."""

    @property
    def pseudonym(self) -> str: ...
    @property
    def searchable(self) -> bool: ...
    @property
    def searchable_seal(self) -> str | None: ...
    @property
    def searchable_since(self) -> datetime | None: ...


def opted_in(keys: KeyRing, subject: OptIn) -> bool:
    """Whether ``subject`` opted in to 1:N search: ``searchable``, and sealed by the service
    when they signed it, with its time (:func:`set_opt_in`). The one test of an opt-in's row;
    a search also asks the journal whether an opt-out came since (``consent.journal_ends``)."""
    return bool(subject.searchable) and matches(
        keys, RowKind.OPT_IN, _opt_in_fields(subject.pseudonym, subject.searchable_since),
        subject.searchable_seal)


# The declared age: who consents for the subject -----------------------------------------------
def declared_age(subject: Subject) -> dict[str, Any]:
    """What the capacity rules read of a subject (:mod:`consent.policies`): the bracket, the
    day it was declared (it ages from then) and the jurisdiction (its age of consent); what
    its seal covers and a consent receipt states (``consent.receipts.capacity_stated``)."""
    declared = subject.age_declared_on
    return {"ageCategory": subject.age_category,
            "ageDeclaredOn": None if declared is None else declared.isoformat(),
            "jurisdiction": subject.jurisdiction}


def _age_fields(subject: Subject) -> dict[str, Any]:
    """The declared age with the pseudonym, so that no subject's seal passes for another's."""
    return {"subject": subject.pseudonym, **declared_age(subject)}


def seal_age(keys: KeyRing, subject: Subject) -> None:
    """Seal what decides ``subject``'s capacity as it now is: at creation
    (:func:`consent.ledger.create_subject`), the one write of these fields."""
    subject.age_seal = seal(keys, RowKind.AGE, _age_fields(subject))


def age_sealed(keys: KeyRing, subject: Subject) -> bool:
    return matches(keys, RowKind.AGE, _age_fields(subject), subject.age_seal)


def require_sealed_age(keys: KeyRing, subject: Subject) -> None:
    """Refuse (:class:`AgeUnsealed`) to decide who consents for a subject whose declared age or
    jurisdiction the service did not write: the person's own capacity and a guardian's alike,
    since an edit can make a child an adult or an adult a child again. Logged as an error at
    each refusal (the caller's refusal is chained): only a database writer causes it."""
    if not age_sealed(keys, subject):
        logger.error("subject id %s: its declared age or jurisdiction carries no valid seal"
                     " (written in the database without the key store): no one's capacity to"
                     " consent is decided from it", subject.id)  # never the pseudonym: a log
        # outlives an erasure
        raise AgeUnsealed(
            "this subject's declared age was not written by this service (its record carries"
            " no valid seal): no one may consent for them until the operator, having checked"
            " it, seals it again with the key store (optinface keys reseal)",
            details={"subject": subject.pseudonym})


# The enrolment state: whether a subject was enrolled before ---------------------------------
def _enrolment_fields(subject: Subject) -> dict[str, Any]:
    """Whose row, and when their first template was stored (None: never enrolled)."""
    return {"subject": subject.pseudonym, "firstEnrolledAt": _when(subject.first_enrolled_at)}


def seal_enrolment(keys: KeyRing, subject: Subject) -> None:
    """Seal ``subject``'s enrolment state as it now is: at creation ("never enrolled",
    :func:`consent.ledger.create_subject`) and at the first enrolment
    (:func:`consent.ledger.add_template`), the two writes of ``first_enrolled_at``."""
    subject.enrolment_seal = seal(keys, RowKind.ENROLMENT, _enrolment_fields(subject))


def enrolment_sealed(keys: KeyRing, subject: Subject) -> bool:
    """Whether ``subject``'s ``first_enrolled_at`` is the one the service sealed: a column
    cleared or moved in the database, or a seal removed, is not (:mod:`consent.one_person`
    then counts the subject as enrolled before)."""
    return matches(keys, RowKind.ENROLMENT, _enrolment_fields(subject), subject.enrolment_seal)


# Subject tokens -------------------------------------------------------------------------------
def _token_fields(token: SubjectToken, pseudonym: str | None) -> dict[str, Any]:
    """What a token grants: to whoever holds the secret of this hash, acting for this subject
    (by pseudonym: a row moved to another subject's id is another subject's), in this capacity,
    until then. A token is revoked by deleting its row (an erasure, its page session's end,
    its person's revocation: :mod:`consent.subject_tokens`), so it has no revocation to seal.
    The passkey that issued it is sealed where it was recorded (from migration 0039 on), so a
    token sealed before keeps its seal. The day it was last used (``last_used_on``,
    :mod:`consent.token_use`) is not sealed: it grants nothing, and is written at a use, never
    by a sealing. A token limited to ending processing has its ``scope`` sealed too (from
    migration 0042 on, where set: every token sealed before keeps its seal), so clearing it
    in the database leaves a token that acts for no one."""
    issued_by = {} if token.credential_hash is None else {"issuedBy": token.credential_hash}
    scope = {} if token.scope is None else {"scope": token.scope}
    return {"id": token.id, "subject": pseudonym, "capacity": token.capacity,
            "secretHash": token.secret_hash, "expiresAt": _when(token.expires_at), **issued_by,
            **scope}


def seal_subject_token(keys: KeyRing, token: SubjectToken, *, pseudonym: str) -> None:
    """Seal ``token`` as ``pseudonym``'s, as it now is: when issued, the one write of these
    fields. Its owner hash lets their erasure find it wherever its ``subject_id`` points."""
    token.seal = seal(keys, RowKind.SUBJECT_TOKEN, _token_fields(token, pseudonym))
    token.owner_hash = owner_hash(keys, pseudonym)


def subject_token_sealed(keys: KeyRing, token: SubjectToken, *, pseudonym: str | None) -> bool:
    """Whether ``token`` is the row the service issued to ``pseudonym`` (the subject its
    ``subject_id`` names now; None where it names none): a row moved, planted, given another
    capacity or a later expiry is not."""
    return pseudonym is not None and matches(
        keys, RowKind.SUBJECT_TOKEN, _token_fields(token, pseudonym), token.seal)


# Register declarations ------------------------------------------------------------------------
def _declaration_fields(declaration: RegisterDeclaration) -> dict[str, Any]:
    """What the matching gate reads of a declaration: the material it covers and the times its
    period runs from."""
    return {"id": declaration.id, "materialSha256": declaration.material_sha256,
            "declaredOn": declaration.declared_on.isoformat(),
            "recordedAt": declaration.recorded_at.astimezone(UTC).isoformat(),
            "periodDays": declaration.period_days}


def seal_declaration(keys: KeyRing, declaration: RegisterDeclaration) -> None:
    """Seal a declaration once it has its id (after a flush)."""
    declaration.seal = seal(keys, RowKind.DECLARATION, _declaration_fields(declaration))


def declaration_sealed(keys: KeyRing, declaration: RegisterDeclaration) -> bool:
    return matches(keys, RowKind.DECLARATION, _declaration_fields(declaration),
                   declaration.seal)


# Templates ------------------------------------------------------------------------------------
def owner_hash(keys: KeyRing, pseudonym: str) -> str:
    """The tombstone hash of ``pseudonym``: kept on each of their templates, so their erasure
    finds a template whose ``subject_id`` was moved to someone else."""
    return keys.keyed_hash(pseudonym, domain=TOMBSTONE_DOMAIN)


def _template_fields(template_id: int, *, pseudonym: str, consent_id: str,
                     model_id: str) -> dict[str, Any]:
    """What grants a template's use: whose face it is, the consent it was enrolled under (its
    purposes and end) and the model that reads it."""
    return {"id": template_id, "subject": pseudonym, "consent": consent_id, "model": model_id}


def seal_template(keys: KeyRing, template: Template, *, pseudonym: str) -> None:
    """Seal ``template`` (once it has its id) as ``pseudonym``'s, under its consent."""
    template.seal = seal(keys, RowKind.TEMPLATE, _template_fields(
        template.id, pseudonym=pseudonym, consent_id=template.consent_id,
        model_id=template.model_id))
    template.owner_hash = owner_hash(keys, pseudonym)


def template_sealed(keys: KeyRing, *, template_id: int, pseudonym: str, consent_id: str,
                    model_id: str, found: str | None) -> bool:
    """Whether ``found`` is the seal of this template as ``pseudonym``'s under ``consent_id``:
    a row moved to another subject or consent, or planted, is not."""
    return matches(keys, RowKind.TEMPLATE, _template_fields(
        template_id, pseudonym=pseudonym, consent_id=consent_id, model_id=model_id), found)


@dataclass(frozen=True, slots=True)
class TemplateTally:
    """The templates the register counts: those sealed (of which ``stale`` were made by a
    model other than the active one), and those whose seal fails, which grant nothing."""

    sealed: int
    stale: int
    unsealed: int


def template_seal_rows() -> Select[int, str, str, str | None, str]:
    """What each template's seal covers, with its subject's pseudonym (None where its
    ``subject_id`` names no subject): one narrow read, no ciphertext. The rows
    :func:`template_row_sealed` checks (the register's count, the start's reconciliation)."""
    return select(Template.id, Template.consent_id, Template.model_id, Template.seal,
                  Subject.pseudonym).outerjoin(Subject, Subject.id == Template.subject_id)


class TemplateRow(Protocol):
    """A row of :func:`template_seal_rows`."""

    @property
    def id(self) -> int: ...
    @property
    def consent_id(self) -> str: ...
    @property
    def model_id(self) -> str: ...
    @property
    def seal(self) -> str | None: ...
    @property
    def pseudonym(self) -> str | None: ...


def template_row_sealed(keys: KeyRing, row: TemplateRow) -> bool:
    """Whether ``row`` is sealed as its subject's template (:func:`template_sealed`); one
    whose subject is gone is not."""
    return row.pseudonym is not None and template_sealed(
        keys, template_id=row.id, pseudonym=row.pseudonym, consent_id=row.consent_id,
        model_id=row.model_id, found=row.seal)


def tally_templates(keys: KeyRing, session: Session, *, model_id: str) -> TemplateTally:
    """The templates the register counts, as of ``session``'s transaction, by their seals, as
    a search and the start's reconciliation admit them: a row planted or moved in the database
    alone is not one of the register's templates. Every row is checked at each count (one
    keyed hash each, cheaper than reading the row), so no writer's edit goes unseen."""
    sealed = stale = unsealed = 0
    for row in session.execute(template_seal_rows()):
        if template_row_sealed(keys, row):
            sealed += 1
            stale += row.model_id != model_id
        else:
            unsealed += 1
    return TemplateTally(sealed=sealed, stale=stale, unsealed=unsealed)


# API keys -------------------------------------------------------------------------------------
class KeyFields(Protocol):
    """What an API key's seal covers: an ``api_keys`` row, or the row authentication keeps."""

    @property
    def name(self) -> str: ...  # break-glass is told by its name (consent.break_glass)
    @property
    def role(self) -> str: ...
    @property
    def secret_hash(self) -> str: ...
    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def client_cert_sha256(self) -> str | None: ...
    @property
    def seal(self) -> str | None: ...


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _api_key_fields(key_id: str, row: KeyFields) -> dict[str, Any]:
    """Every field that says what a key may do and until when. The revocation too: a revoked
    key's row with ``revoked_at`` set back to NULL is no longer the row sealed."""
    return {"id": key_id, "name": row.name, "role": row.role, "secretHash": row.secret_hash,
            "revokedAt": _when(row.revoked_at), "expiresAt": _when(row.expires_at),
            "clientCert": row.client_cert_sha256}


def seal_api_key(keys: KeyRing, key: ApiKey) -> None:
    """Seal ``key`` as it now is: when created, and again when revoked."""
    key.seal = seal(keys, RowKind.API_KEY, _api_key_fields(key.id, key))


def api_key_sealed(keys: KeyRing, key_id: str, row: KeyFields) -> bool:
    return matches(keys, RowKind.API_KEY, _api_key_fields(key_id, row), row.seal)


# Admin keys' passkeys ----------------------------------------------------------------------------
ADMIN_CAPACITY = "admin-passkey"
"""The capacity of a passkey registered as an admin key's second factor (``consent.admin_mfa``
names the same): the only kind an admin key's binding may name."""


def _admin_passkey_fields(factor: AdminPasskey) -> dict[str, Any]:
    """What a binding grants: this key, this passkey, since when, and its step-up until when. The
    step-up's hash and expiry are sealed with it: an expiry moved by SQL, or a token's hash
    written in, breaks the seal, so the binding then grants nothing."""
    return {"key": factor.api_key_id, "credential": factor.credential_id,
            "registeredAt": _when(factor.registered_at), "stepUpHash": factor.step_up_hash,
            "stepUpExpiresAt": _when(factor.step_up_expires_at)}


def seal_admin_passkey(keys: KeyRing, factor: AdminPasskey) -> None:
    """Seal ``factor`` as it now is: at every write (a binding, a replacement, a step-up)."""
    factor.seal = seal(keys, RowKind.ADMIN_PASSKEY, _admin_passkey_fields(factor))


def admin_passkey_sealed(keys: KeyRing, factor: AdminPasskey) -> bool:
    return matches(keys, RowKind.ADMIN_PASSKEY, _admin_passkey_fields(factor), factor.seal)


def is_admin_kind(keys: KeyRing, session: Session, credential: PasskeyCredential) -> bool:
    """Whether ``credential`` is one registered as an admin key's passkey, on its sealed fields
    (no subject, the admin capacity): a person's passkey is never an admin's second factor."""
    return (credential.subject_id is None and credential.capacity == ADMIN_CAPACITY
            and passkey_sealed(keys, session, credential))


def _bindings_to_seal(keys: KeyRing, session: Session,
                      factors: list[AdminPasskey]) -> list[AdminPasskey]:
    """The bindings an adoption or a reseal may seal: those naming an admin passkey. One naming
    a person's passkey, or none, is left unsealed (it grants nothing) and logged as an error."""
    fit = [factor for factor in factors if (credential := session.get(
        PasskeyCredential, factor.credential_id)) is not None
        and is_admin_kind(keys, session, credential)]
    if len(fit) < len(factors):
        logger.error("%d admin key binding(s) name no admin passkey (a person's, or none): left"
                     " unsealed, they grant no second factor", len(factors) - len(fit))
    return fit


ADMIN_BINDINGS = "admin_passkeys"
"""The key of a row-seal adoption's details counting the admin bindings: present on an adoption
(or its refusal) made since bindings are sealed, which is then theirs too."""


def adopt_bindings_once(runtime: Runtime, *, log_sound: bool) -> dict[str, int] | None:
    """At the first start after migration 0034, on a ledger whose rows were adopted before it
    (:func:`adopt_once` ran with an older version), seal the admin keys' bindings then present,
    once, as :func:`adopt_once` sealed the other rows, chained as ``admin_passkeys_adopted``
    with how many were sealed and how many were left: only those naming an admin passkey; none
    where the log is not as witnessed (``admin_passkeys_not_adopted``, for good). The counts,
    or None when already done: that event, or a row-seal adoption whose details count the
    bindings (:data:`ADMIN_BINDINGS`: a new ledger's, or one upgraded from before 0030)."""

    def done(session: Session) -> bool:
        return any(event.action not in _ROW_ADOPTIONS or ADMIN_BINDINGS in (event.details or {})
                   for event in session.scalars(select(AuditEvent).where(
                       AuditEvent.action.in_([str(action) for action in _ADOPTIONS]))))

    def seal_bindings(session: Session) -> dict[str, int]:
        factors = list(session.scalars(select(AdminPasskey)))
        fit = _bindings_to_seal(runtime.keys, session, factors)
        for factor in fit:
            seal_admin_passkey(runtime.keys, factor)
        return {"sealed": len(fit), "left": len(factors) - len(fit)}

    return adopt(runtime, adopted=AuditAction.ADMIN_PASSKEYS_ADOPTED,
                  refused=AuditAction.ADMIN_PASSKEYS_NOT_ADOPTED, sound=lambda _: log_sound,
                  seal_rows=seal_bindings, done=done,
                  refusal=("admin passkey bindings NOT adopted: this start found the audit log"
                           " other than its witness signed it; each admin key registers its"
                           " passkey again on the operator's link (chained as"
                           " admin_passkeys_not_adopted)"))


_ROW_ADOPTIONS = (AuditAction.ROW_SEALS_ADOPTED, AuditAction.ROW_SEALS_NOT_ADOPTED)
_ADOPTIONS = (*_ROW_ADOPTIONS, AuditAction.ADMIN_PASSKEYS_ADOPTED,
              AuditAction.ADMIN_PASSKEYS_NOT_ADOPTED)


# Adoption, once -------------------------------------------------------------------------------
def adopt_once(runtime: Runtime, *, log_sound: bool) -> dict[str, int] | None:
    """At the first start with seals (after migration 0030, or a new ledger's first), seal
    every row that grants something and chain ``row_seals_adopted`` with the counts; the
    counts, or None when the log holds that event, or ``row_seals_not_adopted``, already.

    ``log_sound``: this start found the log as its witness signed it (no events lost or
    rewritten, no new witness folder taken up; :mod:`consent.transparency`), and appended to by
    the service alone (:func:`consent.log_seals.record_unsealed`). Otherwise nothing
    is sealed, an error is logged and ``row_seals_not_adopted`` chained, and no later start
    adopts either: a log whose adoption event was edited away would otherwise have the rows
    planted since sealed as soon as a start found it consistent again (the witness signs the
    edited log from that start on). Every passkey, opt-in, template and API key from before is
    then refused until made again (``docs/keys-and-backups.md``).

    The events are the mark: in the hash chain and the witness's checkpoints, so they cannot be
    removed or edited without the log's verification failing (one appended by a database
    writer only stops adoption). Checked in the write transaction that seals, so several
    workers starting at once adopt once. The one way to seal again is the operator's own,
    with the key store: :func:`reseal`."""
    keys = runtime.keys
    return adopt(runtime, adopted=AuditAction.ROW_SEALS_ADOPTED,
                  refused=AuditAction.ROW_SEALS_NOT_ADOPTED, sound=lambda _: log_sound,
                  seal_rows=lambda session: _seal_all(keys, session, now=runtime.clock.now()),
                  refusal=("row seals NOT adopted: this start found the audit log other than"
                           " its witness signed it, so the rows present were not sealed; those"
                           " that carry no seal (passkeys, opt-ins, declarations, templates, API"
                           " keys) grant nothing until made again, or until the operator, having"
                           " looked at them (optinface keys reseal --dry-run), seals them again"
                           " (chained as row_seals_not_adopted)"),
                  marks={ADMIN_BINDINGS: 0})  # and no binding adoption after it either


def adopt_ages_once(runtime: Runtime, *, log_sound: bool) -> dict[str, int] | None:
    """At the first start with age seals (after migration 0035), seal the declared age of
    every subject present and chain ``age_seals_adopted`` with how many (``ages``); that count,
    or None when the log holds that event or ``age_seals_not_adopted`` already.

    As :func:`adopt_once`, and under its rule: nothing is sealed, an error is logged and
    ``age_seals_not_adopted`` chained, for good, where this start found the log other than its
    witness signed it, or where the row seals themselves were not adopted (a log found unsound
    once stays unsound for the rows written before the seals). On a new ledger it chains a
    count of 0: :func:`adopt_once` sealed its (no) subjects already."""

    def seal_ages(session: Session) -> dict[str, int]:
        subjects = list(session.scalars(select(Subject)))
        for subject in subjects:
            seal_age(runtime.keys, subject)
        return {"ages": len(subjects)}

    return adopt(runtime, adopted=AuditAction.AGE_SEALS_ADOPTED,
                  refused=AuditAction.AGE_SEALS_NOT_ADOPTED,
                  sound=rows_adopted_and(log_sound), seal_rows=seal_ages,
                  refusal=("age seals NOT adopted: the audit log was found other than its"
                           " witness signed it, so the subjects present were not sealed; none of"
                           " them can be consented for until the operator, having looked at them"
                           " (optinface keys reseal --dry-run), seals them again (chained as"
                           " age_seals_not_adopted)"))


def adopt_tokens_once(runtime: Runtime, *, log_sound: bool) -> dict[str, int] | None:
    """At the first start with token seals (after migration 0036), seal every subject token
    present as its subject's and chain ``token_seals_adopted`` with how many
    (``subject_tokens``); that count, or None when the log holds that event or
    ``token_seals_not_adopted`` already. Under :func:`adopt_ages_once`'s rule: nothing is
    sealed, for good, where this start found the log other than its witness signed it or the
    row seals themselves were not adopted. A token moved to another subject before the
    upgrade is sealed as that subject's, as any row planted before the seals was."""

    def seal_tokens(session: Session) -> dict[str, int]:
        return {"subject_tokens": _seal_tokens(runtime.keys, _subject_tokens(session))}

    return adopt(runtime, adopted=AuditAction.TOKEN_SEALS_ADOPTED,
                  refused=AuditAction.TOKEN_SEALS_NOT_ADOPTED,
                  sound=rows_adopted_and(log_sound), seal_rows=seal_tokens,
                  refusal=("subject token seals NOT adopted: the audit log was found other than"
                           " its witness signed it, so the tokens present were not sealed; none"
                           " of them authenticates until its person signs in again, or until the"
                           " operator, having looked at them (optinface keys reseal --dry-run),"
                           " seals them again (chained as token_seals_not_adopted)"))


def adopt_enrolments_once(runtime: Runtime, *, log_sound: bool) -> dict[str, int] | None:
    """At the first start with enrolment seals (after migration 0040), seal the enrolment state
    of every subject present as its ``first_enrolled_at`` says and chain
    ``enrolment_seals_adopted`` with how many (``enrolments``); that count, or None when the
    log holds that event or ``enrolment_seals_not_adopted`` already. Under
    :func:`adopt_ages_once`'s rule: nothing is sealed, for good, where this start found the log
    other than its witness signed it or the row seals themselves were not adopted; a subject
    then left unsealed counts as enrolled before (:mod:`consent.one_person`). A column cleared
    before the upgrade is sealed as cleared, as any row planted before the seals was: the
    chained ``enrol`` events, which the enrolment asks too, still name that subject (and
    :mod:`consent.enrolment_lines` journals only the subjects whose sealed column says
    enrolled before)."""

    def seal_enrolments(session: Session) -> dict[str, int]:
        subjects = list(session.scalars(select(Subject)))
        for subject in subjects:
            seal_enrolment(runtime.keys, subject)
        return {"enrolments": len(subjects)}

    return adopt(runtime, adopted=AuditAction.ENROLMENT_SEALS_ADOPTED,
                  refused=AuditAction.ENROLMENT_SEALS_NOT_ADOPTED,
                  sound=rows_adopted_and(log_sound), seal_rows=seal_enrolments,
                  refusal=("enrolment seals NOT adopted: the audit log was found other than its"
                           " witness signed it, so the subjects present were not sealed; each of"
                           " them with no template to compare a face with enrols only at the"
                           " desk until the operator, having looked at them (optinface keys"
                           " reseal --dry-run), seals them again (chained as"
                           " enrolment_seals_not_adopted)"))


def adopt_all(runtime: Runtime, *, log_sound: bool) -> None:
    """Each kind's adoption, once, in order (the rows', then those sealed since), logged: what
    a start runs before any row is used (``log_sound`` as :func:`adopt_once` takes it)."""
    adoptions: tuple[tuple[str, Callable[..., object]], ...] = (
        ("row seals", adopt_once), ("admin passkey bindings", adopt_bindings_once),
        ("age seals", adopt_ages_once), ("subject token seals", adopt_tokens_once),
        ("enrolment seals", adopt_enrolments_once))
    for name, adopt in adoptions:
        if (adopted := adopt(runtime, log_sound=log_sound)) is not None:
            logger.info("%s adopted (once): %s", name, adopted)


def rows_adopted_and(log_sound: bool) -> Callable[[Session], bool]:
    """The rule of the adoptions after the row seals': this start found the log as its witness
    signed it, and the row seals were not refused adoption (a log found unsound once stays
    unsound for the rows written before the seals)."""

    def sound(session: Session) -> bool:
        return log_sound and not session.scalar(select(exists().where(
            AuditEvent.action == str(AuditAction.ROW_SEALS_NOT_ADOPTED))))

    return sound


def _subject_tokens(session: Session) -> list[tuple[SubjectToken, str | None]]:
    """Every subject token, with the pseudonym of the subject its ``subject_id`` names, or None
    where it names none (a row written with the foreign keys off): what the adoption and the
    reseal seal, and the reseal's dry run lists."""
    return [(token, pseudonym) for token, pseudonym in session.execute(
        select(SubjectToken, Subject.pseudonym).outerjoin(
            Subject, Subject.id == SubjectToken.subject_id))]


def _seal_tokens(keys: KeyRing, tokens: Iterable[tuple[SubjectToken, str | None]]) -> int:
    """Seal each of ``tokens`` as its subject's; how many. One naming no subject acts for no one
    and is left unsealed."""
    named = [(token, pseudonym) for token, pseudonym in tokens if pseudonym is not None]
    for token, pseudonym in named:
        seal_subject_token(keys, token, pseudonym=pseudonym)
    return len(named)


def adopt(runtime: Runtime, *, adopted: AuditAction, refused: AuditAction,
          sound: Callable[[Session], bool], seal_rows: Callable[[Session], dict[str, int]],
          refusal: str, marks: Mapping[str, int] | None = None,
          done: Callable[[Session], bool] | None = None) -> dict[str, int] | None:
    """One adoption, once: None where it is ``done`` (by default: the log holds ``adopted`` or
    ``refused`` already); else,
    in the same write transaction (several workers starting at once adopt once), the rows
    sealed and ``adopted`` chained with their counts, or, where the log is not ``sound``,
    nothing sealed, ``refusal`` logged as an error and ``refused`` chained (with ``marks``).
    Also the one mark of an adoption that seals no row but is done once all the same
    (:mod:`consent.enrolment_lines`: ``seal_rows`` appends journal lines, before the commit)."""
    with runtime.db.transaction() as session:
        if (done(session) if done is not None else session.scalar(select(exists().where(
                AuditEvent.action.in_([str(adopted), str(refused)]))))):
            return None
        if not sound(session):
            logger.error(refusal)
            runtime.audit(session, Entry(action=refused, actor=None,
                                         details={"reason": "log_not_as_witnessed",
                                                  **(marks or {})}))
            return None
        counts = seal_rows(session)
        runtime.audit(session, Entry(action=adopted, actor=None, details=counts))
        return counts


@dataclass(frozen=True, slots=True)
class Resealed:
    """What ``optinface keys reseal`` found and did: the rows that grant something and carried
    no valid seal, by kind (ids; opt-ins by pseudonym, for the operator's eyes only, never
    chained), and how many rows of each kind it sealed (None for a dry run)."""

    were_unsealed: dict[str, list[str]]
    sealed: dict[str, int] | None


def reseal(runtime: Runtime, *, reason: str, dry_run: bool = False) -> Resealed:
    """Seal every row that grants something again, chained as ``row_seals_resealed`` with
    ``reason``, the counts and how many of each kind carried no valid seal: the operator's own
    act (``optinface keys reseal``), run where the key store is, after a migration round trip
    below 0030 or a refused adoption left the rows unsealed. ``dry_run`` lists those rows and
    seals nothing: a row planted in the database is among them, for the operator to look at
    before sealing it. Whoever holds the key store could seal any row anyway; this way it is
    in the log, for reviewers to compare the counts with what the log registered.

    Raises:
        InvalidRequest: ``reason`` is not one line naming no subject.
    """
    require_reason(reason)
    with runtime.db.transaction() as session:
        rows = _granting(session)
        found = _unsealed(runtime.keys, session, rows)
        if dry_run:
            return Resealed(were_unsealed=found, sealed=None)
        sealed = _seal_all(runtime.keys, session, now=runtime.clock.now(), rows=rows)
        logger.warning("row seals made again by the operator: %s", sealed)
        runtime.audit(session, Entry(action=AuditAction.ROW_SEALS_RESEALED, actor=None,
                                     details={"reason": reason, **sealed, "were_unsealed": {
                                         kind: len(ids) for kind, ids in found.items()}}))
        return Resealed(were_unsealed=found, sealed=sealed)


@dataclass(frozen=True, slots=True)
class _Granting:
    """Every row that grants something, read once (templates without their ciphertext)."""

    credentials: list[PasskeyCredential]
    opted_in: list[Subject]
    declarations: list[RegisterDeclaration]
    templates: list[Template]
    pseudonyms: dict[int, str]
    api_keys: list[ApiKey]
    admin_passkeys: list[AdminPasskey]
    subjects: list[Subject]
    tokens: list[tuple[SubjectToken, str | None]]


def _granting(session: Session) -> _Granting:
    subjects = list(session.scalars(select(Subject)))  # read once: ages, opt-ins, pseudonyms
    return _Granting(
        credentials=list(session.scalars(select(PasskeyCredential))),
        opted_in=[subject for subject in subjects if subject.searchable],
        declarations=list(session.scalars(select(RegisterDeclaration))),
        templates=list(session.scalars(select(Template).options(load_only(  # no ciphertext
            Template.id, Template.subject_id, Template.consent_id, Template.model_id,
            Template.seal, Template.owner_hash)))),
        pseudonyms={subject.id: subject.pseudonym for subject in subjects},
        api_keys=list(session.scalars(select(ApiKey))),
        admin_passkeys=list(session.scalars(select(AdminPasskey))),
        subjects=subjects,
        tokens=_subject_tokens(session),
    )


def _unsealed(keys: KeyRing, session: Session, rows: _Granting) -> dict[str, list[str]]:
    """The rows whose seal does not verify, by kind."""
    return {
        "passkeys": [c.id for c in rows.credentials if not passkey_sealed(keys, session, c)],
        "opt_ins": [s.pseudonym for s in rows.opted_in if not opted_in(keys, s)],
        "declarations": [str(d.id) for d in rows.declarations
                         if not declaration_sealed(keys, d)],
        "templates": [str(t.id) for t in rows.templates if not template_sealed(
            keys, template_id=t.id, pseudonym=rows.pseudonyms[t.subject_id],
            consent_id=t.consent_id, model_id=t.model_id, found=t.seal)],
        "api_keys": [k.id for k in rows.api_keys if not api_key_sealed(keys, k.id, k)],
        ADMIN_BINDINGS: [f.api_key_id for f in rows.admin_passkeys
                         if not admin_passkey_sealed(keys, f)],
        "ages": [s.pseudonym for s in rows.subjects if not age_sealed(keys, s)],
        "subject_tokens": [t.id for t, pseudonym in rows.tokens
                           if not subject_token_sealed(keys, t, pseudonym=pseudonym)],
        "enrolments": [s.pseudonym for s in rows.subjects if not enrolment_sealed(keys, s)],
    }


def _seal_all(keys: KeyRing, session: Session, *, now: datetime,
              rows: _Granting | None = None) -> dict[str, int]:
    """Seal every row that grants something; how many of each kind. An opt-in keeps the time
    it has (``now`` only for one from before opt-ins were dated): sealed again, an older row
    copied back stays older than the opt-out the journal keeps."""
    rows = rows or _granting(session)
    for credential in rows.credentials:
        seal_passkey(keys, session, credential)
    for subject in rows.opted_in:
        set_opt_in(keys, subject, True, at=subject.searchable_since or now)
    for declaration in rows.declarations:
        seal_declaration(keys, declaration)
    for template in rows.templates:
        seal_template(keys, template, pseudonym=rows.pseudonyms[template.subject_id])
    for key in rows.api_keys:
        seal_api_key(keys, key)
    for subject in rows.subjects:
        seal_age(keys, subject)
        seal_enrolment(keys, subject)
    tokens = _seal_tokens(keys, rows.tokens)
    session.flush()  # the passkeys' seals, which say which bindings name an admin passkey
    bindings = _bindings_to_seal(keys, session, rows.admin_passkeys)
    for factor in bindings:
        seal_admin_passkey(keys, factor)
    return {"passkeys": len(rows.credentials), "opt_ins": len(rows.opted_in),
            "declarations": len(rows.declarations), "templates": len(rows.templates),
            "api_keys": len(rows.api_keys), ADMIN_BINDINGS: len(bindings),
            "ages": len(rows.subjects), "subject_tokens": tokens,
            "enrolments": len(rows.subjects)}
