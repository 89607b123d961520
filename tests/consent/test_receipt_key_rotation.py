"""The receipt key rotates: a new key signs from then on, the old one's private half is
destroyed in the key store (a file, or a token object), its public half kept as a retired key
that still checks what it signed before, and nothing after its retirement."""

from __future__ import annotations

import base64
import logging
import os
from contextlib import closing
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import DBAPIError

from optinface.consent import erasure_receipts, receipt_key_in_force
from optinface.consent.audit import AuditAction
from optinface.consent.crypto import canonical_json
from optinface.consent.declaration import REDECLARE
from optinface.consent.errors import InvalidRequest, KeyStoreUnusable
from optinface.consent.keys import SIGNING_KEY_NAME, KeyRing, public_key_of
from optinface.consent.receipt_keys import ReceiptKeys, RetiredKey
from optinface.consent.receipts import published_key, verify_receipt
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import AuditFilter, ErasureReason
from optinface.consent.settings import ConsentSettings
from tests.support.backends import both_backends
from tests.support.consent import (
    FakeClock,
    World,
    enrolled_seen_by,
    outside_sql,
    refused,
    served_consent_receipt,
)

REASON = "INC-7: receipt key copied"


@both_backends
def test_a_rotation_retires_the_old_key_which_still_checks_what_it_signed(
    world: World, open_service: Any, settings: ConsentSettings, clock: FakeClock,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    service = world.service
    enrolled = world.enrolled(portrait_jpegs[0])
    erased, _ = world.subject()
    erasure = service.erase(actor=world.people[erased].actor, subject=erased,
                            reason=ErasureReason.REQUEST)
    code = service.keep_erasure_receipt(erasure)
    old_key = service.public_key
    old_seed = service.runtime.keys.store.read_secret(SIGNING_KEY_NAME)
    assert old_seed is not None
    receipt, signature, _ = served_consent_receipt(world, enrolled)

    clock.advance(minutes=5)
    done = service.rotate_receipt_key(reason=REASON)

    new_key = service.public_key
    assert new_key != old_key and done.new_public_key == new_key
    # The old private half is gone from the store: no key file holds its seed any more.
    keys_dir = settings.keys_dir
    assert all(old_seed not in path.read_bytes() for path in keys_dir.iterdir())
    assert public_key_of(service.runtime.keys.store.read_secret(SIGNING_KEY_NAME) or b"") \
        == new_key
    # Published as retired, apart from the keys in force (which stay as they were).
    [retired] = service.retired_keys()
    assert (retired.public_key, retired.retired_at) == (old_key, clock.now())
    assert retired.key_id == done.old_key_id
    assert service.published_keys()[0].public_key == new_key
    assert all(k.retired_at is None for k in service.published_keys())
    assert service.register().retired_signing_keys == [retired]
    # The receipt signed before is served naming the key that checks it, and verifies offline.
    served, served_signature, served_key = served_consent_receipt(world, enrolled)
    assert (served, served_signature, served_key) == (receipt, signature, old_key)
    assert verify_receipt(receipt, signature, retired.public_key)
    assert not verify_receipt(receipt, signature, new_key)
    # The erasure receipt kept in its tombstone is served and checks as the review page asks.
    kept = service.erasure_receipt_by_code(code)
    assert kept.public_key == old_key and verify_receipt(kept.receipt, kept.signature, old_key)
    [tomb] = service.erasures(actor=world.reviewer)
    assert tomb.receipt is not None and tomb.receipt_signature is not None
    assert erasure_receipts.problem(tomb.receipt, tomb.receipt_signature,
                                    subject_hash=tomb.subject_hash,
                                    public_key=service.receipt_keys) is None
    # New receipts are the new key's.
    later, _ = world.subject()
    new_receipt, new_signature, named = served_consent_receipt(world, later)
    assert named == new_key == new_receipt["publicKey"]
    assert verify_receipt(new_receipt, new_signature, new_key)
    # The key is declared material: the register says so, and matching waits for a declaration.
    state = service.register()
    assert not state.in_service
    assert any(REDECLARE.split("{")[0] in warning for warning in state.warnings)
    world.declare()
    # The consent its old receipt backs still grants its search: the retired key checks it.
    assert world.verify(enrolled, flipped_jpegs[0]).outcome == "candidates_for_review"
    # Chained with the key ids and the reason, never key material.
    [event] = service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.RECEIPT_KEY_ROTATED)).events
    assert event.details == {"old_key_id": done.old_key_id, "new_key_id": done.new_key_id,
                             "reason": REASON}
    # A restart loads the retired key: the start's key check passes on the old receipts.
    service.close()
    with closing(open_service()) as reopened:
        assert reopened.public_key == new_key
        assert [k.public_key for k in reopened.retired_keys()] == [old_key]
        world.service = reopened
        assert world.verify(enrolled, flipped_jpegs[0]).outcome \
            == "candidates_for_review"
        # The rotation is in the log: the start adopts nothing.
        assert [action for action, _ in _rotations(world)] == ["receipt_key_rotated"]


def test_a_retired_key_checks_no_receipt_dated_after_its_retirement(clock: FakeClock) -> None:
    """Whoever kept the old key cannot sign a receipt of today that the service takes."""
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    old_public, new_public = (base64.b64encode(k.public_key().public_bytes_raw()).decode()
                              for k in (old, new))
    keys = ReceiptKeys(current=new_public, retired=(
        RetiredKey(public_key=old_public, retired_at=clock.now(), reason=REASON),))

    def signed(moment: timedelta) -> tuple[dict[str, Any], str]:
        receipt = {"publicKey": old_public,
                   "consentTimestampISO": (clock.now() + moment).isoformat()}
        return receipt, base64.b64encode(old.sign(canonical_json(receipt))).decode()

    assert verify_receipt(*signed(timedelta(seconds=-1)), keys)
    assert verify_receipt(*signed(timedelta(0)), keys)
    assert not verify_receipt(*signed(timedelta(seconds=1)), keys)
    undated = {"publicKey": old_public}
    assert not verify_receipt(undated, base64.b64encode(old.sign(canonical_json(undated)))
                              .decode(), keys)


def test_a_receipt_stating_several_times_is_signed_at_the_latest(clock: FakeClock) -> None:
    """An old ``destroyedAt`` added to a receipt of today does not bring it under the retired
    key; an unreadable one brings it under none."""
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    old_public, new_public = (base64.b64encode(k.public_key().public_bytes_raw()).decode()
                              for k in (old, new))
    keys = ReceiptKeys(current=new_public, retired=(
        RetiredKey(public_key=old_public, retired_at=clock.now(), reason=REASON),))
    before = (clock.now() - timedelta(days=1)).isoformat()

    def verifies(**times: str) -> bool:
        receipt = {"publicKey": old_public, **times}
        return verify_receipt(receipt, base64.b64encode(old.sign(canonical_json(receipt)))
                              .decode(), keys)

    assert verifies(destroyedAt=before, consentTimestampISO=before)
    assert not verifies(destroyedAt="2000-01-01T00:00:00+00:00",
                        consentTimestampISO=(clock.now() + timedelta(seconds=1)).isoformat())
    assert not verifies(destroyedAt="not a time", consentTimestampISO=before)


def test_a_rotation_refuses_a_reason_naming_a_subject_and_changes_nothing(
    world: World,
) -> None:
    pseudonym, _ = world.subject()
    before = world.service.public_key
    with pytest.raises(InvalidRequest):
        world.service.rotate_receipt_key(reason=f"asked by {pseudonym}")
    assert world.service.public_key == before and world.service.retired_keys() == []


def test_a_rotation_stopped_between_its_two_writes_keeps_the_key_in_force_and_unretired(
    world: World, open_service: Any,
) -> None:
    """The key store takes the retired-keys record, then refuses the new key (its temporary
    file's name taken by a folder, as a full disk would refuse it): the key in force is still
    the old one, whole (not shredded), and neither this worker nor the next start publishes it
    as retired while it signs."""
    service = world.service
    before = service.public_key
    key_dir = service.settings.key_dir
    assert key_dir is not None
    (key_dir / f".{SIGNING_KEY_NAME}.key.{os.getpid()}.tmp").mkdir()
    with pytest.raises(KeyStoreUnusable):
        service.rotate_receipt_key(reason=REASON)
    assert public_key_of((key_dir / f"{SIGNING_KEY_NAME}.key").read_bytes()) == before
    assert service.public_key == before and service.retired_keys() == []
    service.close()
    with closing(open_service()) as reopened:  # the store's record names the key in force
        assert reopened.public_key == before and reopened.retired_keys() == []


def _rotations(world: World) -> list[tuple[str, dict[str, object]]]:
    """The log's events of a rotation: each action with its details."""
    return [(event.action, event.details) for action in (
        AuditAction.RECEIPT_KEY_ROTATED, AuditAction.RECEIPT_KEY_ROTATION_ADOPTED)
        for event in world.service.audit_events(
            actor=world.reviewer, filters=AuditFilter(action=action)).events]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_rotation_whose_commit_failed_is_chained_once_by_the_next_start(
    world: World, open_service: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    """The key store is written before the ledger commits: a commit that fails leaves the key
    rotated and the log without it. The next start chains it, once. The commit fails for real:
    a deferred trigger on the log's table raising at COMMIT (PostgreSQL; SQLite has none)."""
    service = world.service
    old_key = service.public_key
    outside_sql(service, "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS"
                         " $$ BEGIN RAISE EXCEPTION 'the log is unwritable'; END $$")
    outside_sql(service, "CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON audit_events"
                         " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                         " EXECUTE FUNCTION refuse_commit()")
    with pytest.raises(DBAPIError, match="the log is unwritable"):
        service.rotate_receipt_key(reason=REASON)
    outside_sql(service, "DROP TRIGGER refuse_commit ON audit_events")
    outside_sql(service, "DROP FUNCTION refuse_commit()")
    assert _rotations(world) == []  # the key store rotated, the log holds nothing of it
    service.close()

    with caplog.at_level(logging.WARNING), closing(open_service()) as reopened:
        world.service = reopened
        new_key = reopened.public_key
        assert new_key != old_key and [k.public_key for k in reopened.retired_keys()] == [old_key]
        [retired] = reopened.runtime.keys.retired
        adopted = ("receipt_key_rotation_adopted", {
            "old_key_id": published_key(old_key).key_id,
            "new_key_id": published_key(new_key).key_id, "reason": REASON,
            "retired_at": retired.retired_at.isoformat()})
        assert _rotations(world) == [adopted]
    assert "chained now as receipt_key_rotation_adopted" in caplog.text
    with closing(open_service()) as again:  # once: the next start finds it in the log
        world.service = again
        assert _rotations(world) == [adopted]


def test_a_worker_running_through_anothers_rotation_signs_and_checks_with_the_key_in_force(
    workers: tuple[World, World], clock: FakeClock, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    """On PostgreSQL nothing stops the other workers while one rotates: each asks the key
    store, so none signs with the retired key, and each checks what the new key signed."""
    a, b = workers
    before, _ = enrolled_seen_by(a, b, portrait_jpegs[0])
    old_key = b.service.public_key
    probe_id = b.probe(image=flipped_jpegs[0], subject=before)
    clock.advance(minutes=5)
    done = a.service.rotate_receipt_key(reason=REASON)
    new_key = done.new_public_key
    # B's first act after it, a search, reads the key store once for the whole request (never
    # the key B loaded): it sees the material change and waits for a new declaration.
    refused("redeclaration_required", lambda: b.service.verify(
        actor=b.researcher, subject=before, purpose_id=b.purpose, probe_consent_id=probe_id,
        image=flipped_jpegs[0]))
    # B, running since before the rotation, publishes the key in force and the retired one.
    assert b.service.published_keys()[0].public_key == new_key
    assert [k.public_key for k in b.service.retired_keys()] == [old_key]
    # What B signs now, the new key signs: a consent receipt, the register.
    later, _ = b.subject()
    receipt, signature, named = served_consent_receipt(b, later)
    assert named == new_key == receipt["publicKey"]
    assert verify_receipt(receipt, signature, new_key)
    register = b.service.register()
    assert register.signature is not None and register.signature.kid == done.new_key_id
    # B sees the material change, and once declared again searches with both keys' consents:
    # the old one's (retired key) and one A signed with the new key.
    assert not register.in_service
    a.declare()
    after, _ = enrolled_seen_by(a, b, portrait_jpegs[1])
    assert served_consent_receipt(b, after)[2] == new_key
    assert b.verify(before, flipped_jpegs[0]).outcome == "candidates_for_review"
    assert b.verify(after, flipped_jpegs[1]).outcome == "candidates_for_review"


def test_an_idle_worker_drops_the_retired_private_half_at_its_next_periodic_check(
    workers: tuple[World, World], clock: FakeClock,
) -> None:
    """B signs and checks nothing after A's rotation: its next witness round, the periodic
    check every worker runs, asks the key store's record and loads the key in force, so the
    retired key's private half leaves B's memory within one interval, not at its next
    signature."""
    a, b = workers
    old_key = b.service.public_key
    clock.advance(minutes=5)
    done = a.service.rotate_receipt_key(reason=REASON)
    assert b.service.runtime.keys.public_key == old_key  # idle: still holding the old one
    b.service.witness_audit()  # what the server's Periodic calls every interval
    assert b.service.runtime.keys.public_key == done.new_public_key
    assert [k.public_key for k in b.service.runtime.keys.retired] == [old_key]


def test_a_rotation_by_a_worker_loaded_before_anothers_keeps_that_rotation(
    workers: tuple[World, World], clock: FakeClock,
) -> None:
    """The key in force and the retired record are read under the ledger's lock: a worker
    that loaded them before another's rotation retires the key in force, not the one it
    loaded, and keeps the other's retirement in the record."""
    a, b = workers
    first = a.service.public_key
    clock.advance(minutes=5)
    second = a.service.rotate_receipt_key(reason=REASON).new_public_key
    clock.advance(minutes=5)
    done = b.service.rotate_receipt_key(reason=REASON)  # B still holds the first key
    assert done.old_key_id == published_key(second).key_id
    for world in (a, b):
        assert [k.public_key for k in world.service.retired_keys()] == [first, second]
        assert world.service.published_keys()[0].public_key == done.new_public_key


def test_a_search_finds_a_consent_signed_under_a_key_rotated_while_it_ran_and_reports_nothing(
    workers: tuple[World, World], monkeypatch: pytest.MonkeyPatch, clock: FakeClock,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """B's search reads the receipt keys before it embeds the probe; right after that read, A
    rotates the key and a new subject consents (a receipt A signs with the new key) and is
    enrolled. B finds the template: its receipt fails the keys B read, so B reads them again,
    once, and the consent is backed: found, and no false ``authority_mismatch`` chained."""
    a, b = workers
    probe_id = b.probe(image=flipped_jpegs[0])
    unwrapped = receipt_key_in_force.in_force
    enrolled: list[str] = []
    read: list[str] = []  # the key in force as the search read it

    def read_then_rotated(runtime: Runtime) -> KeyRing:
        ring = unwrapped(runtime)
        if runtime is b.service.runtime and not enrolled:  # the search's read, once
            read.append(ring.public_key)
            clock.advance(minutes=5)
            a.service.rotate_receipt_key(reason=REASON)
            enrolled.append(enrolled_seen_by(a, b, portrait_jpegs[0])[0])
        return ring

    monkeypatch.setattr(receipt_key_in_force, "in_force", read_then_rotated)
    found = b.service.identify(actor=b.researcher, purpose_id=b.purpose,
                               probe_consent_id=probe_id, image=flipped_jpegs[0])
    [after], [stale] = enrolled, read
    assert served_consent_receipt(b, after)[2] == a.service.public_key != stale
    assert [candidate.subject for candidate in found.candidates] == [after]
    assert b.service.audit_events(actor=b.reviewer, filters=AuditFilter(
        action=AuditAction.AUTHORITY_MISMATCH)).events == []
