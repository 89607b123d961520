"""A template destroyed while its subject stays is, in every copy made before, under a key the
next epoch rotation leaves nowhere (:mod:`consent.key_renewal`). The operator who holds such a
copy, the live ledger and the key store is the one tried here. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from optinface.consent.audit import AuditAction
from optinface.consent.erasure import remove_templates
from optinface.consent.errors import KeyUnavailable
from optinface.consent.ledger import decrypt_template
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from optinface.consent.tables import Subject, SubjectKey, Template
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World
from tests.support.migrations import migrate

pytestmark = both_backends


@dataclass(frozen=True, slots=True)
class CopiedTemplate:
    """A template's row as a copy of the ledger holds it (a backup, a snapshot, an old row
    version), with its subject's wrapped key as the copy holds that."""

    id: int
    subject_id: int
    model_id: str
    nonce: bytes
    ciphertext: bytes
    wrapped: bytes
    epoch: int


def _copied(service: OptinFace, template_id: int) -> CopiedTemplate:
    with service.runtime.db.reading() as session:
        template = session.get(Template, template_id)
        assert template is not None
        key = session.get(SubjectKey, template.subject_id)
        assert key is not None
        return CopiedTemplate(id=template.id, subject_id=template.subject_id,
                              model_id=template.model_id, nonce=template.nonce,
                              ciphertext=template.ciphertext, wrapped=key.wrapped,
                              epoch=key.epoch)


def _live_key(service: OptinFace, pseudonym: str) -> bytes | None:
    """The subject's data key as the live ledger and the key store open it; None: no key."""
    with service.runtime.db.reading() as session:
        subject = session.query(Subject).filter_by(pseudonym=pseudonym).one()
        row = session.get(SubjectKey, subject.id)
        if row is None:
            return None
        return service.runtime.keys.unwrap(row.wrapped, subject_id=subject.id,
                                           pseudonym=pseudonym, epoch=row.epoch)


def _ended_by_expiry(world: World, clock: FakeClock, pseudonym: str, consent_id: str) -> None:
    clock.advance(days=31)
    assert world.service.sweep().templates_destroyed == 1


def _withdrawn(world: World, _clock: FakeClock, pseudonym: str, consent_id: str) -> None:
    world.withdraw(pseudonym, consent_id)


ENDINGS: dict[str, Callable[[World, FakeClock, str, str], None]] = {
    "expired": _ended_by_expiry, "withdrawn": _withdrawn}


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_template_destroyed_while_its_subject_stays_opens_in_no_earlier_copy_once_the_epoch_turns(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
    ending: str,
) -> None:
    """A subject with two consents, a template under each; a copy of the ledger taken, then
    the first consent ends (its expiry, or the person's withdrawal) and its template is
    destroyed while the second keeps the subject. The subject's key is new from then on: the
    copy's template does not open under the live key, and the copy's own key, wrapped under
    the epoch of the time, opens no more once the next rotation destroys that epoch, as after
    an erasure. The template kept opens under the new key, and the person is still found."""
    pseudonym, short = world.subject(days=30)
    long = world.consent(pseudonym, days=365).consent.id
    ended = world.enrol(pseudonym, short, portrait_jpegs[0])
    kept = world.enrol(pseudonym, long, flipped_jpegs[0])
    copy = _copied(world.service, ended.id)
    before = _live_key(world.service, pseudonym)
    assert before is not None
    decrypt_template(copy, key=before)  # the copy opens while the key that made it is live

    ENDINGS[ending](world, clock, pseudonym, short)
    renewed = _live_key(world.service, pseudonym)
    assert renewed is not None and renewed != before
    with pytest.raises(ValueError):
        decrypt_template(copy, key=renewed)
    decrypt_template(_copied(world.service, kept.id), key=renewed)

    world.service.rotate_epoch(actor=world.admin)
    with pytest.raises(KeyUnavailable):
        world.service.runtime.keys.unwrap(copy.wrapped, subject_id=copy.subject_id,
                                          pseudonym=pseudonym, epoch=copy.epoch)
    assert world.verify(pseudonym, flipped_jpegs[0]).outcome == "candidates_for_review"


def test_a_subject_left_with_no_template_keeps_no_key_and_enrols_again_under_a_new_one(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """Their only template's consent withdrawn while a consent without templates keeps them:
    the key goes with it, and the next enrolment makes a new one that opens what it stores."""
    pseudonym, enrolled_under = world.subject()
    other = world.consent(pseudonym, days=365).consent.id
    template = world.enrol(pseudonym, enrolled_under, portrait_jpegs[0])
    copy = _copied(world.service, template.id)
    world.withdraw(pseudonym, enrolled_under)
    assert _live_key(world.service, pseudonym) is None

    again = world.enrol(pseudonym, other, flipped_jpegs[0])
    key = _live_key(world.service, pseudonym)
    assert key is not None
    decrypt_template(_copied(world.service, again.id), key=key)
    with pytest.raises(ValueError):
        decrypt_template(copy, key=key)


def _renewals(service: OptinFace, world: World) -> list[dict[str, object]]:
    return [event.details for event in service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.SUBJECT_KEYS_RENEWED)).events]


def test_keys_made_before_destructions_renewed_them_are_renewed_once_at_the_next_start(
    world: World, open_service: Callable[[], OptinFace], portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    """A ledger of the version before: a consent withdrawn while another kept the subject
    destroyed its template and left the key in force (the destruction's old path, the
    templates removed alone), so a copy made before opened under the live key. Upgraded
    (migration 0044 marks every key then in the ledger due), the next start renews each once,
    chained as ``subject_keys_renewed``: the copy's template opens under the live key no more,
    and once the epoch turns under none; the kept template opens and the person is found. The
    start after renews nothing, and a key made since was never due."""
    pseudonym, short = world.subject()
    long = world.consent(pseudonym, days=365).consent.id
    ended = world.enrol(pseudonym, short, portrait_jpegs[0])
    kept = world.enrol(pseudonym, long, flipped_jpegs[0])
    copy = _copied(world.service, ended.id)
    before = _live_key(world.service, pseudonym)
    runtime = world.service.runtime
    with runtime.db.transaction() as session:  # the destruction as it was, the key left as is
        remove_templates(runtime, session, {ended.id})
    assert _live_key(world.service, pseudonym) == before
    migrate(runtime.db.engine, "0043", down=True)
    migrate(runtime.db.engine, "head")
    with runtime.db.reading() as session:
        assert list(session.scalars(select(SubjectKey.renewal_due))) == [True]
    world.service.close()

    with closing(open_service()) as upgraded:
        world.service = upgraded
        renewed = _live_key(upgraded, pseudonym)
        assert renewed is not None and renewed != before
        with pytest.raises(ValueError):
            decrypt_template(copy, key=renewed)
        decrypt_template(_copied(upgraded, kept.id), key=renewed)
        assert _renewals(upgraded, world) == [{"keys_due": 1, "keys_renewed": 1}]
        upgraded.rotate_epoch(actor=world.admin)
        with pytest.raises(KeyUnavailable):
            upgraded.runtime.keys.unwrap(copy.wrapped, subject_id=copy.subject_id,
                                         pseudonym=pseudonym, epoch=copy.epoch)
        assert world.verify(pseudonym, flipped_jpegs[0]).outcome == "candidates_for_review"
        world.enrolled(portrait_jpegs[1])  # a key made since
    with closing(open_service()) as again:
        world.service = again
        assert _renewals(again, world) == [{"keys_due": 1, "keys_renewed": 1}]
        with again.runtime.db.reading() as session:
            assert set(session.scalars(select(SubjectKey.renewal_due))) == {False}
