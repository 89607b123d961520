"""LCCJTI art. 45: declared 60 days before service, re-declared on any material change, and
the regulator's suspension and destruction orders applied."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text

from optinface.consent import declaration, erasure, review, row_seals
from optinface.consent.audit import AuditAction
from optinface.consent.errors import ConsentError
from optinface.consent.receipts import published_key, verify_receipt
from optinface.consent.register import UNBOUND_WARNING, render_pia_skeleton
from optinface.consent.schemas import AuditFilter, ErasureReceipt, Operation, PurposeCreate
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.signed_documents import signature_problem
from optinface.consent.tables import (
    Purpose,
    RegisterDeclaration,
    RegulatorOrder,
    Template,
    Tombstone,
)
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, Killed, World, make_world, refused, row_count
from tests.support.thresholds import TEST_FMR, TEST_THRESHOLD, write_test_thresholds


def test_matching_is_refused_until_the_database_is_declared(
    service, clock: FakeClock, portrait_jpegs: list[bytes]  # type: ignore[no-untyped-def]
) -> None:
    world = make_world(service, clock, declare=False)
    refused("not_declared", lambda: world.identify(portrait_jpegs[0]))
    world.enrolled(portrait_jpegs[0])  # a demonstration enrols before it declares
    register = service.declare(actor=world.admin, date=clock.now().date(), reference="CAI-1")
    assert register.in_service_from == clock.now().date() + timedelta(days=60)
    assert not register.in_service
    refused("declaration_period_running", lambda: world.identify(portrait_jpegs[0]))
    clock.advance(days=59)
    refused("declaration_period_running", lambda: world.identify(portrait_jpegs[0]))
    clock.advance(days=1)
    world.identify(portrait_jpegs[0])
    assert service.register().in_service


def _outside_demo_mode(settings: ConsentSettings, **changes: object) -> ConsentSettings:
    return ConsentSettings(**{**settings.model_dump(), "demo_mode": False, **changes})


@contextmanager
def _assessed(settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
              probe: bytes) -> Iterator[World]:
    """A deployment outside demo mode, reopened once its register is assessed (until then
    matching is refused, and the PIA skeleton names the material to assess); not declared.
    The gates are asked once the upload's header passed the limits, before any pixel is
    decoded: ``probe`` is a readable image."""
    with closing(OptinFace.open(_outside_demo_mode(settings), pipeline=pipeline,
                                clock=clock)) as service:
        world = make_world(service, clock, declare=False)
        refused("assessment_outdated", lambda: world.identify(probe))
        register = service.register()
        assert f"**Register material assessed**: {register.material_sha256}" in (
            render_pia_skeleton(register))
    assessed = _outside_demo_mode(settings, pia_material_sha256=register.material_sha256)
    with closing(OptinFace.open(assessed, pipeline=pipeline, clock=clock)) as service:
        yield dataclasses.replace(world, service=service)


def test_outside_demo_mode_a_backdated_declaration_opens_nothing_early(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes],
) -> None:
    with _assessed(settings, pipeline, clock, portrait_jpegs[0]) as world:
        refused("not_declared", lambda: world.identify(portrait_jpegs[0]))
        backdated = clock.now().date() - timedelta(days=90)
        register = world.service.declare(actor=world.admin, date=backdated,
                                         reference="CAI-OLD")
        assert register.in_service_from == clock.now().date() + timedelta(days=60)
        refused("declaration_period_running", lambda: world.identify(portrait_jpegs[0]))
        clock.advance(days=60)
        world.identify(portrait_jpegs[0])


def test_outside_demo_mode_a_change_of_the_register_needs_a_new_assessment_first(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes],
) -> None:
    """P-39.1 s. 3.3, GDPR art. 35: assessed before declared, again after any change."""
    with _assessed(settings, pipeline, clock, portrait_jpegs[0]) as world:
        service = world.service
        service.declare(actor=world.admin, date=clock.now().date(), reference="CAI-1")
        clock.advance(days=60)
        world.identify(portrait_jpegs[0])
        service.create_purpose(actor=world.admin, body=PurposeCreate(
            name="another study", description="new", legal_basis="consent",
            operations={Operation.IDENTIFY}, retention_days=30))
        refused("assessment_outdated", lambda: world.identify(portrait_jpegs[0]))
        assert service.register().warnings  # the dashboard and the register say why
        # Each PIA setting in force is dated in the log: the placeholder's, then the assessed.
        recorded = service.audit_events(actor=world.reviewer, filters=AuditFilter(
            action=AuditAction.ASSESSMENT_RECORDED)).events
        assert [e.details["material_sha256"] for e in recorded] == [
            None, service.settings.pia_material_sha256]


def _refused_enrolments(service: OptinFace, world: World, code: str) -> int:
    """How many enrolments the log chains as refused with ``code``."""
    return len([e for e in service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.REFUSED, outcome=code)).events
        if e.details["attempted"] == str(AuditAction.ENROL)])


def test_outside_demo_mode_enrolment_waits_for_the_assessment_then_a_declaration_recorded(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes],
) -> None:
    """Blackbox 25, 4: collecting a face template is the processing the impact assessment must
    precede (GDPR art. 35(1), P-39.1 s. 3.3), and the first one creates the database whose
    creation is disclosed (LCCJTI art. 45). The desk's upload is refused as matching is, with
    the same code, chained, nothing stored, the capture the person approved left unused; the
    60 days stay matching's alone."""
    photo = portrait_jpegs[0]
    with closing(OptinFace.open(_outside_demo_mode(settings), pipeline=pipeline,
                                clock=clock)) as service:
        world = make_world(service, clock, declare=False)
        pseudonym, consent_id = world.subject()
        capture = world.signer(pseudonym).approve_capture(consent_id, photo, desk=world.portal)
        with pytest.raises(ConsentError) as error:
            service.enrol(actor=world.portal, subject=pseudonym, capture_id=capture.id,
                          image=photo)
        assert error.value.code == "assessment_outdated"
        assert error.value.details == _assessment_refused(world, photo)  # the one rule
        assert row_count(service, Template) == 0
        assert _refused_enrolments(service, world, "assessment_outdated") == 1
        register = service.register()
        material = register.material_sha256
        assert (f"Enrolment and matching refused: {error.value.message}."
                in register.warnings)  # the dashboard and the register say both wait
    assessed = _outside_demo_mode(settings, pia_material_sha256=material)
    with closing(OptinFace.open(assessed, pipeline=pipeline, clock=clock)) as service:
        world = dataclasses.replace(world, service=service)

        def upload() -> object:
            return service.enrol(actor=world.portal, subject=pseudonym, capture_id=capture.id,
                                 image=photo)

        refused("not_declared", upload)
        assert row_count(service, Template) == 0
        assert _refused_enrolments(service, world, "not_declared") == 1
        assert any(warning.startswith("Enrolment and matching refused: ")
                   for warning in service.register().warnings)
        service.declare(actor=world.admin, date=clock.now().date(), reference="CAI-1")
        upload()  # the capture approved while refused is still the person's to use
        assert row_count(service, Template) == 1
        refused("declaration_period_running", lambda: world.identify(photo))
        said = [warning for warning in service.register().warnings if "refused: " in warning]
        assert len(said) == 1 and said[0].startswith("Matching refused: ")  # the 60 days alone


def test_outside_demo_mode_a_declaration_written_from_outside_creates_no_database(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes],
) -> None:
    """The declaration enrolment waits for is one this service recorded: a row edited in the
    database without the key store does not count for enrolment either, as for matching."""
    photo = portrait_jpegs[0]
    with _assessed(settings, pipeline, clock, photo) as world:
        pseudonym, consent_id = world.subject()
        world.service.declare(actor=world.admin, date=clock.now().date(), reference="CAI-1")
        with world.service.runtime.db.transaction() as session:
            session.execute(text("UPDATE register_declarations SET period_days = 0"))
        refused("declaration_unsealed", lambda: world.enrol(pseudonym, consent_id, photo))
        assert row_count(world.service, Template) == 0
        world.service.declare(actor=world.admin, date=clock.now().date(), reference="CAI-2")
        world.enrol(pseudonym, consent_id, photo)


def test_a_declaration_cannot_be_dated_in_the_future(world: World, clock: FakeClock) -> None:
    refused("invalid_request", lambda: world.service.declare(
        actor=world.admin, date=clock.now().date() + timedelta(days=1), reference="CAI-2"))


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1970, 1, 1)])
def test_a_declaration_dated_outside_the_span_is_refused_by_the_service(
    world: World, day: date
) -> None:
    """The API's body refuses it; the command line reaches the service directly."""
    before = world.service.register().declaration
    refused("invalid_request", lambda: world.service.declare(
        actor=world.admin, date=day, reference="CAI-OLD"))
    assert world.service.register().declaration == before


@pytest.mark.parametrize("reference", ["", "CAI/2026 #1?x", "X\x01", "..", "C" * 201, "CAI-1\n"])
def test_a_reference_that_is_not_a_regulators_file_number_is_refused_by_the_service(
    world: World, clock: FakeClock, reference: str
) -> None:
    """The rule of the API's ``Reference`` holds for every caller (a notebook, the command
    line): nothing is recorded, nothing audited."""
    refused("invalid_request", lambda: world.service.declare(
        actor=world.admin, date=clock.now().date(), reference=reference))
    refused("invalid_request", lambda: world.service.apply_regulator_order(
        actor=world.admin, reference=reference))
    register = world.service.register()
    assert register.orders == [] and register.declaration is not None
    assert register.declaration.reference == "CAI-2026-001"


def test_the_declaration_period_is_configurable_only_upward(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        ConsentSettings(data_dir=tmp_path, declaration_period_days=59)
    assert ConsentSettings(data_dir=tmp_path, declaration_period_days=90
                           ).declaration_period_days == 90


def test_adding_a_purpose_suspends_matching_until_redeclared(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    world.identify(portrait_jpegs[0])
    world.service.create_purpose(actor=world.admin, body=PurposeCreate(
        name="another study", description="new", legal_basis="consent",
        operations={Operation.IDENTIFY}, retention_days=30))
    assert not world.service.register().in_service
    refused("redeclaration_required", lambda: world.identify(portrait_jpegs[0]))
    world.service.declare(actor=world.admin, date=clock.now().date(), reference="CAI-3")
    refused("declaration_period_running", lambda: world.identify(portrait_jpegs[0]))
    clock.advance(days=60)
    world.identify(portrait_jpegs[0])


def test_each_search_logs_the_declared_reference_database_it_checked(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """AI Act art. 12(3)(b): the search's record names the declaration in force and the
    material it declared, so the log says which declared database each search checked."""

    def searched() -> dict[str, str]:
        world.identify(portrait_jpegs[0])
        events = world.service.audit_events(actor=world.reviewer, filters=AuditFilter()).events
        return dict([e for e in events if e.action == AuditAction.IDENTIFY][-1]
                    .details["reference_database"])

    first = searched()
    register = world.service.register()
    assert register.declaration is not None
    assert first == {"declaration": "CAI-2026-001",
                     "declared_on": register.declaration.declared_on.isoformat(),
                     "material_sha256": register.material_sha256,
                     "model_id": world.service.pipeline.model_id}
    world.purpose_with(Operation.IDENTIFY, name="another study")  # new material, redeclared
    world.service.declare(actor=world.admin, date=clock.now().date() - timedelta(days=61),
                          reference="CAI-2026-002")
    second = searched()
    assert second["declaration"] == "CAI-2026-002"
    assert second["material_sha256"] == world.service.register().material_sha256
    assert second["material_sha256"] != first["material_sha256"]


@pytest.mark.parametrize("field, value", [
    ("hosting_provider", "another cloud"),
    ("hosting_country", "US"),
    ("max_consent_days", 30),  # a retention rule
    ("transfer_safeguards", "standard contractual clauses"),
    ("controller_name", "another controller"),  # material version 2: the deployment
])
def test_a_material_change_of_the_register_needs_a_new_declaration(
    world: World, portrait_jpegs: list[bytes], field: str, value: object
) -> None:
    before = world.service.register().material_sha256
    setattr(world.service.settings, field, value)
    assert world.service.register().material_sha256 != before
    refused("redeclaration_required", lambda: world.identify(portrait_jpegs[0]))


@pytest.mark.parametrize("change", ["false-match rate", "calibration", "verifiers"])
def test_a_new_operating_point_needs_a_new_declaration(
    world: World, portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """The accuracy operating point is declared material (G-08, L-05): ten times the false
    matches at a lower threshold, the same rate calibrated anew, or another number of verifiers
    (a new version of the code) is not the database declared, so matching stops until a new
    declaration has run its period; the search then applies, and states, the declared point."""
    settings, clock = world.service.settings, world.clock
    before = world.service.register()
    # Another rate calibrated in the file leaves the point in force, and the material, as is.
    lower = (1e-3, 0.3)
    write_test_thresholds(settings.thresholds_path, points=[(TEST_FMR, TEST_THRESHOLD), lower])
    assert world.service.register().material_sha256 == before.material_sha256
    if change == "false-match rate":
        settings.match_fmr = lower[0]
    elif change == "calibration":
        write_test_thresholds(settings.thresholds_path, points=[(TEST_FMR, 0.4), lower],
                              date="2027-02-01")
    else:
        monkeypatch.setitem(review.CONFIRMATIONS, Operation.IDENTIFY, 3)
    changed = world.service.register()
    assert changed.accuracy != before.accuracy
    assert changed.material_sha256 != before.material_sha256 and not changed.in_service
    refused("redeclaration_required", lambda: world.identify(portrait_jpegs[0]))
    world.service.declare(actor=world.admin, date=clock.now().date(), reference="CAI-4")
    refused("declaration_period_running", lambda: world.identify(portrait_jpegs[0]))
    clock.advance(days=60)
    answer = world.identify(portrait_jpegs[0])
    point = world.service.register().accuracy
    assert point == changed.accuracy
    assert (answer.model_id, answer.fmr, answer.threshold, answer.fnmr,
            answer.confirmations_required) == (
        point.model_id, point.fmr, point.threshold, point.fnmr,
        point.confirmations_required[Operation.IDENTIFY])


def test_enrolling_people_is_not_a_material_change(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    before = world.service.register().material_sha256
    world.enrolled(portrait_jpegs[1])
    assert world.service.register().material_sha256 == before


def test_a_regulator_suspension_stops_enrolment_and_matching(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym, consent = world.subject()
    register = world.service.apply_regulator_order(actor=world.admin, reference="CAI-ORD-1")
    assert [o.reference for o in register.orders] == ["CAI-ORD-1"]
    assert any("CAI-ORD-1" in w for w in register.warnings)
    refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
    refused("suspended_by_regulator", lambda: world.enrol(pseudonym, consent, portrait_jpegs[0]))
    events = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.REGULATOR_ORDER)).events
    assert [e.details["order"] for e in events] == ["CAI-ORD-1"]
    world.service.lift_regulator_order(actor=world.admin, reference="CAI-ORD-1")
    world.enrol(pseudonym, consent, portrait_jpegs[0])
    world.identify(portrait_jpegs[0])


def test_a_destruction_order_destroys_every_template_with_receipts(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    for image in portrait_jpegs[:3]:
        world.enrolled(image)
    register = world.service.apply_regulator_order(actor=world.admin, reference="CAI-ORD-2",
                                                   destroy=True)
    assert register.orders[0].kind == "destroy" and register.orders[0].templates_destroyed == 3
    assert world.service.index.count() == 0
    with world.service.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Template)) == 0
        tombstones = session.scalars(select(Tombstone)).all()
    assert len(tombstones) == 3
    for tombstone in tombstones:
        assert tombstone.reason == "regulator_order" and tombstone.receipt is not None
        assert tombstone.receipt_signature is not None
        assert verify_receipt(tombstone.receipt, tombstone.receipt_signature,
                                world.service.public_key)
    refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))


def test_a_destruction_a_crash_interrupted_is_finished_by_the_next_sweep(
    world: World, portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order commits, then its erasures, one by one; a process killed among them leaves
    the rest to the next sweep (the server sweeps at start), not to a repeat the reference
    refuses. A subject created since the order is not the order's."""
    for image in portrait_jpegs[:3]:
        world.enrolled(image)
    first_only = _crashing_after(1, erasure.erase_subject)
    with monkeypatch.context() as patched:
        patched.setattr(erasure, "erase_subject", first_only)
        with pytest.raises(Killed):
            world.service.apply_regulator_order(actor=world.admin, reference="CAI-ORD-5",
                                                destroy=True)
    assert world.service.index.count() == 2
    world.clock.advance(minutes=1)
    since, _ = world.subject()
    swept = world.service.sweep()
    assert [e.reason for e in swept.erasures] == ["regulator_order"] * 2
    assert world.service.index.count() == 0
    assert world.service.get_subject(actor=world.portal, subject=since).status == "active"
    [order] = world.service.register().orders
    assert order.templates_destroyed == 2  # the first one's count died with its process
    assert world.service.verify_audit().ok


def _crashing_after(calls: int, step: Callable[..., ErasureReceipt]) -> Callable[
        ..., ErasureReceipt]:
    """``step`` for its first ``calls`` calls, then the process dies."""
    made: list[ErasureReceipt] = []

    def counted(*args: Any, **kwargs: Any) -> ErasureReceipt:
        if len(made) == calls:
            raise Killed
        made.append(step(*args, **kwargs))
        return made[-1]

    return counted


def _order_events(world: World, action: AuditAction) -> list[str]:
    events = world.service.audit_events(actor=world.reviewer,
                                        filters=AuditFilter(action=action)).events
    return [e.details["order"] for e in events]


def _templates_and_tombstones(world: World) -> tuple[int, int]:
    return row_count(world.service, Template), row_count(world.service, Tombstone)


@both_backends
@pytest.mark.parametrize(("first", "repeat"), [(False, False), (False, True), (True, True)],
                         ids=["suspend-suspend", "suspend-destroy", "destroy-destroy"])
def test_an_order_in_force_is_not_applied_again_under_its_reference(
    world: World, portrait_jpegs: list[bytes], first: bool, repeat: bool
) -> None:
    """A reference names one order: a repeat, of either kind, is refused before anything is
    written (no second row, no audit event, no template destroyed) and one lift ends it."""
    for image in portrait_jpegs[:2]:
        world.enrolled(image)
    applied = world.service.apply_regulator_order(actor=world.admin, reference="CAI-9",
                                                  destroy=first)
    held = _templates_and_tombstones(world)
    refused("order_in_force", lambda: world.service.apply_regulator_order(
        actor=world.admin, reference="CAI-9", destroy=repeat))
    assert world.service.register().orders == applied.orders
    assert _templates_and_tombstones(world) == held
    assert _order_events(world, AuditAction.REGULATOR_ORDER) == ["CAI-9"]
    register = world.service.lift_regulator_order(actor=world.admin, reference="CAI-9")
    assert register.in_service and [o.lifted_at is not None for o in register.orders] == [True]
    world.identify(portrait_jpegs[0])


@both_backends
def test_an_order_applied_by_several_callers_at_once_is_recorded_once(world: World) -> None:
    """The check runs in the serialised write transaction (consent.db): exact across
    concurrent callers on both databases."""

    def apply() -> str:
        try:
            world.service.apply_regulator_order(actor=world.admin, reference="CAI-10")
        except ConsentError as error:
            return error.code
        return "applied"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(lambda _: apply(), range(8)))
    assert outcomes == ["applied"] + ["order_in_force"] * 7
    assert [o.reference for o in world.service.register().orders] == ["CAI-10"]
    assert _order_events(world, AuditAction.REGULATOR_ORDER) == ["CAI-10"]


@both_backends
def test_only_an_order_in_force_is_lifted_and_a_lifted_one_may_be_applied_again(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Lifting an order never applied, or lifted already, is refused and audited nowhere; the
    regulator may reinstate a lifted order under its reference, and lift it again."""
    refused("invalid_request", lambda: world.service.lift_regulator_order(
        actor=world.admin, reference="CAI-11"))
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-11")
    world.service.lift_regulator_order(actor=world.admin, reference="CAI-11")
    refused("invalid_request", lambda: world.service.lift_regulator_order(
        actor=world.admin, reference="CAI-11"))
    assert _order_events(world, AuditAction.REGULATOR_ORDER_LIFTED) == ["CAI-11"]
    register = world.service.apply_regulator_order(actor=world.admin, reference="CAI-11")
    assert [o.lifted_at is None for o in register.orders] == [False, True]
    refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
    assert world.service.lift_regulator_order(actor=world.admin, reference="CAI-11").in_service


@both_backends
def test_a_lift_ends_an_order_an_older_ledger_recorded_twice(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """Before repeats were refused, a repeated order left two rows in force under one
    reference: its lift lifts both, so the database does not stay suspended."""
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-12")
    with world.service.runtime.db.transaction() as session:
        session.add(RegulatorOrder(reference="CAI-12", kind="suspend", recorded_at=clock.now(),
                                   recorded_by=world.admin.key_id))
    register = world.service.lift_regulator_order(actor=world.admin, reference="CAI-12")
    assert register.in_service and [o.lifted_at is not None for o in register.orders] == [
        True, True]
    world.identify(portrait_jpegs[0])


def test_old_declarations_without_a_material_hash_do_not_cover_the_register(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    from optinface.consent.row_seals import seal_declaration
    from optinface.consent.tables import RegisterDeclaration

    with world.service.runtime.db.transaction() as session:
        for row in session.scalars(select(RegisterDeclaration)):
            row.material_sha256 = None  # as migration 0004 leaves a declaration made before it
            seal_declaration(world.service.runtime.keys, row)  # as migration 0030's adoption
    refused("redeclaration_required", lambda: world.identify(portrait_jpegs[0]))


def test_a_register_change_after_a_kept_read_is_seen_by_the_next_match(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The gate keeps the register's rows between matches (consent.declaration.RegisterReads):
    a write to them, even in plain SQL, ends what was kept (and the edit, without the key
    store, breaks the declaration's seal)."""
    world.identify(portrait_jpegs[0])  # the rows are read and kept
    world.identify(portrait_jpegs[0])  # and used
    with world.service.runtime.db.transaction() as session:
        session.execute(text("UPDATE register_declarations SET material_sha256 = 'edited'"))
    refused("declaration_unsealed", lambda: world.identify(portrait_jpegs[0]))


def test_a_register_write_rolled_back_is_not_kept(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    world.identify(portrait_jpegs[0])
    reads = world.service.runtime.register_reads
    with pytest.raises(RuntimeError), world.service.runtime.db.transaction() as session:
        before = len(reads.rows(session).purposes)
        session.add(Purpose(id="pur_rolled_back", name="never committed", description="-",
                            legal_basis="consent", operations=["identify"], retention_days=1,
                            created_at=clock.now()))
        session.flush()
        assert len(reads.rows(session).purposes) == before + 1  # read inside the transaction
        raise RuntimeError("rolled back")
    world.identify(portrait_jpegs[0])  # the purpose never existed: still declared


@both_backends
def test_the_kept_register_outlives_the_transaction_that_read_it(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """The gate keeps the register's rows between requests: read first by a transaction that
    then rolls back (an enrolment refused after its gate: not the photo the person approved),
    they must still serve the next match. They were expired with that transaction: the match
    was a 500 (seen once in a whole run, where another test's refused upload came first)."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        pseudonym = world.enrolled(portrait_jpegs[0])
        [consent] = service.list_consents(actor=world.admin, subject=pseudonym)
        capture = world.signer(pseudonym).approve_capture(consent.id, portrait_jpegs[0],
                                                          desk=world.portal)
    with closing(open_service()) as service:  # nothing kept yet
        refused("challenge_invalid", lambda: service.enrol(
            actor=world.portal, subject=pseudonym, capture_id=capture.id,
            image=portrait_jpegs[1]))
        world = dataclasses.replace(world, service=service)
        assert world.identify(portrait_jpegs[0]).candidates


DEPLOYMENT = ("material_version", "controller", "signing_keys")


def _material(service: OptinFace) -> dict[str, Any]:
    """The material a declaration made now hashes (version 2)."""
    with service.runtime.db.reading() as session:
        return declaration.material_fields(session, settings=service.settings,
                                           models=service.pipeline.models,
                                           keys=service.runtime.keys)


def _before_the_deployment(material: dict[str, Any]) -> dict[str, Any]:
    """The same material as version 1 hashed it: without the deployment."""
    return {k: v for k, v in material.items() if k not in DEPLOYMENT}


def test_two_deployments_with_the_same_purposes_declare_two_hashes_binding_their_keys(
    world: World, settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
) -> None:
    """Red team 7, 10: a second deployment given the same purposes (ids set by SQL) had the
    declared hash of the first, with other receipt and checkpoint keys. The material now names
    the controller and the keys ``/.well-known`` publishes, so the two hashes differ, and each
    declaration records its own."""
    service = world.service
    material = _material(service)
    published = {key.signs[0]: key.public_key for key in service.published_keys()}
    assert material["material_version"] == declaration.MATERIAL_VERSION == 2
    assert material["signing_keys"] == {"receipts": published["consent receipts"],
                                        "checkpoints": published[
                                            "audit checkpoints (C2SP signed notes)"]}
    assert material["controller"] == {"name": settings.controller_name,
                                      "contact": settings.controller_contact}
    register = service.register(actor=world.reviewer)
    assert register.declaration is not None and register.in_service
    assert register.declaration.material_sha256 == register.material_sha256 == (
        declaration.material_sha256(material))
    assert register.material_version == 2
    assert not any(w.startswith(UNBOUND_WARNING[:40]) for w in register.warnings)

    elsewhere = ConsentSettings.model_validate({  # its own ledger, key store and witness
        **settings.model_dump(), "data_dir": settings.data_dir.with_name("var2"),
        "database_url": None, "key_dir": None, "audit_witness_dir": None})
    other = OptinFace.open(elsewhere, pipeline=pipeline, clock=clock)
    with closing(other):
        make_world(other, clock)
        [ours] = service.list_purposes(actor=world.admin)
        with other.runtime.db.transaction() as session:
            session.execute(text("UPDATE purposes SET id = :id"), {"id": ours.id})
        theirs = _material(other)
        assert _before_the_deployment(theirs) == _before_the_deployment(material)
        assert declaration.material_sha256(theirs) != declaration.material_sha256(material)
        assert other.register().material_sha256 != register.material_sha256


def test_a_declaration_of_the_old_material_still_counts_and_the_register_says_it_binds_no_keys(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """A declaration recorded before the deployment was material (its hash of version 1, sealed
    by the service of then) keeps the database in service: no deployment declares again and
    waits 60 days for an upgrade. The register checks it against that material, says so
    (``material_version`` 1), and warns that it binds neither the keys nor the controller, naming
    the hash a new declaration would record; a new declaration binds them."""
    service = world.service
    world.enrolled(portrait_jpegs[0])
    material = _material(service)
    old = declaration.material_sha256(_before_the_deployment(material))
    with service.runtime.db.transaction() as session:
        row = session.scalars(select(RegisterDeclaration)).one()
        row.material_sha256 = old
        row_seals.seal_declaration(service.runtime.keys, row)
        reference, declared_on = row.reference, row.declared_on
    register = service.register(actor=world.reviewer)
    assert register.in_service and register.material_version == 1
    assert register.material_sha256 == old
    assert UNBOUND_WARNING.format(reference=reference, declared_on=declared_on,
                                  sha256=declaration.material_sha256(material)
                                  ) in register.warnings
    assert world.identify(portrait_jpegs[0]).outcome == "candidates_for_review"

    world.declare()
    register = service.register(actor=world.reviewer)
    assert register.material_version == 2
    assert register.material_sha256 == declaration.material_sha256(material)
    assert not any(w.startswith(UNBOUND_WARNING[:40]) for w in register.warnings)


def test_a_signed_register_states_the_material_it_hashes_and_leaves_each_declaration_in_force(
    world: World,
) -> None:
    """The register carries the receipt key's signature and the material itself; neither
    is material: the declaration recorded before any register was signed stays in force under
    its hash, of version 2 and of version 1 alike, and the register's material hashes to it."""
    service = world.service
    material = _material(service)
    with service.runtime.db.reading() as session:
        declared = session.scalars(select(RegisterDeclaration)).one().material_sha256
    assert declared == declaration.material_sha256(material)
    register = service.register(actor=world.reviewer)
    assert register.in_service and register.material == material
    assert register.material_sha256 == declared == declaration.material_sha256(register.material)
    assert register.signature is not None
    assert signature_problem(register.model_dump(mode="json"), service.public_key) is None
    assert register.signature.kid == published_key(service.public_key).key_id

    old = declaration.material_sha256(_before_the_deployment(material))
    with service.runtime.db.transaction() as session:
        row = session.scalars(select(RegisterDeclaration)).one()
        row.material_sha256 = old
        row_seals.seal_declaration(service.runtime.keys, row)
    register = service.register(actor=world.reviewer)
    assert register.in_service and register.material_version == 1
    assert register.material == _before_the_deployment(material)
    assert declaration.material_sha256(register.material) == register.material_sha256 == old
    assert declaration.named_signing_key(register.material) is None
    assert signature_problem(register.model_dump(mode="json"), service.public_key) is None


def test_the_record_of_processing_is_signed_as_the_register(world: World) -> None:
    service = world.service
    ropa = service.ropa(actor=world.reviewer).model_dump(mode="json")
    assert signature_problem(ropa, service.public_key) is None
    ropa["entries"][0]["items"][0] += "."
    assert "INVALID signature" in (signature_problem(ropa, service.public_key) or "")


def _assessment_refused(world: World, probe: bytes) -> dict[str, Any]:
    """The details of the ``assessment_outdated`` refusal of a search."""
    with pytest.raises(ConsentError) as error:
        world.identify(probe)
    assert error.value.code == "assessment_outdated", error.value
    return error.value.details


def test_an_assessment_of_the_old_material_counts_only_while_an_old_declaration_is_in_force(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes],
) -> None:
    """Review 20a, 3: a PIA of the version 1 material assessed neither the controller nor the
    keys. It counts only while a version 1 declaration is in force; under none, or under a
    version 2 declaration, matching is refused, naming the bound material's hash to assess."""
    with closing(OptinFace.open(_outside_demo_mode(settings), pipeline=pipeline,
                                clock=clock)) as service:
        world = make_world(service, clock, declare=False)
        material = _material(service)
    bound = declaration.material_sha256(material)
    old = declaration.material_sha256(_before_the_deployment(material))
    assessed = _outside_demo_mode(settings, pia_material_sha256=old)
    with closing(OptinFace.open(assessed, pipeline=pipeline, clock=clock)) as service:
        world = dataclasses.replace(world, service=service)
        probe = portrait_jpegs[0]
        refused("assessment_outdated", lambda: world.enrolled(probe))  # enrolment waits too
        assert _assessment_refused(world, probe) == {"assessed_sha256": old,
                                                      "current_sha256": bound}
        world.declare()
        assert _assessment_refused(world, probe)["current_sha256"] == bound
        with service.runtime.db.transaction() as session:
            row = session.scalars(select(RegisterDeclaration)).one()
            row.material_sha256 = old
            row_seals.seal_declaration(service.runtime.keys, row)
        assert service.register().material_version == 1
        world.enrolled(probe)
        clock.advance(days=60)  # outside demo mode, a backdated declaration opens nothing early
        assert world.identify(probe).outcome == "candidates_for_review"
