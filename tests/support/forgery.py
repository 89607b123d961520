"""What whoever writes the database, without the key store, can do to the audit log: append an
event at its tail in plain SQL, chained and hashed with the log's own code, as the service
would, so the chain and the witness's checkpoints find nothing wrong with it; or empty an access
event as retention does, whatever its age (the red team's ``prune_one.py``). And to the proof
of an erasure: its receipt re-signed with another key (red team 7's ``forge_tomb.py``)."""

from __future__ import annotations

import base64
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import JSON, Engine, bindparam, text
from sqlalchemy.orm import Session

from optinface.consent import audit_seals, log_retention
from optinface.consent.audit import event_hash
from optinface.consent.crypto import canonical_json
from optinface.consent.tables import AuditEvent

_INSERT = text(
    "INSERT INTO audit_events (seq, at, actor_key_id, actor_role, action, purpose, subjects,"
    " subject_seals, outcome, probe_sha256, details, prev_hash, hash, keyed_seal)"
    " VALUES (:seq, :at, :actor_key_id, :actor_role, :action, :purpose, :subjects,"
    " :subject_seals, :outcome, :probe_sha256, :details, :prev_hash, :hash, :keyed_seal)"
).bindparams(*(bindparam(name, type_=JSON) for name in ("subjects", "subject_seals", "details")))


def append_by_sql(engine: Engine, *, action: str = "consent_given",
                  subjects: tuple[str, ...] = (), details: dict[str, Any] | None = None,
                  keyed_seal: str | None = None) -> int:
    """Append an event naming ``subjects`` (each beside a fresh salted seal, as the service
    names them) at the log's tail, dated as the last event and linked to it; its sequence
    number. ``keyed_seal``: what the writer puts in that column (another event's, say)."""
    with engine.begin() as connection:
        last = connection.execute(text(
            "SELECT seq, at, hash FROM audit_events ORDER BY seq DESC LIMIT 1")).one()
        seals = {pseudonym: audit_seals.seal(pseudonym) for pseudonym in sorted(subjects)}
        event = SimpleNamespace(
            seq=last.seq + 1, at=last.at, actor_key_id=None, actor_role=None, action=action,
            purpose=None, subjects=list(seals), subject_seals=list(seals.values()),
            outcome="ok", probe_sha256=None, details=details or {}, prev_hash=last.hash)
        connection.execute(_INSERT, {**vars(event), "hash": event_hash(event),
                                     "keyed_seal": keyed_seal})
    return int(event.seq)


def keyed_seal_of(engine: Engine, seq: int) -> str:
    """The keyed seal event ``seq`` carries: what a writer may copy onto their own event."""
    with engine.connect() as connection:
        found = connection.execute(text("SELECT keyed_seal FROM audit_events WHERE seq = :seq"),
                                   {"seq": seq}).scalar_one()
    assert isinstance(found, str)
    return found


def empty_by_sql(engine: Engine, seq: int) -> None:
    """Empty access event ``seq`` as retention would, with the ledger alone (its own
    connection, the service running or not) and no age limit: ``prune_one.py``."""
    with Session(engine) as session:
        event = session.get(AuditEvent, seq)
        assert event is not None and event.action in log_retention.ACTIONS
        log_retention.empty(event)  # what retention does, with no age limit
        session.commit()


_RECEIPT = text(
    "UPDATE tombstones SET receipt = :receipt, receipt_signature = :signature"
    " WHERE subject_hash = :subject_hash").bindparams(bindparam("receipt", type_=JSON))


def resign_tombstone_receipt(engine: Engine, subject_hash: str, **changes: Any) -> str:
    """Red team 7's ``forge_tomb.py``: the tombstone's receipt with ``changes``, signed with a
    key of the writer's own (another deployment's), which the row then names as its
    ``publicKey``; that key (base64)."""
    other = Ed25519PrivateKey.generate()
    public_key = base64.b64encode(other.public_key().public_bytes_raw()).decode()
    with engine.begin() as connection:
        receipt = connection.execute(
            text("SELECT receipt FROM tombstones WHERE subject_hash = :subject_hash"),
            {"subject_hash": subject_hash}).scalar_one()
        receipt = {**(json.loads(receipt) if isinstance(receipt, str) else receipt),
                   **changes, "publicKey": public_key}
        signature = base64.b64encode(other.sign(canonical_json(receipt))).decode()
        connection.execute(_RECEIPT, {"receipt": receipt, "signature": signature,
                                      "subject_hash": subject_hash})
    return public_key


def damage_root_page(ledger: Path, table: str) -> None:
    """Overwrite the root page of ``table`` in the SQLite file ``ledger`` with noise, as damaged
    storage would (bad-input test 18, #5: a page the start does not read)."""
    with closing(sqlite3.connect(ledger)) as db:
        [(page,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,))
        size = db.execute("PRAGMA page_size").fetchone()[0]
    with ledger.open("r+b") as stream:
        stream.seek((page - 1) * size)
        stream.write(bytes(range(256)) * (size // 256))
