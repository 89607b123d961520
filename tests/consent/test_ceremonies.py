"""Every WebAuthn ceremony checks the same things, registration and signature alike: its own
challenge, this relying party, this service's origin, and that the person was verified on
their device (``consent.passkeys``). On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from optinface.consent import spent_marks
from optinface.consent.passkeys import LINK_PREFIX, challenge_for
from optinface.consent.schemas import (
    AgeCategory,
    ConsentAct,
    ConsentCapacity,
    EnrolmentLink,
    ErasureReason,
    LinkSecret,
    PasskeyChallenge,
    PasskeyResponse,
    SubjectCreate,
    SubjectCreated,
    WithdrawAct,
)
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.soft_person import DEFAULT_ORIGIN
from optinface.consent.tables import Ceremony, OneTimeLink, PasskeyCredential, Subject
from tests.support.backends import both_backends
from tests.support.consent import World, new_device_answer, refused

pytestmark = both_backends

Options = dict[str, Any]
Tampering = Callable[[SoftAuthenticator, Options], tuple[SoftAuthenticator, Options]]

ON_ANY_CEREMONY: dict[str, Tampering] = {
    # A look-alike site relaying the ceremony to the person's device.
    "another origin": lambda device, options: (
        dataclasses.replace(device, origin="https://optinface.example.net"), options),
    # A security key that only tests presence: anyone holding it could sign.
    "no user verification": lambda device, options: (
        dataclasses.replace(device, verifies_user=False), options),
}
ON_REGISTRATION: dict[str, Tampering] = {
    **ON_ANY_CEREMONY,
    "another relying party": lambda device, options: (
        device, {**options, "rp": {**options["rp"], "id": "example.net"}}),
}


def test_a_registration_is_refused_from_another_origin_rp_or_without_user_verification(
    world: World
) -> None:
    for tamper in ON_REGISTRATION.values():
        created = world.service.create_subject(actor=world.portal, body=SubjectCreate(
            age_category=AgeCategory.ADULT))
        options = world.service.passkey_registration_options(
            LinkSecret(link=created.enrolment.secret))
        device, asked = tamper(SoftAuthenticator(origin=DEFAULT_ORIGIN), options.options)
        answer = PasskeyResponse(ceremony_id=options.ceremony_id, credential=device.create(asked))
        refused("passkey_invalid", lambda: world.service.register_passkey(answer))  # noqa: B023


def test_a_signature_is_refused_from_another_origin_or_without_user_verification(
    world: World
) -> None:
    pseudonym, consent_id = world.subject()
    person = world.people[pseudonym]
    for tamper in ON_ANY_CEREMONY.values():
        challenge = world.service.challenge(actor=person.actor, subject=pseudonym,
                                            act=WithdrawAct(consent_id=consent_id))
        device, asked = tamper(person.authenticator, challenge.options)
        answer = PasskeyResponse(ceremony_id=challenge.ceremony_id, credential=device.get(asked))
        refused("passkey_invalid", lambda: world.service.withdraw_consent(
            actor=person.actor, subject=pseudonym, consent_id=consent_id,
            signed=answer))  # noqa: B023
    assert world.withdraw(pseudonym, consent_id).consent.status == "withdrawn"  # untampered


def _two_links_asked(world: World) -> tuple[SubjectCreated, EnrolmentLink, PasskeyChallenge,
                                            PasskeyChallenge]:
    """A new subject, the second link the desk asked for before the person registered, and the
    registration options asked on the person's link and on the desk's."""
    created = world.service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=AgeCategory.ADULT))
    kept = world.service.new_enrolment_link(actor=world.portal, subject=created.pseudonym,
                                            capacity=ConsentCapacity.SELF)
    person, desk = (world.service.passkey_registration_options(LinkSecret(link=link))
                    for link in (created.enrolment.secret, kept.secret))
    return created, kept, person, desk


def test_two_links_of_one_capacity_opened_together_register_one_passkey_only(
    world: World
) -> None:
    """The desk asks for a second link before the person registered and keeps it: whichever
    registers second is refused in its own transaction, and the kept link is void after."""
    created, kept, person, desk = _two_links_asked(world)

    assert world.service.register_passkey(new_device_answer(person)).subject == created.pseudonym
    refused("already_registered", lambda: world.service.register_passkey(new_device_answer(desk)))
    refused("link_invalid", lambda: world.service.passkey_registration_options(
        LinkSecret(link=kept.secret)))


def test_a_used_link_and_the_one_its_registration_voided_open_nothing_once_their_rows_are_cleared(
    world: World
) -> None:
    """The desk keeps the secrets of the links it hands out: here the person's and one asked
    before they registered. With the database alone it cleared both rows' use marks and
    deleted the person's passkey, then asked to register its own passkey on either link, or
    answered the options it had asked before, to sign in the person's name. Each link was
    marked in the witness folder as the person's registration committed: refused whatever
    its row says, no passkey stored."""
    created, kept, person, desk = _two_links_asked(world)

    world.service.register_passkey(new_device_answer(person))
    with world.service.runtime.db.transaction() as session:
        subject_id = session.scalars(select(Subject.id).where(
            Subject.pseudonym == created.pseudonym)).one()
        session.execute(update(OneTimeLink).where(OneTimeLink.subject_id == subject_id)
                        .values(used_at=None))
        session.execute(delete(PasskeyCredential).where(
            PasskeyCredential.subject_id == subject_id))

    for secret in (created.enrolment.secret, kept.secret):
        refused("link_invalid", lambda: world.service.passkey_registration_options(
            LinkSecret(link=secret)))  # noqa: B023
    refused("link_invalid", lambda: world.service.register_passkey(new_device_answer(desk)))
    with world.service.runtime.db.reading() as session:
        assert session.scalars(select(PasskeyCredential).where(
            PasskeyCredential.subject_id == subject_id)).all() == []


def _reset_as_unused(world: World, ceremony_id: str, *, zero_sign_counts: bool = True,
                     **edited: object) -> None:
    """With the database alone: the challenge's use mark cleared, its expiry pushed, every
    sign count zeroed (unless told), and ``edited`` columns written."""
    with world.service.runtime.db.transaction() as session:
        session.execute(update(Ceremony).where(Ceremony.id == ceremony_id).values(
            used_at=None, expires_at=world.clock.now() + timedelta(days=1), **edited))
        if zero_sign_counts:
            session.execute(update(PasskeyCredential).values(sign_count=0))


def _made_recent(world: World, statement: dict[str, Any] | None) -> dict[str, Any]:
    """``statement`` with its ``issuedAt`` moved to now, which the recency check reads."""
    assert statement is not None
    return {**statement, "issuedAt": world.clock.now().isoformat()}


def _consent_act(world: World) -> ConsentAct:
    return ConsentAct(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                      expires_at=world.clock.now() + timedelta(days=365))


def test_a_kept_answer_replayed_with_its_challenge_row_reset_is_refused(world: World) -> None:
    """Found by an outside tester acting as the operator: a consent's receipt keeps the
    person's answer; with the database alone they cleared its challenge's use mark, pushed its
    expiry and zeroed the sign count, and the same answer made a new consent. The statement's
    signed ``issuedAt`` is what the row cannot move: older than a challenge lives, refused.
    With the row's statement made recent as well, it is not the statement signed: the
    statement the service acts on must be the one whose hash the person's device signed."""
    person = world.person()
    answer = person.sign(_consent_act(world))
    world.service.give_consent(actor=person.actor, subject=person.pseudonym, signed=answer)
    world.clock.advance(seconds=world.service.settings.challenge_seconds + 1)
    _reset_as_unused(world, answer.ceremony_id)
    refused("challenge_invalid", lambda: world.service.give_consent(
        actor=person.actor, subject=person.pseudonym, signed=answer))
    with world.service.runtime.db.reading() as session:
        signed = session.get(Ceremony, answer.ceremony_id)
        assert signed is not None
        recent = _made_recent(world, signed.statement)
    _reset_as_unused(world, answer.ceremony_id, statement=recent)
    refused("passkey_invalid", lambda: world.service.give_consent(
        actor=person.actor, subject=person.pseudonym, signed=answer))
    assert len(world.service.list_consents(actor=world.admin, subject=person.pseudonym)) == 1


def test_a_kept_sign_in_answer_opens_nothing_once_its_challenge_has_lived(world: World) -> None:
    """A sign-in's answer, as whoever runs the server sees it pass, posted again once its
    challenge has lived, the row reset by the database alone: its statement was signed too long
    ago. With the statement's ``issuedAt`` moved as well, the statement is not the one
    signed."""
    person = world.person()
    options = world.service.sign_in_options()
    answer = PasskeyResponse(ceremony_id=options.ceremony_id,
                             credential=person.authenticator.get(options.options))
    assert world.service.sign_in(answer).subject == person.pseudonym
    world.clock.advance(seconds=world.service.settings.challenge_seconds + 1)
    _reset_as_unused(world, answer.ceremony_id)
    refused("challenge_invalid", lambda: world.service.sign_in(answer))
    _reset_as_unused(world, answer.ceremony_id, statement=_made_recent(world, options.statement))
    refused("passkey_invalid", lambda: world.service.sign_in(answer))


def test_an_answer_relabelled_as_another_act_is_refused(world: World) -> None:
    """A challenge row's kind is the database's: whoever writes it alone could relabel a
    person's signed withdrawal as an erasure and post it to the erasure, whose receipt would
    then say the person signed one. The act carried out is the one the signed statement names,
    or none: the subject stays, the withdrawal still to be posted."""
    pseudonym, consent_id = world.subject()
    person = world.people[pseudonym]
    answer = person.sign(WithdrawAct(consent_id=consent_id))
    with world.service.runtime.db.transaction() as session:
        session.execute(update(Ceremony).where(Ceremony.id == answer.ceremony_id).values(
            kind="erase"))
    refused("challenge_invalid", lambda: world.service.erase(
        actor=person.actor, subject=pseudonym, reason=ErasureReason.REQUEST, signed=answer))
    assert world.service.get_subject(actor=world.admin, subject=pseudonym).status == "active"


def test_a_link_pointed_elsewhere_in_the_database_opens_nothing(world: World) -> None:
    """The desk hands a person their link; whoever writes the database alone could point its
    row at another subject without a passkey yet, or at another capacity, and register a
    passkey there with the secret they handed out, or give it a longer life. The row's keyed
    hash covers what the link opens and when it was made and ends, so changed, it opens
    nothing; left alone, it registers the passkey it was made for."""
    created, other = (world.service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=AgeCategory.ADULT)) for _ in range(2))
    link = LinkSecret(link=created.enrolment.secret)
    link_id = created.enrolment.secret.removeprefix(LINK_PREFIX).partition(".")[0]
    with world.service.runtime.db.reading() as session:
        row = session.get(OneTimeLink, link_id)
        assert row is not None
        made = {"subject_id": row.subject_id, "capacity": row.capacity,
                "created_at": row.created_at, "expires_at": row.expires_at}
        elsewhere = session.scalar(select(Subject.id).where(Subject.pseudonym == other.pseudonym))
    for moved in ({"subject_id": elsewhere},
                  {"capacity": str(ConsentCapacity.PARENTAL_AUTHORITY)},
                  {"expires_at": made["expires_at"] + timedelta(days=30)},
                  {"created_at": made["created_at"] + timedelta(minutes=1)}):
        with world.service.runtime.db.transaction() as session:
            session.execute(update(OneTimeLink).where(OneTimeLink.id == link_id).values(**moved))
        refused("link_invalid", lambda: world.service.passkey_registration_options(link))
        with world.service.runtime.db.transaction() as session:
            session.execute(update(OneTimeLink).where(OneTimeLink.id == link_id).values(**made))
    options = world.service.passkey_registration_options(link)
    answer = PasskeyResponse(ceremony_id=options.ceremony_id,
                             credential=SoftAuthenticator(origin=DEFAULT_ORIGIN).create(
                                 options.options))
    assert world.service.register_passkey(answer).subject == created.pseudonym


def test_an_answer_replayed_while_its_challenge_lives_is_refused_by_its_mark(
    world: World
) -> None:
    """Within a challenge's lifetime its row's use mark was all that made it single-use, and
    the database's writer can clear it: a sign-in's answer opened a second session, a
    consent's answer kept in its receipt made the consent again a minute after the person
    withdrew it. Each answered challenge is marked in the witness folder, which the writer
    cannot undo: posted again, the same answers do nothing, refused as answered already
    before their signatures are checked (whose sign count would refuse them otherwise, as a
    passkey error), and with every sign count zeroed too."""
    pseudonym, kept_consent = world.subject()
    person = world.people[pseudonym]
    options = world.service.sign_in_options()
    sign_in = PasskeyResponse(ceremony_id=options.ceremony_id,
                              credential=person.authenticator.get(options.options))
    world.service.sign_in(sign_in)
    answer = person.sign(_consent_act(world))
    given = world.service.give_consent(actor=person.actor, subject=pseudonym, signed=answer)
    person.withdraw(given.consent.id)
    for zero_sign_counts in (False, True):
        for kept in (sign_in, answer):
            _reset_as_unused(world, kept.ceremony_id, zero_sign_counts=zero_sign_counts)
        refused("challenge_invalid", lambda: world.service.sign_in(sign_in))
        refused("challenge_invalid", lambda: world.service.give_consent(
            actor=person.actor, subject=pseudonym, signed=answer))
    consents = world.service.list_consents(actor=world.admin, subject=pseudonym)
    assert {consent.id: consent.status for consent in consents} == {
        kept_consent: "active", given.consent.id: "withdrawn"}
    assert options.statement is not None
    assert spent_marks.marked(world.service.settings.witness_dir,
                              spent_marks.challenge(challenge_for(options.statement)))


def test_an_answer_refused_in_its_transaction_marks_nothing(world: World) -> None:
    """A challenge is marked as its act commits, never when the act is refused after taking
    it: the person's own answer to the same challenge is taken after a forged one failed."""
    pseudonym, _ = world.subject()
    person = world.people[pseudonym]
    challenge = world.service.challenge(actor=person.actor, subject=pseudonym,
                                        act=_consent_act(world))
    device, asked = ON_ANY_CEREMONY["another origin"](person.authenticator, challenge.options)

    def consent(device: SoftAuthenticator) -> object:
        return world.service.give_consent(
            actor=person.actor, subject=pseudonym,
            signed=PasskeyResponse(ceremony_id=challenge.ceremony_id,
                                   credential=device.get(asked)))

    refused("passkey_invalid", lambda: consent(device))
    assert challenge.statement is not None
    assert not spent_marks.marked(world.service.settings.witness_dir,
                                  spent_marks.challenge(challenge_for(challenge.statement)))
    consent(person.authenticator)
    refused("challenge_invalid", lambda: consent(person.authenticator))


def test_a_folder_that_takes_no_mark_refuses_the_act_unless_it_ends_processing(
    world: World
) -> None:
    """Where the marks' folder cannot be written (a file in its place: refused to root too), a
    withdrawal, which ends processing, is done all the same; a consent is refused with nothing
    done (``witness_unusable``, not committed), and given with the same answer once the folder
    is mended."""
    pseudonym, first = world.subject()
    person = world.people[pseudonym]
    second = world.consent(pseudonym).consent.id
    marks = world.service.settings.witness_dir / spent_marks.SPENT
    aside = marks.with_name("spent.aside")
    marks.rename(aside)
    marks.write_text("not a folder", encoding="utf-8")
    assert world.withdraw(pseudonym, second).consent.status == "withdrawn"
    answer = person.sign(_consent_act(world))
    error = refused("witness_unusable", lambda: world.service.give_consent(
        actor=person.actor, subject=pseudonym, signed=answer))
    assert error.details["committed"] is False
    assert len(world.service.list_consents(actor=world.admin, subject=pseudonym)) == 2
    marks.unlink()
    aside.rename(marks)
    world.service.give_consent(actor=person.actor, subject=pseudonym, signed=answer)
    statuses = {consent.id: consent.status for consent in world.service.list_consents(
        actor=world.admin, subject=pseudonym)}
    assert statuses.pop(first) == "active" and statuses.pop(second) == "withdrawn"
    assert list(statuses.values()) == ["active"]
