"""The server's secrets, held by the key store (:mod:`consent.keystore`), never in the data.

- *epoch keys* wrap every subject's data key, bound to the subject's id and pseudonym
  (:meth:`KeyRing.wrap`). Destroying a subject's wrapped key makes their
  templates unreadable in the live database at once; a copy made before (a backup, a snapshot,
  the WAL) still holds the wrapped key, and becomes unreadable only when the epoch key that
  wrapped it is destroyed, at the next epoch rotation (:mod:`consent.epochs`, every
  ``OPTINFACE_KEY_EPOCH_HOURS``). Until then a copy plus the key store can decrypt it.
- ``signing``: Ed25519, the receipt key: signs consent, withdrawal and erasure receipts, the
  register and its record of processing. ``optinface keys rotate-receipt-key`` replaces it
  (:mod:`consent.receipt_rotation`): the old one's private half destroyed, its public half
  kept as a retired key that still checks what it signed (:mod:`consent.receipt_keys`).
- ``checkpoint``: Ed25519, signs the audit log's checkpoints (C2SP notes) and nothing else, so a
  receipt signature can never pass for a checkpoint nor the reverse (:mod:`consent.notes`); in
  the key store, so a copy of the data cannot sign one.
- ``rotation``: the template-protection rotation (:mod:`engine.protection`).
- ``index``: encrypts the saved index file (:mod:`engine.index_file`), bound to the rotation
  its vectors are under (:meth:`KeyRing.index_file_key`) and, through a fresh data key per
  save wrapped under a store key made for that file (:class:`IndexKeyWrap`), to that key: an
  erasure destroys every index file's store key once it commits
  (:func:`destroy_index_file_keys`), so a copy of any worker's index file from before it,
  a stopped worker's or a CLI run's file included, opens with no key from then on.
- ``hmac``: keys the tombstone hashes and the API-key hashes, so neither can be brute-forced
  from a copy of the database alone, and seals the rows that grant something
  (:mod:`consent.row_seals`) and every audit event (:mod:`consent.log_seals`), each in its own
  domain. A named secret, not an epoch key: no rotation destroys it, so the log it seals stays
  verifiable for as long as the key store is kept.

They are made once, for a new deployment. A key missing later is refused, not made again: a new
epoch key would open no subject key, a new rotation would make every search miss, a new signing
key made in its place would disown every receipt given (a rotation keeps the old public key
for that: :mod:`consent.receipt_keys`), a new HMAC key would turn every API key away. The index key
alone is made again: a new one costs only a rebuild of the index from the ledger.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from optinface.consent.crypto import KEY_BYTES, NONCE_BYTES
from optinface.consent.errors import KeyStoreUnusable, KeyUnavailable
from optinface.consent.keystore import KeyStore, load_or_create_secret, read_key
from optinface.consent.receipt_keys import (
    RETIRED_KEYS_NAME,
    ReceiptKeys,
    RetiredKey,
    retired_from,
)
from optinface.engine.errors import IndexCorrupt
from optinface.engine.protection import TemplateProtector

SIGNING_KEY_NAME = "signing"
HMAC_KEY_NAME = "hmac"
ROTATION_KEY_NAME = "rotation"
CHECKPOINT_KEY_NAME = "checkpoint"
INDEX_KEY_NAME = "index"
EPOCH_KEYS = "epoch"
"""How :func:`consent.key_check.keys_needed` names the epoch keys, beside the secrets."""
_INDEX_FILE_BINDING = b"index-file"
"""Associated data of an index file's wrapped data key."""
SUBJECT_KEY_FORM = 2
"""The first byte of a subject key wrapped by this version (:meth:`KeyRing.wrap`)."""
_FIRST_FORM_BYTES = NONCE_BYTES + KEY_BYTES + 16
"""The length of a subject key wrapped before it (nonce, key, GCM tag), bound to the id alone:
both key stores write this layout, so it is told from the current form, one byte longer, by its
length, and no wrap is ever taken for the other form."""
LEDGER_KEYS = frozenset({EPOCH_KEYS, SIGNING_KEY_NAME, HMAC_KEY_NAME, ROTATION_KEY_NAME})
"""The keys every ledger in use needs: refused when missing once it holds data. Not the index
key: it protects only the saved index, a cache of the ledger that is discarded and rebuilt when
it cannot be opened, so a deployment that lost it, or predates it, gets a new one. Not the
checkpoint key either, needed only once a checkpoint was signed or a witness pinned its
verifier (a deployment from before it has neither). A key a later version adds is listed here
only if nothing older can do without it, or every deployment upgraded from before it is refused
at start."""


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The key store, the epoch that wraps new subject keys, and the secrets loaded once."""

    store: KeyStore
    epoch: int
    signing: Ed25519PrivateKey
    hmac_key: bytes
    checkpoint: Ed25519PrivateKey
    index_key: bytes
    retired: tuple[RetiredKey, ...] = ()
    """The receipt keys replaced by a rotation, public halves only (:mod:`consent.receipt_keys`)."""
    shared: bool = False
    """Whether other processes may rotate the receipt key meanwhile (several workers on
    PostgreSQL): then :attr:`receipt_keys` reads the key store's record at each use."""

    @classmethod
    def open(cls, store: KeyStore, *, needed: Collection[str]) -> KeyRing:
        """The store's newest epoch wraps until the start reads the ledger, which may name an
        older one (:func:`consent.epochs.finish_interrupted_rotation`); a key the ledger does
        not need yet is made when missing (all of them on a new deployment's first run, epoch 1
        included).

        Args:
            needed: the keys the ledger's data need (:func:`consent.key_check.keys_needed`):
                never made again.

        Raises:
            KeyStoreUnusable: the store lacks one of the ``needed`` keys, or holds a damaged one.
        """
        _refuse_missing_keys(store, needed)
        epochs = store.epochs()
        return cls(
            store=store,
            epoch=epochs[-1] if epochs else store.new_epoch(),
            signing=Ed25519PrivateKey.from_private_bytes(
                load_or_create_secret(store, SIGNING_KEY_NAME)),
            hmac_key=load_or_create_secret(store, HMAC_KEY_NAME),
            checkpoint=Ed25519PrivateKey.from_private_bytes(
                load_or_create_secret(store, CHECKPOINT_KEY_NAME)),
            index_key=load_or_create_secret(store, INDEX_KEY_NAME),
            retired=retired_from(store.read_secret(RETIRED_KEYS_NAME)),
        )

    @property
    def public_key(self) -> str:
        """The Ed25519 public key, base64 of the 32 raw bytes: all a verifier needs."""
        return _public_key(self.signing)

    @property
    def receipt_keys(self) -> ReceiptKeys:
        """What a stored receipt is checked against: the key in force and the retired ones; on
        a :attr:`shared` ledger, as the key store holds them now (another worker's rotation
        included: one read of its retired record, and of the key in force when it changed;
        signing loads them too, :mod:`consent.receipt_key_in_force`). Each use is a read
        there: a request reads them once and passes them on."""
        if self.shared and (retired := self.stored_retired()) != self.retired:
            return ReceiptKeys(current=public_key_of(signing_seed(self.store)), retired=retired)
        return self.loaded_receipt_keys

    @property
    def loaded_receipt_keys(self) -> ReceiptKeys:
        """The receipt key and the retired ones of this ring, reading nothing: on a shared
        ledger, current only as of the :func:`consent.receipt_key_in_force.in_force` that
        returned the ring (an act checks with its ring's, as it signs with it)."""
        return ReceiptKeys(current=self.public_key, retired=self.retired)

    def stored_retired(self) -> tuple[RetiredKey, ...]:
        """The key store's record of retired receipt keys as it stands: one read of one small
        record, the one such read (:attr:`receipt_keys`, :mod:`consent.receipt_key_in_force`).

        Raises:
            KeyStoreUnusable: the record is damaged.
        """
        return retired_from(self.store.read_secret(RETIRED_KEYS_NAME))

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.signing.sign(message)).decode("ascii")

    def keyed_hash(self, value: str, *, domain: str) -> str:
        """HMAC-SHA256 of ``value`` under the HMAC key (:func:`keyed_hash`)."""
        return keyed_hash(self.hmac_key, value, domain=domain)

    def index_file_key(self, rotation: TemplateProtector) -> bytes:
        """The saved index's key: the index key bound to the rotation its vectors are under.

        An index saved under another rotation (a re-key that died after putting its key in
        place, before saving the index it rebuilt) then fails its MACs and is rebuilt from the
        ledger, instead of answering every search with misses.
        """
        return bytes.fromhex(keyed_hash(self.index_key, rotation.fingerprint,
                                        domain="index-file"))

    def wrap(self, data_key: bytes, *, subject_id: int, pseudonym: str) -> tuple[int, bytes]:
        """``data_key`` wrapped under the current epoch: (epoch, wrapped bytes), bound to the
        subject's id and pseudonym (:func:`_key_binding`) and marked :data:`SUBJECT_KEY_FORM`."""
        return self.epoch, bytes([SUBJECT_KEY_FORM]) + self.store.wrap(
            self.epoch, data_key, associated=_key_binding(subject_id, pseudonym))

    def unwrap(self, blob: bytes, *, subject_id: int, pseudonym: str, epoch: int) -> bytes:
        """The data key ``blob`` wraps for the subject ``subject_id`` whose pseudonym is
        ``pseudonym``.

        A wrap of the first form (bound to the id alone, made before this version) still opens
        under the epoch it was made in; no wrap of that form is made any more, and the next
        rotation re-wraps every key in the current form and destroys that epoch, so from then on
        none opens (:func:`consent.epochs.rotate_epoch`).

        Raises:
            KeyUnavailable: ``epoch`` is destroyed.
            ValueError: ``blob`` is forged, of an unknown form, or bound to another subject
                (a key moved by SQL, or put back under an id given again after a restore).
        """
        if len(blob) == _FIRST_FORM_BYTES:
            return self.store.unwrap(epoch, blob, associated=_first_form_binding(subject_id))
        if not blob or blob[0] != SUBJECT_KEY_FORM:
            raise ValueError(f"subject {subject_id}'s wrapped key is of no known form")
        return self.store.unwrap(epoch, blob[1:], associated=_key_binding(subject_id, pseudonym))


@dataclass(frozen=True, slots=True)
class IndexKeyWrap:
    """The key store keeping each saved index file's data key (:class:`engine.index_file.KeyWrap`)
    under a store key made for that file alone (inside the token for PKCS#11), so that
    destroying it (:func:`destroy_index_file_keys`, at every erasure) shreds the file and each
    copy of it at once, without waiting for the epoch rotation that shreds the ledger's.
    """

    store: KeyStore

    def create(self) -> int:
        return self.store.new_index_file_key()

    def wrap(self, key_id: int, key: bytes) -> bytes:
        return self.store.wrap_index_file(key_id, key, associated=_INDEX_FILE_BINDING)

    def unwrap(self, key_id: int, wrapped: bytes) -> bytes:
        """Raises :class:`IndexCorrupt` (the start then rebuilds the index from the ledger)."""
        try:
            return self.store.unwrap_index_file(key_id, wrapped, associated=_INDEX_FILE_BINDING)
        except KeyUnavailable as error:
            raise IndexCorrupt(f"index file's key {key_id:016x} was destroyed (by an erasure"
                               " since it was saved)", details={"key": f"{key_id:016x}"},
                               ) from error
        except ValueError as error:
            raise IndexCorrupt("index file's wrapped key failed authentication") from error

    def holds(self, key_id: int) -> bool:
        return key_id in self.store.index_file_keys()

    def destroy(self, key_id: int) -> None:
        self.store.destroy_index_file_key(key_id)


def destroy_index_file_keys(store: KeyStore) -> int:
    """Destroy the store key of every index file, this worker's, other workers' (running or
    not) and every CLI run's: no copy of an index file saved until now opens again, whoever
    holds it, the key store's holder included. How many were destroyed.

    What a destruction of templates calls (:func:`consent.erasure.destroy_templates`): one key
    per file, not one per template, so it costs a listing and a few deletions. A running
    worker finds that its file no longer opens and saves its index again, under a new key; one
    that stopped, or dies first, rebuilds its index from the ledger at its next start.
    """
    found = store.index_file_keys()
    for key_id in found:
        store.destroy_index_file_key(key_id)
    return len(found)


def keyed_hash(key: bytes, value: str, *, domain: str) -> str:
    """HMAC-SHA256 of ``value``; ``domain`` separates uses (tombstones, API keys, key check)."""
    return hmac.new(key, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()


def _refuse_missing_keys(store: KeyStore, needed: Collection[str]) -> None:
    """Refuse a store that lacks any of the keys the ledger needs, naming each one missing.

    Raises:
        KeyStoreUnusable: an epoch key or a named secret is missing.
    """
    missing = [name for name in sorted(needed)
               if not (store.epochs() if name == EPOCH_KEYS else store.read_secret(name))]
    if missing:
        raise KeyStoreUnusable(
            f"the key store lacks the {', '.join(missing)} key{'s' if len(missing) > 1 else ''}"
            " that this ledger's data needs: no key is made for a deployment in use (restore"
            " the key store, or point OPTINFACE_KEY_DIR or the PKCS#11 token at this"
            " deployment's)", details={"missing": missing})


def signing_seed(store: KeyStore) -> bytes:
    """The receipt key in force as the key store holds it now (a rotation by another process
    included).

    Raises:
        KeyStoreUnusable: the store holds none, or something else under its name.
    """
    seed = read_key(store, SIGNING_KEY_NAME)
    if seed is None:
        raise KeyStoreUnusable("the key store holds no receipt key: restore it from its backup")
    return seed


def public_key_of(seed: bytes) -> str:
    """The published form of the signing key whose seed is ``seed``."""
    return _public_key(Ed25519PrivateKey.from_private_bytes(seed))


def _public_key(signing: Ed25519PrivateKey) -> str:
    raw = signing.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")


def load_protector(store: KeyStore, *, name: str = ROTATION_KEY_NAME) -> TemplateProtector:
    """The template-protection rotation held by the store, created on first run (a deployment
    in use has one: :meth:`KeyRing.open` refuses a store without it)."""
    raw = store.read_secret(name)
    if raw is not None:
        return protector_of(raw, name=name)
    protector = TemplateProtector.generate()
    store.put_secret(name, protector.to_bytes())
    return protector


def protector_of(raw: bytes, *, name: str) -> TemplateProtector:
    """The rotation the store holds under ``name``.

    Raises:
        KeyStoreUnusable: it is not a rotation matrix (a truncated or overwritten key).
    """
    try:
        return TemplateProtector.from_bytes(raw)
    except ValueError as error:
        raise KeyStoreUnusable(f"the {name} key in the key store is damaged (not a rotation"
                               " matrix): restore it from the key store's backup") from error


def _key_binding(subject_id: int, pseudonym: str) -> bytes:
    """Associated data of a subject's wrapped key: their id and their pseudonym, random and
    never given to anyone else, so a wrapped key opens for no other person, even one given
    the same id again (a restored copy resets the id counter: red team 7, #3)."""
    return f"subject-key:{SUBJECT_KEY_FORM}:{subject_id}:{pseudonym}".encode()


def _first_form_binding(subject_id: int) -> bytes:
    """What wraps made before :data:`SUBJECT_KEY_FORM` were bound to: the id alone."""
    return f"subject-key:{subject_id}".encode()


def template_binding(*, template_id: int, subject_id: int, model_id: str) -> bytes:
    """Associated data of a template ciphertext: moving it to another row breaks decryption."""
    return f"template:{template_id}:{subject_id}:{model_id}".encode()
