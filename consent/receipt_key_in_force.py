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
(:func:`in_force` returns what it read; a file read, about 17 µs, or a token lookup;
``benchmarks/bench_receipt_key_in_force.py``). A worker that signs nothing asks at each witness
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
from optinface.consent.receipt_keys import ReceiptKeys, RetiredKey

if TYPE_CHECKING:
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)


def put_in_force(runtime: Runtime, seed: bytes, retired: tuple[RetiredKey, ...]) -> None:
    """Sign with ``seed`` from now on, checking stored receipts against ``retired`` too; the
    register's rows, which name the receipt key (the declared material), are read again."""
    runtime.keys = replace(runtime.keys, signing=Ed25519PrivateKey.from_private_bytes(seed),
                           retired=retired)
    runtime.register_reads = runtime.register_reads.with_keys(runtime.keys)


def in_force(runtime: Runtime) -> ReceiptKeys:
    """Before a receipt is built and signed: on a shared ledger, load the receipt key in force
    if a rotation (by another process) changed the key store's retired record since this
    worker read it (see the module docstring). Returns the receipt keys now loaded, for the
    checks of the same act: the record is read once, not again by :attr:`consent.keys.KeyRing.
    receipt_keys`.

    Raises:
        KeyStoreUnusable: the record is damaged, or the key store holds no receipt key.
    """
    if runtime.db.shared:
        reload(runtime)
    return runtime.keys.loaded_receipt_keys


def reload(runtime: Runtime) -> None:
    """Load the receipt key in force and the retired record from the key store if the record
    differs from the one this process holds (:func:`in_force` on a shared ledger; a rotation,
    which must retire the key in force and keep every earlier retirement, on any).

    Raises:
        KeyStoreUnusable: the record is damaged, or the key store holds no receipt key.
    """
    retired = runtime.keys.stored_retired()
    if retired == runtime.keys.retired:
        return
    old = runtime.keys.public_key
    put_in_force(runtime, signing_seed(runtime.keys.store), retired)
    if runtime.keys.public_key != old:
        logger.warning("the receipt key was rotated by another process: signing with the key in"
                       " force from now on (the one loaded at start is retired)")
