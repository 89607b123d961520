"""A witness folder taken up in place of a lost one holds none of its spent marks
(:mod:`consent.spent_marks`): a right issued before the adoption is not used again, whoever
clears its row; one issued after works as ever. The real engine, a real SQLite ledger."""

from __future__ import annotations

import dataclasses
import shutil
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from optinface.consent import log_clock, spent_marks
from optinface.consent.errors import ProbeConsentRequired, WitnessUnusable
from optinface.consent.schemas import (
    AgeCategory,
    ConsentAct,
    LinkSecret,
    MatchResult,
    SubjectCreate,
)
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import (
    Ceremony,
    OneTimeLink,
    PasskeyCredential,
    ProbeConsent,
    Subject,
)
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, World, new_device_answer, refused

REASON = "INC-31: witness disk lost"


def _consent_act(world: World) -> ConsentAct:
    return ConsentAct(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                      expires_at=world.clock.now() + timedelta(days=365))


def _identify(world: World, probe: str, image: bytes) -> MatchResult:
    return world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                                  probe_consent_id=probe, image=image)


def _cleared_in_the_database(world: World, *, ceremony_id: str, probe: str | None = None,
                             ) -> None:
    """With the database alone: the challenge (and the probe consent) unused again, the
    challenge's expiry pushed, every sign count zeroed."""
    with world.service.runtime.db.transaction() as session:
        session.execute(update(Ceremony).where(Ceremony.id == ceremony_id).values(
            used_at=None, expires_at=world.clock.now() + timedelta(days=1)))
        session.execute(update(PasskeyCredential).values(sign_count=0))
        if probe is not None:
            session.execute(update(ProbeConsent).where(ProbeConsent.id == probe).values(
                used_at=None))


def test_rights_alive_when_the_witness_was_lost_are_not_used_again_in_the_folder_taken_up(
    world: World, settings: ConsentSettings, clock: FakeClock, pipeline: FacePipeline,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """A person's consent answer (kept in its receipt) and a probe consent, both used a few
    seconds before the witness disk was lost: their marks went with it. In the folder the
    operator takes up, whoever also clears their rows would make the withdrawn consent again
    and search again under the probe consent. The adoption records when the folder's marks
    begin, and each right signed before is refused (the challenge as answered, the probe
    consent as ``witness_replaced``), nothing made or searched; a consent and a probe consent
    signed after the adoption work."""
    pseudonym, _ = world.subject()
    person = world.people[pseudonym]
    answer = person.sign(_consent_act(world))
    given = world.service.give_consent(actor=person.actor, subject=pseudonym, signed=answer)
    person.withdraw(given.consent.id)
    enrolled = world.enrolled(portrait_jpegs[0])
    probe = world.probe(image=flipped_jpegs[0])
    assert [c.subject for c in _identify(world, probe, flipped_jpegs[0]).candidates] == [
        enrolled]
    world.service.close()
    clock.advance(seconds=5)  # well within a challenge's and a probe consent's life
    shutil.rmtree(settings.witness_dir)
    adopted_at = clock.now()

    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock,
                                adopt_witness=REASON)) as adopted:
        world.service = adopted
        _cleared_in_the_database(world, ceremony_id=answer.ceremony_id, probe=probe)
        refused("challenge_invalid", lambda: adopted.give_consent(
            actor=person.actor, subject=pseudonym, signed=answer))
        with pytest.raises(ProbeConsentRequired) as again:
            _identify(world, probe, flipped_jpegs[0])
        assert again.value.details["problem"] == "witness_replaced"
        consents = adopted.list_consents(actor=world.admin, subject=pseudonym)
        assert given.consent.id in {c.id for c in consents}
        assert {c.status for c in consents if c.id == given.consent.id} == {"withdrawn"}
        assert len(consents) == 2  # the world's consent and the withdrawn one: none made

        clock.advance(seconds=log_clock.TOLERANCE.total_seconds() + 1)
        asked_after = dataclasses.replace(person, service=adopted).sign(_consent_act(world))
        adopted.give_consent(actor=person.actor, subject=pseudonym, signed=asked_after)
        new_probe = world.probe(image=flipped_jpegs[0])
        assert [c.subject for c in _identify(world, new_probe, flipped_jpegs[0]).candidates] \
            == [enrolled]
    assert spent_marks.issued_before_marks(settings.witness_dir, adopted_at)
    assert not spent_marks.issued_before_marks(settings.witness_dir,
                                               adopted_at + log_clock.TOLERANCE)


def test_a_right_signed_on_a_clock_ahead_of_the_adopting_starts_is_still_taken_as_used(
    world: World, settings: ConsentSettings, clock: FakeClock, pipeline: FacePipeline,
) -> None:
    """Workers' clocks drift apart (``log_clock.TOLERANCE``): a consent answered on a worker
    whose clock ran three seconds ahead of the one that takes the folder up carries a signed
    time after the adoption's instant, though it was given before the loss. It is taken as
    used all the same: cleared in the database, the withdrawn consent does not come back."""
    pseudonym, _ = world.subject()
    person = world.people[pseudonym]
    answer = person.sign(_consent_act(world))
    given = world.service.give_consent(actor=person.actor, subject=pseudonym, signed=answer)
    person.withdraw(given.consent.id)
    world.service.close()
    shutil.rmtree(settings.witness_dir)
    clock.advance(seconds=-3)  # the adopting start's clock, behind the worker's

    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock,
                                adopt_witness=REASON)) as adopted:
        world.service = adopted
        _cleared_in_the_database(world, ceremony_id=answer.ceremony_id)
        refused("challenge_invalid", lambda: adopted.give_consent(
            actor=person.actor, subject=pseudonym, signed=answer))
        assert {c.status for c in adopted.list_consents(actor=world.admin, subject=pseudonym)
                if c.id == given.consent.id} == {"withdrawn"}


def _registered(service: OptinFace, secret: str) -> str:
    """A new device registered on the link ``secret``: the subject it now acts for."""
    options = service.passkey_registration_options(LinkSecret(link=secret))
    return service.register_passkey(new_device_answer(options)).subject


def test_a_link_used_before_the_witness_was_lost_opens_nothing_in_the_folder_taken_up(
    world: World, settings: ConsentSettings, clock: FakeClock, pipeline: FacePipeline,
) -> None:
    """A person registered on the link the desk handed them, just before the witness disk was
    lost: the link's mark went with it. In the folder taken up, the desk, which kept the
    secret, clears the link's row and deletes the person's passkey: the link, made before the
    adoption (by the time its keyed hash binds), opens nothing, and a registration the desk
    asked on it before the loss (a random challenge, which binds no time) completes nothing:
    it must still pass its link. A link made since works."""
    created = world.service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=AgeCategory.ADULT))
    kept = world.service.passkey_registration_options(
        LinkSecret(link=created.enrolment.secret))
    assert _registered(world.service, created.enrolment.secret) == created.pseudonym
    world.service.close()
    shutil.rmtree(settings.witness_dir)

    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock,
                                adopt_witness=REASON)) as adopted:
        with adopted.runtime.db.transaction() as session:
            subject_id = session.scalars(select(Subject.id).where(
                Subject.pseudonym == created.pseudonym)).one()
            session.execute(update(OneTimeLink).values(used_at=None))
            session.execute(delete(PasskeyCredential).where(
                PasskeyCredential.subject_id == subject_id))
        refused("link_invalid", lambda: adopted.passkey_registration_options(
            LinkSecret(link=created.enrolment.secret)))
        refused("link_invalid", lambda: adopted.register_passkey(new_device_answer(kept)))

        clock.advance(seconds=log_clock.TOLERANCE.total_seconds() + 1)
        fresh = adopted.new_enrolment_link(actor=world.portal, subject=created.pseudonym,
                                           capacity=created.enrolment.capacity)
        assert _registered(adopted, fresh.secret) == created.pseudonym


def test_a_name_the_service_did_not_write_where_marks_begin_refuses_rather_than_guesses(
    tmp_path: Path,
) -> None:
    """From when the marks are whole is read from names the adoption wrote; a name that is
    no instant leaves it unknown, so every right is refused (``witness_unusable``) until it is
    removed, never taken as whole."""
    now = datetime.now(UTC)
    assert not spent_marks.issued_before_marks(tmp_path, now)
    spent_marks.marks_begin(tmp_path, now)
    assert spent_marks.issued_before_marks(tmp_path, now - timedelta(microseconds=1))
    assert spent_marks.issued_before_marks(tmp_path, now + log_clock.TOLERANCE / 2)
    assert not spent_marks.issued_before_marks(tmp_path, now + log_clock.TOLERANCE)
    (tmp_path / spent_marks.MARKS_FROM / "latest").write_text("", encoding="utf-8")
    with pytest.raises(WitnessUnusable):
        spent_marks.issued_before_marks(tmp_path, now)
