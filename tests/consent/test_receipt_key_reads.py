"""On a shared ledger (PostgreSQL) each read of the receipt keys is a read of the key store's
retired record (:mod:`consent.receipt_key_in_force`): an act or a request reads it once and
passes what it read on. Counted with the real file key store, a subclass that tallies what it
is asked, put in place of the service's own over the same folder."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from optinface.api.routes.wellknown import published_keys
from optinface.consent.audit import AuditAction
from optinface.consent.keystore import FileKeyStore
from optinface.consent.receipt_keys import RETIRED_KEYS_NAME
from optinface.consent.schemas import AuditFilter, ErasureReason, MatchResult, Operation
from optinface.consent.service import OptinFace
from tests.support.consent import World, outside_sql

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


class CountingKeyStore(FileKeyStore):
    """The file key store, tallying the secrets read by name."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, create=False)
        self.reads: Counter[str] = Counter()

    def read_secret(self, name: str) -> bytes | None:
        self.reads[name] += 1
        return super().read_secret(name)


def counted(service: OptinFace) -> CountingKeyStore:
    """Put a counting store over the service's key folder in place of its own."""
    runtime = service.runtime
    assert runtime.db.shared and isinstance(runtime.keys.store, FileKeyStore)
    store = CountingKeyStore(runtime.keys.store.folder)
    runtime.keys = replace(runtime.keys, store=store)
    runtime.register_reads = runtime.register_reads.with_keys(runtime.keys)
    return store


def record_reads(service: OptinFace, act: Callable[[], object]) -> int:
    """How many times ``act`` read the key store's retired record."""
    store = counted(service)
    act()
    return store.reads[RETIRED_KEYS_NAME]


def test_an_enrolment_reads_the_receipt_keys_once(world: World,
                                                  portrait_jpegs: list[bytes]) -> None:
    pseudonym, consent_id = world.subject()
    capture = world.people[pseudonym].approve_capture(consent_id, portrait_jpegs[0],
                                                      desk=world.portal)
    assert record_reads(world.service, lambda: world.service.enrol(
        actor=world.portal, subject=pseudonym, capture_id=capture.id,
        image=portrait_jpegs[0])) == 1


def test_the_register_the_record_of_processing_and_the_published_keys_read_the_record_once(
    world: World,
) -> None:
    service = world.service
    assert record_reads(service, service.register) == 1
    assert record_reads(service, service.ropa) == 1
    assert record_reads(service, lambda: published_keys(service)) == 1


def test_a_signed_act_reads_the_record_once_for_its_signature_and_its_checks(
    world: World,
) -> None:
    """Giving a consent, withdrawing one of its purposes, then the consent: the key is put in
    force for the signature, and the receipt checked and served, with one read; the consent
    ledger reads once for all the consents it lists."""
    service = world.service
    other = world.purpose_with(Operation.ENROL, name="study-2")
    pseudonym = world.person().pseudonym
    given = world.consent(pseudonym, purposes=[world.purpose, other])
    assert record_reads(service, lambda: world.consent(pseudonym)) == 1
    consent_id = given.consent.id
    # Once: the narrowing's transaction (its checks and signature) and the consent kept,
    # listed after it with the keys it read.
    assert record_reads(service, lambda: world.withdraw_purpose(pseudonym, consent_id,
                                                                other)) == 1
    assert record_reads(service, lambda: world.withdraw(pseudonym, consent_id)) == 1
    assert record_reads(service, lambda: service.consent_ledger(actor=world.reviewer)) == 1


def test_an_identify_and_a_verify_read_the_record_once_each(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """The probe consent spent and the gates checked, then the consent of each template found
    backed by its receipt: one read for the whole search (which does find the person, so the
    gallery's consents were checked)."""
    service = world.service
    pseudonym = world.enrolled(portrait_jpegs[0])
    searches: list[MatchResult] = []
    probe_id = world.probe(image=flipped_jpegs[0])
    assert record_reads(service, lambda: searches.append(service.identify(
        actor=world.researcher, purpose_id=world.purpose, probe_consent_id=probe_id,
        image=flipped_jpegs[0]))) == 1
    probe_id = world.probe(image=flipped_jpegs[0], subject=pseudonym)
    assert record_reads(service, lambda: searches.append(service.verify(
        actor=world.researcher, subject=pseudonym, purpose_id=world.purpose,
        probe_consent_id=probe_id, image=flipped_jpegs[0]))) == 1
    assert [[c.subject for c in s.candidates] for s in searches] == [[pseudonym]] * 2


def test_an_erasure_reads_the_record_once_for_its_signature_and_the_receipt_served(
    world: World,
) -> None:
    service = world.service
    pseudonym = world.person().pseudonym
    assert record_reads(service, lambda: service.erase(
        actor=world.portal, subject=pseudonym, reason=ErasureReason.REQUEST)) == 1


def test_a_forged_gallery_receipt_costs_a_search_one_read_more_and_is_still_dropped(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """A receipt whose signature fails the keys the search read may be one another worker
    signed with a key rotated meanwhile: the search reads the keys in force again, once for all
    the receipts it checks, and drops and chains each one that still fails."""
    service = world.service
    forged = []
    for image in portrait_jpegs[:2]:
        pseudonym, consent_id = world.subject()
        world.enrol(pseudonym, consent_id, image)
        signature = Ed25519PrivateKey.generate().sign(b"not this receipt")
        outside_sql(service, "UPDATE consents SET receipt_signature = :signature WHERE id = :id",
                    signature=base64.b64encode(signature).decode(), id=consent_id)
        forged.append(consent_id)
    probe_id = world.probe(image=flipped_jpegs[0])
    searches: list[MatchResult] = []
    assert record_reads(service, lambda: searches.append(service.identify(
        actor=world.researcher, purpose_id=world.purpose, probe_consent_id=probe_id,
        image=flipped_jpegs[0]))) == 2
    assert searches[0].candidates == []
    reported = service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.AUTHORITY_MISMATCH)).events
    assert sorted((e.details["mismatch"], e.details["consent_id"]) for e in reported) \
        == sorted(("signature_invalid", consent_id) for consent_id in forged)
