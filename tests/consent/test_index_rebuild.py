"""A start whose index file no longer opens (its key destroyed by an erasure since it was saved)
rebuilds the index from the ledger (consent.reconcile.index_templates): every template it puts
back had its seal checked and its ciphertext opened under its subject's key, read a chunk at a
time, so a rule broken in one chunk and not another would show here.

The ledger is the erasure benchmark's (benchmarks/bench_erasure.py: real rows, sealed and
encrypted as the service writes them, receipts signed), large enough for several chunks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from benchmarks.bench_erasure import populated
from optinface.consent.keys import destroy_index_file_keys
from optinface.consent.keystore import open_key_store
from optinface.consent.reconcile import CHUNK
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent, Subject
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import outside_sql
from tests.support.files import template_bytes

N = 2 * CHUNK + 100  # three chunks
UNSEALED, UNREADABLE, KEY_FORGED, ERASED = 7, CHUNK + 40, 2 * CHUNK + 60, 300
"""Template (and subject) ids, one per chunk: populate gives subject i its template i."""


def _left_out(service: OptinFace) -> dict[str, list[int]]:
    """The templates each ``authority_mismatch`` of the index's left out, by problem."""
    with service.runtime.db.reading() as session:
        return {d["mismatch"]: d["template_ids"] for d in session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "authority_mismatch"))
            if isinstance(d, dict) and d.get("use") == "index"}


@both_backends
def test_a_rebuilt_index_holds_exactly_the_sealed_templates_that_open_and_no_erased_one(
    tmp_path: Path, database_url: str | None, pipeline: FacePipeline,
) -> None:
    """One template's seal broken, one ciphertext's nonce and one subject's wrapped key altered
    in SQL, one subject erased, then every index file's key destroyed: the next start puts
    back every other template, each under its own label with its own vector, and leaves those
    three out, reported by template id, without stopping."""
    settings = ConsentSettings(data_dir=tmp_path / "data", database_url=database_url,
                               index_max_elements=N + 64)
    service = OptinFace.open(settings, pipeline=pipeline)
    try:
        admin, _ = populated(service, n=N)
        with service.runtime.db.reading() as session:
            erased = session.scalars(select(Subject.pseudonym).where(
                Subject.id == ERASED)).one()
        service.erase(actor=admin, subject=erased, reason=ErasureReason.REQUEST)
        outside_sql(service, "UPDATE templates SET seal = :s WHERE id = :t", s="0" * 64,
                    t=UNSEALED)
        outside_sql(service, "UPDATE templates SET nonce = :n WHERE id = :t", n=b"\0" * 12,
                    t=UNREADABLE)
        outside_sql(service, "UPDATE subject_keys SET wrapped = :w WHERE subject_id = :s",
                    w=b"\0" * 60, s=KEY_FORGED)
    finally:
        service.close()
    store = open_key_store(settings, create=False)
    try:
        destroy_index_file_keys(store)  # what an erasure through another worker does
    finally:
        store.close()

    service = OptinFace.open(settings, pipeline=pipeline)
    try:
        report = service.last_reconcile
        assert report is not None and report.index_discarded is not None
        kept = set(range(1, N + 1)) - {UNSEALED, UNREADABLE, KEY_FORGED, ERASED}
        assert service.index.labels() == kept
        assert (report.re_added, report.templates_left_out) == (len(kept), 3)
        assert _left_out(service) == {"template_not_sealed": [UNSEALED],
                                      "template_unreadable": [UNREADABLE, KEY_FORGED]}
        for label in [*sorted(kept)[::37], UNSEALED + 1, UNREADABLE - 1, KEY_FORGED + 1, N]:
            _, vector = template_bytes(service, label)
            hit = service.index.search(np.frombuffer(vector, dtype=np.float32), k=1)[0]
            assert hit.label == label and hit.score == pytest.approx(1.0, abs=1e-5)
    finally:
        service.close()
