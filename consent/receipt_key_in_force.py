"""Each worker signs with the receipt key in force, never one a rotation retired meanwhile.

``optinface keys rotate-receipt-key`` (:mod:`consent.receipt_rotation`) runs with no server on
SQLite (the data directory's lock: one process), but nothing stops the workers sharing a
PostgreSQL ledger and key store. A worker that kept
signing with the key it loaded at start would sign receipts the retired key no longer checks
(each dated after its retirement), with a private half the key store no longer holds.

So on a shared ledger, every signature first reads the key store's retired record
(:func:`in_force`), inside the signing transaction: the rotation writes the key store holding
the ledger's write lock too, so a transaction that holds it sees the rotation whole or not at
all, and one before it signs a receipt dated before the retirement. A record other than the
one the worker loaded means a rotation: the worker loads the key in force and the record, and
logs it. Checks of stored receipts ask the store the same way (:attr:`consent.keys.KeyRing.
receipt_keys`), so a worker also takes what the new key signed. The cost is one read of one
small record from the key store per act or request, its signature and checks sharing it
(a file read, about 17 µs, or a token lookup;
``benchmarks/bench_receipt_key_in_force.py``).

:func:`in_force` returns the key ring it loaded, and the act signs, names the key and checks
with that one snapshot, never ``runtime.keys`` again: the worker's ring is replaced whole, at
any moment, by another request's :func:`in_force` or the witness round's, so an act that read
it twice could store a receipt naming the retired key beside the new key's signature, which
never checks again (review 23, finding 2). A worker that signs nothing asks at each witness
round (:meth:`consent.service.OptinFace.witness_audit`), so a retired private half leaves its
memory within ``audit_witness_interval_seconds`` of another worker's rotation. On SQLite
nothing is read: no other process can rotate while this one holds the data directory. A
register signed outside the ledger's lock may still, in the instant of a rotation, be signed by
the retired key and dated after its retirement: it then fails its check, never passes a false
one.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from optinface.consent.keys import signing_seed
from optinface.consent.receipt_keys import RetiredKey

if TYPE_CHECKING:
    from optinface.consent.keys import KeyRing
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)


def put_in_force(runtime: Runtime, seed: bytes, retired: tuple[RetiredKey, ...]) -> KeyRing:
    """Sign with ``seed`` from now on, checking stored receipts against ``retired`` too; the
    register's rows, which name the receipt key (the declared material), are read again.
    Returns the ring put in force."""
    keys = replace(runtime.keys, signing=Ed25519PrivateKey.from_private_bytes(seed),
                   retired=retired)
    runtime.keys = keys
    runtime.register_reads = runtime.register_reads.with_keys(keys)
    return keys


def in_force(runtime: Runtime) -> KeyRing:
    """Before a receipt is built and signed: on a shared ledger, load the receipt key in force
    if a rotation (by another process) changed the key store's retired record since this
    worker read it (see the module docstring). Returns the key ring now loaded: the act's one
    snapshot, which signs (:meth:`~consent.keys.KeyRing.sign`), names the key
    (:attr:`~consent.keys.KeyRing.public_key`) and checks (:attr:`~consent.keys.KeyRing.
    loaded_receipt_keys`) for the whole act, whatever replaces ``runtime.keys`` meanwhile; the
    record is read once, not again by :attr:`consent.keys.KeyRing.receipt_keys`.

    Raises:
        KeyStoreUnusable: the record is damaged, or the key store holds no receipt key.
    """
    return reload(runtime) if runtime.db.shared else runtime.keys


def reload(runtime: Runtime) -> KeyRing:
    """Load the receipt key in force and the retired record from the key store if the record
    differs from the one this process holds (:func:`in_force` on a shared ledger; a rotation,
    which must retire the key in force and keep every earlier retirement, on any). Returns the
    ring it compared, or the one it loaded.

    Raises:
        KeyStoreUnusable: the record is damaged, or the key store holds no receipt key.
    """
    held = runtime.keys
    retired = held.stored_retired()
    if retired == held.retired:
        return held
    loaded = put_in_force(runtime, signing_seed(held.store), retired)
    if loaded.public_key != held.public_key:
        logger.warning("the receipt key was rotated by another process: signing with the key in"
                       " force from now on (the one loaded at start is retired)")
    return loaded
