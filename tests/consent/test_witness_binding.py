"""The key store knows its witness: a start on an empty, older or edited witness folder is
refused until the operator's chained act takes one up (red team, finding 5)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select

from optinface.consent.audit import AuditAction
from optinface.consent.erasure_journal import journal_path
from optinface.consent.errors import InvalidRequest, SubjectErased, WitnessUnusable
from optinface.consent.keystore import open_key_store
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent
from optinface.consent.witness_binding import ID_FILE, RECORD_NAME, Record, read_record
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, World, make_world
from tests.support.files import file_bytes

REASON = "INC-12: witness disk lost"


def _record(settings: ConsentSettings) -> Record | None:
    store = open_key_store(settings, create=False)
    try:
        return read_record(store)
    finally:
        store.close()


def _adoptions(service: OptinFace) -> list[dict[str, object]]:
    with service.runtime.db.transaction() as session:
        return [event.details for event in session.scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.WITNESS_ADOPTED))]


def _restore(snapshot: Path, settings: ConsentSettings) -> None:
    """The data folder put back as the snapshot holds it (the server stopped)."""
    shutil.rmtree(settings.data_dir)
    shutil.copytree(snapshot, settings.data_dir)


def _erased_since_a_snapshot(settings: ConsentSettings, clock: FakeClock, jpegs: list[bytes],
                             open_service: Callable[[], OptinFace],
                             snapshot: Path) -> tuple[World, str]:
    """Two people enrolled, the data folder copied, then one of them erased: (world, erased)."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        erased = world.enrolled(jpegs[0])
        world.enrolled(jpegs[1])
    shutil.copytree(settings.data_dir, snapshot)
    with closing(open_service()) as service:
        service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    return world, erased


def test_a_new_deployment_binds_its_witness_and_each_journal_line_moves_the_record_on(
    world: World, settings: ConsentSettings, portrait_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    """The first start writes the folder's id and records it in the key store; each journal
    line is recorded before its act commits; a normal restart is not refused."""
    first = _record(settings)
    assert first is not None and first.journal == 0
    assert (settings.witness_dir / ID_FILE).read_text().strip() == first.witness
    pseudonym = world.enrolled(portrait_jpegs[0])
    world.service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    after = _record(settings)
    journal = journal_path(settings.witness_dir).read_bytes()
    assert after is not None and after.witness == first.witness
    assert after.journal == len(journal) > 0
    world.service.close()
    with closing(open_service()) as again:
        assert _adoptions(again) == [] and _record(settings) == after


def test_a_start_carries_on_the_hash_it_checked_and_records_the_whole_journal(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    """A start hashes the journal the key store saw once, to check it (witness_binding.admit),
    and the binding carries that hash on: a line appended after such a start is recorded as
    the SHA-256 of the whole journal, and the next start is not refused."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        first, second = (world.enrolled(jpeg) for jpeg in portrait_jpegs[:2])
        service.erase(actor=world.admin, subject=first, reason=ErasureReason.REQUEST)
    with closing(open_service()) as service:  # checks the journal's first line
        world.service = service
        service.erase(actor=world.admin, subject=second, reason=ErasureReason.REQUEST)
        journal = journal_path(settings.witness_dir).read_bytes()
        assert _record(settings) == Record(witness=(settings.witness_dir / ID_FILE).read_text()
                                           .strip(), journal=len(journal),
                                           sha256=hashlib.sha256(journal).hexdigest())
    with closing(open_service()) as again:
        assert _adoptions(again) == []


def test_the_red_teams_restore_on_an_empty_witness_is_refused_until_the_operator_adopts_it(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes], tmp_path: Path,
    open_service: Callable[[], OptinFace], pipeline: FacePipeline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A ledger copy from before an erasure, started on a new empty witness folder with the
    same key store: refused with the code, naming the act, before anything is served or
    written; the act chains the loss (reason, journal seen and held) and says loudly that the
    erased may be back; from then on the new folder is the witness, and the old one is not."""
    world, erased = _erased_since_a_snapshot(settings, clock, portrait_jpegs, open_service,
                                              tmp_path / "snapshot")
    seen = _record(settings)
    assert seen is not None and seen.journal > 0
    _restore(tmp_path / "snapshot", settings)
    moved = settings.model_copy(update={"audit_witness_dir": tmp_path / "new-witness"})
    start = functools.partial(OptinFace.open, moved, pipeline=pipeline, clock=clock)
    ledger = (settings.data_dir / "optinface.db").read_bytes()
    with pytest.raises(WitnessUnusable) as refusal:
        start()
    assert refusal.value.code == "witness_unusable"
    message = str(refusal.value)
    assert "\n" not in message and "holds no witness id" in message
    assert "optinface audit adopt-witness --reason" in message
    assert not moved.witness_dir.exists()  # nothing pinned, no id, no checkpoint
    assert (settings.data_dir / "optinface.db").read_bytes() == ledger
    assert _record(settings) == seen

    with pytest.raises(InvalidRequest):
        start(adopt_witness="two\nlines")
    with caplog.at_level(logging.ERROR, logger="optinface.consent.transparency"), \
            closing(start(adopt_witness=REASON)) as adopted:
        [details] = _adoptions(adopted)
        assert details["reason"] == REASON and details["journal_seen"] == seen.journal
        assert details["journal_held"] == 0
        world.service = adopted
        assert adopted.get_subject(actor=world.portal, subject=erased).status == "active"
    assert any("people erased since may be back" in r.getMessage() for r in caplog.records)
    bound = _record(settings)
    assert bound is not None and bound.witness != seen.witness and bound.journal == 0
    with closing(start()) as restarted:  # the adopted folder is the witness now
        assert len(_adoptions(restarted)) == 1
    with pytest.raises(WitnessUnusable, match="another witness folder"):
        open_service()  # the old folder is no longer the one the key store knows


def test_an_older_copy_of_the_witness_is_refused_and_adopted_replays_what_it_holds(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes], tmp_path: Path,
    open_service: Callable[[], OptinFace],
) -> None:
    """The witness folder put back from a copy made after one erasure and before another:
    its journal is shorter than the key store saw, so the start is refused; taken up by the
    act (the newest copy left), the erasure it holds is replayed, the other one is lost."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        first, second = (world.enrolled(jpeg) for jpeg in portrait_jpegs[:2])
    shutil.copytree(settings.data_dir, tmp_path / "snapshot")
    with closing(open_service()) as service:
        service.erase(actor=world.admin, subject=first, reason=ErasureReason.REQUEST)
    shutil.copytree(settings.witness_dir, tmp_path / "old-witness")
    with closing(open_service()) as service:
        service.erase(actor=world.admin, subject=second, reason=ErasureReason.REQUEST)
    _restore(tmp_path / "snapshot", settings)
    shutil.rmtree(settings.witness_dir)
    shutil.copytree(tmp_path / "old-witness", settings.witness_dir)
    before = file_bytes(settings.witness_dir)
    with pytest.raises(WitnessUnusable, match="where the key store saw"):
        open_service()
    assert file_bytes(settings.witness_dir) == before
    with closing(OptinFace.open(settings, pipeline=world.service.pipeline, clock=clock,
                                adopt_witness=REASON)) as adopted:
        report = adopted.last_reconcile
        assert report is not None and report.erasures_replayed == 1
        [details] = _adoptions(adopted)
        assert 0 < int(str(details["journal_held"])) < int(str(details["journal_seen"]))
        with pytest.raises(SubjectErased):
            adopted.get_subject(actor=world.portal, subject=first)
        assert adopted.get_subject(actor=world.portal, subject=second).status == "active"
    with closing(open_service()) as restarted:  # the copy taken up is the witness now
        assert len(_adoptions(restarted)) == 1


@pytest.mark.parametrize("edit", ["rewritten", "padded"])
def test_a_journal_edited_in_place_is_refused(
    world: World, settings: ConsentSettings, portrait_jpegs: list[bytes],
    open_service: Callable[[], OptinFace], edit: str,
) -> None:
    """The real folder, its journal's erasure line rewritten with one of the same length, or
    replaced by another journal as long or longer: its first bytes are not those recorded."""
    pseudonym = world.enrolled(portrait_jpegs[0])
    world.service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    world.service.close()
    path = journal_path(settings.witness_dir)
    *enrolled, erasure = path.read_text().splitlines(keepends=True)  # the erasure's line last
    line = json.loads(erasure)
    forged = "".join(enrolled) + json.dumps(
        {**line, "subjectHash": "0" * len(line["subjectHash"])}, sort_keys=True) + "\n"
    path.write_text(forged if edit == "rewritten" else forged + forged)
    with pytest.raises(WitnessUnusable, match="first bytes are not those"):
        open_service()


@pytest.mark.parametrize("line", [b'{"x":"\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000, b"null"],
                         ids=["not-utf8", "nested-too-deep", "not-an-object"])
def test_a_line_past_the_record_that_is_unreadable_is_skipped_and_the_rest_replayed(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes], tmp_path: Path,
    open_service: Callable[[], OptinFace], caplog: pytest.LogCaptureFixture, line: bytes,
) -> None:
    """Bad-input test 18, #1: one byte that is not UTF-8 in a line appended past what the key
    store saw stopped every start (serve, sweep, export) with a UnicodeDecodeError, the journal
    read as one text. Each line is read on its own now: that one is skipped like any unreadable
    line, and a copy restored from before the erasure still loses the person. So is a line
    nested deeper than the parser recurses, or JSON that is not an object (review: a
    RecursionError, an AttributeError). The same byte in the lines the key store saw is refused
    (``test_a_journal_edited_in_place_is_refused``)."""
    world, erased = _erased_since_a_snapshot(settings, clock, portrait_jpegs, open_service,
                                              tmp_path / "snapshot")
    with journal_path(settings.witness_dir).open("ab") as journal:
        journal.write(line + b"\n")
    _restore(tmp_path / "snapshot", settings)
    with caplog.at_level(logging.WARNING, logger="optinface.consent"), \
            closing(open_service()) as restored:
        report = restored.last_reconcile
        assert report is not None and report.erasures_replayed == 1
        world.service = restored
        with pytest.raises(SubjectErased):
            restored.get_subject(actor=world.portal, subject=erased)
    assert any("skipped an unreadable line" in r.getMessage() for r in caplog.records)


def test_an_upgrade_binds_the_witness_it_finds_without_refusing(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    """A key store from before the record, beside its witness (with a journal, without an id):
    the first start records it as it is, and the next start checks it."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        pseudonym = world.enrolled(portrait_jpegs[0])
        service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    (settings.keys_dir / f"{RECORD_NAME}.key").unlink()
    (settings.witness_dir / ID_FILE).unlink()
    with closing(open_service()) as upgraded:
        assert _adoptions(upgraded) == []
    record = _record(settings)
    assert record is not None
    assert record.journal == len(journal_path(settings.witness_dir).read_bytes()) > 0
    assert (settings.witness_dir / ID_FILE).read_text().strip() == record.witness
    (settings.witness_dir / ID_FILE).unlink()
    with pytest.raises(WitnessUnusable, match="holds no witness id"):
        open_service()
