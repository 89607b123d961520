"""The Alembic migrations: they build what the models declare, and carry old ledgers forward."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from optinface.consent import row_seals
from optinface.consent.audit import AuditAction
from optinface.consent.errors import SecondFactorRequired, Unauthenticated
from optinface.consent.incidents import Audience
from optinface.consent.receipts import subject_signature_problem
from optinface.consent.roles import Permission, Role
from optinface.consent.schemas import (
    AuditFilter,
    ErasureReason,
    IncidentCreate,
)
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.soft_person import DEFAULT_ORIGIN
from optinface.consent.tables import AuditEvent, Base, Consent, SubjectToken
from optinface.engine.pipeline import FacePipeline
from tests.support.api import FRENCH
from tests.support.backends import both_backends
from tests.support.certificates import Authority
from tests.support.consent import (
    FakeClock,
    World,
    admin_step_up,
    make_world,
    new_subject_token,
    outside_sql,
    refused,
    register_admin_passkey,
)
from tests.support.migrations import columns, migrate
from tests.support.witness import checkpoints_refused


def test_the_migrations_build_the_schema_the_models_declare(world: World) -> None:
    with world.service.runtime.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_consents_from_before_retained_until_get_their_purposes_retention(world: World) -> None:
    world.subject()
    with world.service.runtime.db.transaction() as session:
        [given] = session.scalars(select(Consent)).all()
        expected = given.retained_until
    engine = world.service.runtime.db.engine
    migrate(engine, "0002", down=True)  # a ledger written before the column existed
    migrate(engine, "head")
    with world.service.runtime.db.transaction() as session:
        [migrated] = session.scalars(select(Consent)).all()
        assert migrated.retained_until == expected


def test_keys_outlive_a_migration_back_before_expiry_and_an_expiring_one_stays_ended(
    world: World,
) -> None:
    """Migrated back before 0026 and up again, every key is still there; a break-glass key,
    whose expiry the older schema cannot hold, was revoked on the way down, by its expiry at the
    latest (the migration's wall clock, not the test's), so a downgrade never makes it
    permanent. The way down also passed below 0030, which drops the keys' seals, and the
    adoption is not run again: every key then authenticates no one
    (``docs/keys-and-backups.md``)."""
    service = world.service
    kiosk = service.create_api_key(actor=world.admin, role=Role.PORTAL, name="kiosk")
    glass = service.open_break_glass(reason="INC-9: admin unreachable", hours=4)
    assert service.authenticate(glass.secret).role is Role.ADMIN  # its row is kept now
    before = {key.key_id for key in service.list_api_keys(actor=world.admin)}
    engine = service.runtime.db.engine
    migrate(engine, "0025", down=True)
    migrate(engine, "head")
    after = service.list_api_keys(actor=world.admin)
    assert {key.key_id for key in after} == before
    with pytest.raises(Unauthenticated):
        service.authenticate(kiosk.secret)
    [(revoked_at, expires_at)] = [(k.revoked_at, k.expires_at) for k in after
                                  if k.key_id == glass.key_id]
    assert revoked_at is not None and expires_at is None
    assert revoked_at <= glass.expires_at and revoked_at <= datetime.now(UTC)  # never to come
    with pytest.raises(Unauthenticated):
        service.authenticate(glass.secret)


@both_backends
def test_a_migration_below_0028_drops_admin_passkeys_only_when_the_operator_asks(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    """Below 0028 the ledger has no second factor: while an admin key is bound the downgrade
    is refused, changing nothing; asked with ``-x drop_admin_mfa=1`` it drops the bindings with
    their passkeys, links and ceremonies, so no credential outlives the rule that governed it,
    and back up the key has no passkey."""
    with closing(OptinFace.open(settings.model_copy(update={"admin_mfa": True}),
                                pipeline=pipeline, clock=clock)) as service:
        admin = make_world(service, clock).admin
        device = SoftAuthenticator(origin=DEFAULT_ORIGIN)
        register_admin_passkey(service, admin, device, link=service.issue_admin_passkey_link(
            key_id=admin.key_id).secret)
        service.step_up_options(actor=admin)  # a ceremony left open
        engine = service.runtime.db.engine
        with pytest.raises(RuntimeError, match="drop_admin_mfa=1"):
            migrate(engine, "0027", down=True)
        assert admin_step_up(service, admin, device)  # nothing changed
        migrate(engine, "0027", down=True, x=["drop_admin_mfa=1"])
        with engine.connect() as connection:
            left = [connection.execute(text(query)).scalar() for query in (
                "SELECT count(*) FROM passkey_credentials WHERE capacity = 'admin-passkey'",
                "SELECT count(*) FROM one_time_links WHERE kind = 'admin-passkey'",
                "SELECT count(*) FROM ceremonies WHERE kind = 'admin_step_up'")]
        assert left == [0, 0, 0]
        migrate(engine, "head")
        refused("second_factor_required", lambda: service.require_step_up(
            admin, Permission.MANAGE_KEYS, None))
    # The binding is in the witness folder's journal: the next start must not bring it back,
    # as it would for a restored copy that lost the registration.
    with closing(OptinFace.open(settings.model_copy(update={"admin_mfa": True}),
                                pipeline=pipeline, clock=clock)) as reopened:
        with pytest.raises(SecondFactorRequired) as refusal:
            reopened.require_step_up(admin, Permission.MANAGE_KEYS, None)
        assert refusal.value.details["problem"] == "no_passkey"


def test_a_migration_back_before_certificate_binding_revokes_every_bound_key(
    world: World, tmp_path: Path,
) -> None:
    """The schema before 0027 cannot hold a key's client certificate, so a bound key would come
    out a bearer key, usable from any machine: it is revoked on the way down instead (below
    0030 every key also loses its seal, so none authenticates afterwards; the revocation is
    what this test is about)."""
    service = world.service
    lab = Authority.create(tmp_path, "labs-ca").issue("lab")
    bound = service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab A",
                                   client_cert_pem=lab.pem)
    unbound = service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab B")
    assert service.authenticate(bound.secret).role is Role.RESEARCHER  # its row is kept now
    engine = service.runtime.db.engine
    migrate(engine, "0026", down=True)
    migrate(engine, "head")
    [revoked_at] = [key.revoked_at for key in service.list_api_keys(actor=world.admin)
                    if key.key_id == bound.key_id]
    assert revoked_at is not None and revoked_at <= datetime.now(UTC)
    with pytest.raises(Unauthenticated):
        service.authenticate(bound.secret)
    [unrevoked] = [key.revoked_at for key in service.list_api_keys(actor=world.admin)
                   if key.key_id == unbound.key_id]
    assert unrevoked is None


@both_backends
def test_the_reasons_for_a_late_notification_come_back_after_a_migration_below_0029(
    world: World, clock: FakeClock
) -> None:
    """Below 0029 the incident has no column for the reasons for the delay (GDPR art. 33(1));
    they stay in the notification's audit event, and upgrading again takes each incident's
    back from its latest notification of the regulator: a reason given again replaces the
    first, and one notified in time has none."""
    service, admin = world.service, world.admin
    body = IncidentCreate.model_validate({
        "description": "backup disk lost", "circumstances": "courier lost it",
        "occurred_from": clock.now() - timedelta(hours=1), "became_aware_at": clock.now(),
        "data_categories": ["consent records"], "risk_assessment": "encrypted",
        "measures_taken": "keys rotated", "measures_suggested": "none"})
    late, in_time = (service.record_incident(actor=admin, body=body) for _ in range(2))
    service.incident_notified(actor=admin, incident_id=in_time.id, audience=Audience.REGULATOR)
    clock.advance(hours=80)
    for reason in ("first reason", "the reason given again"):
        service.incident_notified(actor=admin, incident_id=late.id,
                                  audience=Audience.REGULATOR, delay_reason=reason)
    engine = service.runtime.db.engine
    migrate(engine, "0028", down=True)
    incident_columns = columns(engine, "incidents")
    assert ("regulator_delay_reason" not in incident_columns
            and "regulator_notified_at" in incident_columns)
    migrate(engine, "head")
    reasons = {i.id: i.regulator_delay_reason for i in service.incidents(actor=world.reviewer)}
    assert reasons == {late.id: "the reason given again", in_time.id: None}


@both_backends
def test_a_migration_below_0030_drops_the_seals_and_upgrading_again_seals_nothing(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Below 0030 the ledger has nowhere to keep a seal, so the columns go, with a template's
    owner hash and its index. Upgraded again, the rows come back unsealed and the adoption,
    chained once already, is not run again: a passkey then signs nothing, an opt-in finds
    nobody, a declaration counts for nothing, a template is found by no search and an API key
    authenticates no one, until made again through the service (``docs/keys-and-backups.md``), or
    the operator seals them again with the key store, chained."""
    pseudonym = world.enrolled(portrait_jpegs[0])
    kiosk = world.service.create_api_key(actor=world.admin, role=Role.PORTAL, name="kiosk")
    engine = world.service.runtime.db.engine
    sealed = [("passkey_credentials", "seal"), ("subjects", "searchable_seal"),
              ("register_declarations", "seal"), ("templates", "seal"),
              ("templates", "owner_hash"), ("api_keys", "seal")]
    migrate(engine, "0029", down=True)
    with engine.connect() as connection:
        for table, column in sealed:
            assert column not in columns(engine, table)
        assert "ix_templates_owner_hash" not in {
            i["name"] for i in inspect(connection).get_indexes("templates")}
    migrate(engine, "head")
    with engine.connect() as connection:
        assert [connection.execute(text(
            f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL")).scalar()
            for table, column in sealed] == [0] * len(sealed)
        assert "ix_templates_owner_hash" in {
            i["name"] for i in inspect(connection).get_indexes("templates")}
    refused("declaration_unsealed", lambda: world.identify(portrait_jpegs[0]))
    refused("passkey_unsealed", lambda: world.people[pseudonym].set_searchable(False))
    with pytest.raises(Unauthenticated):
        world.service.authenticate(kiosk.secret)
    # The operator's way back, with the key store (optinface keys reseal): a dry run lists the
    # rows without a valid seal and seals nothing; the reseal is chained, counted.
    reason = "CHG-7: schema rolled back to 0029 and forward"
    looked = world.service.reseal_rows(reason=reason, dry_run=True)
    assert looked.sealed is None and looked.were_unsealed["templates"] == [str(
        world.service.templates(actor=world.admin, subject=pseudonym)[0].id)]
    assert kiosk.key_id in looked.were_unsealed["api_keys"]
    refused("declaration_unsealed", lambda: world.identify(portrait_jpegs[0]))
    done = world.service.reseal_rows(reason=reason)
    assert done.were_unsealed == looked.were_unsealed and done.sealed is not None
    counts = done.sealed
    assert counts["passkeys"] >= 1 and counts["templates"] == 1 and counts["api_keys"] >= 1
    assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [pseudonym]
    assert world.service.authenticate(kiosk.secret).key_id == kiosk.key_id
    [event] = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.ROW_SEALS_RESEALED)).events
    assert event.details == {"reason": reason, **counts, "were_unsealed": {
        kind: len(ids) for kind, ids in looked.were_unsealed.items()}}
    refused("invalid_request", lambda: world.service.reseal_rows(reason=f"for {pseudonym}"))


def test_a_migration_below_0032_drops_the_translations_and_french_receipts_still_hold(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """Below 0032 the ledger shows English only: the translations go (each stays chained by
    its SHA-256), and the consents signed in French keep, in their receipts, the French their
    persons signed, which still verifies and still backs them. Upgraded again, every text is
    untranslated: French forms show the English, marked, and the material is the English one."""
    untranslated = world.service.register().material_sha256
    world.translate_purpose({"name": "étude-1"})
    person = world.person()
    given = person.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                           expires_at=world.clock.now() + timedelta(days=90), say=FRENCH)
    engine = world.service.runtime.db.engine
    migrate(engine, "0032-1", down=True)  # the revision before 0032, whichever it is
    with engine.connect() as connection:
        assert "operator_texts" not in inspect(connection).get_table_names()
    migrate(engine, "head")
    # Below 0035 the subjects' age seals went too: the operator's way back (keys reseal).
    world.service.reseal_rows(reason="CHG-9: schema rolled back to 0031")
    with world.service.runtime.db.transaction() as session:
        row = session.get(Consent, given.consent.id)
        assert row is not None and row.receipt is not None
        assert row.receipt["wording"]["purposes"][0]["name"] == "étude-1"
        assert subject_signature_problem(row.receipt) is None
    world.enrol(person.pseudonym, given.consent.id, portrait_jpegs[0])  # backed by its receipt
    shown = world.service.consent_form(FRENCH)
    assert shown["purposes"][0]["name"] == "study-1" and "study-1" in shown["englishOnly"]
    assert world.service.register().material_sha256 == untranslated


@both_backends
def test_a_migration_below_0035_drops_the_age_seals_and_upgrading_again_seals_nothing(
    world: World,
) -> None:
    """Below 0035 a subject's declared age has no seal, so the column goes. Upgraded again,
    the adoption, chained once already, is not run again: no one consents for a subject until
    the operator, with the key store, seals their age again (``optinface keys reseal``)."""
    person = world.person()
    engine = world.service.runtime.db.engine
    migrate(engine, "0035-1", down=True)  # the revision before 0035, whichever it is
    assert "age_seal" not in columns(engine, "subjects")
    migrate(engine, "head")
    expires = world.clock.now() + timedelta(days=90)
    refused("age_unsealed", lambda: person.consent(
        purposes=[world.purpose], notice_id=world.notice, language="fr-CA", expires_at=expires))
    looked = world.service.reseal_rows(reason="CHG-8: schema rolled back to 0034", dry_run=True)
    assert looked.were_unsealed["ages"] == [person.pseudonym]
    done = world.service.reseal_rows(reason="CHG-8: schema rolled back to 0034")
    assert done.sealed is not None and done.sealed["ages"] == 1
    person.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                   expires_at=expires)


@both_backends
def test_a_migration_below_0036_drops_the_token_seals_and_upgrading_again_seals_nothing(
    world: World,
) -> None:
    """Below 0036 a subject token has no seal and no owner hash, so the columns go. Upgraded
    again, the adoption, chained once already, is not run again: the token authenticates no
    one until the operator, with the key store, seals it again (``optinface keys reseal``)."""
    person = world.person()
    token = new_subject_token(world.service, person)
    engine = world.service.runtime.db.engine
    migrate(engine, "0036-1", down=True)  # the revision before 0036, whichever it is
    assert not {"seal", "owner_hash"} & columns(engine, "subject_tokens")
    migrate(engine, "head")
    with pytest.raises(Unauthenticated):
        world.service.authenticate(token)
    looked = world.service.reseal_rows(reason="CHG-13: schema rolled back to 0035", dry_run=True)
    assert token.split(".")[0] in looked.were_unsealed["subject_tokens"]
    world.service.reseal_rows(reason="CHG-13: schema rolled back to 0035")
    assert world.service.authenticate(token).subject == person.pseudonym


@both_backends
def test_0037_dates_each_subject_enrolled_before_from_its_templates_or_the_log(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """Below 0037 a subject has no ``first_enrolled_at``. Upgraded, one holding templates is
    dated by the oldest, one whose templates were all destroyed by its oldest chained
    ``enrol`` event (the earlier of the two wins), one never enrolled stays undated: the
    subject the withdrawal left with nothing enrols again only at the desk, after the upgrade
    too. An event's time edited to no instant (past year 9999 in UTC: review 19a, 1.3, it
    aborted the upgrade) or to none without an offset (the host's local time) dates no one,
    as ``audit.parse_log_time`` reads them."""
    kept = world.enrolled(portrait_jpegs[0])
    dates: dict[str, datetime | None] = {kept: clock.now()}
    clock.advance(hours=1)
    back, first = world.subject()
    second = world.consent(back).consent.id
    world.enrol(back, first, portrait_jpegs[1])
    dates[back] = clock.now()
    world.withdraw(back, first)
    clock.advance(hours=1)
    world.enrol(back, second, portrait_jpegs[1])  # at the desk: a template dated later
    gone, first = world.subject()
    second = world.consent(gone).consent.id
    clock.advance(hours=1)
    world.enrol(gone, first, portrait_jpegs[2])
    dates[gone] = clock.now()
    world.withdraw(gone, first)
    never = world.person().pseudonym
    dates[never] = None
    with world.service.runtime.db.reading() as session:
        enrolments = session.execute(select(AuditEvent.seq, AuditEvent.subjects).where(
            AuditEvent.action == AuditAction.ENROL).order_by(AuditEvent.seq)).all()
    edits = {next(seq for seq, named in enrolments if kept in named): "9999-12-31T23:00:00-05:00",
             [seq for seq, named in enrolments if back in named][-1]: "2000-01-01T00:00:00"}
    for seq, at in edits.items():
        outside_sql(world.service, "UPDATE audit_events SET at = :at WHERE seq = :seq",
                    at=at, seq=seq)
    engine = world.service.runtime.db.engine
    migrate(engine, "0037-1", down=True)  # the revision before 0037, whichever it is
    assert "first_enrolled_at" not in columns(engine, "subjects")
    migrate(engine, "head")
    assert {p: world.service.get_subject(actor=world.portal, subject=p).first_enrolled_at
            for p in dates} == dates
    refused("reenrol_at_desk", lambda: world.people[gone].enrol(second, portrait_jpegs[2]))


def test_0038_keeps_every_subject_row_id_and_reference_and_gives_no_id_twice(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """SQLite's subjects table is rebuilt with ``AUTOINCREMENT`` (red team 7, 3): every row,
    id, index and row referencing a subject is as it was (a rebuild with foreign keys on would
    have cascaded the old table's drop to them), and from then on the id of the subject erased
    last is given to no one."""
    for image in portrait_jpegs[:3]:
        world.enrolled(image)
    engine = world.service.runtime.db.engine
    referencing = ("consents", "templates", "subject_keys", "passkey_credentials",
                   "subject_tokens")

    def ledger() -> dict[str, Any]:
        with engine.connect() as connection:
            return {table: connection.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
                    for table in ("subjects", *referencing)} | {
                "indexes": sorted(map(str, inspect(connection).get_indexes("subjects"))),
                "unique": inspect(connection).get_unique_constraints("subjects")}

    def table_sql() -> str:
        with engine.connect() as connection:
            return str(connection.execute(text(
                "SELECT sql FROM sqlite_master WHERE name = 'subjects'")).scalar())

    migrate(engine, "0037", down=True)
    before = ledger()
    assert "AUTOINCREMENT" not in table_sql() and all(before[t] for t in referencing[:4])
    migrate(engine, "0038")  # compared at 0038: a later revision may add columns
    assert "AUTOINCREMENT" in table_sql()
    assert ledger() == before
    migrate(engine, "head")
    ids = {row.pseudonym: row.id for row in before["subjects"]}
    highest = max(ids, key=ids.__getitem__)
    world.service.erase(actor=world.admin, subject=highest, reason=ErasureReason.REQUEST)
    with engine.connect() as connection:
        new_id = connection.execute(text("SELECT id FROM subjects WHERE pseudonym = :p"),
                                    {"p": world.person().pseudonym}).scalar()
    assert new_id == ids[highest] + 1


def test_a_migration_below_0039_drops_the_issuing_passkey_and_older_tokens_keep_their_seal(
    world: World,
) -> None:
    """Below 0039 a subject token does not say which passkey issued it, so the column goes: a
    token issued since, sealed with it, authenticates no one until it is sealed again
    (``optinface keys reseal``). Upgraded again, the column is back, empty; a token issued
    before 0039, sealed without it, still authenticates."""
    person = world.person()

    issued_since, issued_before = (new_subject_token(world.service, person),
                                   new_subject_token(world.service, person))
    with world.service.runtime.db.transaction() as session:  # sealed as before 0039
        token = session.get(SubjectToken, issued_before.split(".")[0])
        assert token is not None and token.credential_hash is not None
        token.credential_hash = None
        row_seals.seal_subject_token(world.service.runtime.keys, token,
                                     pseudonym=person.pseudonym)
    engine = world.service.runtime.db.engine
    migrate(engine, "0038", down=True)
    assert "credential_hash" not in columns(engine, "subject_tokens")
    migrate(engine, "head")
    with pytest.raises(Unauthenticated):
        world.service.authenticate(issued_since)
    assert world.service.authenticate(issued_before).subject == person.pseudonym


@both_backends
def test_a_migration_below_0040_drops_the_enrolment_seals_and_upgrading_again_seals_nothing(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Below 0040 a subject's enrolment state has no seal, so the column goes. Upgraded again,
    the adoption, chained once already, is not run again: a subject never enrolled makes no
    first enrolment of their own (it could be a cleared one) until the operator, with the key
    store, seals them again (``optinface keys reseal``)."""
    person = world.person()
    consent_id = world.consent(person.pseudonym).consent.id
    engine = world.service.runtime.db.engine
    migrate(engine, "0039", down=True)
    assert "enrolment_seal" not in columns(engine, "subjects")
    migrate(engine, "head")
    refused("reenrol_at_desk", lambda: person.enrol(consent_id, portrait_jpegs[0]))
    looked = world.service.reseal_rows(reason="CHG-14: schema rolled back to 0039", dry_run=True)
    assert looked.were_unsealed["enrolments"] == [person.pseudonym]
    done = world.service.reseal_rows(reason="CHG-14: schema rolled back to 0039")
    assert done.sealed is not None and done.sealed["enrolments"] == 1
    person.enrol(consent_id, portrait_jpegs[0])  # a first enrolment, the person's own


def test_a_migration_below_0041_forgets_each_tokens_last_use_and_every_token_still_works(
    world: World,
) -> None:
    """Below 0041 a subject token does not say when it was last used, so the column goes; no
    seal covers it, so every token authenticates as before, and upgraded again its last use is
    recorded anew at its next use."""
    person = world.person()
    token = new_subject_token(world.service, person)
    actor = world.service.authenticate(token)
    [listed] = [t for t in world.service.subject_tokens(actor=actor, subject=person.pseudonym)
                if t.current]
    assert listed.last_used_on == world.clock.now().date()
    engine = world.service.runtime.db.engine
    migrate(engine, "0040", down=True)
    assert "last_used_on" not in columns(engine, "subject_tokens")
    migrate(engine, "head")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT last_used_on FROM subject_tokens WHERE id = :id"),
                                  {"id": actor.key_id}).scalar_one() is None
    assert world.service.authenticate(token).subject == person.pseudonym
    [listed] = [t for t in world.service.subject_tokens(actor=actor, subject=person.pseudonym)
                if t.current]
    assert listed.last_used_on == world.clock.now().date()


def test_a_migration_below_0042_deletes_the_tokens_limited_to_ending_processing_only(
    world: World,
) -> None:
    """Below 0042 a subject token cannot keep the limit a sign-in made while the witness was
    stalled put on it (``consent.ending_acts``), so those tokens go with the column; every
    other token authenticates as before, upgraded again too."""
    person = world.person()

    unlimited = new_subject_token(world.service, person)
    world.service.witness_audit()
    with checkpoints_refused(world.service.settings.witness_dir):
        world.service.list_consents(actor=world.admin, subject=person.pseudonym)  # an event
        world.service.witness_audit()
        assert world.service.witness_stalled
        limited = new_subject_token(world.service, person)
    world.service.witness_audit()
    limited_id = world.service.authenticate(limited).key_id
    assert world.service.authenticate(limited).ends_processing_only
    engine = world.service.runtime.db.engine
    migrate(engine, "0041", down=True)
    assert "scope" not in columns(engine, "subject_tokens")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM subject_tokens WHERE id = :id"),
                                  {"id": limited_id}).scalar_one() == 0
    migrate(engine, "head")
    assert world.service.authenticate(unlimited).subject == person.pseudonym
    with pytest.raises(Unauthenticated):
        world.service.authenticate(limited)
