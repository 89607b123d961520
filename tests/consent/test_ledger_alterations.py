"""Triggers made by hand on the ledger's tables (red team 5, F3): a ``BEFORE DELETE`` trigger
that keeps the rows made an erasure a no-op on them while its receipt said they were destroyed,
and the next epoch rotation re-wrapped the key it had kept; two such erasures then failed at
every sweep on their own tombstone. The triggers here are made as the tester made them, by SQL
on a connection of the operator's own (consent.ledger_alterations, consent.erasure,
consent.epochs)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text

from optinface.consent import ledger_alterations
from optinface.consent.audit import AuditAction
from optinface.consent.erasure import ERASURE_UNFINISHED
from optinface.consent.erasure_journal import journal_path
from optinface.consent.errors import ConsentError, ErasureUnfinished, KeyUnavailable, LedgerAltered
from optinface.consent.ledger import tombstone_hash
from optinface.consent.receipts import verify_receipt
from optinface.consent.schemas import AuditFilter, ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.tables import Subject, SubjectKey, Template, Tombstone
from tests.support.backends import both_backends
from tests.support.consent import (
    World,
    drop_triggers,
    keep_deleted_rows,
    outside_copy,
    outside_put_back,
    outside_sql,
    refused,
    row_count,
)

REQUEST = ErasureReason.REQUEST
KEPT_BY_THE_TESTER = ("templates", "subject_keys", "subjects", "subject_tokens")
"""The tables the red team's trigger kept every row of."""

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def events(service: OptinFace, world: World, action: AuditAction) -> list[tuple[str, dict]]:
    found = service.audit_events(actor=world.reviewer, filters=AuditFilter(action=action)).events
    return [(event.outcome, event.details) for event in found]


def refusal(call: Callable[[], object]) -> ConsentError:
    with pytest.raises(ConsentError) as raised:
        call()
    return raised.value


def subject_rows(service: OptinFace, pseudonym: str) -> tuple[int, int, int]:
    """The subject's own row, templates and key, as the ledger holds them now."""
    with service.runtime.db.transaction() as session:
        subject_id = session.scalar(select(Subject.id).where(Subject.pseudonym == pseudonym))
    return (row_count(service, Subject, Subject.pseudonym == pseudonym),
            row_count(service, Template, Template.subject_id == subject_id),
            row_count(service, SubjectKey, SubjectKey.subject_id == subject_id))


@both_backends
def test_an_erasure_whose_rows_a_trigger_keeps_signs_nothing_until_a_sweep_after_it_goes(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    """The tester's repro, reduced: the erasure is refused (erasure_unfinished, the tables
    that kept rows named), rolled back, no tombstone nor receipt, the subject unsearchable,
    logged and chained; every sweep says the triggers are there (an error line each time, the
    event once), and the first sweep after they are dropped finishes the erasure."""
    service = world.service
    erased = world.enrolled(portrait_jpegs[0])
    keep_deleted_rows(service, *KEPT_BY_THE_TESTER)

    with caplog.at_level(logging.ERROR):
        kept = refusal(lambda: service.erase(actor=world.admin, subject=erased, reason=REQUEST))
    assert isinstance(kept, ErasureUnfinished)
    assert kept.details == {"kept": ["subject_keys", "subject_tokens", "templates"]}
    assert row_count(service, Tombstone) == 0
    assert subject_rows(service, erased) == (1, 1, 1)
    assert row_count(service, Subject, Subject.status == "excluded") == 1
    assert world.identify(portrait_jpegs[0]).outcome == "no_candidate"
    erased_hash = tombstone_hash(service.runtime.keys, erased)
    assert any(r.getMessage().startswith(f"{ERASURE_UNFINISHED}: ")
               and erased_hash in r.getMessage() for r in caplog.records)
    assert events(service, world, AuditAction.ERASURE_UNFINISHED) == [
        (ERASURE_UNFINISHED, {"reason": "request", "error": ERASURE_UNFINISHED})]

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="optinface.consent.ledger_alterations"):
        assert [service.sweep().erasures_unfinished for _ in range(2)] == [1, 1]
    said = [f"trigger on {table}" for table in sorted(KEPT_BY_THE_TESTER)]
    assert events(service, world, AuditAction.LEDGER_ALTERED) == [
        (LedgerAltered.code, {"found": said})]  # once, not at every sweep
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("ledger_alterations")]
    assert len(lines) == 2 * len(KEPT_BY_THE_TESTER)
    assert all(line.startswith(f"{LedgerAltered.code}: trigger 'keep_") for line in lines)
    assert row_count(service, Tombstone) == 0

    drop_triggers(service, *KEPT_BY_THE_TESTER)
    [receipt] = service.sweep().erasures
    assert receipt.subject_hash == erased_hash
    assert (receipt.templates_destroyed, receipt.key_destroyed) == (1, True)
    assert verify_receipt(receipt.signed.receipt, receipt.signed.signature,
                          receipt.signed.public_key)
    assert row_count(service, Subject, Subject.pseudonym == erased) == 0
    assert row_count(service, Template) == row_count(service, SubjectKey) == 0
    assert events(service, world, AuditAction.LEDGER_ALTERED)[-1] == ("ok", {"found": []})
    assert service.verify_audit().ok


@both_backends
@pytest.mark.parametrize("table", ["subjects", "passkey_credentials"])
def test_a_row_that_names_the_subject_kept_by_a_trigger_is_found_after_the_subjects_delete(
    world: World, portrait_jpegs: list[bytes], table: str,
) -> None:
    """The subject's own row, or a row its foreign key was to take with it (SQLite's foreign
    key then refuses the subject's delete; PostgreSQL's leaves the kept row naming no one):
    erasure_unfinished, that table named, nothing signed."""
    service = world.service
    erased = world.enrolled(portrait_jpegs[0])
    keep_deleted_rows(service, table)
    kept = refusal(lambda: service.erase(actor=world.admin, subject=erased, reason=REQUEST))
    assert isinstance(kept, ErasureUnfinished) and table in kept.details["kept"]
    assert row_count(service, Tombstone) == 0
    assert subject_rows(service, erased) == (1, 1, 1)


@both_backends
def test_a_trigger_that_copies_what_is_deleted_leaves_the_erasure_unsigned(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """Nothing is kept in the ledger's own tables, so a read-back alone finds nothing: the
    erasure still signs no receipt while a trigger is on them (ledger_altered); the copy it
    made is rolled back with the rest."""
    service = world.service
    erased = world.enrolled(portrait_jpegs[0])
    binary = "bytea" if service.runtime.db.shared else "BLOB"
    outside_sql(service, f"CREATE TABLE taken (id INTEGER, ciphertext {binary})")
    if service.runtime.db.shared:
        outside_sql(service, "CREATE FUNCTION take() RETURNS trigger LANGUAGE plpgsql AS $$"
                             " BEGIN INSERT INTO taken VALUES (OLD.id, OLD.ciphertext);"
                             " RETURN OLD; END $$")
        outside_sql(service, "CREATE TRIGGER take AFTER DELETE ON templates FOR EACH ROW"
                             " EXECUTE FUNCTION take()")
    else:
        outside_sql(service, "CREATE TRIGGER take AFTER DELETE ON templates BEGIN"
                             " INSERT INTO taken VALUES (OLD.id, OLD.ciphertext); END")

    refused(LedgerAltered.code,
            lambda: service.erase(actor=world.admin, subject=erased, reason=REQUEST))
    assert row_count(service, Tombstone) == 0
    assert subject_rows(service, erased) == (1, 1, 1)
    assert outside_copy(service, "taken") == []
    assert events(service, world, AuditAction.ERASURE_UNFINISHED) == [
        (LedgerAltered.code, {"reason": "request", "error": LedgerAltered.code})]


@both_backends
def test_a_start_on_a_ledger_with_a_trigger_made_by_hand_is_refused_before_it_writes(
    world: World, open_service: Callable[[], OptinFace],
) -> None:
    """No start, the CLI's included (its rotation re-wrapped the kept key): refused with
    ledger_altered, naming the trigger by kind and table, nothing chained; once it is dropped,
    the same deployment starts."""
    service = world.service
    service.close()
    keep_deleted_rows(service, "subject_keys")
    log = outside_copy(service, "audit_events")
    with pytest.raises(LedgerAltered) as error:
        open_service()
    assert error.value.details == {"found": ["trigger on subject_keys"]}
    assert outside_copy(service, "audit_events") == log
    drop_triggers(service, "subject_keys")
    again = open_service()
    try:
        assert again.verify_audit().ok
    finally:
        again.close()


@postgresql_only
@pytest.mark.parametrize(("made", "said"), [
    ("CREATE RULE keep AS ON DELETE TO templates DO INSTEAD NOTHING", "rule on templates"),
    ("ALTER TABLE subject_keys ENABLE ROW LEVEL SECURITY", "row security on subject_keys"),
    ("ALTER TABLE subjects FORCE ROW LEVEL SECURITY", "row security on subjects"),
], ids=["rule", "row-security", "forced-row-security"])
def test_a_rule_or_row_security_on_postgresql_is_refused_at_start_as_a_trigger_is(
    world: World, open_service: Callable[[], OptinFace], made: str, said: str,
) -> None:
    """A DO INSTEAD NOTHING rule or a row-security policy undoes a delete as silently."""
    service = world.service
    service.close()
    outside_sql(service, made)
    with pytest.raises(LedgerAltered) as error:
        open_service()
    assert error.value.details == {"found": [said]}


@both_backends
def test_the_migrations_make_no_trigger_rule_or_row_security(world: World) -> None:
    """What a start refuses is never the ledger's own: a ledger fresh from its migrations
    holds none (PostgreSQL's foreign keys make triggers of their own, internal: not counted)."""
    with world.service.runtime.db.transaction() as session:
        assert ledger_alterations.found(session) == []
        if world.service.runtime.db.shared:
            assert session.scalar(text(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE t.tgisinternal AND c.relname = 'templates'")) > 0


def _erased_with_rows_put_back(world: World, image: bytes, *,
                               status: str) -> tuple[str, dict[str, Any], int]:
    """A subject erased while a copy of their rows (their own, their template, key and
    passkey, as a backup or the tester's triggers kept them) is put back after: pseudonym, the
    receipt and their key's epoch."""
    service = world.service
    pseudonym = world.enrolled(image)
    [subject] = [r for r in outside_copy(service, "subjects") if r["pseudonym"] == pseudonym]
    taken = {table: [r for r in outside_copy(service, table) if r["subject_id"] == subject["id"]]
             for table in ("subject_keys", "templates", "passkey_credentials")}
    receipt = service.erase(actor=world.admin, subject=pseudonym, reason=REQUEST)
    outside_put_back(service, "subjects", [{**subject, "status": status}])
    for table, rows in taken.items():
        outside_put_back(service, table, rows)
    return pseudonym, receipt.signed.receipt, taken["subject_keys"][0]["epoch"]


@both_backends
@pytest.mark.parametrize("erased_by", ["tombstone", "journal-line"])
def test_a_rotation_deletes_the_key_of_someone_erased_instead_of_re_wrapping_it(
    world: World, portrait_jpegs: list[bytes], erased_by: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The erased subject's key is back in the ledger (kept by a trigger, or put back), and
    even the tombstone deleted by SQL: the journal in the witness folder still names them. The
    rotation re-wraps the others' keys only, deletes theirs (chained, logged), and the epoch it
    was wrapped under is destroyed, as the receipt said."""
    service = world.service
    kept = world.enrolled(portrait_jpegs[1])
    erased, _, epoch = _erased_with_rows_put_back(world, portrait_jpegs[0], status="active")
    if erased_by == "journal-line":
        outside_sql(service, "DELETE FROM erased_credentials")
        outside_sql(service, "DELETE FROM tombstones")

    with caplog.at_level(logging.ERROR, logger="optinface.consent.epochs"):
        report = service.rotate_epoch(actor=world.admin)
    assert (report.subject_keys_rewrapped, report.destroyed_epochs) == (1, [epoch])
    assert subject_rows(service, erased) == (1, 1, 0)
    [(_, rotated)] = events(service, world, AuditAction.KEY_EPOCH_ROTATED)
    assert rotated["erased_subject_keys_deleted"] == 1
    assert any("1 subject keys of erased subjects" in r.getMessage() for r in caplog.records)
    assert world.verify(kept, portrait_jpegs[1]).outcome == "candidates_for_review"


def test_a_rotation_that_cannot_read_the_erasure_journal_re_wraps_nothing(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The journal is what names an erased subject whose tombstone SQL deleted: unreadable,
    it is no "nobody erased", so the rotation stops before it re-wraps a key (review 19b, 5);
    the epoch key stays until a rotation can read it."""
    service = world.service
    _, _, epoch = _erased_with_rows_put_back(world, portrait_jpegs[0], status="active")
    outside_sql(service, "DELETE FROM erased_credentials")
    outside_sql(service, "DELETE FROM tombstones")
    journal = journal_path(service.settings.witness_dir)
    journal.rename(journal.with_name("moved-aside"))
    journal.mkdir()  # reading it raises, as an unreadable file does
    with pytest.raises(OSError):
        service.rotate_epoch(actor=world.admin)
    with service.runtime.db.transaction() as session:
        assert set(session.scalars(select(SubjectKey.epoch))) == {epoch}


@both_backends
def test_a_key_a_trigger_keeps_through_a_rotation_dies_with_its_epoch(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """The tester's rotation, with the trigger still there: the erasure refused, its journal
    line written; the rotation does not re-wrap the key (its delete kept), so it stays under
    the epoch the rotation destroys and opens no more."""
    service = world.service
    erased = world.enrolled(portrait_jpegs[0])
    keep_deleted_rows(service, *KEPT_BY_THE_TESTER)
    refused(ERASURE_UNFINISHED,
            lambda: service.erase(actor=world.admin, subject=erased, reason=REQUEST))
    [epoch] = [e.id for e in service.key_epochs(actor=world.admin)]

    assert service.rotate_epoch(actor=world.admin).destroyed_epochs == [epoch]
    [(subject_id, wrapped, kept_epoch)] = [
        (r["subject_id"], r["wrapped"], r["epoch"]) for r in outside_copy(service, "subject_keys")]
    assert kept_epoch == epoch
    with pytest.raises(KeyUnavailable):
        service.runtime.keys.unwrap(bytes(wrapped), subject_id=subject_id, pseudonym=erased,
                                    epoch=kept_epoch)


@both_backends
def test_an_erasure_whose_tombstone_is_there_already_is_finished_under_a_new_receipt(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """The two subjects left by the tester with tombstone, row, template and key failed at
    every sweep with IntegrityError. Now the sweep finishes the erasure: the rows go, the one
    tombstone keeps a new signed receipt naming the one it replaces (and the first request's
    time), and the erase event says so."""
    service = world.service
    erased, first, _ = _erased_with_rows_put_back(world, portrait_jpegs[0], status="excluded")
    [tombstone_before] = outside_copy(service, "tombstones")

    report = service.sweep()
    assert report.erasures_unfinished == 0
    [receipt] = report.erasures
    signed = receipt.signed.receipt
    assert (receipt.templates_destroyed, receipt.key_destroyed) == (1, True)
    assert (signed["replacesReceipt"], signed["requestedAt"]) == (first["receiptID"],
                                                                  first["requestedAt"])
    assert verify_receipt(signed, receipt.signed.signature, receipt.signed.public_key)
    assert subject_rows(service, erased) == (0, 0, 0)
    [tombstone] = outside_copy(service, "tombstones")
    assert tombstone["id"] == tombstone_before["id"]
    with service.runtime.db.transaction() as session:
        stored = session.scalars(select(Tombstone)).one()
        assert stored.receipt == signed
    erase_events = events(service, world, AuditAction.ERASE)
    assert erase_events[-1][1]["replaces_receipt"] == first["receiptID"]
    assert service.verify_audit().ok


@both_backends
def test_an_erased_subjects_id_is_never_given_to_a_newcomer_so_its_key_put_back_is_no_ones(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Red team 7, 3: the subject with the highest id erased, SQLite without ``AUTOINCREMENT``
    gave the next subject that id, and the erased person's wrapped key put back under it was
    the newcomer's, re-wrapped by every rotation. The id is never given again (migration 0038;
    PostgreSQL's sequence), so the key put back names no subject, and the rotation deletes it
    instead of re-wrapping it."""
    service = world.service
    erased = world.enrolled(portrait_jpegs[0])
    [subject] = [r for r in outside_copy(service, "subjects") if r["pseudonym"] == erased]
    assert subject["id"] == max(r["id"] for r in outside_copy(service, "subjects"))
    key = [r for r in outside_copy(service, "subject_keys") if r["subject_id"] == subject["id"]]
    service.erase(actor=world.admin, subject=erased, reason=REQUEST)
    newcomer, consent = world.subject()
    [new] = [r for r in outside_copy(service, "subjects") if r["pseudonym"] == newcomer]
    assert new["id"] > subject["id"]
    if not service.runtime.db.shared:  # PostgreSQL's foreign key refuses a key of no subject
        outside_put_back(service, "subject_keys", key)
    world.enrol(newcomer, consent, portrait_jpegs[1])
    report = service.rotate_epoch(actor=world.admin)
    assert report.subject_keys_rewrapped == 1  # the newcomer's own key only
    with service.runtime.db.transaction() as session:
        assert list(session.scalars(select(SubjectKey.subject_id))) == [new["id"]]
    assert world.verify(newcomer, portrait_jpegs[1]).outcome == "candidates_for_review"
