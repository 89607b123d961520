"""Break-glass: an admin key without one, for an emergency, that is loud, short-lived and
attributable (consent.break_glass)."""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from optinface.consent.audit import AuditAction
from optinface.consent.break_glass import KEY_NAME
from optinface.consent.erasure_journal import BreakGlassOpened, entries, journal_path
from optinface.consent.errors import Unauthenticated
from optinface.consent.roles import Role
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import ApiKey, AuditEvent
from optinface.consent.witness import CHECKPOINTS, SUFFIX, checkpoint_path
from optinface.consent.witness import witnessed as witnessed_checkpoints
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import World, refused, row_count

REASON = "INC-7: every admin key revoked, an erasure is due today"


@both_backends
def test_break_glass_gives_an_admin_key_when_none_is_left_chained_and_witnessed(
    world: World,
) -> None:
    """The only admin key revoked, the operator opens the glass: a working admin key, its
    opening in the chain with the reason, and a checkpoint of that event in the witness folder
    at once, so truncating the log to hide it fails verification."""
    service = world.service
    service.revoke_api_key(actor=world.admin, key_id=world.admin.key_id)
    opened = service.open_break_glass(reason=REASON, hours=2)
    witnessed = witnessed_checkpoints(service.settings.witness_dir)
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


@both_backends
def test_a_break_glass_key_stops_working_once_its_hours_have_passed(world: World) -> None:
    """Refused at its expiry through a read of its row and through the row kept since its last
    use alike (kept on SQLite only), with the one message of every refusal; the log's tally
    says why."""
    service = world.service
    secret = service.open_break_glass(reason=REASON, hours=1).secret
    actor = service.authenticate(secret)
    world.clock.advance(minutes=59)
    assert service.authenticate(secret) == actor
    only_writer = not service.runtime.db.shared  # SQLite: the data directory's lock
    assert service.authenticate_kept(secret) == (actor if only_writer else None)
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
    pytest.param("erase subj_0123456789abcdef01234567 today", 4, id="a-pseudonym"),
])
def test_break_glass_without_a_reason_or_beyond_a_day_creates_nothing(
    world: World, reason: str, hours: int,
) -> None:
    _opens_nothing(world.service, "invalid_request", reason=reason, hours=hours)


def _opens_nothing(service: OptinFace, code: str, *, reason: str = REASON, hours: int = 1
                   ) -> None:
    """Break-glass is refused with ``code``, leaving no key and no event."""
    keys, events = row_count(service, ApiKey), row_count(service, AuditEvent)
    refused(code, lambda: service.open_break_glass(reason=reason, hours=hours))
    assert (row_count(service, ApiKey), row_count(service, AuditEvent)) == (keys, events)


@both_backends
def test_break_glass_is_refused_where_the_witness_folder_is_not_the_deployments(
    world: World,
) -> None:
    """A command run apart from the deployment, its witness a scratch folder, would witness
    nothing a reviewer keeps: the folder must hold the ledger's newest checkpoint."""
    service = world.service
    service.audit_checkpoint(actor=world.admin)
    witness = service.settings.witness_dir
    (witness / CHECKPOINTS).rename(witness / "elsewhere")
    _opens_nothing(service, "witness_unusable")
    assert not any(isinstance(entry, BreakGlassOpened) for entry in entries(witness))


@both_backends
def test_a_service_started_on_a_new_witness_folder_opens_no_break_glass(
    world: World, settings: ConsentSettings, pipeline: FacePipeline,
) -> None:
    """Opened without the command line's check, by the operator's act taking a new folder up
    (a plain start is refused: consent.witness_binding): it pinned its key and witnessed the
    head there, so the folder holds the newest checkpoint now; it did not when the start found
    it, so the glass stays shut."""
    world.service.close()
    scratch = settings.model_copy(
        update={"audit_witness_dir": settings.data_dir.parent / "scratch-witness"})
    with closing(OptinFace.open(scratch, pipeline=pipeline, clock=world.clock,
                                adopt_witness="INC-9: witness lost")) as service:
        _opens_nothing(service, "witness_unusable")


def test_an_opening_the_journal_cannot_record_creates_nothing(world: World) -> None:
    """The journal line is written before the opening commits: one that cannot be written
    (here a folder stands where the journal goes) leaves no key and no event."""
    service = world.service
    journal_path(service.settings.witness_dir).mkdir(parents=True)
    _opens_nothing(service, "witness_unusable")


def test_a_key_whose_opening_the_witness_did_not_keep_is_revoked_at_once(world: World) -> None:
    """The checkpoint of the opening is written once it commits; where the witness fails to
    keep it (here a folder stands at its name), the key is revoked before anyone holds it."""
    service = world.service
    size = service.verify_audit().events + 1  # the opening is the next event
    checkpoint_path(service.settings.witness_dir, size).mkdir(parents=True)
    refused("witness_unusable", lambda: service.open_break_glass(reason=REASON, hours=1))
    [glass] = [k for k in service.list_api_keys(actor=world.admin) if k.name == KEY_NAME]
    assert glass.revoked_at == world.clock.now()
    [opening] = service.break_glass_openings(actor=world.reviewer)
    assert opening.key_id == glass.key_id and opening.revoked_at is not None


@both_backends
def test_a_break_glass_key_whose_row_was_edited_to_outlive_its_expiry_acts_no_more(
    world: World,
) -> None:
    """An operator who edits the key's row to outlive its expiry gets no key: the row is no
    longer the one sealed (consent.row_seals), so it is refused like a wrong secret, and
    reviewers see no act under it after the expiry the log recorded."""
    service = world.service
    opened = service.open_break_glass(reason=REASON, hours=1)
    with service.runtime.db.transaction() as session:
        session.execute(update(ApiKey).where(ApiKey.id == opened.key_id).values(expires_at=None))
    world.clock.advance(hours=2)
    with pytest.raises(Unauthenticated):
        service.authenticate(opened.secret)
    [seen] = service.break_glass_openings(actor=world.reviewer)
    assert (seen.acts, seen.acts_after_expiry) == (0, 0)


def test_an_opening_whose_expiry_was_edited_without_its_offset_is_listed_as_unreadable(
    world: World,
) -> None:
    """The service writes every logged time with its offset (consent.audit.parse_log_time): one
    without is an edit, never read as the host's local time to count acts after an expiry the
    log never held."""
    service = world.service
    service.open_break_glass(reason=REASON, hours=1)
    with service.runtime.db.transaction() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == AuditAction.BREAK_GLASS_OPENED)).one()
        event.details = {**event.details, "expires_at": "2027-03-01T13:00:00"}
        edited = event.seq
    [seen] = service.break_glass_openings(actor=world.reviewer)
    assert (seen.seq, seen.readable) == (edited, False)
