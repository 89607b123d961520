"""Rectification (Law 25 s. 28): a new photo the subject approves replaces a poor template,
which is destroyed in the same call like an erased one; a replacement that names a template
not theirs under that consent changes nothing."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sqlalchemy import select

from optinface.consent import reconcile
from optinface.consent.audit import AuditAction
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import AuditFilter, ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent, Template
from optinface.engine.decode import BgrImage
from optinface.engine.index import RESERVED_LABELS
from optinface.engine.samples import Variant, encode, variant
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, outside_sql, refused, row_count
from tests.support.erasures import WAIT_S, HeldAtJournal
from tests.support.files import occurrences, readable_occurrences, template_bytes

CAP = 2


@pytest.fixture
def settings(settings: ConsentSettings) -> ConsentSettings:
    """A cap of two templates: reached after two photos, where a replacement must still work."""
    return settings.model_copy(update={"max_templates_per_subject": CAP})


@pytest.fixture
def darker(portrait_images: list[BgrImage]) -> bytes:
    """A third photo of the first portrait's face, besides its JPEG and its mirror image."""
    return encode(variant(portrait_images[0], Variant.DARKER))


def _state(service: OptinFace) -> tuple[set[int], set[int], int]:
    """What a refused replacement must leave as it was: the ledger's templates, the index's
    labels, the replacements in the log."""
    with service.runtime.db.transaction() as session:
        rows = set(session.scalars(select(Template.id)))
    return rows, service.index.labels(), row_count(
        service, AuditEvent, AuditEvent.action == AuditAction.TEMPLATE_REPLACED)


@both_backends
def test_a_replaced_template_is_gone_from_the_ledger_the_index_and_the_files(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    service = world.service
    pseudonym, consent_id = world.subject()
    old = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    ciphertext, plaintext = template_bytes(service, old.id)
    old_vector = np.frombuffer(plaintext, dtype=np.float32)
    service.index.save()  # as the periodic full save does: the old vector is in the file too
    service.runtime.db.checkpoint()
    assert readable_occurrences(service, plaintext)  # the scans below can fail

    new = world.enrol(pseudonym, consent_id, flipped_jpegs[0], replaces=old.id)

    assert _state(service)[:2] == ({new.id}, {new.id})
    assert not service.index.holds(old_vector)
    assert service.index.search(old_vector, k=1, allowed={old.id}) == []
    assert all(hit.label != old.id and hit.score < 0.999
               for hit in service.index.search(old_vector, k=5))
    assert occurrences(service.settings.data_dir, ciphertext) == []
    assert readable_occurrences(service, plaintext) == []
    assert readable_occurrences(service, plaintext[:64]) == []
    _, new_plaintext = template_bytes(service, new.id)
    hits = service.index.search(np.frombuffer(new_plaintext, dtype=np.float32), k=1)
    assert [hit.label for hit in hits] == [new.id]
    assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [pseudonym]

    export = service.export(actor=world.portal, subject=pseudonym)
    assert [t.id for t in export.templates] == [new.id]
    replaced = [e for e in export.events if e.action == AuditAction.TEMPLATE_REPLACED]
    assert [(e.subjects, e.details["template_id"], e.details["replaced_by"])
            for e in replaced] == [([pseudonym], old.id, new.id)]
    assert set(replaced[0].details) == {"template_id", "replaced_by", "capture_id"}  # no vector
    assert service.verify_audit().ok


def test_a_replacement_works_at_the_template_cap(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], darker: bytes,
) -> None:
    pseudonym, consent_id = world.subject()
    first = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    second = world.enrol(pseudonym, consent_id, flipped_jpegs[0])
    refused("template_limit", lambda: world.enrol(pseudonym, consent_id, darker))

    new = world.enrol(pseudonym, consent_id, darker, replaces=first.id)

    assert _state(world.service)[:2] == ({second.id, new.id}, {second.id, new.id})


def test_replacing_the_only_template_still_needs_the_same_person(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym, consent_id = world.subject()
    only = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    before = _state(world.service)
    refused("face_mismatch",
            lambda: world.enrol(pseudonym, consent_id, portrait_jpegs[1], replaces=only.id))
    assert _state(world.service) == before


@both_backends
def test_a_replacement_of_a_template_not_the_subjects_under_that_consent_changes_nothing(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    pseudonym, short = world.subject(days=10)
    later = world.consent(pseudonym).consent.id
    mine = world.enrol(pseudonym, short, portrait_jpegs[0])
    other = world.enrolled(portrait_jpegs[1])
    other_template = world.service.export(actor=world.portal, subject=other).templates[0].id
    before = _state(world.service)
    photo = flipped_jpegs[0]

    refused("template_not_replaceable",
            lambda: world.enrol(pseudonym, short, photo, replaces=other_template))
    refused("template_not_replaceable",
            lambda: world.enrol(pseudonym, short, photo, replaces=max(before[0]) + 100))
    refused("template_not_replaceable",  # a template of another consent, in force or ended
            lambda: world.enrol(pseudonym, later, photo, replaces=mine.id))
    clock.advance(days=11)  # ``short`` ended; its template waits for the sweep
    refused("template_not_replaceable",
            lambda: world.enrol(pseudonym, later, photo, replaces=mine.id))
    refused("consent_expired", lambda: world.enrol(pseudonym, short, photo, replaces=mine.id))

    assert _state(world.service) == before
    refusals = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.REFUSED, subject=pseudonym))
    assert [e.outcome for e in refusals.events].count("template_not_replaceable") == 4


def test_a_template_replaced_meanwhile_is_not_replaced_twice(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], darker: bytes,
) -> None:
    """Both captures were approved while the template existed: the enrolment checks again."""
    pseudonym, consent_id = world.subject()
    old = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    person = world.signer(pseudonym)
    captures = [person.approve_capture(consent_id, photo, desk=world.portal, replaces=old.id)
                for photo in (flipped_jpegs[0], darker)]
    assert [c.replaces for c in captures] == [old.id, old.id]  # what the person signed
    new = world.service.enrol(actor=world.portal, subject=pseudonym, capture_id=captures[0].id,
                              image=flipped_jpegs[0])
    before = _state(world.service)
    refused("template_not_replaceable", lambda: world.service.enrol(
        actor=world.portal, subject=pseudonym, capture_id=captures[1].id, image=darker))
    assert _state(world.service) == before == ({new.id}, {new.id}, 1)


def test_a_replacement_the_index_refuses_leaves_the_old_template_found(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """The index refuses the new vector after the old one was removed from it (the ledger hands
    out an id past the index's labels; SQLite's sequence set by SQL, as an operator could):
    the ledger rolls back, and the index puts the old template back at once, so its person is
    still found, not only after the next start's reconciliation (review 20d #2)."""
    service = world.service
    pseudonym, consent_id = world.subject()
    old = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    before = _state(service)
    outside_sql(service, "UPDATE sqlite_sequence SET seq = :seq WHERE name = 'templates'",
                seq=RESERVED_LABELS - 1)

    with pytest.raises(ValueError, match="labels must be in"):
        world.enrol(pseudonym, consent_id, flipped_jpegs[0], replaces=old.id)

    assert _state(service) == before == ({old.id}, {old.id}, 0)
    assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [pseudonym]


@pytest.mark.parametrize("meanwhile", ["erasure_begun", "consent_ended"])
def test_a_failed_replacement_puts_back_no_template_its_subject_may_no_longer_have_found(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch, meanwhile: str,
) -> None:
    """Between the refused replacement and the index's repair, the subject's erasure commits
    its first step (excluded, vectors removed; its destroying step still to come) or the
    template's consent ends: the repair leaves the old template out of the index, as
    reconciliation would, rather than find a person whose receipt says unsearchable
    (review 21a #2)."""
    service = world.service
    pseudonym, consent_id = world.subject()
    old = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    outside_sql(service, "UPDATE sqlite_sequence SET seq = :seq WHERE name = 'templates'",
                seq=RESERVED_LABELS - 1)
    repair = reconcile.index_as_in_ledger
    after_repair: list[set[int]] = []

    def meanwhile_then_repair(runtime: Runtime, labels: Collection[int]) -> None:
        if meanwhile == "consent_ended":
            world.clock.advance(days=366)  # the consent was given for 365
            repair(runtime, labels)
            after_repair.append(service.index.labels())
            return
        held = HeldAtJournal(monkeypatch)  # the enrolment's own journal line is behind it
        with ThreadPoolExecutor(1) as pool:
            erased = pool.submit(service.erase, actor=world.admin, subject=pseudonym,
                                 reason=ErasureReason.REQUEST)
            release = held.next_held()  # excluded and committed, the rows still there
            repair(runtime, labels)
            after_repair.append(service.index.labels())
            release.set()
            erased.result(timeout=WAIT_S)

    monkeypatch.setattr(reconcile, "index_as_in_ledger", meanwhile_then_repair)
    with pytest.raises(ValueError, match="labels must be in"):
        world.enrol(pseudonym, consent_id, flipped_jpegs[0], replaces=old.id)

    assert after_repair == [set()]
    assert service.index.labels() == set()
