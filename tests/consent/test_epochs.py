"""Epoch crypto-shredding: an erasure reaches the copies of the data made before it.

A copy of the database taken before an erasure still holds the erased subject's wrapped key.
With the current keys it decrypts the erased template; after the next epoch rotation it does
not, because the epoch key that wrapped it is destroyed. The receipt says when that happens.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest

from optinface.api.sweeper import Sweeper
from optinface.consent.audit import AuditAction
from optinface.consent.crypto import new_key
from optinface.consent.errors import KeyUnavailable
from optinface.consent.keys import KeyRing
from optinface.consent.schemas import AuditFilter, ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from tests.support.consent import (
    Crash,
    FakeClock,
    World,
    assert_witness_sees_the_restore,
    crash,
    make_world,
    refused,
)
from tests.support.files import (
    copy_database,
    decrypt_from_copy,
    occurrences,
    template_bytes,
)


def test_a_copy_from_before_an_erasure_is_undecryptable_after_the_next_epoch(
    world: World, service: OptinFace, settings: ConsentSettings, portrait_jpegs: list[bytes],
    tmp_path: Path,
) -> None:
    erased, consent = world.subject()
    kept, kept_consent = world.subject()
    template = world.enrol(erased, consent, portrait_jpegs[0])
    world.enrol(kept, kept_consent, portrait_jpegs[1])
    _, protected = template_bytes(service, template.id)
    copy = copy_database(settings, tmp_path)
    service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)

    # Before the rotation the promise is not kept yet: the copy decrypts with today's keys.
    assert decrypt_from_copy(service.runtime.keys, copy, template.id).tobytes() == protected
    report = service.rotate_epoch(actor=world.admin)
    assert report.subject_keys_rewrapped == 1  # the kept subject only
    with pytest.raises(KeyUnavailable):
        decrypt_from_copy(service.runtime.keys, copy, template.id)
    # The kept subject is still served from the live database.
    assert world.verify(kept, portrait_jpegs[1]).outcome == "candidates_for_review"


def test_erasure_leaves_no_wrapped_key_row_nor_its_bytes(
    world: World, service: OptinFace, settings: ConsentSettings, portrait_jpegs: list[bytes],
) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    database = settings.data_dir / "optinface.db"
    with sqlite3.connect(database) as db:
        subject_id, wrapped = db.execute(
            "SELECT k.subject_id, k.wrapped FROM subject_keys k JOIN subjects s "
            "ON s.id = k.subject_id WHERE s.pseudonym = ?", (pseudonym,)).fetchone()
    receipt = service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    assert receipt.key_destroyed
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM subject_keys WHERE subject_id = ?",
                          (subject_id,)).fetchone() == (0,)
    assert occurrences(settings.data_dir, wrapped) == []


def test_the_erasure_receipt_states_when_copies_become_undecryptable(
    world: World, service: OptinFace, portrait_jpegs: list[bytes],
) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    [current] = service.key_epochs(actor=world.admin)
    receipt = service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    signed = receipt.signed.receipt
    assert signed["keyEpoch"] == current.id
    bound = current.created_at.timestamp() + 24 * 3600
    assert receipt.copies_undecryptable_at.timestamp() == bound
    assert datetime.fromisoformat(signed["copiesUndecryptableAt"]).timestamp() == bound

    world.clock.advance(hours=24)
    service.rotate_epoch(actor=world.admin)
    looked_up = {e.id: e for e in service.key_epochs(actor=world.admin)}
    assert looked_up[signed["keyEpoch"]].destroyed_at == world.clock.now()


def test_the_server_rotates_the_epoch_by_itself_when_due(
    world: World, service: OptinFace, settings: ConsentSettings,
) -> None:
    first = service.runtime.keys.epoch
    assert service.seconds_to_epoch_boundary() == pytest.approx(24 * 3600)
    world.clock.advance(hours=24, seconds=1)
    sweeper = Sweeper(service, interval=3600)
    sweeper.start()
    try:
        deadline = time.monotonic() + 20
        while service.runtime.keys.epoch == first and time.monotonic() < deadline:
            time.sleep(0.05)
        while not service.key_epochs(actor=world.admin)[0].destroyed_at \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sweeper.stop()
    assert service.runtime.keys.epoch == first + 1
    assert not (settings.keys_dir / f"epoch-{first}.key").exists()
    assert service.seconds_to_epoch_boundary() == pytest.approx(24 * 3600)


def test_a_refused_rotation_makes_no_epoch_key_and_the_sweeper_waits_before_the_next(
    world: World, service: OptinFace, settings: ConsentSettings, portrait_jpegs: list[bytes],
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another key in the epoch key's place (it opens none of the subject keys): each rotation
    is refused before a new epoch key is made, so refusals leave no growing set of keys, and
    the sweeper, finding the epoch still due, tries again after a wait, not at once (review
    20c #1: a write transaction, a new key and an error line on every pass)."""
    world.enrolled(portrait_jpegs[0])
    store, epoch = service.runtime.keys.store, service.runtime.keys.epoch
    store.import_epoch(epoch, new_key())
    for _ in range(2):
        refused("key_store_unusable", lambda: service.rotate_epoch(actor=world.admin))
    assert store.epochs() == [epoch] and _epoch_files(settings) == [f"epoch-{epoch}.key"]

    world.clock.advance(hours=24, seconds=1)
    passes: list[int] = []  # the sweeper's passes, counted by the call each one makes first
    flush = service.flush_auth_failures
    monkeypatch.setattr(service, "flush_auth_failures",
                        lambda: (passes.append(_refusals(caplog)), flush())[1])
    sweeper = Sweeper(service, interval=3600, flush_interval=0.1, rotation_retry=60)
    sweeper.start()
    try:
        deadline = time.monotonic() + 30
        while sum(1 for seen in passes if seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sweeper.stop()
    assert sum(1 for seen in passes if seen) >= 3  # three passes after the refusal
    assert _refusals(caplog) == 1
    assert store.epochs() == [epoch]


def test_a_rotation_refused_by_a_passing_fault_is_tried_again_within_seconds(
    world: World, service: OptinFace, settings: ConsentSettings, portrait_jpegs: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sweeper's wait after a refused rotation starts short and doubles (review 20d #1): a
    fault that passes (here the epoch key file replaced, then put back) delays the rotation an
    erasure receipt promised by seconds, not by a sweep interval (an hour by default)."""
    world.enrolled(portrait_jpegs[0])
    store, epoch = service.runtime.keys.store, service.runtime.keys.epoch
    key_file = settings.keys_dir / f"epoch-{epoch}.key"
    kept = key_file.read_bytes()
    store.import_epoch(epoch, new_key())  # the fault
    world.clock.advance(hours=24, seconds=1)
    sweeper = Sweeper(service, interval=3600, rotation_retry=0.5)
    sweeper.start()
    try:
        deadline = time.monotonic() + 30
        while _refusals(caplog) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _refusals(caplog) >= 1
        key_file.write_bytes(kept)  # the fault passes
        while epoch in store.epochs() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sweeper.stop()
    assert epoch not in store.epochs() and len(store.epochs()) == 1


def _refusals(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.getMessage() == "key epoch rotation refused: key_store_unusable"
               for record in caplog.records)


def _restored_from_before(settings: ConsentSettings, clock: FakeClock, jpeg: bytes,
                          tmp_path: Path, open_service: Callable[[], OptinFace],
                          since: Callable[[OptinFace, World], object],
                          *more: bytes) -> World:
    """One subject enrolled (one more for each of ``more``), the data folder copied, ``since``
    done on the service (rotations), then the copy put back in place of the data folder, as a
    restore from a snapshot does."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        for image in (jpeg, *more):
            world.enrolled(image)
    snapshot = tmp_path / "snapshot"
    shutil.copytree(settings.data_dir, snapshot)
    with closing(open_service()) as service:
        since(service, world)
    shutil.rmtree(settings.data_dir)
    shutil.copytree(snapshot, settings.data_dir)
    return world


def test_keys_lost_by_several_people_are_chained_one_event_a_person(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes], tmp_path: Path,
    open_service: Callable[[], OptinFace],
) -> None:
    """Each ``subject_keys_lost`` names one person with their own counts: no one's access
    export says how many others lost theirs (:mod:`consent.audit_seal_tree`)."""
    world = _restored_from_before(settings, clock, portrait_jpegs[0], tmp_path, open_service,
                                  lambda service, world: service.rotate_epoch(actor=world.admin),
                                  portrait_jpegs[1])
    with closing(open_service()) as restored:
        assert restored.last_reconcile is not None
        assert restored.last_reconcile.subject_keys_lost == 2
        lost = restored.audit_events(actor=world.reviewer, filters=AuditFilter(
            action=AuditAction.SUBJECT_KEYS_LOST)).events
        assert sorted(len(e.subjects) for e in lost) == [1, 1]
        assert len({e.subjects[0] for e in lost}) == 2
        assert [e.details for e in lost] == [{"subject_keys": 1, "templates": 1}] * 2


def test_a_copy_restored_after_the_rotation_starts_and_drops_what_it_cannot_decrypt(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], tmp_path: Path, open_service: Callable[[], OptinFace],
) -> None:
    world = _restored_from_before(settings, clock, portrait_jpegs[0], tmp_path, open_service,
                                  lambda service, world: service.rotate_epoch(actor=world.admin))
    with closing(open_service()) as restored:
        assert restored.last_reconcile is not None
        assert restored.last_reconcile.subject_keys_lost == 1
        assert restored.index.count() == 0
        assert_witness_sees_the_restore(restored)
        # The epoch key the copy never knew is kept, not taken for a leftover: it wraps from
        # now on (and opens the database the copy replaced, if that was kept).
        assert _epoch_files(settings) == ["epoch-2.key"]
        world.service = restored
        assert world.verify(world.enrolled(portrait_jpegs[1]), flipped_jpegs[1]).outcome \
            == "candidates_for_review"


def test_a_copy_restored_destroys_no_epoch_key_a_later_copy_may_need(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    tmp_path: Path, open_service: Callable[[], OptinFace], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Restored from before a rotation, beside the key a later rotation that did not commit
    left: the copy wraps under the store's newest, and the epoch it does not use (the one
    backups taken since were wrapped under) is not the copy's start to destroy."""
    def rotate_then_die_rotating(service: OptinFace, world: World) -> None:
        service.rotate_epoch(actor=world.admin)
        with monkeypatch.context() as patched:
            patched.setattr(KeyRing, "wrap", crash)
            with pytest.raises(Crash):
                service.rotate_epoch(actor=world.admin)

    _restored_from_before(settings, clock, portrait_jpegs[0], tmp_path, open_service,
                          rotate_then_die_rotating)
    assert _epoch_files(settings) == ["epoch-2.key", "epoch-3.key"]
    with closing(open_service()) as restored:
        assert_witness_sees_the_restore(restored)
        assert _epoch_files(settings) == ["epoch-2.key", "epoch-3.key"]


def _epoch_files(settings: ConsentSettings) -> list[str]:
    return sorted(path.name for path in settings.keys_dir.glob("epoch-*.key"))


def _finished_at_start(service: OptinFace, world: World) -> list[dict[str, object]]:
    """The details of each start's finishing of an interrupted rotation, oldest first."""
    page = service.audit_events(actor=world.admin, limit=1000,
                                filters=AuditFilter(action=AuditAction.KEY_EPOCHS_DESTROYED))
    return [event.details for event in page.events]


@pytest.mark.parametrize("killed", ["before-destroying", "before-recording"])
def test_a_rotation_killed_after_it_committed_has_its_old_epoch_destroyed_at_the_next_start(
    world: World, settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    tmp_path: Path, open_service: Callable[[], OptinFace], monkeypatch: pytest.MonkeyPatch,
    killed: str,
) -> None:
    """Every subject key is under the new epoch once the transaction commits; the old epoch
    key, still in the store (or destroyed, unrecorded), is the start's to destroy and record,
    not the next rotation's an epoch later: the erasure receipts' ``copiesUndecryptableAt``
    relies on it."""
    service = world.service
    erased, consent = world.subject()
    template = world.enrol(erased, consent, portrait_jpegs[0])
    kept = world.enrolled(portrait_jpegs[1])
    copy = copy_database(settings, tmp_path)
    service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    clock.advance(hours=24)
    store = service.runtime.keys.store
    if killed == "before-destroying":
        monkeypatch.setattr(service.runtime.db, "checkpoint", crash)  # the step after the commit
    else:
        destroy = store.destroy_epoch

        def destroy_then_die(epoch: int) -> None:
            destroy(epoch)
            raise Crash

        monkeypatch.setattr(store, "destroy_epoch", destroy_then_die)
    with pytest.raises(Crash):
        service.rotate_epoch(actor=world.admin)
    monkeypatch.undo()
    assert service.key_epochs(actor=world.admin)[0].destroyed_at is None
    assert (settings.keys_dir / "epoch-1.key").exists() is (killed == "before-destroying")
    service.close()

    clock.advance(minutes=5)
    with closing(open_service()) as reopened:
        world.service = reopened
        first, second = reopened.key_epochs(actor=world.admin)
        assert (first.destroyed_at, second.destroyed_at) == (clock.now(), None)
        assert _epoch_files(settings) == ["epoch-2.key"]
        with pytest.raises(KeyUnavailable):
            decrypt_from_copy(reopened.runtime.keys, copy, template.id)
        assert world.verify(kept, portrait_jpegs[1]).outcome == "candidates_for_review"
        assert _finished_at_start(reopened, world) == [{"epoch": 2, "destroyed_epochs": [1]}]
        assert reopened.verify_audit().ok


def test_the_epoch_key_of_a_rotation_that_did_not_commit_is_never_wrapped_under(
    world: World, settings: ConsentSettings, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], open_service: Callable[[], OptinFace],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed while re-wrapping, its new key made but its transaction rolled back: every subject
    key is still under the old epoch. The process goes on wrapping under the old epoch, and so
    does the next start; it leaves the new key, which opens nothing here (another ledger sharing
    the store may be rotating to it), and the next rotation destroys it: no subject key lost."""
    service = world.service
    before = world.enrolled(portrait_jpegs[0])
    monkeypatch.setattr(KeyRing, "wrap", crash)
    with pytest.raises(Crash):
        service.rotate_epoch(actor=world.admin)
    monkeypatch.undo()
    assert _epoch_files(settings) == ["epoch-1.key", "epoch-2.key"]
    assert service.runtime.keys.epoch == 1
    meanwhile = world.enrolled(portrait_jpegs[1])
    service.close()

    with closing(open_service()) as reopened:
        world.service = reopened
        assert _epoch_files(settings) == ["epoch-1.key", "epoch-2.key"]
        assert reopened.runtime.keys.epoch == 1
        assert [epoch.id for epoch in reopened.key_epochs(actor=world.admin)] == [1]
        assert reopened.last_reconcile is not None
        assert reopened.last_reconcile.subject_keys_lost == 0
        for pseudonym, image in ((before, flipped_jpegs[0]), (meanwhile, flipped_jpegs[1])):
            assert world.verify(pseudonym, image).outcome == "candidates_for_review"
        assert _finished_at_start(reopened, world) == []
        assert reopened.rotate_epoch(actor=world.admin).destroyed_epochs == [1, 2]
        assert _epoch_files(settings) == ["epoch-3.key"]


@pytest.mark.parametrize(("stray", "destroyed", "left"), [
    pytest.param(1, [1], ["epoch-2.key"], id="a-destroyed-epoch-put-back"),
    pytest.param(3, [], ["epoch-2.key", "epoch-3.key"], id="the-next-epoch"),
    pytest.param(7, [], ["epoch-2.key", "epoch-7.key"], id="a-later-epoch"),
])
def test_an_epoch_key_the_ledger_did_not_make_is_never_adopted(
    world: World, settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], open_service: Callable[[], OptinFace], stray: int,
    destroyed: list[int], left: list[str],
) -> None:
    """``head -c32 /dev/urandom > epoch-7.key`` wraps none of the ledger's subject keys: adopted
    as the newest epoch, it would wrap every new one under a key from elsewhere, dated as made
    at that start. A newer one is left for the next rotation to destroy (the start cannot tell
    it from the key another ledger on the store is rotating to); an epoch the ledger destroyed
    is not brought back by its key's return, but destroyed again."""
    pseudonym = world.enrolled(portrait_jpegs[0])
    world.service.rotate_epoch(actor=world.admin)
    world.service.close()
    path = settings.keys_dir / f"epoch-{stray}.key"
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)

    clock.advance(hours=1)
    with closing(open_service()) as reopened:
        world.service = reopened
        assert _epoch_files(settings) == left
        assert reopened.runtime.keys.epoch == 2
        epochs = {epoch.id: epoch.destroyed_at for epoch in reopened.key_epochs(actor=world.admin)}
        assert list(epochs) == [1, 2] and epochs[2] is None
        assert (epochs[1] == clock.now()) is bool(destroyed)
        assert _finished_at_start(reopened, world) == (
            [{"epoch": 2, "destroyed_epochs": destroyed}] if destroyed else [])
        newcomer = world.enrolled(portrait_jpegs[1])
        for subject, image in ((pseudonym, flipped_jpegs[0]), (newcomer, flipped_jpegs[1])):
            assert world.verify(subject, image).outcome == "candidates_for_review"
        assert reopened.rotate_epoch(actor=world.admin).new_epoch == max(stray, 2) + 1
        assert _epoch_files(settings) == [f"epoch-{max(stray, 2) + 1}.key"]
