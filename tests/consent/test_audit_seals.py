"""After an erasure the log names the subject only by salted hashes, and still verifies.

Compliance matrix X-ERA step 3: search-log rows referencing an erased subject keep only a
salted hash. The chain covers each pseudonym through its seal (:mod:`consent.audit_seals`),
so removing the pseudonym and its salt leaves every event's hash, and every signed root, intact.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select, text

from optinface.consent.audit_seals import seal_of
from optinface.consent.schemas import (
    AuditFilter,
    ErasureReason,
    RightKind,
    RightsRequestAnswer,
    RightsRequestCreate,
)
from optinface.consent.tables import AuditEvent, MatchReview
from tests.support.backends import both_backends
from tests.support.consent import World, refused, row_count
from tests.support.files import readable_occurrences

pytestmark = both_backends


def _events(world: World) -> list[AuditEvent]:
    with world.service.runtime.db.transaction() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        session.expunge_all()
    return events


def test_after_an_erasure_the_log_names_the_subject_by_a_salted_hash_only(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    mine = world.enrolled(portrait_jpegs[0])
    other = world.enrolled(portrait_jpegs[0])  # the same face: both in one search's scores
    assert {c.subject for c in world.identify(flipped_jpegs[0]).candidates} == {mine, other}
    world.verify(mine, flipped_jpegs[0])
    world.service.audit_events(actor=world.reviewer, filters=AuditFilter(subject=mine))
    world.service.request_right(actor=world.portal, subject=mine,
                                body=RightsRequestCreate(kind=RightKind.ERASURE, channel="letter"))
    named = [e.seq for e in _events(world) if mine in e.subjects]
    [search] = [e for e in _events(world) if e.action == "identify"]
    assert mine not in json.dumps(search.details)  # scores are keyed by seal, even before

    receipt = world.service.erase(actor=world.people[mine].actor, subject=mine,
                                  reason=ErasureReason.REQUEST)

    # Acts naming them afterwards: a reviewer's filter, a refused verify, a verify link asked
    # for (answered as for anyone, naming no one), the letter answered.
    world.service.audit_events(actor=world.reviewer, filters=AuditFilter(subject=mine))
    refused("probe_consent_required", lambda: world.service.verify(
        actor=world.researcher, subject=mine, purpose_id=world.purpose,
        probe_consent_id="prb_none", image=flipped_jpegs[0]))
    world.probe_link(image=flipped_jpegs[0], subject=mine)
    [letter] = world.service.rights_requests(actor=world.reviewer)
    world.service.answer_right(actor=world.reviewer, request_id=letter.id,
                               body=RightsRequestAnswer(answer="erased"))
    after = _events(world)
    assert not [e.seq for e in after if mine in json.dumps(
        [e.subjects, e.subject_seals, e.details])]
    assert not row_count(world.service, MatchReview, MatchReview.candidate == mine)
    forgotten = [e for e in after if e.seq in named]
    assert forgotten and all(e.subject_seals and any(s["salt"] is None for s in e.subject_seals)
                             for e in forgotten)
    assert receipt.signed.receipt["destroyed"]["logPseudonyms"] == len(named) + 1  # + ERASE
    [search] = [e for e in after if e.action == "identify"]
    assert seal_of(search, other) in search.details["scores"]  # the other keeps their name
    [involved] = world.service.export(actor=world.reviewer, subject=other).searches
    assert involved.score is not None
    assert world.service.verify_audit().ok


def test_after_an_erasure_no_row_leads_from_the_persons_photo_to_them(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The enrolment's events commit to the photo by a hash sealed with the subject's salt: an
    auditor holding the photo checks it while the person exists; after the erasure, whoever
    holds the photo finds nothing in the ledger."""
    photo = hashlib.sha256(portrait_jpegs[0]).hexdigest()
    mine = world.enrolled(portrait_jpegs[0])
    about_photo = [e for e in _events(world) if "photo_seal" in e.details]
    assert {e.action for e in about_photo} == {"capture_approved", "enrol"}
    for event in about_photo:
        [seal] = event.subject_seals
        assert event.details["photo_seal"] == hashlib.sha256(
            bytes.fromhex(seal["salt"]) + photo.encode()).hexdigest()
    assert not [e.seq for e in _events(world) if photo in json.dumps(e.details)]

    world.service.erase(actor=world.people[mine].actor, subject=mine,
                        reason=ErasureReason.REQUEST)
    assert readable_occurrences(world.service, photo.encode()) == []
    assert world.service.verify_audit().ok


def test_a_pseudonym_changed_in_a_sealed_event_breaks_the_chain_at_that_event(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The hash covers a pseudonym only through its seal: the seal check is what sees this."""
    mine = world.enrolled(portrait_jpegs[0])
    other, _ = world.subject()
    seq = max(e.seq for e in _events(world) if e.subjects == [mine])
    with world.service.runtime.db.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET subjects = :subjects WHERE seq = :seq"),
                           {"subjects": json.dumps([other]), "seq": seq})
    status = world.service.verify_audit()
    assert not status.ok and status.first_bad_sequence == seq


def test_a_salt_removed_without_an_erasure_is_reported_at_its_event(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """Removing a live subject's pseudonym and salt together leaves every hash intact, and
    would hide who was searched: only an erasure's event may account for a seal without salt.
    Naming one subject twice, to drop another, is refused too."""
    mine = world.enrolled(portrait_jpegs[0])
    world.enrolled(portrait_jpegs[0])  # a second candidate, so the search names two
    world.identify(flipped_jpegs[0])
    [search] = [e for e in _events(world) if e.action == "identify"]
    hidden = [{"hash": s["hash"], "salt": None} for s in search.subject_seals or ()]
    for subjects, seals in (([], hidden), ([mine, mine], search.subject_seals)):
        with world.service.runtime.db.engine.begin() as connection:
            connection.execute(text("UPDATE audit_events SET subjects = :subjects,"
                                    " subject_seals = :seals WHERE seq = :seq"),
                               {"subjects": json.dumps(subjects), "seals": json.dumps(seals),
                                "seq": search.seq})
        status = world.service.verify_audit()
        assert not status.ok and status.first_bad_sequence == search.seq, subjects
