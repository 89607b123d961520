"""Template re-keying: a new protection key re-protects every template and rebuilds the index.

(The subject-key wrapping rotates by epoch, see :mod:`consent.epochs`.)

A maintenance operation for a stopped server: a running server keeps the old key in memory and
would go on protecting with it. The new key is staged in the key store (``rotation.next``)
before the ledger transaction commits and put in place after (the old one destroyed, not only
replaced), so a crash leaves either the old key with the old ledger, or a staged key that the
next start puts in place (:func:`finish_interrupted_rekey`: the transaction recorded its check).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import KeyStoreUnusable
from optinface.consent.key_check import kept_checks, record_key_checks, rotation_check
from optinface.consent.keys import (
    ROTATION_KEY_NAME,
    IndexKeyWrap,
    protector_of,
)
from optinface.consent.keystore import KeyStore
from optinface.consent.ledger import decrypt_template, encrypt_template
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.tables import Subject, SubjectKey, Template
from optinface.engine.files import shred_path
from optinface.engine.index import HnswIndex
from optinface.engine.protection import TemplateProtector

logger = logging.getLogger(__name__)
STAGED_SUFFIX = ".next"


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What a rotation changed (counts and public fingerprints only, never key bytes)."""

    kind: str
    templates_reprotected: int = 0
    index_entries: int = 0
    old_fingerprint: str = ""
    new_fingerprint: str = ""


def _staged(name: str) -> str:
    return name + STAGED_SUFFIX


def rekey_templates(runtime: Runtime, *, actor: Actor) -> RotationReport:
    """A new protection key: every template re-protected and re-encrypted, the index rebuilt.

    ``actor`` is authorised by the caller (:meth:`consent.service.OptinFace.rekey_templates`).
    """
    settings = runtime.settings
    old = runtime.protector
    new = TemplateProtector.generate(old.dim)
    store = runtime.keys.store
    store.put_secret(_staged(ROTATION_KEY_NAME), new.to_bytes())
    indexed = runtime.index.labels()
    index = HnswIndex.from_settings(settings, dim=old.dim, key=runtime.keys.index_file_key(new),
                                    key_wrap=IndexKeyWrap(store))
    labels: list[int] = []
    vectors: list[np.ndarray] = []
    with runtime.db.transaction() as session:
        keys: dict[int, bytes] = {}
        templates = list(session.scalars(select(Template).order_by(Template.id)))
        for template in templates:
            if template.subject_id not in keys:
                wrapped = session.get(SubjectKey, template.subject_id)
                subject = session.get(Subject, template.subject_id)
                assert wrapped is not None and subject is not None, \
                    "a template without its subject or its key"
                keys[template.subject_id] = runtime.keys.unwrap(
                    wrapped.wrapped, subject_id=subject.id, pseudonym=subject.pseudonym,
                    epoch=wrapped.epoch)
            key = keys[template.subject_id]
            vector = old.reprotect(decrypt_template(template, key=key)[None, :], new)[0]
            encrypt_template(template, vector, key=key)
            if template.id in indexed:
                labels.append(template.id)
                vectors.append(vector)
        if labels:
            index.add(labels, np.stack(vectors))
        record_key_checks(session, {ROTATION_KEY_NAME: rotation_check(new)})
        runtime.audit(session, Entry(
            action=AuditAction.TEMPLATES_REKEYED, actor=actor,
            details={"templates": len(templates), "index_entries": len(labels),
                     "old_fingerprint": old.fingerprint, "new_fingerprint": new.fingerprint}))
    _install(store)
    index.save()
    runtime.index = index
    runtime.protector = new
    runtime.db.checkpoint()
    logger.info("templates re-keyed: %d templates, %d index entries", len(templates), len(labels))
    return RotationReport(kind="protection", templates_reprotected=len(templates),
                          index_entries=len(labels), old_fingerprint=old.fingerprint,
                          new_fingerprint=new.fingerprint)


def _install(store: KeyStore) -> None:
    """The staged key becomes the key; the one it replaces is destroyed, not kept aside."""
    staged = store.read_secret(_staged(ROTATION_KEY_NAME))
    if staged is None:
        raise KeyStoreUnusable("the re-key's staged protection key is gone from the key store"
                               " (removed by hand?): restore it from the key store's backup")
    store.put_secret(ROTATION_KEY_NAME, staged)
    store.destroy_secret(_staged(ROTATION_KEY_NAME))


def finish_interrupted_rekey(store: KeyStore, session: Session, *,
                             index_path: Path) -> str | None:
    """Put in place a staged key whose ledger transaction committed.

    Run by every start, before the rotation is loaded: the ledger's rotation check
    (:mod:`consent.key_check`) names the rotation its templates are under, so a staged key
    with that fingerprint is the one it needs, and the saved index, built under the old one,
    is shredded (the start rebuilds it from the ledger). Any other staged key is left alone: a
    re-key that did not commit, or one running now on another ledger that shares this key
    store (a copy opened to inspect it), whose key this start must not destroy; the next
    re-key replaces it. What it did, or None.
    """
    staged = store.read_secret(_staged(ROTATION_KEY_NAME))
    if staged is None:
        return None
    fingerprint = rotation_check(protector_of(staged, name=_staged(ROTATION_KEY_NAME)))
    if kept_checks(session).get(ROTATION_KEY_NAME) == fingerprint:
        _install(store)
        shred_path(index_path)
        return "protection key: a re-key's staged key installed, the index rebuilt"
    return ("protection key: a staged key this ledger did not commit left in the key store (a"
            " re-key that died, or one in progress on another ledger); the next re-key"
            " replaces it")
