"""The daily matching quota is counted from the audit log: exact, per key and per purpose,
identify and verify alike, and restart-proof."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from optinface.consent.errors import ConsentError, QuotaExceeded
from optinface.consent.quota import identify_attempts, identify_attempts_query
from optinface.consent.roles import Actor, Role
from optinface.consent.schemas import Operation
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent
from optinface.engine.errors import EngineError
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, make_world, searches_the_server_fails

NOT_AN_IMAGE = b"not an image at all"


def search(world: World, image: bytes, *, quota: int, actor: Actor | None = None) -> str:
    """One identify attempt: the outcome, or the code of the refusal."""
    try:
        result = world.service.identify(
            actor=actor or world.researcher, purpose_id=world.purpose,
            probe_consent_id=world.probe(image=image), image=image, daily_quota=quota)
    except (ConsentError, EngineError) as refusal:
        return refusal.code
    return str(result.outcome)


def attempts_today(world: World, actor: Actor) -> int:
    with world.service.runtime.db.transaction() as session:
        return identify_attempts(session, key_id=actor.key_id, day=world.clock.now().date())


def test_the_quota_refuses_with_the_seconds_until_utc_midnight(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.clock.current = datetime(2027, 3, 1, 23, 0, tzinfo=UTC)
    assert search(world, portrait_jpegs[0], quota=1) == "no_candidate"
    with pytest.raises(QuotaExceeded) as refused:
        world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                               probe_consent_id=world.probe(image=portrait_jpegs[0]),
                               image=portrait_jpegs[0],
                               daily_quota=1)
    assert refused.value.code == "rate_limited"
    assert refused.value.retry_after_seconds == 3600
    assert refused.value.details == {"quota": 1, "spent_by": "key", "retry_after_seconds": 3600}
    world.clock.advance(hours=1)
    assert search(world, portrait_jpegs[0], quota=1) == "no_candidate"


def test_refused_attempts_count_but_refusals_by_the_quota_do_not(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    assert search(world, NOT_AN_IMAGE, quota=3) == "invalid_image"
    assert search(world, portrait_jpegs[0], quota=3) == "no_candidate"
    assert search(world, portrait_jpegs[0], quota=3) == "no_candidate"
    assert [search(world, portrait_jpegs[0], quota=3) for _ in range(3)] == ["rate_limited"] * 3
    assert attempts_today(world, world.researcher) == 3
    with world.service.runtime.db.transaction() as session:
        outcomes = session.scalars(
            select(AuditEvent.outcome).where(AuditEvent.action == "refused")).all()
    assert outcomes == ["invalid_image", "rate_limited", "rate_limited", "rate_limited"]


def test_a_second_key_does_not_reset_the_purposes_quota(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    other = world.service.authenticate(world.service.create_api_key(
        actor=world.admin, role=Role.RESEARCHER, name="lab-2").secret)
    assert search(world, portrait_jpegs[0], quota=1) == "no_candidate"
    assert search(world, portrait_jpegs[0], quota=1) == "rate_limited"
    assert search(world, portrait_jpegs[0], quota=1, actor=other) == "rate_limited"
    with world.service.runtime.db.transaction() as session:
        assert identify_attempts(session, purpose=world.purpose,
                                 day=world.clock.now().date()) == 1


def test_the_quota_holds_per_key_across_purposes(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    second = world.purpose_with(Operation.IDENTIFY, name="study-2")
    other = world.service.authenticate(world.service.create_api_key(
        actor=world.admin, role=Role.RESEARCHER, name="lab-2").secret)
    assert search(world, portrait_jpegs[0], quota=1) == "no_candidate"
    image = portrait_jpegs[0]
    attempt = lambda actor: world.service.identify(  # noqa: E731
        actor=actor, purpose_id=second, image=image, daily_quota=1,
        probe_consent_id=world.probe(second, image=image, researcher=actor))
    with pytest.raises(QuotaExceeded):
        attempt(world.researcher)
    assert attempt(other).outcome == "no_candidate"


def test_verify_counts_against_the_daily_quota(world: World, portrait_jpegs: list[bytes]) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    image = portrait_jpegs[0]
    verify = lambda: world.service.verify(  # noqa: E731
        actor=world.researcher, subject=pseudonym, purpose_id=world.purpose, image=image,
        probe_consent_id=world.probe(image=image, subject=pseudonym), daily_quota=2)
    assert verify().outcome == "candidates_for_review"
    assert search(world, image, quota=2) == "candidates_for_review"
    with pytest.raises(QuotaExceeded):
        verify()


@both_backends
def test_the_quota_survives_a_restart(
    clock: FakeClock, portrait_jpegs: list[bytes], open_service: Callable[[], OptinFace],
) -> None:
    with closing(open_service()) as service:
        world = make_world(service, clock)
        assert [search(world, portrait_jpegs[0], quota=2) for _ in range(2)] == ["no_candidate"] * 2
    with closing(open_service()) as reopened:
        world.service = reopened
        assert search(world, portrait_jpegs[0], quota=2) == "rate_limited"
        clock.advance(days=1)
        assert search(world, portrait_jpegs[0], quota=2) == "no_candidate"


@both_backends
def test_the_quota_is_exact_under_concurrent_searches_and_refusals(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    quota = 5
    images = [portrait_jpegs[0], NOT_AN_IMAGE] * 8
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda image: search(world, image, quota=quota), images))
    assert len(codes) - codes.count("rate_limited") == quota
    assert attempts_today(world, world.researcher) == quota


KEY_INDEX = "ix_audit_events_actor_action_at"


@pytest.mark.parametrize(("owner", "index"), [
    ({"key_id": "key_x"}, KEY_INDEX),
    ({"purpose": "pur_x"}, "ix_audit_events_purpose_action_at"),
])
def test_the_count_reads_only_the_days_rows_of_its_owner(
    world: World, owner: dict[str, str], index: str
) -> None:
    query = identify_attempts_query(day=world.clock.now().date(), **owner)
    with world.service.runtime.db.transaction() as session:
        sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    assert plan.count(index) == 2 + (index == KEY_INDEX), plan  # searches, refusals
    # and the day's emptied events (counted against every owner): the key index, no key
    assert plan.count(f"INDEX {KEY_INDEX}") >= 1 and "SCAN audit_events" not in plan, plan


def test_a_day_is_counted_in_utc(world: World, portrait_jpegs: list[bytes]) -> None:
    world.clock.current = datetime(2027, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert search(world, portrait_jpegs[0], quota=1) == "no_candidate"
    world.clock.advance(microseconds=1)
    assert world.clock.now() == datetime(2027, 3, 2, tzinfo=UTC)
    assert search(world, portrait_jpegs[0], quota=1) == "no_candidate"
    assert attempts_today(world, world.researcher) == 1
    world.clock.current -= timedelta(days=1)
    assert attempts_today(world, world.researcher) == 1


def test_searches_the_server_failed_cost_the_caller_no_quota(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The failures are in the log (X-LOG), but they are the server's: with a quota of one,
    the second attempt still runs (and fails), and none is counted."""
    searches_the_server_fails(world, portrait_jpegs[0], times=2, daily_quota=1)
    assert attempts_today(world, world.researcher) == 0
