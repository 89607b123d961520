"""A subject's wrapped data key opens for that person alone (red team 7, #3).

It was bound to the integer subject id only, and a restore resets the id counter to the copy's,
so an id may be given again: a wrapped key of someone created after the copy and erased since,
put back by SQL under that id, became the newcomer's. It is now bound to the id and the
pseudonym (random, never given twice); a wrap of the first form still opens until the next
rotation re-wraps it in the current form.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

import pytest

from optinface.consent.audit import AuditAction
from optinface.consent.crypto import new_key
from optinface.consent.errors import KeyUnavailable
from optinface.consent.keys import SUBJECT_KEY_FORM, destroy_index_file_keys
from optinface.consent.keystore import open_key_store
from optinface.consent.schemas import AuditFilter, ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, make_world, outside_copy, outside_sql, refused


def _keys(service: OptinFace) -> dict[str, tuple[int, bytes, int]]:
    """Each subject's (id, wrapped key, epoch), by pseudonym, as a copy of the ledger holds it."""
    ids = {row["id"]: row["pseudonym"] for row in outside_copy(service, "subjects")}
    return {ids[row["subject_id"]]: (row["subject_id"], bytes(row["wrapped"]), row["epoch"])
            for row in outside_copy(service, "subject_keys")}


@both_backends
def test_a_wrapped_key_opens_for_no_one_else_not_even_under_the_same_id(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    """Under the erased person's id, another pseudonym (the id given again after a restore)
    does not open their key. A key moved by SQL onto another subject's row opens for nobody:
    the next start still starts, leaves that subject's template out of the index it rebuilds and
    says so; the rotation deletes the key instead of re-wrapping it, and the template nothing
    opens again with it (chained as ``subject_keys_lost``), so the protection-key rotation
    re-protects every other template; the subject stays, to be erased or enrol again."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        victim, moved, kept = (world.enrolled(jpeg) for jpeg in portrait_jpegs[:3])
        keys = _keys(service)
        moved_id, blob, epoch = keys[moved]
        ring = service.runtime.keys
        assert blob[0] == SUBJECT_KEY_FORM
        ring.unwrap(blob, subject_id=moved_id, pseudonym=moved, epoch=epoch)
        with pytest.raises(ValueError):  # the id given to a newcomer: not their key
            ring.unwrap(blob, subject_id=moved_id, pseudonym="subj_newcomer", epoch=epoch)
        outside_sql(service, "UPDATE subject_keys SET wrapped = :w WHERE subject_id = :s",
                    w=blob, s=keys[victim][0])
    store = open_key_store(settings, create=False)
    try:
        destroy_index_file_keys(store)  # the next start rebuilds the index from the ledger
    finally:
        store.close()

    with closing(open_service()) as service:  # the victim has the lowest id: sampled first
        report = service.last_reconcile
        assert report is not None and report.templates_left_out == 1
        assert service.index.count() == 2
        rotated = service.rotate_epoch(actor=world.admin)
        assert rotated.subject_keys_rewrapped == 2
        [event] = service.audit_events(actor=world.reviewer, filters=AuditFilter(
            action=AuditAction.KEY_EPOCH_ROTATED)).events
        assert event.details["unreadable_subject_keys_deleted"] == 1
        assert set(_keys(service)) == {moved, kept}
        [lost] = service.audit_events(actor=world.reviewer, filters=AuditFilter(
            action=AuditAction.SUBJECT_KEYS_LOST)).events
        assert lost.details == {"subject_keys": 1, "templates": 1}
        assert len(outside_copy(service, "templates")) == 2
        assert service.rekey_templates(actor=world.admin).templates_reprotected == 2
        erased = service.erase(actor=world.admin, subject=victim, reason=ErasureReason.REQUEST)
        assert erased.templates_destroyed == 0


@both_backends
def test_a_first_form_wrap_opens_until_the_rotation_rewraps_it_in_the_current_form(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    """A key wrapped before this version (bound to the id alone, no form byte) still opens:
    the start rebuilds the subject's index entry from it, and the rotation re-wraps it in the
    current form, which opens; the first-form wrap, under the destroyed epoch, opens no more."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        subject = world.enrolled(portrait_jpegs[0])
        subject_id, blob, epoch = _keys(service)[subject]
        ring = service.runtime.keys
        data_key = ring.unwrap(blob, subject_id=subject_id, pseudonym=subject, epoch=epoch)
        first_form = ring.store.wrap(epoch, data_key, associated=f"subject-key:{subject_id}"
                                     .encode())
        outside_sql(service, "UPDATE subject_keys SET wrapped = :w WHERE subject_id = :s",
                    w=first_form, s=subject_id)
    store = open_key_store(settings, create=False)
    try:
        destroy_index_file_keys(store)
    finally:
        store.close()

    with closing(open_service()) as service:  # the start's rebuild opens it
        report = service.last_reconcile
        assert report is not None and report.templates_left_out == 0
        assert service.index.count() == 1
        rotated = service.rotate_epoch(actor=world.admin)
        assert rotated.subject_keys_rewrapped == 1
        _, rewrapped, new_epoch = _keys(service)[subject]
        assert rewrapped[0] == SUBJECT_KEY_FORM and new_epoch == rotated.new_epoch
        ring = service.runtime.keys
        assert ring.unwrap(rewrapped, subject_id=subject_id, pseudonym=subject,
                           epoch=new_epoch) == data_key
        with pytest.raises(KeyUnavailable):
            ring.unwrap(first_form, subject_id=subject_id, pseudonym=subject, epoch=epoch)
        assert service.rekey_templates(actor=world.admin).templates_reprotected == 1


@both_backends
def test_a_key_that_opens_for_no_one_refuses_the_persons_enrolment_and_copy_with_a_code(
    clock: FakeClock, portrait_jpegs: list[bytes], open_service: Callable[[], OptinFace],
) -> None:
    """A wrapped key moved by SQL onto the person's row (or a template that does not open under
    their key) is refused with its stable code wherever the person's own data is opened (a new
    enrolment compares the face with theirs; their own copy of their templates), never an
    unexpected failure. Once the rotation deleted the key with the templates nothing opens
    again, the person enrols again at the desk and has their copy."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        victim, consent_id = world.subject()
        world.enrol(victim, consent_id, portrait_jpegs[0])
        other = world.enrolled(portrait_jpegs[1])
        keys = _keys(service)
        outside_sql(service, "UPDATE subject_keys SET wrapped = :w WHERE subject_id = :s",
                    w=keys[other][1], s=keys[victim][0])
        refused("subject_data_unreadable",
                lambda: world.enrol(victim, consent_id, portrait_jpegs[0]))
        refused("subject_data_unreadable", lambda: service.export(
            actor=world.people[victim].actor, subject=victim, vectors=True))
        assert service.export(actor=world.admin, subject=victim).subject.pseudonym == victim
        service.rotate_epoch(actor=world.admin)
        world.enrol(victim, consent_id, portrait_jpegs[0])
        assert len(service.export(actor=world.people[victim].actor, subject=victim,
                                  vectors=True).template_vectors) == 1


@both_backends
def test_an_epoch_key_that_opens_none_of_its_keys_stops_the_rotation_and_deletes_nothing(
    settings: ConsentSettings, clock: FakeClock, portrait_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    """Another key put in the epoch key's place while the service runs (a wrong backup of the
    key folder restored): no subject key opens, yet none is deleted as unreadable; the rotation
    stops with the store's code, rolled back, and once the right key is back it re-wraps them
    all."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        for jpeg in portrait_jpegs[:2]:
            world.enrolled(jpeg)
        before = _keys(service)
        store, epoch = service.runtime.keys.store, service.runtime.keys.epoch
        key_file = settings.keys_dir / f"epoch-{epoch}.key"
        right = key_file.read_bytes()
        store.import_epoch(epoch, new_key())
        refused("key_store_unusable", lambda: service.rotate_epoch(actor=world.admin))
        assert _keys(service) == before and service.runtime.keys.epoch == epoch

        store.import_epoch(epoch, right)
        rotated = service.rotate_epoch(actor=world.admin)
        assert rotated.subject_keys_rewrapped == 2 and set(_keys(service)) == set(before)
