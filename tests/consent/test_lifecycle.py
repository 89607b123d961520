"""The life of one subject, end to end, and the erasure that leaves no trace."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from optinface.api.web import export as my_data
from optinface.consent.crypto import NONCE_BYTES
from optinface.consent.receipts import verify_receipt
from optinface.consent.schemas import ErasureReason, SearchOutcome
from optinface.consent.tables import Template
from optinface.engine.pipeline import FacePipeline
from tests.support.api import AS_TYPED, ENGLISH
from tests.support.backends import both_backends
from tests.support.consent import World
from tests.support.files import occurrences, readable_occurrences, template_bytes
from tests.support.migrations import columns

AES_GCM_TAG_BYTES = 16


def test_life_of_a_subject_from_notice_to_tombstone(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    service = world.service
    pseudonym, consent_id = world.subject()
    given = service.list_consents(actor=world.portal, subject=pseudonym)[0]
    assert given.receipt is not None
    receipt = given.receipt
    assert receipt.receipt["piiPrincipalId"] == pseudonym
    assert receipt.receipt["sensitive"] is True and receipt.receipt["spiCat"] == ["biometric"]
    assert verify_receipt(receipt.receipt, receipt.signature, receipt.public_key)
    forged = {**receipt.receipt, "piiPrincipalId": "subj_someone_else"}
    assert not verify_receipt(forged, receipt.signature, receipt.public_key)

    template = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    found = world.identify(flipped_jpegs[0])
    assert found.outcome is SearchOutcome.CANDIDATES
    assert [c.subject for c in found.candidates] == [pseudonym]

    export = service.export(actor=world.portal, subject=pseudonym)
    identify_events = [e for e in export.events if e.action == "identify"]
    assert identify_events and identify_events[0].actor_key_id == world.researcher.key_id
    assert identify_events[0].purpose == world.purpose
    assert [t.id for t in export.templates] == [template.id]
    assert "Search (identify among all)" in my_data.markdown(export, ENGLISH, AS_TYPED)
    assert "<li>" in my_data.html(export, ENGLISH, AS_TYPED)

    ciphertext, plaintext = template_bytes(service, template.id)
    service.index.save()  # as the periodic full save does: the vector is now in the file too
    service.runtime.db.checkpoint()
    assert readable_occurrences(service, plaintext)  # the scans below can fail
    assert occurrences(service.settings.data_dir, plaintext) == []  # encrypted at rest
    assert occurrences(service.settings.data_dir, ciphertext)
    index_files = service.runtime.keys.store.index_file_keys()
    assert index_files  # the file saved above, at least

    withdrawn = world.withdraw(pseudonym, consent_id)
    assert withdrawn.subject_erased and withdrawn.templates_erased == 1
    assert withdrawn.erasure is not None
    erasure = withdrawn.erasure
    destroyed = erasure.signed.receipt["destroyed"]
    assert erasure.reason is ErasureReason.WITHDRAWAL and destroyed["subjectKey"]
    # The withdrawal destroyed the template in its own transaction; the erasure receipt, the
    # one proof kept after the withdrawal's, still counts it.
    assert (destroyed["templates"], destroyed["indexEntries"]) == (1, 1)
    assert (erasure.templates_destroyed, erasure.index_entries_removed) == (1, 1)
    # Every index file saved before, wherever a copy lies, lost its key: the receipt says how many.
    assert destroyed["indexFileKeys"] == erasure.index_file_keys_destroyed == len(index_files)
    assert not set(index_files) & set(service.runtime.keys.store.index_file_keys())
    assert verify_receipt(erasure.signed.receipt, erasure.signed.signature,
                          erasure.signed.public_key)

    again = world.identify(flipped_jpegs[0])
    assert again.outcome is SearchOutcome.NO_CANDIDATE and again.candidates == []

    assert occurrences(service.settings.data_dir, ciphertext) == []
    assert readable_occurrences(service, plaintext) == []
    assert readable_occurrences(service, plaintext[:64]) == []
    tombstones = service.erasures(actor=world.reviewer)
    assert [t.subject_hash for t in tombstones] == [erasure.subject_hash]
    assert service.verify_audit().ok


@both_backends
def test_a_stranger_gets_no_candidate_never_the_nearest_face(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    enrolled = [world.enrolled(image) for image in portrait_jpegs[:3]]
    result = world.identify(portrait_jpegs[5])
    assert result.outcome is SearchOutcome.NO_CANDIDATE and result.candidates == []
    # The gallery searched was not empty: a member's face is found in it.
    assert [c.subject for c in world.identify(portrait_jpegs[1]).candidates] == [enrolled[1]]


def test_erased_pseudonym_cannot_be_enrolled_again(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    from optinface.consent.errors import SubjectErased

    pseudonym, consent_id = world.subject()
    world.service.erase(actor=world.portal, subject=pseudonym, reason=ErasureReason.REQUEST)
    try:
        world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    except SubjectErased as refused:
        assert refused.code == "subject_erased"
    else:
        raise AssertionError("an erased pseudonym was enrolled")


@both_backends
def test_verify_matches_the_claimed_subject_only(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    alice, alice_consent = world.subject(searchable=False)
    bob, bob_consent = world.subject(searchable=False)
    world.enrol(alice, alice_consent, portrait_jpegs[0])
    world.enrol(bob, bob_consent, portrait_jpegs[1])
    same = world.verify(alice, flipped_jpegs[0])
    other = world.verify(bob, flipped_jpegs[0])
    assert same.outcome is SearchOutcome.CANDIDATES and other.outcome is SearchOutcome.NO_CANDIDATE
    assert np.isclose(same.threshold, 0.36)


def test_no_photo_and_no_probe_embedding_is_kept_after_matching(
    world: World, pipeline: FacePipeline, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    """Only the encrypted template is kept: after an enrolment, an identify and a verify that
    all succeed, no file of the data directory (database, WAL, index read decrypted, keys)
    holds a slice of either photo or the probe's embedding, raw or protected."""
    service = world.service
    photo, probe = portrait_jpegs[0], flipped_jpegs[0]
    pseudonym, consent_id = world.subject()
    template = world.enrol(pseudonym, consent_id, photo)
    assert [c.subject for c in world.identify(probe).candidates] == [pseudonym]
    assert [c.subject for c in world.verify(pseudonym, probe).candidates] == [pseudonym]

    protector = service.runtime.protector
    embedded = pipeline.embed_single(photo).vector
    # The test computes embeddings as the service does: the stored template is found by the
    # same computation, so the scans below can find the probe's if it were kept.
    stored = template_bytes(service, template.id)[1]
    assert stored == protector.protect(embedded[None, :])[0].tobytes()
    service.index.save()
    assert readable_occurrences(service, stored)

    raw = pipeline.embed_single(probe).vector
    needles = {
        "photo": photo[len(photo) // 2:len(photo) // 2 + 64],
        "probe photo": probe[len(probe) // 2:len(probe) // 2 + 64],
        "probe embedding": raw.tobytes(),
        "protected probe embedding": protector.protect(raw[None, :])[0].tobytes(),
    }
    for _ in ("with the WAL", "checkpointed"):
        assert {name: found for name, needle in needles.items()
                if (found := readable_occurrences(service, needle))} == {}
        service.runtime.db.checkpoint()


def test_a_template_row_holds_no_image(
    world: World, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    """The templates table has no column for a photo or its metadata (EXIF), and its one
    payload is exactly one sealed vector: too small to hold any part of an image."""
    service = world.service
    world.enrolled(portrait_jpegs[0])
    assert columns(service.runtime.db.engine, "templates") == {
        "id", "subject_id", "consent_id", "model_id", "quality", "nonce", "ciphertext",
        "created_at", "seal", "owner_hash"}  # 64 hex each
    with service.runtime.db.transaction() as session:
        (row,) = session.scalars(select(Template)).all()
    assert len(row.ciphertext) == 4 * pipeline.embedding_size + AES_GCM_TAG_BYTES
    assert len(row.nonce) == NONCE_BYTES
