"""Writes made outside the service's process (a ``sqlite3`` connection of another process on
the file, another PostgreSQL client), as the red team made them: what the service keeps between
requests must not outlive them (red-team findings 3 and 4)."""

from __future__ import annotations

import logging
import subprocess
import sys

import psycopg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.consent.audit import AuditAction
from optinface.consent.errors import Unauthenticated
from optinface.consent.roles import Role
from optinface.consent.schemas import AuditFilter
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, refused

_SQLITE_WRITER = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=30); " \
    "c.execute(sys.argv[2]); c.commit()"


def outside(world: World, sql: str) -> None:
    """Run ``sql`` as another writer of the ledger: on SQLite, another process's connection to
    the file; on PostgreSQL, another client's connection. The service's engine sees nothing."""
    url = make_url(world.service.settings.url)
    if url.get_backend_name() == "sqlite":
        subprocess.run([sys.executable, "-c", _SQLITE_WRITER, str(url.database), sql],
                       check=True, timeout=60)
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        connection.execute(sql)


@both_backends
def test_a_purpose_edited_from_outside_is_seen_by_the_next_identify(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.identify(portrait_jpegs[0])  # the register's rows are read and kept
    world.identify(portrait_jpegs[0])  # and used
    outside(world, "UPDATE purposes SET retention_days = 3650,"
                   " description = description || ' (and marketing)'")
    refused("redeclaration_required", lambda: world.identify(portrait_jpegs[0]))


@both_backends
def test_an_order_deleted_from_outside_keeps_matching_refused(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """The order stays in force as the chained log says: matching and enrolment refused, the
    register warns, a log line says so; applying the order again is the way back."""
    pseudonym, consent = world.subject()
    world.identify(portrait_jpegs[0])
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-ORDER-9")
    refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
    outside(world, "DELETE FROM regulator_orders")
    with caplog.at_level(logging.ERROR, logger="optinface.consent.declaration"):
        refused("regulator_orders_altered", lambda: world.identify(portrait_jpegs[0]))
    assert "CAI-ORDER-9" in caplog.text
    refused("regulator_orders_altered",
            lambda: world.enrol(pseudonym, consent, portrait_jpegs[1]))
    register = world.service.register()
    assert not register.in_service and register.orders == []
    assert any("CAI-ORDER-9" in warning and "audit log" in warning
               for warning in register.warnings)
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-ORDER-9")
    refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
    world.service.lift_regulator_order(actor=world.admin, reference="CAI-ORDER-9")
    world.identify(portrait_jpegs[0])


def _drop_each_order_as_it_is_inserted(world: World) -> str:
    """The red team's trigger (red team 5, F1): each order's row deleted in the transaction that
    inserts it, so no reader ever sees it; the statement that drops the trigger again."""
    if make_url(world.service.settings.url).get_backend_name() == "sqlite":
        outside(world, "CREATE TRIGGER drop_order AFTER INSERT ON regulator_orders"
                       " BEGIN DELETE FROM regulator_orders WHERE id = NEW.id; END")
        return "DROP TRIGGER drop_order"
    outside(world, "CREATE FUNCTION drop_order() RETURNS trigger LANGUAGE plpgsql AS"
                   " $$ BEGIN DELETE FROM regulator_orders WHERE id = NEW.id; RETURN NULL; END $$")
    outside(world, "CREATE TRIGGER drop_order AFTER INSERT ON regulator_orders"
                   " FOR EACH ROW EXECUTE FUNCTION drop_order()")
    return "DROP TRIGGER drop_order ON regulator_orders"


@both_backends
def test_an_order_a_trigger_deletes_as_it_is_inserted_is_in_force_and_audit_verify_says_why(
    world: World, portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The register's rows never change (the row is gone before anyone reads it), so the rows'
    digest is the one kept before the order: the order's event, part of the gate's version,
    makes the gate read the orders again and set them against the log. ``audit verify`` (the
    running service's and the command line's, no restart) names the order, at its event."""
    pseudonym, consent = world.subject()
    world.identify(portrait_jpegs[0])  # the register as it stands, kept
    drop_trigger = _drop_each_order_as_it_is_inserted(world)
    register = world.service.apply_regulator_order(actor=world.admin, reference="CAI-RT5-2")
    assert register.orders == [] and not register.in_service  # no row, and refused all the same
    refused("regulator_orders_altered", lambda: world.identify(portrait_jpegs[0]))
    refused("regulator_orders_altered",
            lambda: world.enrol(pseudonym, consent, portrait_jpegs[1]))
    [order] = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.REGULATOR_ORDER)).events
    status = world.service.verify_audit()
    assert (status.ok, status.reason, status.first_bad_sequence) == (
        False, "regulator_orders_altered", order.seq), status
    assert f"order CAI-RT5-2: in force as suspend since event {order.seq} in the log, no row" \
        in str(status.problem)
    if world.service.settings.database_url:  # the command line finds the same ledger
        monkeypatch.setenv("OPTINFACE_DATABASE_URL", world.service.settings.database_url)
    verified = CliRunner().invoke(
        app, ["audit", "verify", "--data-dir", str(world.service.settings.data_dir)])
    assert verified.exit_code == 1, verified.output
    assert f"BROKEN at sequence {order.seq}" in verified.output
    assert "CAI-RT5-2" in verified.output and "[regulator_orders_altered]" in verified.output
    outside(world, drop_trigger)
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-RT5-2")  # the way back
    refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
    world.service.lift_regulator_order(actor=world.admin, reference="CAI-RT5-2")
    world.identify(portrait_jpegs[0])
    assert world.service.verify_audit().ok


@both_backends
def test_an_order_whose_row_and_event_are_both_deleted_stays_in_force_by_the_journal(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """Rows and log agree on no order (as in a copy restored from before it, under a worker
    that has not found the restore: the log's tail is not cut here): the witness journal, which
    the order was written to before it committed, keeps it in force at the next check, as the
    next start would place it again."""
    world.identify(portrait_jpegs[0])
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-RT5-3")
    world.subject()  # the order's event no longer the newest: no cut of the log's tail, which
    # a worker takes for a restore and replays at once (consent.live_replay)
    outside(world, "DELETE FROM regulator_orders")
    outside(world, f"DELETE FROM audit_events WHERE action = '{AuditAction.REGULATOR_ORDER}'")
    with caplog.at_level(logging.WARNING, logger="optinface.consent.declaration"):
        refused("regulator_orders_altered", lambda: world.identify(portrait_jpegs[0]))
    assert "witness journal" in caplog.text and "CAI-RT5-3" in caplog.text
    register = world.service.register()
    assert not register.in_service and register.orders == []
    assert any("CAI-RT5-3" in warning and "witness journal" in warning
               for warning in register.warnings)
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-RT5-3")
    world.service.lift_regulator_order(actor=world.admin, reference="CAI-RT5-3")
    world.identify(portrait_jpegs[0])


def test_an_order_the_rows_lack_is_a_warning_first_and_an_error_only_a_second_later(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An order is journaled before it commits, so a check in between finds it missing as a
    deleted one is: an error line each time paged someone for every order applied under
    traffic (review 19a, 1.6). The first check says it as a warning, a check at least a second
    later finding the same orders missing as an error, once."""
    world.identify(portrait_jpegs[0])
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-RT5-4")
    world.subject()  # the order's event no longer the newest: no cut of the log's tail, which
    # a worker takes for a restore and replays at once (consent.live_replay)
    outside(world, "DELETE FROM regulator_orders")
    outside(world, f"DELETE FROM audit_events WHERE action = '{AuditAction.REGULATOR_ORDER}'")

    def said() -> list[int]:
        refused("regulator_orders_altered", lambda: world.identify(portrait_jpegs[0]))
        levels = [r.levelno for r in caplog.records if "witness journal" in r.getMessage()]
        caplog.clear()
        return levels

    with caplog.at_level(logging.WARNING, logger="optinface.consent.declaration"):
        first, again = said(), said()
        clock.advance(seconds=0.9)
        not_yet = said()
        clock.advance(seconds=0.1)
        persisting, after = said(), said()
    assert (first, again, not_yet) == ([logging.WARNING], [], [])
    assert (persisting, after) == ([logging.ERROR], [])


@both_backends
@pytest.mark.parametrize("edit", [
    "UPDATE regulator_orders SET lifted_at = recorded_at",
    "UPDATE regulator_orders SET kind = 'suspend'",
    "UPDATE regulator_orders SET reference = 'CAI-OTHER'",
])
def test_an_order_edited_from_outside_keeps_matching_refused(
    world: World, portrait_jpegs: list[bytes], edit: str
) -> None:
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-1", destroy=True)
    outside(world, edit)
    refused("regulator_orders_altered", lambda: world.identify(portrait_jpegs[0]))


@both_backends
def test_an_order_event_edited_in_the_log_lifts_nothing(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """An order's event rewritten as its lift, and its row deleted: the event's chain hash is
    no longer its content's, so it lifts nothing and is itself a finding."""
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-1")
    world.service.lift_regulator_order(actor=world.admin, reference="CAI-1")
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-2")
    outside(world, f"UPDATE audit_events SET action = '{AuditAction.REGULATOR_ORDER_LIFTED}'"
                   " WHERE seq = (SELECT max(seq) FROM audit_events"
                   f" WHERE action = '{AuditAction.REGULATOR_ORDER}')")
    outside(world, "DELETE FROM regulator_orders WHERE reference = 'CAI-2'")
    refused("regulator_orders_altered", lambda: world.identify(portrait_jpegs[0]))


@both_backends
def test_an_order_event_whose_details_are_no_object_is_a_finding_not_a_failure(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """An order event's details replaced by a JSON list, and its row deleted: the gate names
    the event (not vouched for) instead of failing every match on reading it."""
    world.service.apply_regulator_order(actor=world.admin, reference="CAI-1")
    outside(world, "UPDATE audit_events SET details = '[]' WHERE seq = (SELECT max(seq) FROM"
                   f" audit_events WHERE action = '{AuditAction.REGULATOR_ORDER}')")
    outside(world, "DELETE FROM regulator_orders")  # the register's rows read again
    refused("regulator_orders_altered", lambda: world.identify(portrait_jpegs[0]))


@both_backends
def test_a_key_un_revoked_from_outside_stays_refused(world: World) -> None:
    """Whatever the key rows kept (consent.key_rows): a revoked key whose row another writer
    un-revokes authenticates no one, kept or read."""
    secret = world.service.create_api_key(actor=world.admin, role=Role.PORTAL, name="kiosk").secret
    actor = world.service.authenticate(secret)
    world.service.authenticate(secret)  # kept, on SQLite
    world.service.revoke_api_key(actor=world.admin, key_id=actor.key_id)
    with pytest.raises(Unauthenticated):
        world.service.authenticate(secret)  # the revoked row read, and kept
    outside(world, f"UPDATE api_keys SET revoked_at = NULL WHERE id = '{actor.key_id}'")
    assert world.service.authenticate_kept(secret) is None
    with pytest.raises(Unauthenticated):
        world.service.authenticate(secret)
