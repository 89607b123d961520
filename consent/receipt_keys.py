"""Which receipt key checks a stored receipt: the one in force, or one it retired.

``optinface keys rotate-receipt-key`` (:mod:`consent.receipt_rotation`) replaces the Ed25519
receipt key: the old one's private half is destroyed in the key store and its public half kept
there, with its retirement time, as a *retired* key (:data:`RETIRED_KEYS_NAME`, a record of
public keys only). A receipt signed before still proves what it proves, so everything that
checks a stored receipt checks it against the key the receipt names (its signed
``publicKey``) among the key in force and the retired ones (:meth:`ReceiptKeys.signer_of`),
never against a key named outside them: anyone can sign with a key of their own.

A retired key counts only for a receipt that states it was signed no later than the key's
retirement (:data:`STATED_TIMES`): one dated after is checked against the key in force, and
fails. Whoever stole the old key can still sign a receipt dated before its retirement, which
no verifier tells from a genuine one.

The record lives in the key store, not the ledger: a database writer who could add a key of
their own to it would have every receipt they sign with it verify. A store without it (every
deployment before this version) has retired no key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from optinface.consent.errors import KeyStoreUnusable

RETIRED_KEYS_NAME = "signing-retired"
"""The key store's name for the record of retired receipt keys (public keys and times)."""

STATED_TIMES = ("destroyedAt", "withdrawnAt", "consentTimestampISO", "generated_at")
"""Where each kind of receipt states when it was signed: an erasure receipt, a withdrawal's
(of a consent or of one purpose), a consent or probe consent receipt, a register or record of
processing. A receipt stating several is taken as signed at the latest (one unreadable, at
none): a holder of a retired key cannot add an old date to a receipt of today."""


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """A receipt key no longer in force: its public half and when it stopped signing."""

    public_key: str
    retired_at: datetime
    reason: str


def stated_time(moment: object) -> datetime | None:
    """A time a receipt states (one without an offset is UTC, as the ledger keeps every
    time), or None when it cannot be read as one."""
    try:
        parsed = datetime.fromisoformat(str(moment))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def signed_at(receipt: Mapping[str, Any]) -> datetime | None:
    """When ``receipt`` says it was signed: the latest of the :data:`STATED_TIMES` it states,
    or None when it states none or one that is no time."""
    times = [stated_time(receipt[field]) for field in STATED_TIMES if field in receipt]
    if not times or None in times:
        return None
    return max(time for time in times if time is not None)


@dataclass(frozen=True, slots=True)
class ReceiptKeys:
    """The receipt key in force and every key it replaced: what a stored receipt is checked
    against (:func:`consent.receipts.verify_receipt`)."""

    current: str
    retired: tuple[RetiredKey, ...] = ()

    def signer_of(self, receipt: Mapping[str, Any]) -> str:
        """The key that checks ``receipt``: the retired key it names, when it states a signing
        time no later than that key's retirement; else the key in force (a receipt naming
        another key then fails, as a forged one should)."""
        named = receipt.get("publicKey")
        for key in self.retired:
            if key.public_key == named != self.current:
                signed = signed_at(receipt)
                if signed is not None and signed <= key.retired_at:
                    return key.public_key
        return self.current


def retired_from(raw: bytes | None) -> tuple[RetiredKey, ...]:
    """The retired keys the key store's record holds, oldest first (none without a record).

    Raises:
        KeyStoreUnusable: the record is not one this module wrote (damaged or overwritten).
    """
    if raw is None:
        return ()
    try:
        return tuple(RetiredKey(public_key=str(entry["public_key"]),
                                retired_at=datetime.fromisoformat(entry["retired_at"]),
                                reason=str(entry["reason"]))
                     for entry in json.loads(raw))
    except (ValueError, TypeError, KeyError) as error:
        raise KeyStoreUnusable(f"the {RETIRED_KEYS_NAME} record in the key store is damaged:"
                               " restore it from the key store's backup") from error


def with_retired(retired: tuple[RetiredKey, ...], key: RetiredKey) -> bytes:
    """The record holding ``retired`` and ``key``, once: a rotation run again after a crash
    between the record and the new key (the old one signed until then) keeps the later time."""
    kept = (*(k for k in retired if k.public_key != key.public_key), key)
    return json.dumps([{"public_key": k.public_key, "retired_at": k.retired_at.isoformat(),
                        "reason": k.reason} for k in kept]).encode()
