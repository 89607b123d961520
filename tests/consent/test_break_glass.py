"""Break-glass: an admin key without one, for an emergency, that is loud, short-lived and
attributable (consent.break_glass)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from optinface.consent.audit import AuditAction
from optinface.consent.errors import Unauthenticated
from optinface.consent.roles import Role
from optinface.consent.schemas import AuditFilter
from optinface.consent.tables import ApiKey, AuditEvent
from optinface.consent.witness import CHECKPOINTS, SUFFIX
from tests.support.consent import World, refused, row_count

REASON = "INC-7: every admin key revoked, an erasure is due today"


def test_break_glass_gives_an_admin_key_when_none_is_left_chained_and_witnessed(
    world: World,
) -> None:
    """The only admin key revoked, the operator opens the glass: a working admin key, its
    opening in the chain with the reason, and a checkpoint of that event in the witness folder
    at once, so truncating the log to hide it fails verification."""
    service = world.service
    service.revoke_api_key(actor=world.admin, key_id=world.admin.key_id)
    opened = service.open_break_glass(reason=REASON, hours=2)
    witnessed = sorted((service.settings.witness_dir / CHECKPOINTS).glob(f"*{SUFFIX}"))
    actor = service.authenticate(opened.secret)
    assert actor.role is Role.ADMIN and actor.key_id == opened.key_id
    listed = [k for k in service.list_api_keys(actor=actor) if k.key_id == opened.key_id]
    assert [k.expires_at for k in listed] == [world.clock.now() + timedelta(hours=2)]
    [event] = service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.BREAK_GLASS_OPENED)).events
    assert event.actor_key_id is None
    assert event.details == {"key_id": opened.key_id, "reason": REASON,
                             "expires_at": "2027-03-01T14:00:00+00:00"}
    assert witnessed[-1].name == f"{event.seq:012d}{SUFFIX}"
    assert service.verify_audit().ok


def test_a_break_glass_key_stops_working_once_its_hours_have_passed(world: World) -> None:
    """Refused at its expiry through a read of its row and through the row kept since its last
    use alike, with the one message of every refusal; the log's tally says why."""
    service = world.service
    secret = service.open_break_glass(reason=REASON, hours=1).secret
    actor = service.authenticate(secret)
    world.clock.advance(minutes=59)
    assert service.authenticate(secret) == actor
    assert service.authenticate_kept(secret) == actor  # the row is kept (SQLite)
    world.clock.advance(minutes=1)
    assert service.authenticate_kept(secret) is None
    with pytest.raises(Unauthenticated):
        service.authenticate(secret)
    service.flush_auth_failures()
    last = service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.LOGIN_FAILURE)).events[-1]
    assert last.details["reasons"] == {"expired": 1}


def test_reviewers_see_each_opening_with_the_acts_done_under_its_key(world: World) -> None:
    """What the key did is counted from the log: minting a proper admin key and revoking itself
    are two acts; an opening older than 90 days leaves the list."""
    service = world.service
    opened = service.open_break_glass(reason=REASON, hours=4)
    actor = service.authenticate(opened.secret)
    service.create_api_key(actor=actor, role=Role.ADMIN, name="new root")
    world.clock.advance(minutes=5)
    service.revoke_api_key(actor=actor, key_id=opened.key_id)
    [seen] = service.break_glass_openings(actor=world.reviewer)
    assert (seen.key_id, seen.reason, seen.acts) == (opened.key_id, REASON, 2)
    assert (seen.opened_at, seen.expires_at) == (opened.created_at, opened.expires_at)
    assert seen.revoked_at == world.clock.now()
    assert service.break_glass_openings(actor=world.admin) == [seen]
    refused("forbidden", lambda: service.break_glass_openings(actor=world.researcher))
    world.clock.advance(days=90)
    assert service.break_glass_openings(actor=world.reviewer) == []


@pytest.mark.parametrize(("reason", "hours"), [
    pytest.param(REASON, 0, id="no-hours"),
    pytest.param(REASON, 25, id="more-than-a-day"),
    pytest.param("", 4, id="no-reason"),
    pytest.param("   ", 4, id="blank-reason"),
    pytest.param("INC-7\nand a line of my choosing", 4, id="two-line-reason"),
])
def test_break_glass_without_a_reason_or_beyond_a_day_creates_nothing(
    world: World, reason: str, hours: int,
) -> None:
    keys, events = row_count(world.service, ApiKey), row_count(world.service, AuditEvent)
    refused("invalid_request", lambda: world.service.open_break_glass(reason=reason, hours=hours))
    assert (row_count(world.service, ApiKey), row_count(world.service, AuditEvent)) == (
        keys, events)
