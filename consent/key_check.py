"""Whether the key store belongs to this ledger: keys are made for a new one only.

A key store that is not there (an unmounted disk, a typo in ``OPTINFACE_KEY_DIR``, a blank
token) looks like a first start. Making keys then would not fail: it would silently open nothing
the ledger holds (every search a miss, every receipt disowned, every API key refused) and lose
what was wrapped under the new keys once the right store is back. So the ledger decides:

- it is new while its audit log has no event. Every use of a key is audited in the transaction
  that makes it (a subject's wrapped key, a signed receipt, an API key's hash, a template, a
  signed checkpoint), and keys are made before the first transaction, so a crash between the
  two leaves an empty log: the next start makes only the keys still missing;
- once it has one, a key its data need is never made again but refused when missing
  (:func:`keys_needed`, :meth:`consent.keys.KeyRing.open`), and the keys found must open what
  the ledger holds (:func:`refuse_foreign_keys`). What the data need is read from the ledger
  itself, so a deployment from before a key existed (the checkpoint key) still starts.

Two secrets open nothing the ledger holds: the HMAC key hashes secrets the ledger does not keep
(API keys, erased pseudonyms), and another rotation only makes every search miss. The ledger
keeps a check value of each instead (:class:`consent.tables.KeyCheck`, :func:`check_values`),
recorded with a new ledger's keys and with a re-key's new rotation (in its transaction, so the
row names the rotation the templates are under: :func:`consent.rotation.finish_interrupted_rekey`
reads it). Migration 0025 gives an older ledger the rotation of its last re-key; what it still
lacks is recorded from the keys of its next start.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from optinface.consent import witness
from optinface.consent.db import Database, start_read_refusal
from optinface.consent.epochs import ledger_epoch
from optinface.consent.errors import KeyStoreUnusable
from optinface.consent.identifiers import MAX_INTEGER_COLUMN
from optinface.consent.keys import (
    CHECKPOINT_KEY_NAME,
    HMAC_KEY_NAME,
    LEDGER_KEYS,
    ROTATION_KEY_NAME,
    KeyRing,
    keyed_hash,
    protector_of,
)
from optinface.consent.keystore import KeyStore
from optinface.consent.notes import NoteError, Signer, open_checkpoint
from optinface.consent.receipts import verify_receipt
from optinface.consent.tables import (
    AuditCheckpoint,
    AuditEvent,
    Consent,
    KeyCheck,
    Subject,
    SubjectKey,
)
from optinface.engine.protection import TemplateProtector

KEY_CHECK_DOMAIN = "key-check"
"""The HMAC key's check value is its keyed hash of nothing in this domain: it tells nothing of
the key, and no other use of the key hashes in it."""


def keys_needed(db: Database, *, witness_dir: Path, signed: bool) -> frozenset[str]:
    """The keys the ledger's data need, never made again; read before migrating.

    None while the ledger records no event (or has no tables yet). Once it holds data: the
    epoch keys and the signing, HMAC and rotation secrets (:data:`consent.keys.LEDGER_KEYS`),
    and the checkpoint key once a checkpoint was ``signed`` as a note (migration 0010 on:
    :func:`newest_signed_checkpoint`, which the caller reads once) or the witness folder pins
    its verifier.

    Raises:
        DataDirUnusable: the database cannot be read (a file that is not a database).
        DataDirInUse: another process holds it locked past the wait.
        WitnessUnusable: the witness folder's pinned key cannot be read.
    """
    try:
        with db.engine.connect() as connection:
            tables = inspect(connection)
            if not tables.has_table(AuditEvent.__tablename__) or connection.execute(
                    select(AuditEvent.seq).limit(1)).first() is None:
                return frozenset()
    except DBAPIError as error:
        raise start_read_refusal(error) from error
    if signed or witness.pinned_key(witness_dir) is not None:
        return LEDGER_KEYS | {CHECKPOINT_KEY_NAME}
    return LEDGER_KEYS


def newest_signed_checkpoint(db: Database) -> witness.Signed | None:
    """The ledger's newest checkpoint signed as a note (migration 0010 on), read before
    migrating and before the start writes anything in the witness folder; None when it signed
    none (a new ledger, or one from before notes).

    Raises:
        DataDirUnusable: the database cannot be read.
        DataDirInUse: another process holds it locked past the wait.
    """
    try:
        with db.engine.connect() as connection:
            return _newest_signed(connection)
    except DBAPIError as error:
        raise start_read_refusal(error) from error


def _newest_signed(connection: Connection) -> witness.Signed | None:
    tables = inspect(connection)
    if not tables.has_table(AuditCheckpoint.__tablename__) or "note" not in {
            column["name"] for column in tables.get_columns(AuditCheckpoint.__tablename__)}:
        return None
    return newest_signed(connection)


def newest_signed(reader: Connection | Session, *,
                  through: int | None = None) -> witness.Signed | None:
    """The newest checkpoint signed as a note, of those whose tree ends at or before event
    ``through`` where given (what an export of the log up to ``through`` carries); None when
    none is. On a migrated ledger: :func:`newest_signed_checkpoint` checks the table first."""
    query = select(AuditCheckpoint.seq, AuditCheckpoint.note).where(
        AuditCheckpoint.note.is_not(None))
    if through is not None:
        query = query.where(AuditCheckpoint.seq <= through)
    row = reader.execute(query.order_by(AuditCheckpoint.seq.desc()).limit(1)).first()
    return None if row is None else witness.Signed(size=row.seq, note=row.note)


def rotation_check(protector: TemplateProtector) -> str:
    """The rotation's check value: its public fingerprint, which audit events already name."""
    return protector.fingerprint


def check_values(hmac_key: bytes | None, rotation: TemplateProtector | None) -> dict[str, str]:
    """The check value of each of these secrets, of those given."""
    values = {}
    if hmac_key is not None:
        values[HMAC_KEY_NAME] = keyed_hash(hmac_key, "", domain=KEY_CHECK_DOMAIN)
    if rotation is not None:
        values[ROTATION_KEY_NAME] = rotation_check(rotation)
    return values


def store_check_values(store: KeyStore) -> dict[str, str]:
    """:func:`check_values` of the secrets ``store`` holds (none is made here).

    Raises:
        KeyStoreUnusable: the rotation key is damaged.
    """
    rotation = store.read_secret(ROTATION_KEY_NAME)
    return check_values(store.read_secret(HMAC_KEY_NAME), None if rotation is None
                        else protector_of(rotation, name=ROTATION_KEY_NAME))


def kept_checks(session: Session) -> dict[str, str]:
    """The check values the ledger keeps, by key name."""
    return {row.name: row.value for row in session.scalars(select(KeyCheck))}


def differing(kept: Mapping[str, str], held: Mapping[str, str]) -> list[str]:
    """The keys whose check value the ledger kept and the key store's differs from."""
    return sorted(name for name, value in held.items() if kept.get(name, value) != value)


def record_key_checks(session: Session, values: Mapping[str, str]) -> None:
    """Keep ``values`` as the check values of the keys the ledger's data are made with."""
    for name, value in values.items():
        session.merge(KeyCheck(name=name, value=value))


def refuse_foreign_keys(session: Session, keys: KeyRing, held: list[int],
                        checks: Mapping[str, str], *, new_ledger: bool) -> None:
    """Refuse keys that do not open what the ledger holds: one subject key per epoch key, one
    consent receipt, the newest signed checkpoint; and secrets whose ``checks`` (their
    :func:`check_values`) are not those the ledger kept. A few rows, whatever its size.
    ``held``: the store's epochs.

    ``new_ledger``: nothing needs the keys yet (:func:`keys_needed` is empty), so ``checks``
    are recorded whatever the ledger kept (a first start that crashed before any event may have
    recorded those of keys since lost). So are those the ledger lacks (one from before 0025).

    Raises:
        KeyStoreUnusable: an epoch, the signing, the checkpoint, the HMAC or the rotation key
            is another deployment's (or damaged).
    """
    for epoch in held:
        if _opens_none(session, keys, epoch):
            raise _foreign(f"epoch {epoch}", f"does not open the subject keys this ledger wrapped"
                           f" under epoch {epoch}")
    consent = session.scalars(select(Consent).where(
        Consent.receipt.is_not(None), Consent.receipt_signature.is_not(None)).limit(1)).first()
    if consent is not None and consent.receipt is not None and consent.receipt_signature \
            and not verify_receipt(consent.receipt, consent.receipt_signature,
                                   keys.receipt_keys):
        raise _foreign("signing", "did not sign the consent receipts this ledger holds")
    note = session.scalars(select(AuditCheckpoint.note).where(AuditCheckpoint.note.is_not(None))
                           .order_by(AuditCheckpoint.id.desc()).limit(1)).first()
    if note is not None:
        try:
            open_checkpoint(note, Signer.for_log(keys.checkpoint).verifier)
        except NoteError as error:
            raise _foreign("checkpoint", "did not sign this ledger's audit checkpoints") from error
    _refuse_foreign_secrets(session, checks, new_ledger=new_ledger)


SAMPLED_KEYS = 8
"""Subject keys of an epoch tried against its epoch key at start, until one opens."""


def _opens_none(session: Session, keys: KeyRing, epoch: int) -> bool:
    """Whether the epoch key opens none of the first :data:`SAMPLED_KEYS` subject keys wrapped
    under ``epoch`` (False where there are none). Not only the first: one key moved by SQL to
    another subject (bound to its owner, it opens for no one else) leaves its templates out
    at the reconciliation, and refuses no start; a foreign epoch key opens none of them."""
    rows = session.execute(
        select(SubjectKey.subject_id, SubjectKey.wrapped, Subject.pseudonym)
        .join(Subject, Subject.id == SubjectKey.subject_id).where(SubjectKey.epoch == epoch)
        .order_by(SubjectKey.subject_id).limit(SAMPLED_KEYS)).all()
    for row in rows:
        try:
            keys.unwrap(row.wrapped, subject_id=row.subject_id, pseudonym=row.pseudonym,
                        epoch=epoch)
        except ValueError:
            continue
        return False
    return bool(rows)


def refuse_a_store_behind(session: Session, held: list[int], *, witnessed: int) -> None:
    """Refuse a store that lacks the ledger's epoch, before anything at start uses or changes it.

    Started on it, the subject keys wrapped under that epoch could not be read, and the start's
    reconciliation would drop them all: an old copy of the store mounted by mistake, or the
    epoch's key lost. One case is legitimate: a ledger restored from before a rotation that
    destroyed its epoch (its log behind its witness, the store holding a newer epoch), whose
    subject keys are lost by design (:mod:`consent.epochs`). A ledger with no event has none to
    lose. An epoch number the ledger cannot record (beyond a 32-bit integer) is no epoch it
    made, and the next rotation could not record the one after it.

    Args:
        witnessed: the witness folder's largest checkpoint size, read before the ledger.

    Raises:
        KeyStoreUnusable: as above, naming the epoch.
    """
    if beyond := [epoch for epoch in held if epoch >= MAX_INTEGER_COLUMN]:
        raise KeyStoreUnusable(
            f"the key store holds epoch key {beyond[0]}, a number no rotation makes: a stray"
            " file; remove it", details={"key": f"epoch {beyond[0]}"})
    newest = ledger_epoch(session)
    events = session.scalar(select(func.max(AuditEvent.seq))) or 0
    if newest is None or newest in held or not events:
        return
    if events < witnessed and held and held[-1] > newest:
        return  # a restored copy: its epoch was destroyed by a later rotation
    raise KeyStoreUnusable(
        f"the key store lacks epoch key {newest}, which this ledger wraps under: an old copy of"
        " the key store, or the key lost (point OPTINFACE_KEY_DIR or the PKCS#11 token at this"
        " deployment's current one)", details={"key": f"epoch {newest}"})


def _refuse_foreign_secrets(session: Session, checks: Mapping[str, str], *,
                            new_ledger: bool) -> None:
    kept = kept_checks(session)
    if not new_ledger and (foreign := differing(kept, checks)):
        raise _foreign(foreign[0], "is not the one this ledger's data were made with")
    record_key_checks(session, {name: value for name, value in checks.items()
                                if new_ledger or name not in kept})


def _foreign(key: str, problem: str) -> KeyStoreUnusable:
    return KeyStoreUnusable(
        f"the key store's {key} key {problem}: another"
        " deployment's key store, or a damaged key (point OPTINFACE_KEY_DIR or the PKCS#11"
        " token at this deployment's)", details={"key": key})
