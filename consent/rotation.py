"""Key rotation: a new master key (re-wraps every subject key) and a new template protection
key (re-protects every template and rebuilds the index from the ledger).

Both are maintenance operations for a stopped server: a running server keeps the old keys in
memory and would go on wrapping and protecting with them. Each one stages the new key file
(``<name>.next``, 0600, fsynced) before the ledger transaction commits and renames it into place
after, so a crash leaves either the old key with the old ledger, or a staged key that
:func:`finish_interrupted_rotation` puts in place (it is the one the committed ledger needs).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import new_key, seal
from optinface.consent.db import Database
from optinface.consent.keys import KeyRing, template_binding
from optinface.consent.ledger import decrypt_template
from optinface.consent.lock import DataDirLock
from optinface.consent.roles import Actor, Permission, authorize
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import SubjectKey, Template
from optinface.engine.files import shred_path, write_private_atomic
from optinface.engine.index import HnswIndex
from optinface.engine.protection import TemplateProtector

logger = logging.getLogger(__name__)
STAGED_SUFFIX = ".next"


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What a rotation changed (counts and public fingerprints only, never key bytes)."""

    kind: str
    subject_keys_rewrapped: int = 0
    templates_reprotected: int = 0
    index_entries: int = 0
    old_fingerprint: str = ""
    new_fingerprint: str = ""


def _staged(path: Path) -> Path:
    return path.with_name(path.name + STAGED_SUFFIX)


def _install(staged: Path, target: Path) -> None:
    """Rename the staged key over the live one (atomic), then make the rename durable."""
    os.replace(staged, target)
    descriptor = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def rotate_master(service: OptinFace, *, actor: Actor) -> RotationReport:
    """Generate a new master key and re-wrap every subject data key under it, in one transaction.

    Raises:
        Forbidden: ``actor`` may not manage keys.
    """
    authorize(actor, Permission.MANAGE_KEYS)
    runtime = service.runtime
    settings = service.settings
    old = runtime.keys
    new = dataclasses.replace(old, master=new_key())
    staged = _staged(settings.master_key_path)
    write_private_atomic(staged, new.master)
    rewrapped = 0
    with runtime.db.transaction() as session:
        for row in session.scalars(select(SubjectKey)):
            data_key = old.unwrap(row.wrapped, subject_id=row.subject_id)
            row.wrapped = new.wrap(data_key, subject_id=row.subject_id)
            rewrapped += 1
        runtime.audit(session, Entry(action=AuditAction.MASTER_KEY_ROTATED, actor=actor,
                                     details={"subject_keys": rewrapped}))
    _install(staged, settings.master_key_path)
    runtime.keys = new
    runtime.db.checkpoint()  # the old wrappings must not linger in the WAL
    logger.info("master key rotated: %d subject keys re-wrapped", rewrapped)
    return RotationReport(kind="master", subject_keys_rewrapped=rewrapped)


def rekey_templates(service: OptinFace, *, actor: Actor) -> RotationReport:
    """A new protection key: every template re-protected and re-encrypted, the index rebuilt.

    Raises:
        Forbidden: ``actor`` may not manage keys.
    """
    authorize(actor, Permission.MANAGE_KEYS)
    runtime = service.runtime
    settings = service.settings
    old: TemplateProtector = service._protector
    new = TemplateProtector.generate(old.dim)
    staged = _staged(settings.rotation_key_path)
    new.save(staged)
    indexed = runtime.index.labels()
    index = HnswIndex.from_settings(settings, dim=old.dim)
    labels: list[int] = []
    vectors: list[np.ndarray] = []
    with runtime.db.transaction() as session:
        keys: dict[int, bytes] = {}
        templates = list(session.scalars(select(Template).order_by(Template.id)))
        for template in templates:
            if template.subject_id not in keys:
                wrapped = session.get(SubjectKey, template.subject_id)
                assert wrapped is not None, "a template without its subject key"
                keys[template.subject_id] = runtime.keys.unwrap(
                    wrapped.wrapped, subject_id=template.subject_id)
            key = keys[template.subject_id]
            vector = old.reprotect(decrypt_template(template, key=key)[None, :], new)[0]
            template.nonce, template.ciphertext = seal(
                key, np.asarray(vector, dtype=np.float32).tobytes(),
                associated=template_binding(template_id=template.id,
                                            subject_id=template.subject_id,
                                            model_id=template.model_id))
            if template.id in indexed:
                labels.append(template.id)
                vectors.append(vector)
        if labels:
            index.add(labels, np.stack(vectors))
        runtime.audit(session, Entry(
            action=AuditAction.TEMPLATES_REKEYED, actor=actor,
            details={"templates": len(templates), "index_entries": len(labels),
                     "old_fingerprint": old.fingerprint, "new_fingerprint": new.fingerprint}))
    _install(staged, settings.rotation_key_path)
    index.save()
    runtime.index = index
    service._protector = new
    runtime.db.checkpoint()
    logger.info("templates re-keyed: %d templates, %d index entries", len(templates), len(labels))
    return RotationReport(kind="protection", templates_reprotected=len(templates),
                          index_entries=len(labels), old_fingerprint=old.fingerprint,
                          new_fingerprint=new.fingerprint)


def finish_interrupted_rotation(settings: ConsentSettings) -> list[str]:
    """Put in place a staged key whose ledger transaction committed; drop one that did not.

    Run before opening the service (the CLI's rotation commands do); it holds the data
    directory's lock meanwhile, so never beside a running server. Returns what it did.
    """
    if not settings.data_dir.exists():
        return []  # nothing was ever rotated there
    with DataDirLock.acquire(settings.data_dir):
        return _finish_interrupted_rotation(settings)


def _finish_interrupted_rotation(settings: ConsentSettings) -> list[str]:
    done: list[str] = []
    staged_master = _staged(settings.master_key_path)
    if staged_master.exists():
        db = Database(settings.url)
        try:
            with db.transaction() as session:
                row = session.scalars(select(SubjectKey).limit(1)).first()
                committed = False
                if row is not None:
                    try:
                        ring = dataclasses.replace(_ring(settings),
                                                   master=staged_master.read_bytes())
                        ring.unwrap(row.wrapped, subject_id=row.subject_id)
                        committed = True
                    except ValueError:
                        committed = False
        finally:
            db.close()
        if committed:
            _install(staged_master, settings.master_key_path)
            done.append("master key: staged key installed")
        else:
            staged_master.unlink()
            done.append("master key: staged key discarded")
    staged_rotation = _staged(settings.rotation_key_path)
    if staged_rotation.exists():
        # The re-key audit event names the new fingerprint: committed iff it is the last one.
        from optinface.consent.tables import AuditEvent

        fingerprint = TemplateProtector.load_or_create(staged_rotation).fingerprint
        db = Database(settings.url)
        try:
            with db.transaction() as session:
                last = session.scalars(select(AuditEvent).where(
                    AuditEvent.action == str(AuditAction.TEMPLATES_REKEYED)
                ).order_by(AuditEvent.seq.desc()).limit(1)).first()
                committed = last is not None and last.details.get("new_fingerprint") == fingerprint
        finally:
            db.close()
        if committed:
            _install(staged_rotation, settings.rotation_key_path)
            shred_path(settings.index_path)  # reconcile rebuilds it from the ledger
            done.append("protection key: staged key installed, index to be rebuilt")
        else:
            staged_rotation.unlink()
            done.append("protection key: staged key discarded")
    return done


def _ring(settings: ConsentSettings) -> KeyRing:
    return KeyRing.load_or_create(master_path=settings.master_key_path,
                                  signing_path=settings.signing_key_path,
                                  hmac_path=settings.hmac_key_path,
                                  checkpoint_path=settings.checkpoint_key_path)
