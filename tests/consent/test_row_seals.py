"""Row seals (consent.row_seals): whoever writes the database without the key store grants
nothing with a passkey, an opt-in or a declaration it writes or edits.

Each attack is the outside tester's (a planted passkey row, ``searchable`` set to 1, a
declaration's material hash edited), done in plain SQL on the real ledger, then answered
through the service's public methods.
"""

from __future__ import annotations

import base64
import logging
import shutil
from collections.abc import Callable
from contextlib import closing
from datetime import date
from typing import Any

import cbor2
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from optinface.consent import log_clock, row_seals, witness_binding
from optinface.consent.audit import AuditAction
from optinface.consent.errors import PasskeyUnsealed, Unauthenticated
from optinface.consent.roles import Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AgeCategory,
    Operation,
    PasskeyResponse,
    PurposeCreate,
    SearchOutcome,
    SubjectCreate,
)
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.soft_person import DEFAULT_ORIGIN, SoftPerson
from optinface.consent.tables import AdminPasskey, ApiKey, AuditEvent
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import (
    FakeClock,
    World,
    admin_step_up,
    make_world,
    refused,
    register_admin_passkey,
    row_count,
)


def _plant_passkey(service: OptinFace, pseudonym: str | None, *,
                   capacity: str = "self") -> SoftAuthenticator:
    """The tester's plant.py: a passkey made on the operator's own device, inserted for
    ``pseudonym`` (None: no subject's, as an admin key's) in plain SQL; the device that holds
    its private key."""
    device = SoftAuthenticator(origin=DEFAULT_ORIGIN)
    made = device.create({"rp": {"id": service.settings.passkey_rp_id},
                          "user": {"id": "eHh4eHh4eHh4eHh4eHh4eA"}, "challenge": "Y2hhbGxlbmdl"})
    attestation = cbor2.loads(base64.urlsafe_b64decode(
        made["response"]["attestationObject"] + "=="))
    auth_data = attestation["authData"]
    length = int.from_bytes(auth_data[53:55], "big")
    with service.runtime.db.transaction() as session:
        session.execute(text(
            "INSERT INTO passkey_credentials (id, subject_id, capacity, public_key, sign_count,"
            " created_at) VALUES (:id, (SELECT id FROM subjects WHERE pseudonym = :pseudonym),"
            " :capacity, :key, 0, :now)"),
            {"id": made["id"], "capacity": capacity, "key": auth_data[55 + length:],
             "now": service.clock.now().replace(tzinfo=None), "pseudonym": pseudonym})
    return device


def _sign_in(service: OptinFace, device: SoftAuthenticator) -> str:
    asked = service.sign_in_options()
    return service.sign_in(PasskeyResponse(ceremony_id=asked.ceremony_id,
                                           credential=device.get(asked.options))).subject


def _refusals(service: OptinFace, code: str) -> list[AuditEvent]:
    with service.runtime.db.transaction() as session:
        found = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "refused", AuditEvent.outcome == code)))
        session.expunge_all()
        return found


@both_backends
def test_a_passkey_planted_in_the_database_signs_in_nobody(world: World) -> None:
    """plant.py: the operator's own passkey inserted for a shell whose person never came would
    sign in as them, consent, opt in and enrol anyone's face. Refused, and chained naming the
    shell; the person's own passkey, registered through the link, still signs in."""
    shell = world.service.create_subject(actor=world.portal,
                                         body=SubjectCreate(age_category=AgeCategory.ADULT))
    device = _plant_passkey(world.service, shell.pseudonym)
    refused("passkey_unsealed", lambda: _sign_in(world.service, device))
    [event] = _refusals(world.service, "passkey_unsealed")
    assert event.subjects == [shell.pseudonym]
    assert event.details == {"attempted": "passkey_sign_in"}
    person = SoftPerson.take_over(world.service, shell.enrolment.secret)  # the honest path
    assert _sign_in(world.service, person.authenticator) == shell.pseudonym


def test_a_passkey_planted_beside_the_persons_signs_none_of_their_acts(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """plant2.py: beside the person's own passkey. Even with a token of theirs, a statement
    signed by the planted one is refused (here an opt-in), chained as a refusal of that act,
    and changes nothing; their own passkey signs it."""
    pseudonym, consent_id = world.subject(searchable=False)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    person = world.people[pseudonym]
    planted = SoftPerson(service=world.service, pseudonym=pseudonym, actor=person.actor,
                         authenticator=_plant_passkey(world.service, pseudonym))
    with pytest.raises(PasskeyUnsealed) as refusal:
        planted.set_searchable(True)
    assert refusal.value.details == {"subject": pseudonym, "capacity": "self"}
    [event] = _refusals(world.service, "passkey_unsealed")
    assert event.subjects == [pseudonym]
    assert event.details == {"attempted": "subject_updated"}
    assert world.identify(portrait_jpegs[0]).outcome is SearchOutcome.NO_CANDIDATE
    assert person.set_searchable(True).searchable
    assert world.identify(portrait_jpegs[0]).candidates[0].subject == pseudonym


def test_a_passkey_moved_to_another_subject_or_capacity_signs_nothing(world: World) -> None:
    """The seal covers whose passkey it is and in which capacity: the operator's honestly
    registered passkey, moved in SQL to another subject (or made a guardian's), opens nothing."""
    victim = world.person()
    for change in ("subject_id = (SELECT id FROM subjects WHERE pseudonym = :victim)",
                   "capacity = 'parental_authority'"):
        own = world.person()
        with world.service.runtime.db.transaction() as session:
            session.execute(text(f"UPDATE passkey_credentials SET {change}"
                                 " WHERE subject_id = (SELECT id FROM subjects"
                                 " WHERE pseudonym = :own)"),
                            {"victim": victim.pseudonym, "own": own.pseudonym})
        refused("passkey_unsealed", lambda: _sign_in(world.service, own.authenticator))  # noqa: B023
    assert _sign_in(world.service, victim.authenticator) == victim.pseudonym


def test_a_planted_admin_passkey_steps_up_no_admin_key(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    """An admin key's passkey lives in the same table (consent.admin_mfa): one planted and
    bound to the key in SQL gets no step-up, nor once the binding is sealed (as only the key
    store's holder could): the passkey's own seal is not the service's."""
    with closing(OptinFace.open(settings.model_copy(update={"admin_mfa": True}),
                                pipeline=pipeline, clock=clock)) as service:
        admin = make_world(service, clock).admin
        _plant_passkey(service, None, capacity="admin-passkey")
        with service.runtime.db.transaction() as session:
            credential = session.execute(text(
                "SELECT id FROM passkey_credentials WHERE capacity = 'admin-passkey'")).scalar()
            session.execute(text(
                "INSERT INTO admin_passkeys (api_key_id, credential_id, registered_at)"
                " VALUES (:key, :credential, :now)"),
                {"key": admin.key_id, "credential": credential,
                 "now": clock.now().replace(tzinfo=None)})
        refused("second_factor_required", lambda: service.step_up_options(actor=admin))
        with service.runtime.db.transaction() as session:  # the binding sealed: not the passkey
            factor = session.get(AdminPasskey, admin.key_id)
            assert factor is not None
            row_seals.seal_admin_passkey(service.runtime.keys, factor)
        refused("second_factor_required", lambda: service.step_up_options(actor=admin))


@both_backends
def test_an_opt_in_set_in_the_database_puts_nobody_in_the_gallery(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """``UPDATE subjects SET searchable = 1``: the person never signed it, so 1:N search does
    not find them; nor after they opted out, the seal of their earlier opt-in gone with it."""
    pseudonym, consent_id = world.subject(searchable=False)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])

    def set_in_sql() -> None:
        with world.service.runtime.db.transaction() as session:
            session.execute(text("UPDATE subjects SET searchable = :yes WHERE pseudonym = :p"),
                            {"yes": True, "p": pseudonym})

    set_in_sql()
    assert world.identify(portrait_jpegs[0]).outcome is SearchOutcome.NO_CANDIDATE
    world.people[pseudonym].set_searchable(True)  # the honest path
    assert world.identify(portrait_jpegs[0]).candidates[0].subject == pseudonym
    world.people[pseudonym].set_searchable(False)
    set_in_sql()
    assert world.identify(portrait_jpegs[0]).outcome is SearchOutcome.NO_CANDIDATE


@both_backends
def test_an_older_opt_in_copied_back_after_an_opt_out_finds_no_one(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """Review 2: the opted-in row saved before an opt-out, written back by SQL while the
    service runs, carries a valid seal; but the seal covers the opt-in's time, and the journal,
    apart from the database, keeps the later opt-out: no search finds the person (P-39.1 s.
    28.1, out of every search at once), chained as ``opted_out_in_journal``. Opting in again,
    later, is theirs to do."""
    pseudonym, consent_id = world.subject(searchable=True)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    columns = "searchable, searchable_seal, searchable_since"
    with world.service.runtime.db.transaction() as session:
        saved = session.execute(text(f"SELECT {columns} FROM subjects WHERE pseudonym = :p"),
                                {"p": pseudonym}).one()
    clock.advance(minutes=1)
    world.people[pseudonym].set_searchable(False)
    with world.service.runtime.db.transaction() as session:
        session.execute(text("UPDATE subjects SET searchable = :a, searchable_seal = :b,"
                             " searchable_since = :c WHERE pseudonym = :p"),
                        {"a": saved[0], "b": saved[1], "c": saved[2], "p": pseudonym})
    assert world.identify(portrait_jpegs[0]).outcome is SearchOutcome.NO_CANDIDATE
    with world.service.runtime.db.transaction() as session:  # ...and dated after the opt-out
        session.execute(text("UPDATE subjects SET searchable_since = :c WHERE pseudonym = :p"),
                        {"c": clock.now().replace(tzinfo=None), "p": pseudonym})
    assert world.identify(portrait_jpegs[0]).outcome is SearchOutcome.NO_CANDIDATE
    assert [e.details["mismatch"] for e in _mismatches(world.service)] == [
        "opted_out_in_journal", "opt_in_not_sealed"]
    clock.advance(minutes=1)
    world.people[pseudonym].set_searchable(True)
    assert world.identify(portrait_jpegs[0]).candidates[0].subject == pseudonym


def _mismatches(service: OptinFace) -> list[AuditEvent]:
    with service.runtime.db.transaction() as session:
        rows = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "authority_mismatch").order_by(AuditEvent.seq)))
        session.expunge_all()
        return rows


def test_a_declaration_edited_in_the_database_does_not_count(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """redecl.py: a new purpose needs a new declaration; writing the current material hash
    into the old one does not reopen matching, and the register says why; declaring does."""
    world.enrolled(portrait_jpegs[0])
    world.service.create_purpose(actor=world.admin, body=PurposeCreate(
        name="covert-3", description="new, undeclared", legal_basis="consent",
        operations={Operation.ENROL, Operation.IDENTIFY}, retention_days=3650))
    refused("redeclaration_required", lambda: world.identify(portrait_jpegs[0]))
    current = world.service.register().material_sha256
    with world.service.runtime.db.transaction() as session:
        session.execute(text("UPDATE register_declarations SET material_sha256 = :h"),
                        {"h": current})
    refused("declaration_unsealed", lambda: world.identify(portrait_jpegs[0]))
    register = world.service.register()
    assert not register.in_service
    assert any("does not carry this service's seal" in w for w in register.warnings)
    world.declare()
    assert world.identify(portrait_jpegs[0]).candidates


def test_a_declaration_backdated_in_the_database_does_not_count(world: World,
                                                               portrait_jpegs: list[bytes],
                                                               clock: FakeClock) -> None:
    """The seal covers the dates the period runs from too: moving them back is an edit."""
    world.enrolled(portrait_jpegs[0])
    with world.service.runtime.db.transaction() as session:
        session.execute(text("UPDATE register_declarations SET declared_on = :d"),
                        {"d": date(2020, 1, 1)})
    refused("declaration_unsealed", lambda: world.identify(portrait_jpegs[0]))


def _as_before_the_seals(service: OptinFace) -> None:
    """The rows as a version from before migration 0030 left them: no seal."""
    with service.runtime.db.transaction() as session:
        for table, column in (("passkey_credentials", "seal"), ("subjects", "searchable_seal"),
                              ("register_declarations", "seal"), ("templates", "seal"),
                              ("api_keys", "seal")):
            session.execute(text(f"UPDATE {table} SET {column} = NULL"))


@pytest.mark.first_start
def test_rows_from_before_the_seals_are_adopted_once_and_rows_planted_after_are_not(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deployment from before migration 0030: its passkeys, opt-ins and declaration carry no
    seal. The first start after the upgrade seals them, chained once with the counts, and
    everything works as before; a passkey planted after it is never sealed by a later start."""
    with monkeypatch.context() as older:  # the version before seals: no adoption, no seal
        older.setattr(row_seals, "adopt_once", lambda runtime, **_: None)
        with closing(open_service()) as service:
            world = make_world(service, clock)
            pseudonym = world.enrolled(portrait_jpegs[0])
            _as_before_the_seals(service)
            refused("declaration_unsealed", lambda: world.identify(portrait_jpegs[0]))
    with closing(open_service()) as service:  # the first start after the upgrade
        world.service = service
        api_keys = row_count(service, ApiKey)
        with service.runtime.db.transaction() as session:
            [adopted] = session.scalars(select(AuditEvent).where(
                AuditEvent.action == "row_seals_adopted")).all()
            # root, portal, researcher, reviewer keys hold no passkey; the person does
            assert adopted.details == {"passkeys": 1, "opt_ins": 1, "declarations": 1,
                                       "templates": 1,
                                       "api_keys": api_keys, "admin_passkeys": 0,
                                       "ages": 1, "subject_tokens": 1,
                                       "enrolments": 1}
        assert world.identify(portrait_jpegs[0]).candidates[0].subject == pseudonym
        assert _sign_in(service, world.people[pseudonym].authenticator) == pseudonym
        device = _plant_passkey(service, pseudonym)
    with closing(open_service()) as service:  # a later start adopts nothing more
        assert row_count(service, AuditEvent, AuditEvent.action == "row_seals_adopted") == 1
        refused("passkey_unsealed", lambda: _sign_in(service, device))


def test_each_kind_of_row_has_its_own_seal(world: World) -> None:
    """One row's seal never passes for another kind's with the same fields (domains)."""
    keys = world.service.runtime.keys
    fields = {"subject": "subj_x", "searchable": True}
    assert row_seals.seal(keys, row_seals.RowKind.OPT_IN, fields) != row_seals.seal(
        keys, row_seals.RowKind.PASSKEY, fields)
    assert not row_seals.matches(keys, row_seals.RowKind.OPT_IN, fields, None)
    assert row_seals.matches(keys, row_seals.RowKind.OPT_IN, fields,
                             row_seals.seal(keys, row_seals.RowKind.OPT_IN, fields))


def _actions(service: OptinFace, *actions: str) -> list[str]:
    with service.runtime.db.transaction() as session:
        return list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.in_(actions)).order_by(AuditEvent.seq)))


def test_an_adoption_edited_out_of_the_log_seals_nothing_planted_since(
    world: World, open_service: Callable[[], OptinFace],
) -> None:
    """Review 1, finding 2: the adoption's event renamed in SQL and a passkey planted; the next
    start finds the log rewritten, so it seals nothing and chains why, and no later start
    adopts (though the witness signs the edited log from then on)."""
    shell = world.service.create_subject(actor=world.portal,
                                         body=SubjectCreate(age_category=AgeCategory.ADULT))
    device = _plant_passkey(world.service, shell.pseudonym)
    with world.service.runtime.db.transaction() as session:
        session.execute(text("UPDATE audit_events SET action = 'consent_given'"
                             " WHERE action = 'row_seals_adopted'"))
    watched = ("log_rewritten", "row_seals_adopted", "row_seals_not_adopted")
    for _ in range(2):
        world.service.close()
        world.service = open_service()
        assert _actions(world.service, *watched) == ["log_rewritten", "row_seals_not_adopted"]
        refused("passkey_unsealed", lambda: _sign_in(world.service, device))


@pytest.mark.first_start
def test_a_start_on_a_new_witness_folder_adopts_nothing(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A deployment from before 0030 first started after the upgrade on an empty witness folder
    (witness_adopted): nothing is sealed, the operator's log and the chain say so, and the rows
    from before grant nothing (the person's passkey, the researcher's key)."""
    with monkeypatch.context() as older:
        older.setattr(row_seals, "adopt_once", lambda runtime, **_: None)
        with closing(open_service()) as service:
            world = make_world(service, clock)
            pseudonym = world.enrolled(portrait_jpegs[0])
            lab = service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab")
            _as_before_the_seals(service)
            witness = service.settings.witness_dir
    shutil.rmtree(witness)
    (service.settings.keys_dir / f"{witness_binding.RECORD_NAME}.key").unlink()  # from before
    with caplog.at_level(logging.ERROR, logger="optinface.consent.row_seals"), \
            closing(open_service()) as service:
        assert _actions(service, "witness_adopted", "row_seals_adopted",
                        "row_seals_not_adopted") == ["witness_adopted", "row_seals_not_adopted"]
        assert any("NOT adopted" in r.getMessage() for r in caplog.records)
        # A right asked in the first seconds after an adoption is taken as signed before it.
        clock.advance(seconds=log_clock.TOLERANCE.total_seconds() + 1)
        refused("passkey_unsealed", lambda: _sign_in(
            service, world.people[pseudonym].authenticator))
        with pytest.raises(Unauthenticated):
            service.authenticate(lab.secret)


@both_backends
def test_admin_bindings_from_before_their_seal_are_adopted_once_a_persons_passkey_never(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ledger whose rows were sealed before migration 0034: its admin bindings carry no seal.
    The first start after it seals, once, the binding of a passkey registered as an admin's,
    never one of a person's passkey bound in SQL; a seal stripped after it is never made
    again by a start."""
    on = settings.model_copy(update={"admin_mfa": True})

    def older_adopt(runtime: Runtime, *, adopted: AuditAction,
                    seal_rows: Callable[[Session], dict[str, int]], **rest: Any) -> object:
        """The version before: its row seals' adoption counted no bindings."""
        def counted_as_before(session: Session) -> dict[str, int]:
            counts = seal_rows(session)
            if adopted is AuditAction.ROW_SEALS_ADOPTED:
                del counts[row_seals.ADMIN_BINDINGS]
            return counts

        return adopting(runtime, adopted=adopted, seal_rows=counted_as_before, **rest)

    adopting = row_seals.adopt
    with monkeypatch.context() as older:
        older.setattr(row_seals, "adopt", older_adopt)
        older.setattr(row_seals, "adopt_bindings_once", lambda runtime, **_: None)
        with closing(OptinFace.open(on, pipeline=pipeline, clock=clock)) as service:
            world = make_world(service, clock)
            device = SoftAuthenticator(origin=DEFAULT_ORIGIN)
            register_admin_passkey(service, world.admin, device, link=service.
                                   issue_admin_passkey_link(key_id=world.admin.key_id).secret)
            second = service.authenticate(service.create_api_key(
                actor=world.admin, role=Role.ADMIN, name="second admin").secret)
            person = world.person()
            with service.runtime.db.transaction() as session:
                session.execute(text(
                    "INSERT INTO admin_passkeys (api_key_id, credential_id, registered_at)"
                    " SELECT :key, c.id, :now FROM passkey_credentials c JOIN subjects s"
                    " ON s.id = c.subject_id WHERE s.pseudonym = :pseudonym"),
                    {"key": second.key_id, "now": clock.now().replace(tzinfo=None),
                     "pseudonym": person.pseudonym})
                session.execute(text("UPDATE admin_passkeys SET seal = NULL"))  # before 0034
    for _ in range(2):
        with closing(OptinFace.open(on, pipeline=pipeline, clock=clock)) as service:
            with service.runtime.db.transaction() as session:
                [adopted] = session.scalars(select(AuditEvent).where(
                    AuditEvent.action == "admin_passkeys_adopted")).all()
                assert adopted.details == {"sealed": 1, "left": 1}
            assert admin_step_up(service, world.admin, device).startswith("stu_")
            refused("second_factor_required", lambda: service.step_up_options(actor=second))
    with closing(OptinFace.open(on, pipeline=pipeline, clock=clock)) as service:
        with service.runtime.db.transaction() as session:
            session.execute(text("UPDATE admin_passkeys SET seal = NULL"))
    with closing(OptinFace.open(on, pipeline=pipeline, clock=clock)) as service:
        assert row_count(service, AuditEvent,
                         AuditEvent.action == "admin_passkeys_adopted") == 1
        refused("second_factor_required", lambda: service.step_up_options(actor=world.admin))
