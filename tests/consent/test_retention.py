"""The sweeper erases at the earliest of expiry, purpose retention and inactivity.

Per template: a consent that ends takes the templates enrolled under it, at once for the gates
and physically at the sweep the server runs when it ends (or the next one called); the subject
goes when no consent is left in force.
"""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import select

from optinface.api import sweeper as sweeper_module
from optinface.api.sweeper import Sweeper
from optinface.consent.audit import AuditAction
from optinface.consent.errors import ConsentExpired, SubjectErased
from optinface.consent.policies import indexable_labels
from optinface.consent.receipts import verify_receipt
from optinface.consent.retention_policy import RECEIPT_YEARS
from optinface.consent.schemas import (
    AgeCategory,
    AuditFilter,
    CaptureAct,
    ErasureReason,
    Operation,
    PurposeCreate,
    RightKind,
    RightsRequestAnswer,
    RightsRequestCreate,
    SearchOutcome,
    SubjectCreate,
    SubjectCreated,
    SweepReport,
)
from optinface.consent.soft_person import SoftPerson
from optinface.consent.subject_acts import CAPTURE
from optinface.consent.tables import Ceremony, OneTimeLink, PurposeWithdrawal, RightsRequest
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, row_count
from tests.support.files import readable_occurrences, template_bytes


def test_a_subject_whose_every_consent_expired_is_swept(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    expiring, consent_id = world.subject(days=30)
    staying, _ = world.subject(days=300)
    world.enrol(expiring, consent_id, portrait_jpegs[0])
    assert world.service.sweep().erasures == []
    clock.advance(days=31)
    report = world.service.sweep(actor=world.admin)
    assert [e.reason for e in report.erasures] == [ErasureReason.EXPIRY]
    assert report.erasures[0].templates_destroyed == 1 and world.service.index.count() == 0
    with pytest.raises(SubjectErased):
        world.service.get_subject(actor=world.portal, subject=expiring)
    assert world.service.get_subject(actor=world.portal, subject=staying).status == "active"
    assert world.service.verify_audit().ok


def test_the_server_sweeps_a_consent_away_when_it_ends_not_an_interval_later(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """Expiry takes effect at once for what is stored too: the server's sweeper, whose interval
    is an hour here, wakes when the next consent in force ends and erases its subject then (the
    gates refuse them from that moment already)."""
    expiring, consent_id = world.subject(days=1)
    world.enrol(expiring, consent_id, portrait_jpegs[0])
    sweeper = Sweeper(world.service, interval=3600, flush_interval=1.0)
    sweeper.start()
    try:
        clock.advance(days=1, seconds=-5)  # the sweeper sees the end 5 s away...
        time.sleep(2.5)
        clock.advance(seconds=6)  # ...and it has passed when it wakes for it
        deadline = time.monotonic() + 20
        while world.service.index.count() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sweeper.stop()
    assert world.service.index.count() == 0
    with pytest.raises(SubjectErased):
        world.service.get_subject(actor=world.portal, subject=expiring)


def test_an_end_that_passes_while_the_sweeper_is_busy_is_swept_at_once_not_an_interval_later(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """The sweeper never saw this end ahead (its clock jumps past it after the start-up sweep,
    as a long sweep or rotation on a loaded server lets an end pass unseen): the end is still
    after the last sweep, so it wakes for it at once rather than at the next interval, an hour
    here."""
    expiring, consent_id = world.subject(days=1)
    world.enrol(expiring, consent_id, portrait_jpegs[0])
    caplog.set_level(logging.INFO, logger=sweeper_module.__name__)
    sweeper = Sweeper(world.service, interval=3600, flush_interval=1.0)
    sweeper.start()
    try:
        deadline = time.monotonic() + 20
        while not _swept_once(caplog) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _swept_once(caplog)  # the start-up sweep ran before the end passed
        clock.advance(days=1, seconds=1)
        while world.service.index.count() and time.monotonic() < deadline + 20:
            time.sleep(0.1)
    finally:
        sweeper.stop()
    assert world.service.index.count() == 0


def test_a_failing_sweep_with_an_end_past_is_tried_again_on_its_back_off_not_every_second(
    world: World, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep that fails (a full disk, a read-only ledger) leaves the end it was for still
    after the last sweep that ran: tried again after ``rotation_retry`` seconds (doubling),
    not on every one-second pass, each a read of every consent in force and an error line."""
    world.subject(days=1)
    calls: list[float] = []
    sweep = world.service.sweep

    def sweeping_once_then_failing() -> SweepReport:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return sweep()
        raise OSError("no space left on device")

    monkeypatch.setattr(world.service, "sweep", sweeping_once_then_failing)
    sweeper = Sweeper(world.service, interval=3600, flush_interval=1.0, rotation_retry=30)
    sweeper.start()
    try:
        deadline = time.monotonic() + 20
        while not calls and time.monotonic() < deadline:
            time.sleep(0.1)
        clock.advance(days=1, seconds=1)  # the end passes after the start-up sweep
        while len(calls) < 2 and time.monotonic() < deadline + 20:
            time.sleep(0.1)
        time.sleep(3)  # three passes of the loop
    finally:
        sweeper.stop()
    assert len(calls) == 2  # the start-up sweep, the failed one for the end; then 30 s


def test_a_failed_sweep_delays_no_end_still_to_come(
    world: World, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The back-off after a failed sweep is for the ends it failed to sweep: an end still to
    come is swept when it comes, not after the back-off (30 s here, up to the interval)."""
    world.subject(days=1)
    clock.advance(days=1, seconds=-5)  # the end is 5 s away (this clock moves when told)
    calls: list[float] = []
    sweep = world.service.sweep

    def failing_once() -> SweepReport:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OSError("no space left on device")
        return sweep()

    monkeypatch.setattr(world.service, "sweep", failing_once)
    sweeper = Sweeper(world.service, interval=3600, flush_interval=1.0, rotation_retry=30)
    sweeper.start()
    try:
        deadline = time.monotonic() + 20
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sweeper.stop()
    assert len(calls) == 2  # the failed start-up sweep, then the end's: not 30 s later


def _swept_once(caplog: pytest.LogCaptureFixture) -> bool:
    return any(record.getMessage().startswith("retention sweep: ran_at")
               for record in caplog.records)


def test_a_purpose_retention_shorter_than_the_consent_wins(
    world: World, clock: FakeClock
) -> None:
    short = world.service.create_purpose(actor=world.admin, body=PurposeCreate(
        name="short", description="d", legal_basis="consent",
        operations={Operation.ENROL}, retention_days=10)).id
    world.subject(purposes=[short], days=300)
    clock.advance(days=11)
    assert [e.reason for e in world.service.sweep().erasures] == [ErasureReason.RETENTION]


def test_three_years_without_interaction_ends_retention(
    world: World, clock: FakeClock
) -> None:
    world.service.settings.max_consent_days = 5 * 365
    world.subject(days=5 * 365)
    clock.advance(days=3 * 365 - 1)
    assert world.service.sweep().erasures == []
    clock.advance(days=2)
    assert [e.reason for e in world.service.sweep().erasures] == [ErasureReason.RETENTION]


def _found(world: World, image: bytes) -> list[str]:
    return [c.subject for c in world.identify(image).candidates]


def _verified(world: World, subject: str, image: bytes) -> bool:
    return world.verify(subject, image).outcome is SearchOutcome.CANDIDATES


@both_backends
def test_an_expired_consent_ends_its_own_templates_while_another_keeps_the_subject(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    service = world.service
    pseudonym, short = world.subject(days=30)
    long = world.consent(pseudonym, days=365).consent.id
    # One person per subject: two photos of the same face, told apart by their template ids.
    ended = world.enrol(pseudonym, short, portrait_jpegs[0])
    kept = world.enrol(pseudonym, long, flipped_jpegs[0])
    assert _found(world, flipped_jpegs[0]) == [pseudonym]
    ciphertext, plaintext = template_bytes(service, ended.id)

    clock.advance(days=31)  # the short consent has expired; no sweep has run
    with service.runtime.db.transaction() as session:
        assert indexable_labels(session, model_id=service.pipeline.model_id,
                                now=clock.now()) == {kept.id}

    report = service.sweep()
    assert (report.consents_expired, report.templates_destroyed, report.erasures) == (1, 1, [])
    assert service.index.labels() == {kept.id}  # type: ignore[attr-defined]
    for needle in (ciphertext, plaintext, plaintext[:64]):
        assert readable_occurrences(service, needle) == []
    assert service.get_subject(actor=world.portal, subject=pseudonym).status == "active"
    assert _found(world, flipped_jpegs[0]) == [pseudonym]
    assert _verified(world, pseudonym, flipped_jpegs[0])
    [event] = service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.CONSENT_ENDED)).events
    assert event.subjects == [pseudonym]
    assert event.details == {"consent_id": short, "reason": "expiry", "templates_erased": 1}

    clock.advance(days=335)  # now the second consent has expired too: nothing keeps the subject
    [erasure] = service.sweep().erasures
    assert erasure.reason is ErasureReason.EXPIRY and erasure.templates_destroyed == 1
    assert verify_receipt(erasure.signed.receipt, erasure.signed.signature, service.public_key)
    with pytest.raises(SubjectErased):
        service.get_subject(actor=world.portal, subject=pseudonym)
    [tombstone] = service.erasures(actor=world.reviewer)
    assert tombstone.receipt == erasure.signed.receipt
    assert service.index.count() == 0 and service.verify_audit().ok


def test_a_consent_past_its_purposes_retention_authorises_nothing_even_before_a_sweep(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    short = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="short",
                               retention_days=10)
    pseudonym, consent_id = world.subject(purposes=[short], days=300)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])

    def search() -> SearchOutcome:
        return world.identify(flipped_jpegs[0], purpose=short).outcome

    assert search() is SearchOutcome.CANDIDATES
    clock.advance(days=10, seconds=1)  # no sweep runs
    assert search() is SearchOutcome.NO_CANDIDATE
    [consent] = world.service.list_consents(actor=world.portal, subject=pseudonym)
    assert consent.status == "expired" and consent.retained_until < clock.now()
    with pytest.raises(ConsentExpired):
        world.enrol(pseudonym, consent_id, portrait_jpegs[1])


def test_a_consent_past_its_purposes_retention_ends_its_templates_not_the_subject(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    short = world.service.create_purpose(actor=world.admin, body=PurposeCreate(
        name="short", description="d", legal_basis="consent",
        operations={Operation.ENROL}, retention_days=10)).id
    pseudonym, consent_id = world.subject(purposes=[short], days=300)
    world.consent(pseudonym)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    clock.advance(days=11)
    report = world.service.sweep()
    assert (report.templates_destroyed, report.erasures) == (1, [])
    assert world.service.index.count() == 0
    statuses = {c.id: c.status for c in world.service.list_consents(
        actor=world.portal, subject=pseudonym)}
    assert statuses[consent_id] == "expired"  # it can authorise nothing more
    [event] = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.CONSENT_ENDED)).events
    assert event.details["reason"] == "retention"


@both_backends
def test_a_consent_that_ended_is_deleted_five_years_later_while_its_subject_stays(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """A consent's row and receipts, a withdrawn purpose's and a photo's approval included,
    are proof for the processing and five years (the retention schedule); a subject who keeps
    consenting keeps only that much of their past."""
    other = world.purpose_with(Operation.ENROL, name="other study")
    pseudonym, first = world.subject(purposes=[world.purpose, other], days=30)
    world.enrol(pseudonym, first, portrait_jpegs[0])
    world.withdraw_purpose(pseudonym, first, other)
    renewals = [world.consent(pseudonym, days=1000).consent.id]
    for _ in range(2):  # consenting again every two years keeps the subject
        clock.advance(days=730)
        renewals.append(world.consent(pseudonym, days=1000).consent.id)

    def held() -> tuple[set[str], int, int]:
        world.service.sweep()
        export = world.service.export(actor=world.reviewer, subject=pseudonym)
        return ({consent.id for consent in export.consents},
                row_count(world.service, PurposeWithdrawal), row_count(world.service, Ceremony))

    clock.advance(days=365)  # the first consent ended 30 days after it was given
    assert held() == ({first, *renewals}, 1, 1)
    clock.advance(days=35)
    assert held() == (set(renewals), 0, 0)


def test_spent_links_and_challenges_are_swept_and_a_photos_approval_is_kept(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """A used or expired one-time link or challenge can open or sign nothing more: the sweep
    deletes it. An approved capture session stays: its evidence is the person's approval of
    the photo."""
    pseudonym, consent_id = world.subject()  # its link, registration and signed acts all used
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    with world.service.runtime.db.transaction() as session:
        approved = session.scalar(select(Ceremony.id).where(Ceremony.kind == CAPTURE))
    world.service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=AgeCategory.ADULT))  # a link not yet opened
    unanswered = {world.service.sign_in_options().ceremony_id, world.service.challenge(
        actor=world.people[pseudonym].actor, subject=pseudonym,
        act=CaptureAct(consent_id=consent_id, photo_sha256="0" * 64)).ceremony_id}

    def left() -> tuple[int, set[str]]:
        with world.service.runtime.db.transaction() as session:
            ceremonies = set(session.scalars(select(Ceremony.id)))
        return row_count(world.service, OneTimeLink), ceremonies

    assert left()[0] == 2 and len(left()[1]) > 3
    world.service.sweep()
    assert left() == (1, {approved, *unanswered})
    clock.advance(seconds=world.service.settings.challenge_seconds)
    world.service.sweep()
    assert left() == (1, {approved})


def test_a_new_subject_waits_for_its_first_consent_as_long_as_a_link_lasts(
    world: World, clock: FakeClock
) -> None:
    """Created by the desk, the subject holds no consent until its person comes with the link:
    a sweep meanwhile keeps it. Registering their passkey restarts the wait; once a link's
    lifetime has passed with no consent, nothing allows keeping it."""
    def shell() -> SubjectCreated:
        return world.service.create_subject(actor=world.portal,
                                            body=SubjectCreate(age_category=AgeCategory.ADULT))

    def erased(pseudonym: str) -> bool:
        try:
            world.service.get_subject(actor=world.portal, subject=pseudonym)
        except SubjectErased:
            return True
        return False

    half = world.service.settings.enrolment_link_minutes / 2
    unopened, opened = shell(), shell()
    clock.advance(minutes=half)
    person = SoftPerson.take_over(world.service, opened.enrolment.secret)
    assert world.service.sweep().erasures == []
    clock.advance(minutes=half, seconds=1)  # the unopened link's lifetime is over
    assert [e.reason for e in world.service.sweep().erasures] == [ErasureReason.EXPIRY]
    assert erased(unopened.subject.pseudonym) and not erased(person.pseudonym)
    clock.advance(minutes=half)
    assert len(world.service.sweep().erasures) == 1 and erased(person.pseudonym)


def test_an_answered_request_is_deleted_five_years_after_its_answer(
    world: World, clock: FakeClock
) -> None:
    """Its free text is the person's own words: kept as proof of the answer, then deleted; an
    open request stays until it is answered."""
    pseudonym, _ = world.subject()
    ask = RightsRequestCreate(kind=RightKind.COMPLAINT, channel="letter", note="my own words")
    answered = world.service.request_right(actor=world.portal, subject=pseudonym, body=ask)
    world.service.answer_right(actor=world.reviewer, request_id=answered.id,
                               body=RightsRequestAnswer(answer="done"))
    world.service.request_right(actor=world.portal, subject=pseudonym, body=ask)  # still open
    clock.advance(days=365 * RECEIPT_YEARS)
    world.service.sweep()
    assert row_count(world.service, RightsRequest) == 2
    clock.advance(days=3)
    world.service.sweep()
    [left] = world.service.rights_requests(actor=world.reviewer)
    assert left.status == "open" and row_count(world.service, RightsRequest) == 1
