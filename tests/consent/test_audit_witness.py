"""Checkpoints leave the data directory, prove inclusion and consistency, and sign nothing else."""

from __future__ import annotations

import base64
import functools
import json
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy import text as sql_text
from sqlalchemy.pool import NullPool

from optinface.consent.audit import GENESIS, AuditAction, Entry, event_hash, event_leaf
from optinface.consent.db import LEDGER_LOCK, Database
from optinface.consent.errors import WitnessUnusable
from optinface.consent.merkle import MerkleTree, verify_consistency, verify_inclusion
from optinface.consent.notes import Verifier, open_checkpoint
from optinface.consent.receipts import verify_receipt
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent
from optinface.consent.witness import (
    CHECKPOINTS,
    SHARD,
    SUFFIX,
    Witness,
    checkpoint_path,
    holds,
    latest_witnessed,
    pinned_key,
    witnessed,
    witnessed_after,
)
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, make_world, witness_sizes
from tests.support.files import file_bytes
from tests.support.polling import eventually


def test_the_witness_folder_is_outside_the_data_and_pins_the_checkpoint_key(
    world: World, settings: ConsentSettings
) -> None:
    assert not settings.witness_dir.is_relative_to(settings.data_dir)
    pinned = pinned_key(settings.witness_dir)
    assert pinned == world.service.runtime.log.signer.verifier


def test_checkpoints_are_witnessed_every_n_events_and_at_close(
    settings: ConsentSettings, clock: FakeClock, open_service: Callable[[], OptinFace],
) -> None:
    with closing(open_service()) as service:
        world = make_world(service, clock)
        while service.verify_audit().events < 12:
            world.subject()
        assert 10 in witness_sizes(settings)
        events = service.verify_audit().events
    assert witness_sizes(settings)[-1] == events  # the tail since the last one, at shutdown


def test_the_periodic_witness_signs_the_head_only_when_it_moved(
    world: World, settings: ConsentSettings
) -> None:
    service = world.service
    service.witness_audit()
    files = witness_sizes(settings)
    assert files[-1] == service.verify_audit().events
    service.witness_audit()  # nothing happened since: no new checkpoint
    assert witness_sizes(settings) == files
    world.subject()
    service.witness_audit()
    assert witness_sizes(settings)[-1] == service.verify_audit().events > files[-1]


def test_a_worker_started_on_an_empty_folder_compares_every_checkpoint_signed_since(
    tmp_path: Path,
) -> None:
    """A first start (or a wiped folder) found nothing to compare: every checkpoint signed
    since, by other workers too, is compared, not only those past this worker's own newest
    (0 is a size compared, not none; review 20b #5)."""
    witness = Witness(tmp_path)
    (tmp_path / CHECKPOINTS).mkdir()
    assert witness.latest_size() == 0
    witness.record("this worker's", size=5)
    checkpoint_path(tmp_path, 3).write_text("another worker's", encoding="utf-8")
    assert witness.unchecked() == [3, 5]


_FOLDERS_LISTED: list[str] = []
_NOTING = threading.Event()


def _note_listings(event: str, args: tuple[object, ...]) -> None:
    """A Python audit hook, which cannot be removed: it notes only while a test sets
    :data:`_NOTING`."""
    if event == "os.scandir" and _NOTING.is_set() and args and \
            CHECKPOINTS in str(args[0]):
        _FOLDERS_LISTED.append(str(args[0]))


sys.addaudithook(_note_listings)


def test_the_periodic_check_lists_the_witness_folder_before_it_takes_the_ledgers_lock(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
) -> None:
    """Another writer holds the ledger's write lock (PostgreSQL's advisory lock, which a
    transaction takes as it opens; SQLite's is taken at its first statement): the check has
    already listed the folder's new checkpoints while it waits for the lock, so no worker
    passes over the folder's names holding it (review 20b #4)."""
    holder = create_engine(pg_settings.url, poolclass=NullPool)
    with closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as service, \
            holder.begin() as held:
        held.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})
        _FOLDERS_LISTED.clear()
        _NOTING.set()
        waiting = threading.Thread(target=service.witness_audit)
        try:
            waiting.start()
            listed = eventually(lambda: bool(_FOLDERS_LISTED))
        finally:
            _NOTING.clear()
            held.rollback()
            waiting.join()
    holder.dispose()
    assert listed


def test_a_witness_call_lists_only_the_subfolders_at_or_past_the_newest_it_checked(
    tmp_path: Path,
) -> None:
    """Each spend writes a checkpoint and checks the folder: the check lists the subfolders
    from the newest size it compared upward, never the folder's whole history, flat files an
    earlier version wrote included (review 21a #1)."""
    flat = tmp_path / CHECKPOINTS
    flat.mkdir(parents=True)
    for size in range(1, 2001):  # an earlier version's folder
        (flat / f"{size:012d}{SUFFIX}").write_text("old", encoding="utf-8")
    witness = Witness(tmp_path)
    for size in (2_005, SHARD + 3, 3 * SHARD + 1):
        witness.record(f"note {size}", size=size)
    witness.checked(SHARD + 3)
    _FOLDERS_LISTED.clear()
    _NOTING.set()
    try:
        assert witness.unchecked() == [3 * SHARD + 1]
    finally:
        _NOTING.clear()
    assert _FOLDERS_LISTED == [str(tmp_path / CHECKPOINTS / f"{index:08d}")
                               for index in (1, 2, 3)]


def test_the_checkpoints_past_a_size_are_every_one_past_it_whatever_the_width_of_its_name(
    tmp_path: Path,
) -> None:
    """A spend's check compares the names of the newest subfolder with the size it checked as
    text before reading any as a number: what it lists is still every checkpoint past that
    size, a name of another width (unpadded, or padded wider) included, and nothing else."""
    shard = tmp_path / CHECKPOINTS / f"{0:08d}"
    shard.mkdir(parents=True)
    names = [f"{size:012d}{SUFFIX}" for size in range(1, 3001)] + [
        f"4000{SUFFIX}", f"{3500:016d}{SUFFIX}", f"{2000:016d}{SUFFIX}",  # other widths
        f".{3999:012d}{SUFFIX}", f"00000000399x{SUFFIX}", f"{3998:012d}.tmp",  # none is one
    ]
    for name in names:
        (shard / name).write_text("note", encoding="utf-8")
    past = 2990
    assert witnessed_after(tmp_path, past, known=3000) \
        == [*range(2991, 3001), 3500, 4000]
    assert witnessed_after(tmp_path, 0, known=3000) == sorted([*range(1, 3001), 2000, 3500, 4000])


def test_an_earlier_versions_flat_checkpoints_stay_where_they_are_and_are_read_there(
    tmp_path: Path,
) -> None:
    """Subfolders are new: a deployment's flat ``checkpoints/<size>.note`` files are neither
    moved nor written again, and every reader finds them beside the new ones."""
    flat = tmp_path / CHECKPOINTS
    flat.mkdir(parents=True)
    old = flat / f"{2 * SHARD + 7:012d}{SUFFIX}"
    old.write_text("old note", encoding="utf-8")
    witness = Witness(tmp_path)
    assert witness.latest_size() == latest_witnessed(tmp_path) == 2 * SHARD + 7
    assert checkpoint_path(tmp_path, 2 * SHARD + 7) == old
    assert holds(tmp_path, size=2 * SHARD + 7, note="old note")
    witness.record("again", size=2 * SHARD + 7)  # one per size: the first is kept
    witness.record("new note", size=2 * SHARD + 9)
    assert old.read_text(encoding="utf-8") == "old note"
    assert witnessed(tmp_path) == [old, checkpoint_path(tmp_path, 2 * SHARD + 9)]
    assert checkpoint_path(tmp_path, 2 * SHARD + 9).parent.name == "00000002"
    assert all((flat / f"{index:08d}").is_dir() for index in (0, 1, 2))  # none missing below
    assert witness.unchecked() == witnessed_after(tmp_path, 0) == [2 * SHARD + 9]
    assert latest_witnessed(tmp_path) == 2 * SHARD + 9


def test_an_empty_low_subfolder_removed_hides_no_later_checkpoint(tmp_path: Path) -> None:
    """Subfolders made empty at a jump of the log's size (or an upgrade) and removed by a
    clean-up: the verification, the start and the periodic check still see every checkpoint
    above them."""
    (tmp_path / CHECKPOINTS).mkdir()
    writer = Witness(tmp_path)
    for size in (5, 2 * SHARD + 1, 4 * SHARD + 3):
        writer.record(f"note {size}", size=size)
    for index in (1, 3):  # empty: no checkpoint fell in them
        (tmp_path / CHECKPOINTS / f"{index:08d}").rmdir()
    assert [int(path.stem) for path in witnessed(tmp_path)] == [5, 2 * SHARD + 1, 4 * SHARD + 3]
    assert latest_witnessed(tmp_path) == 4 * SHARD + 3
    reader = Witness(tmp_path)
    assert reader.latest_size() == 4 * SHARD + 3
    assert witnessed_after(tmp_path, 5, known=reader.latest_size()) \
        == [2 * SHARD + 1, 4 * SHARD + 3]


def test_the_newest_checkpoint_at_or_below_a_size_is_read_from_the_subfolders_and_flat_files(
    tmp_path: Path,
) -> None:
    """What a start compares a restored log's kept events with: the newest checkpoint of at
    most that many events, wherever it lies (a flat file of an earlier version, a lower
    subfolder, none)."""
    (tmp_path / CHECKPOINTS).mkdir()
    (tmp_path / CHECKPOINTS / f"{7:012d}{SUFFIX}").write_text("old note", encoding="utf-8")
    writer = Witness(tmp_path)
    for size in (5, SHARD + 1, 2 * SHARD + 3):
        writer.record(f"note {size}", size=size)
    assert latest_witnessed(tmp_path) == 2 * SHARD + 3
    assert latest_witnessed(tmp_path, through=2 * SHARD + 3) == 2 * SHARD + 3
    assert latest_witnessed(tmp_path, through=2 * SHARD + 2) == SHARD + 1
    assert latest_witnessed(tmp_path, through=SHARD) == 7
    assert latest_witnessed(tmp_path, through=6) == 5
    assert latest_witnessed(tmp_path, through=4) == 0


def test_after_a_rollback_the_witness_takes_no_checkpoint_of_the_sizes_it_abandoned(
    tmp_path: Path,
) -> None:
    """Once a rollback from 30 events to 20 is met, a checkpoint of the new branch at 25 (an
    export's, where the folder held none of that size) is not copied into the folder, one past
    30 is, and the log counts as witnessed up to the newest checkpoint of the kept events."""
    (tmp_path / CHECKPOINTS).mkdir()
    witness = Witness(tmp_path)
    for size in (10, 18, 30):
        witness.record(f"old branch {size}", size=size)
    witness.abandon(kept=20, through=30)
    assert witness.witnessed_of_the_log() == 18
    witness.record("new branch 25", size=25)
    witness.record("new branch 31", size=31)
    assert [int(path.stem) for path in witnessed(tmp_path)] == [10, 18, 30, 31]
    assert witness.witnessed_of_the_log() == witness.latest_size() == 31


@pytest.mark.parametrize("folder", [".", "checkpoints", "checkpoints/00000000"])
def test_a_witness_folder_any_user_may_write_is_refused_at_start(
    settings: ConsentSettings, open_service: Callable[[], OptinFace], folder: str,
) -> None:
    """A umask of 000 made the witness's folders 0777: any user of the machine could delete
    its checkpoints, its marks or its erasure journal, and a restore would then bring back the
    people erased since."""
    open_service().close()
    loose = settings.witness_dir / folder
    loose.chmod(0o777)
    with pytest.raises(WitnessUnusable) as refused:
        open_service()
    assert refused.value.details["path"] == str(loose)
    loose.chmod(0o755)
    open_service().close()


@pytest.mark.parametrize("inside", ["itself", "beneath", "through-a-link", "holding-it"])
def test_a_witness_folder_entangled_with_the_data_directory_is_refused_before_anything(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock, tmp_path: Path,
    inside: str,
) -> None:
    """Inside the data, it went with every copy of it: a disk snapshot restored brought the
    checkpoints and the erasure journal back with the ledger, and the people erased since with
    them. Holding the data, it gave the ledger to whoever copies the witness."""
    folder = {"itself": settings.data_dir, "beneath": settings.data_dir / "witness",
              "through-a-link": tmp_path / "witness-link",
              "holding-it": settings.data_dir.parent}[inside]
    if inside == "through-a-link":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        folder.symlink_to(settings.data_dir, target_is_directory=True)
    unsafe = settings.model_copy(update={"audit_witness_dir": folder})
    with pytest.raises(WitnessUnusable) as refused:
        OptinFace.open(unsafe, pipeline=pipeline, clock=clock)
    assert ("lies inside the witness folder" if inside == "holding-it"
            else "lies inside the data directory") in refused.value.message
    assert not settings.keys_dir.exists() and not (settings.data_dir / "witness").exists()


@pytest.mark.parametrize("ledger", ["deleted", "another"])
def test_a_ledger_with_no_event_beside_a_witnessed_log_is_refused(
    settings: ConsentSettings, clock: FakeClock, open_service: Callable[[], OptinFace],
    pipeline: FacePipeline, ledger: str,
) -> None:
    """Started on that folder, a new ledger would sign its checkpoints with the deployment's
    key into the deployment's witness, and the real log would no longer verify."""
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    before = file_bytes(settings.witness_dir)
    if ledger == "deleted":
        (settings.data_dir / "optinface.db").unlink()
        start = open_service
    else:
        other = settings.model_copy(
            update={"database_url": f"sqlite:///{settings.data_dir.parent / 'other.db'}"})
        start = functools.partial(OptinFace.open, other, pipeline=pipeline, clock=clock)
    with pytest.raises(WitnessUnusable) as refused:
        start()
    assert refused.value.details["witnessed"] == witness_sizes(settings)[-1]
    assert file_bytes(settings.witness_dir) == before


@both_backends
def test_a_folder_that_pins_no_key_is_refused_and_its_adoption_by_the_operator_chained_once(
    settings: ConsentSettings, clock: FakeClock, open_service: Callable[[], OptinFace],
    pipeline: FacePipeline,
) -> None:
    """The witness lost, unmounted or named wrong: a plain start is refused, the folder left
    as it was (consent.witness_binding); the operator's act takes it up and the log says once
    that a folder that pinned no key was taken up for a log already signed, with the reason,
    naming the newest checkpoint the old witness should hold; the new folder's first checkpoint
    covers that event, and the old folder gets nothing."""
    with closing(open_service()) as service:
        make_world(service, clock).subject()
        events = service.verify_audit().events
    before = file_bytes(settings.witness_dir)
    moved = settings.model_copy(
        update={"audit_witness_dir": settings.data_dir.parent / "new-witness"})
    start = functools.partial(OptinFace.open, moved, pipeline=pipeline, clock=clock)
    with pytest.raises(WitnessUnusable, match="adopt-witness"):
        start()
    assert not moved.witness_dir.exists()
    for act in ("INC-3: witness disk lost", None):
        with closing(start(adopt_witness=act)) as service, \
                service.runtime.db.transaction() as session:
            adoptions = [(event.seq, event.details) for event in session.scalars(
                select(AuditEvent).where(AuditEvent.action == AuditAction.WITNESS_ADOPTED))]
        assert adoptions == [(events + 1, {
            "events": events, "checkpoint": events, "reason": "INC-3: witness disk lost",
            "journal_seen": 0, "journal_held": 0})]
    assert witness_sizes(moved)[0] >= events + 1
    assert pinned_key(moved.witness_dir) == pinned_key(settings.witness_dir)
    assert file_bytes(settings.witness_dir) == before


@both_backends
def test_a_log_rewritten_consistently_is_chained_at_the_next_start_once(
    settings: ConsentSettings, clock: FakeClock, open_service: Callable[[], OptinFace],
) -> None:
    """Someone holding the ledger edits an event and recomputes every hash after it (and could
    sign the checkpoint rows again with the checkpoint key): the witness's newest checkpoint
    no longer matches the log, and the next start says so at once, chaining ``log_rewritten``
    once with the witnessed size and logging an error, instead of carrying on silently until
    someone runs ``audit verify``."""
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    assert settings.database_url is not None
    ledger = Database(settings.database_url)  # the file or server, with the service stopped
    ledger.open()
    with closing(ledger), ledger.transaction() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        events[2].outcome = "rewritten"
        previous = GENESIS
        for event in events:  # the forger re-hashes the whole chain
            event.prev_hash = previous
            event.hash = previous = event_hash(event)
    witnessed_size = witness_sizes(settings)[-1]
    for _ in range(2):
        with closing(open_service()) as service, service.runtime.db.transaction() as session:
            rewrites = [event.details for event in session.scalars(
                select(AuditEvent).where(AuditEvent.action == AuditAction.LOG_REWRITTEN))]
        assert rewrites == [{"events": witnessed_size, "witnessed": witnessed_size}]


def test_a_rolled_back_checkpoint_is_never_witnessed(
    world: World, settings: ConsentSettings
) -> None:
    runtime = world.service.runtime
    before = witness_sizes(settings)
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        runtime.audit(session, Entry(action=AuditAction.EXPORT, actor=None))
        runtime.log.checkpoint(session, now=world.clock.now())
        raise RuntimeError("the business change failed")
    assert witness_sizes(settings) == before
    world.service.witness_audit()  # the tree cache noticed the rollback: the head is right
    assert world.service.verify_audit().ok


def test_an_access_export_proves_each_event_is_in_the_signed_log(
    world: World, settings: ConsentSettings
) -> None:
    pseudonym, _ = world.subject()
    export = world.service.export(actor=world.admin, subject=pseudonym)
    assert export.checkpoint is not None and len(export.inclusion_proofs) == len(export.events)
    trusted = pinned_key(settings.witness_dir)  # what a subject would get from the witness
    assert trusted is not None
    checkpoint = open_checkpoint(export.checkpoint.note, trusted)
    for event, proof in zip(export.events, export.inclusion_proofs, strict=True):
        path = [base64.b64decode(h) for h in proof.audit_path]
        assert proof.seq == event.seq and proof.tree_size == checkpoint.size
        assert verify_inclusion(event_leaf(event), proof.leaf_index, proof.tree_size, path,
                                checkpoint.root)
        altered = event.model_copy(update={"outcome": "nothing happened"})
        assert not verify_inclusion(event_leaf(altered), proof.leaf_index, proof.tree_size,
                                    path, checkpoint.root)


def test_two_witnessed_checkpoints_are_provably_consistent(
    world: World, settings: ConsentSettings
) -> None:
    for _ in range(6):
        world.subject()
    trusted = world.service.runtime.log.signer.verifier
    first, second = (open_checkpoint(p.read_text(), trusted)
                     for p in witnessed(settings.witness_dir)[-2:])
    with world.service.runtime.db.transaction() as session:
        tree = MerkleTree([event_leaf(e) for e in session.query(AuditEvent).order_by(
            AuditEvent.seq)])
    proof = tree.consistency_proof(first.size, second.size)
    assert verify_consistency(first.size, second.size, first.root, second.root, proof)


def test_a_kept_checkpoint_is_self_contained_and_checks_with_its_verifier_key(
    world: World,
) -> None:
    kept = json.loads(world.service.audit_checkpoint(actor=world.reviewer).model_dump_json())
    checkpoint = open_checkpoint(kept["note"], Verifier.parse(kept["verifier_key"]))
    assert checkpoint.size == kept["seq"] == kept["tree_size"] == world.service.verify_audit(
    ).events
    assert base64.b64encode(checkpoint.root).decode() == kept["root_hash"]
    assert kept["key_id"] in kept["verifier_key"] and kept["head_hash"] and kept["at"]


def test_receipts_and_checkpoints_are_signed_by_separate_keys(world: World) -> None:
    keys = world.service.runtime.keys
    assert keys.checkpoint.public_key() != keys.signing.public_key()
    kept = world.service.audit_checkpoint(actor=world.reviewer)
    signature = base64.b64encode(base64.b64decode(kept.note.rsplit(" ", 1)[1])[4:]).decode()
    text = kept.note.rpartition("\n\n")[0] + "\n"
    # A checkpoint signature passed off as a receipt's, under the receipt key, fails ...
    assert not verify_receipt({"note": text}, signature, world.service.public_key)
    # ... and a receipt's signer cannot sign a checkpoint the pinned key accepts.
    from optinface.consent.notes import NoteError, Signer

    forger = Signer(name=world.service.runtime.log.signer.name, key=keys.signing)
    with pytest.raises(NoteError):
        open_checkpoint(forger.sign(text), world.service.runtime.log.signer.verifier)


def test_a_reviewer_proves_the_log_grew_from_their_old_checkpoint_to_a_new_one(
    world: World,
) -> None:
    from optinface.consent.errors import InvalidRequest

    service = world.service
    trusted = service.runtime.log.signer.verifier
    old = open_checkpoint(service.audit_checkpoint(actor=world.reviewer).note, trusted)
    world.subject()
    new = open_checkpoint(service.audit_checkpoint(actor=world.reviewer).note, trusted)
    answer = service.audit_consistency(actor=world.reviewer, first=old.size, second=new.size)
    proof = [base64.b64decode(h) for h in answer.proof]
    assert verify_consistency(old.size, new.size, old.root, new.root, proof)
    assert not verify_consistency(old.size, new.size, new.root, new.root, proof)
    with pytest.raises(InvalidRequest):
        service.audit_consistency(actor=world.reviewer, first=new.size + 1)
    with pytest.raises(InvalidRequest, match="between 1 and the second"):
        service.audit_consistency(actor=world.reviewer, first=0, second=new.size)


def test_two_spends_witnessing_the_same_size_at_once_both_find_it_in_the_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two acts answered together can each sign the same head (the load test's 503
    ``witness_unusable``): each call's temporary file is its own, so neither truncates nor
    unlinks the other's, the first checkpoint of the size is kept whole, and both find the
    folder holding it. Many rounds: the lost race was nearly certain in each."""
    note = "optinface/audit/test\n{size}\nroot\n\n— optinface/audit/test signature\n"
    (tmp_path / CHECKPOINTS).mkdir()  # made when the folder is first pinned
    for size in range(1, 101):
        witness, barrier = Witness(tmp_path), threading.Barrier(2)

        def record(size: int = size, witness: Witness = witness,
                   barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            witness.record(note.format(size=size), size=size)

        threads = [threading.Thread(target=record) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert witness.latest_size() == size
        assert checkpoint_path(tmp_path, size).read_text() == note.format(size=size)
    assert not [r for r in caplog.records if "not witnessed" in r.getMessage()]
