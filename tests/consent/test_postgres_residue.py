"""What PostgreSQL keeps after an erasure, and why it is undecryptable after the next epoch.

MVCC leaves a deleted row's old version in the table files until overwritten (vacuum frees the
space without zeroing it), in the WAL, on streaming replicas and in every backup taken before. The
erased subject's wrapped data key travels with them; it is wrapped under an epoch key that lives in
the key store, outside the database, and that the next epoch rotation destroys (consent.epochs).
Here the copy is a real ``pg_dump``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest

from optinface.consent.crypto import open_sealed
from optinface.consent.errors import KeyUnavailable
from optinface.consent.keys import template_binding
from optinface.consent.residue import POSTGRESQL_MEASURE, SQLITE_MEASURE
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, make_world
from tests.support.files import template_bytes
from tests.support.postgres import PostgresServer


def decrypt_from_dump(service: OptinFace, restored_url: str, template_id: int) -> bytes:
    """What someone holding the old dump and today's key store gets for ``template_id``."""
    with psycopg.connect(restored_url.replace("postgresql+psycopg://", "postgresql://")) as db:
        row = db.execute("SELECT subject_id, model_id, nonce, ciphertext FROM templates "
                         "WHERE id = %s", (template_id,)).fetchone()
        assert row is not None
        subject_id, model_id, nonce, ciphertext = row
        wrapped, epoch, pseudonym = db.execute(
            "SELECT wrapped, epoch, pseudonym FROM subject_keys JOIN subjects"
            " ON subjects.id = subject_id WHERE subject_id = %s",
            (subject_id,)).fetchone() or (b"", 0, "")
    key = service.runtime.keys.unwrap(bytes(wrapped), subject_id=subject_id,
                                      pseudonym=pseudonym, epoch=epoch)
    plain = open_sealed(key, bytes(nonce), bytes(ciphertext), associated=template_binding(
        template_id=template_id, subject_id=subject_id, model_id=model_id))
    return np.frombuffer(plain, dtype=np.float32).tobytes()


def test_a_pg_dump_from_before_an_erasure_yields_no_template_after_the_next_epoch(
    settings: ConsentSettings, postgres: PostgresServer, pipeline: FacePipeline,
    clock: FakeClock, portrait_jpegs: list[bytes], tmp_path: Path,
) -> None:
    url = postgres.new_database()
    service = OptinFace.open(settings.model_copy(update={"database_url": url}),
                             pipeline=pipeline, clock=clock)
    try:
        world = make_world(service, clock)
        pseudonym, consent = world.subject()
        template = world.enrol(pseudonym, consent, portrait_jpegs[0])
        _, protected = template_bytes(service, template.id)
        dump = postgres.dump(url, tmp_path / "before-erasure.sql")
        erased = service.erase(actor=world.admin, subject=pseudonym,
                               reason=ErasureReason.REQUEST)
        restored = postgres.restore(dump)
        # The receipt and the register say what PostgreSQL keeps, and until when.
        stated = erased.signed.receipt["afterDestroyedAt"]
        assert "until overwritten" in stated and "backups" in stated
        assert "copiesUndecryptableAt" in stated
        assert POSTGRESQL_MEASURE in service.register().security_measures

        # Until the next epoch the dump is a real residue: it decrypts with today's key store.
        assert decrypt_from_dump(service, restored, template.id) == protected
        service.rotate_epoch(actor=world.admin)
        with pytest.raises(KeyUnavailable):
            decrypt_from_dump(service, restored, template.id)
    finally:
        service.close()


def test_the_sqlite_register_keeps_its_own_statement(service: OptinFace) -> None:
    measures = service.register().security_measures
    assert SQLITE_MEASURE in measures and POSTGRESQL_MEASURE not in measures
