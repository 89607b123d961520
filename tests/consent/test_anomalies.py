"""Alerts on enumeration patterns: each search keeps the rules, the pattern does not (X-LOG)."""

from __future__ import annotations

from datetime import timedelta

from optinface.consent import anomalies
from optinface.consent.anomalies import AlertKind
from optinface.consent.roles import Role
from tests.support.consent import FakeClock, World, refused, searches_the_server_fails


def _kinds(world: World) -> list[tuple[str, str, int, int]]:
    return [(a.key_id, a.kind, a.count, a.of)
            for a in world.service.anomaly_alerts(actor=world.reviewer)]


def test_a_key_searching_with_faces_that_are_not_there_is_flagged_for_a_day(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    world.enrolled(portrait_jpegs[0])
    absent = portrait_jpegs[1]  # a face nobody enrolled
    assert world.identify(portrait_jpegs[0]).outcome == "candidates_for_review"
    for _ in range(anomalies.MIN_SEARCHES - 2):
        assert world.identify(absent).outcome == "no_candidate"
    assert _kinds(world) == []  # 19 searches: too few to call it a pattern
    world.identify(absent)
    assert _kinds(world) == [(world.researcher.key_id, AlertKind.NO_CANDIDATE_SWEEP, 19, 20)]
    clock.advance(hours=24, seconds=1)
    assert _kinds(world) == []  # the window has passed: the log keeps the events


def test_repeated_refusals_and_verifies_against_many_subjects_are_flagged(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    image = portrait_jpegs[0]
    for _ in range(anomalies.REFUSALS):
        refused("probe_consent_required", lambda: world.service.identify(
            actor=world.researcher, purpose_id=world.purpose, probe_consent_id="prb_none",
            image=image))
    walked = [world.subject()[0] for _ in range(anomalies.VERIFIED_SUBJECTS)]
    for subject in walked:
        assert world.verify(subject, image).outcome == "no_candidate"  # none enrolled a face
    key = world.researcher.key_id
    assert _kinds(world) == [
        (key, AlertKind.REPEATED_REFUSALS, anomalies.REFUSALS, 20),
        (key, AlertKind.MANY_SUBJECTS_VERIFIED, anomalies.VERIFIED_SUBJECTS, 10),
    ]


def test_verify_links_whose_lifetime_passed_unsigned_are_flagged_and_live_ones_are_not(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """A verify's link names a subject, and asking is answered alike whatever that pseudonym
    is; only the subject can sign it, so links asked to see who can still sign stay unsigned.
    One the subject signed does not count, nor one still live (review 19a, 1.4: ten
    appointments booked at once were flagged before anyone could sign)."""
    prober = world.service.authenticate(world.service.create_api_key(
        actor=world.admin, role=Role.RESEARCHER, name="prober").secret)
    lifetime = timedelta(minutes=world.service.runtime.settings.enrolment_link_minutes)
    image = portrait_jpegs[0]
    subject = world.subject()[0]
    world.signer(subject).sign_probe(world.probe_link(image=image, researcher=prober,
                                                      subject=subject))
    unknown = [f"subj_{n:024x}" for n in range(anomalies.UNSIGNED_VERIFY_LINKS)]
    for pseudonym in unknown:
        world.probe_link(image=image, researcher=prober, subject=pseudonym)
    assert _kinds(world) == []  # 10 unsigned, all still live
    clock.advance(seconds=lifetime.total_seconds() - 1)
    assert _kinds(world) == []
    clock.advance(seconds=1)
    assert _kinds(world) == [(prober.key_id, AlertKind.UNSIGNED_VERIFY_LINKS,
                              anomalies.UNSIGNED_VERIFY_LINKS,
                              anomalies.UNSIGNED_VERIFY_LINKS + 1)]


def test_nine_verify_links_expired_unsigned_are_not_a_pattern(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    prober = world.service.authenticate(world.service.create_api_key(
        actor=world.admin, role=Role.RESEARCHER, name="prober").secret)
    lifetime = timedelta(minutes=world.service.runtime.settings.enrolment_link_minutes)
    for n in range(anomalies.UNSIGNED_VERIFY_LINKS - 1):
        world.probe_link(image=portrait_jpegs[0], researcher=prober, subject=f"subj_{n:024x}")
    clock.advance(seconds=lifetime.total_seconds())
    assert _kinds(world) == []


def test_searches_the_server_failed_are_not_probing(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    searches_the_server_fails(world, portrait_jpegs[0], times=anomalies.REFUSALS)
    assert _kinds(world) == []
