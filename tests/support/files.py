"""What an erasure check reads: the files of a data directory, as they are and as the key
holder would read them, and a template's stored bytes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from optinface.consent.crypto import open_sealed
from optinface.consent.keys import IndexKeyWrap, KeyRing, template_binding
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine import index_file
from optinface.engine.index import HnswIndex


def data_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def file_bytes(*folders: Path) -> dict[str, bytes]:
    """Every file under ``folders`` and its bytes: equal before and after, nothing changed."""
    return {str(p): p.read_bytes() for folder in folders if folder.exists()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def occurrences(folder: Path, needle: bytes) -> list[str]:
    """Files under ``folder`` whose raw bytes contain ``needle``."""
    return [str(path) for path in data_files(folder) if needle in path.read_bytes()]


def readable_occurrences(service: OptinFace, needle: bytes) -> list[str]:
    """Like :func:`occurrences`, with the index file read decrypted, as the key holder would:
    encryption at rest must not be what makes an erasure check pass. Once the service is at
    rest (:meth:`OptinFace.settle`): the save an erasure leaves running in the background (a
    file whose key it destroyed opens no more) and, on PostgreSQL, the change feed applied and
    saved by the service's own follower."""
    service.settle()
    return readable_occurrences_now(service, needle)


def readable_occurrences_now(service: OptinFace, needle: bytes) -> list[str]:
    """:func:`readable_occurrences` without waiting first: for a test that shows the wait it
    did itself was enough."""
    found = occurrences(service.settings.data_dir, needle)
    path = service.settings.index_path
    if path.exists():
        blocks: list[bytes] = []
        with path.open("rb") as stream:
            index_file.decrypt_to(stream, 512, index_file_keys(service), sink=blocks.append)
        if needle in b"".join(blocks):
            found.append(f"{path} (decrypted)")
    return found


def index_file_keys(service: OptinFace) -> index_file.FileKeys:
    """The keys the service opens its index file with: today's key store, as an attacker with a
    copy of the data and the key store would use them."""
    runtime = service.runtime
    return index_file.FileKeys(runtime.keys.index_file_key(runtime.protector),
                               IndexKeyWrap(runtime.keys.store))


def open_index_copy(service: OptinFace, path: Path) -> HnswIndex:
    """The index file at ``path`` (a copy of the service's) opened with today's keys, as
    someone holding the copy and the key store would. Raises :class:`IndexCorrupt` when no
    key opens it."""
    keys = index_file_keys(service)
    index = HnswIndex(dim=512, key=keys.key, key_wrap=keys.wrap)
    index.load(path)
    return index


def protected_probe(service: OptinFace, jpeg: bytes) -> np.ndarray:
    """A new photo's template as the index holds templates (embedded, then protected)."""
    embedding = service.pipeline.embed_single(jpeg)
    return np.asarray(service.runtime.protector.protect(embedding.vector[None, :])[0])


def template_bytes(service: OptinFace, template_id: int) -> tuple[bytes, bytes]:
    """The stored ciphertext and the protected float32 vector of one template (test-only peek)."""
    from optinface.consent.ledger import decrypt_template
    from optinface.consent.tables import Subject, SubjectKey, Template

    runtime = service.runtime
    with runtime.db.transaction() as session:
        row = session.get(Template, template_id)
        assert row is not None
        wrapped = session.get(SubjectKey, row.subject_id)
        subject = session.get(Subject, row.subject_id)
        assert wrapped is not None and subject is not None
        key = runtime.keys.unwrap(wrapped.wrapped, subject_id=row.subject_id,
                                  pseudonym=subject.pseudonym, epoch=wrapped.epoch)
        return row.ciphertext, decrypt_template(row, key=key).tobytes()


def left_of(service: OptinFace, *, subject_id: int, template_id: int,
            needles: Iterable[bytes]) -> list[str]:
    """What ``service`` still holds of an erased subject's template: its row, the subject's
    key, its index entry, and every file holding one of ``needles`` (the index file read
    decrypted). Empty once the erasure finished there."""
    from optinface.consent.tables import SubjectKey, Template

    service.settle()  # once, before every look: the index, its file and the follower at rest
    with service.runtime.db.transaction() as session:
        left = [name for name, row in (("template row", session.get(Template, template_id)),
                                       ("subject key", session.get(SubjectKey, subject_id)))
                if row is not None]
    if template_id in service.runtime.index.labels():
        left.append("index entry")
    return left + [path for needle in needles
                   for path in readable_occurrences_now(service, needle)]


def copy_database(settings: ConsentSettings, destination: Path) -> Path:
    """A consistent copy of the live database, as a backup tool would take it."""
    copy = destination / "copy.db"
    with sqlite3.connect(settings.data_dir / "optinface.db") as live, \
            sqlite3.connect(copy) as target:
        live.backup(target)
    return copy


def decrypt_from_copy(keys: KeyRing, copy: Path, template_id: int) -> np.ndarray:
    """What an attacker holding the copy and today's key store (``keys``) gets for
    ``template_id``."""
    with sqlite3.connect(copy) as db:
        subject_id, model_id, nonce, ciphertext = db.execute(
            "SELECT subject_id, model_id, nonce, ciphertext FROM templates WHERE id = ?",
            (template_id,)).fetchone()
        wrapped, epoch, pseudonym = db.execute(
            "SELECT wrapped, epoch, pseudonym FROM subject_keys JOIN subjects"
            " ON subjects.id = subject_id WHERE subject_id = ?", (subject_id,)).fetchone()
    key = keys.unwrap(wrapped, subject_id=subject_id, pseudonym=pseudonym, epoch=epoch)
    plain = open_sealed(key, nonce, ciphertext, associated=template_binding(
        template_id=template_id, subject_id=subject_id, model_id=model_id))
    return np.frombuffer(plain, dtype=np.float32)
