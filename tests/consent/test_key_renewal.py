"""A template destroyed while its subject stays is, in every copy made before, under a key the
next epoch rotation leaves nowhere (:mod:`consent.key_renewal`). The operator who holds such a
copy, the live ledger and the key store is the one tried here. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from optinface.consent.errors import KeyUnavailable
from optinface.consent.ledger import decrypt_template
from optinface.consent.service import OptinFace
from optinface.consent.tables import Subject, SubjectKey, Template
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World

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
