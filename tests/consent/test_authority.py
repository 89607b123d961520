"""A consent row grants no more than its signed receipt (consent.authority).

Each attack is the outside tester's (helper-106, findings 1, 3 and 5): SQL on the ledger file of
a real deployment, written by someone with no key store, then the service reopened and used.
None of them grants anything now, and each is chained (``authority_mismatch``) and logged.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select, text

from optinface.consent import matching, receipt_ends
from optinface.consent.audit import AuditAction
from optinface.consent.authority import Mismatch
from optinface.consent.crypto import canonical_json
from optinface.consent.erasure_journal import journal_path
from optinface.consent.errors import ProbeConsentRequired
from optinface.consent.schemas import (
    AgeCategory,
    AuditFilter,
    ErasureReason,
    Operation,
    SearchOutcome,
)
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent, Consent
from tests.support.consent import FakeClock, World, refused
from tests.support.files import readable_occurrences, template_bytes

AUTHORITY_LOG = "optinface.consent.authority"


@pytest.fixture
def reopen(open_service: Callable[[], OptinFace]) -> Iterator[Callable[[World], World]]:
    """Close the world's service and open the deployment again, as after an operator edited
    its ledger file with the service stopped; the world's keys and people carry over."""
    opened: list[OptinFace] = []

    def again(world: World) -> World:
        world.service.close()
        world.service = open_service()
        opened.append(world.service)
        for person in (*world.people.values(), *world.guardians.values()):
            person.service = world.service
        return world

    yield again
    for service in opened:
        service.close()


def sql(settings: ConsentSettings, statement: str, *parameters: object) -> None:
    """What an operator with write access to the database file alone can do."""
    with closing(sqlite3.connect(settings.data_dir / "optinface.db")) as ledger:
        ledger.execute(statement, parameters)
        ledger.commit()


def mismatches(world: World) -> list[AuditEvent]:
    with world.service.runtime.db.transaction() as session:
        rows = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "authority_mismatch").order_by(AuditEvent.seq)))
        session.expunge_all()
        return rows


def logged(caplog: pytest.LogCaptureFixture, row_id: str) -> bool:
    return any(r.name == AUTHORITY_LOG and r.levelno == logging.ERROR and row_id in r.getMessage()
               for r in caplog.records)


def refused_as_unsigned(world: World, probe_consent_id: str, image: bytes) -> None:
    """Identify under the probe consent is refused: its row is not what its receipt says."""
    with pytest.raises(ProbeConsentRequired) as refusal:
        world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                               probe_consent_id=probe_consent_id, image=image)
    assert refusal.value.details["problem"] == "receipt_mismatch"


def test_a_purpose_added_to_a_consent_by_sql_finds_no_one(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    second = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, Operation.VERIFY,
                                name="study-2")
    subject, consent_id = world.subject()
    world.enrol(subject, consent_id, portrait_jpegs[0])
    assert [c.subject for c in world.identify(flipped_jpegs[0]).candidates] == [subject]
    sql(settings, "INSERT INTO consent_purposes VALUES (?, ?)", consent_id, second)
    world = reopen(world)
    caplog.set_level(logging.ERROR, logger=AUTHORITY_LOG)
    found = world.identify(flipped_jpegs[0], purpose=second)
    assert found.outcome is SearchOutcome.NO_CANDIDATE and found.candidates == []
    assert world.verify(subject, flipped_jpegs[0], purpose=second).candidates == []
    events = mismatches(world)
    assert [(e.details["consent_id"], e.details["mismatch"], e.details["use"], e.purpose)
            for e in events] == [(consent_id, "purpose_not_in_receipt", "identify", second),
                                 (consent_id, "purpose_not_in_receipt", "verify", second)]
    assert all(e.subjects == [] and "scores" not in e.details for e in events)
    assert logged(caplog, consent_id)
    assert world.service.verify_audit().ok


def test_rows_forged_nearer_than_the_genuine_person_do_not_push_them_out_of_the_k_nearest(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two templates of the very probe photo, one of a subject who never opted in, one under a
    consent to another study, are put in the gallery by SQL: nearer than the genuine person,
    they would take the one place of a k=1 search. Dropped after the search, they make it look
    further (doubling k, up to consent.matching.SEARCH_WIDENING times k): the genuine person is
    found, the search event counts the two dropped, each is chained. At the bound, the answer
    holds only the backed ones found."""
    probe = flipped_jpegs[0]
    genuine = world.enrolled(portrait_jpegs[0])
    hidden, hidden_consent = world.subject(searchable=False)
    world.enrol(hidden, hidden_consent, probe)
    elsewhere, elsewhere_consent = world.subject(
        purposes=[world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")])
    world.enrol(elsewhere, elsewhere_consent, probe)
    sql(settings, "UPDATE subjects SET searchable = 1 WHERE pseudonym = ?", hidden)
    sql(settings, "INSERT INTO consent_purposes VALUES (?, ?)", elsewhere_consent, world.purpose)
    world = reopen(world)

    def identify() -> tuple[list[str], object]:
        found = world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                                       probe_consent_id=world.probe(image=probe), image=probe,
                                       k=1)
        [event] = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
            action=AuditAction.IDENTIFY), newest_first=True, limit=1).events
        return [c.subject for c in found.candidates], event.details.get("dropped")

    assert identify() == ([genuine], 2)
    assert {(e.details.get("consent_id"), e.subjects[0] if e.subjects else None,
             e.details["mismatch"]) for e in mismatches(world)} == {
        (elsewhere_consent, None, "purpose_not_in_receipt"),
        (None, hidden, "opt_in_not_sealed")}
    monkeypatch.setattr(matching, "SEARCH_WIDENING", 2)  # k=1: two templates at most
    assert identify() == ([], 2)


@pytest.mark.parametrize("torn", [False, True], ids=["journal", "after-a-torn-line"])
def test_a_withdrawn_purpose_put_back_by_sql_while_the_service_runs_finds_no_one(
    world: World, settings: ConsentSettings, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], caplog: pytest.LogCaptureFixture, torn: bool,
) -> None:
    """The receipt still names a purpose the person took out since; the erasure journal, kept
    apart from the database, says it ended. A database administrator who puts the purpose
    back while the service runs (the next start would take it out again) gets no one: each
    face a search finds is asked of the journal too (consent.journal_ends). A line a crash left
    torn before does not swallow the withdrawal's (review 2)."""
    if torn:
        with journal_path(settings.witness_dir).open("a", encoding="utf-8") as journal:
            journal.write('{"kind": "withdrawal", "consent_id": "con_')
    second = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")
    subject, consent_id = world.subject(purposes=[world.purpose, second])
    world.enrol(subject, consent_id, portrait_jpegs[0])
    world.withdraw_purpose(subject, consent_id, second)
    with world.service.runtime.db.transaction() as session:  # the live ledger, no restart
        session.execute(text("INSERT INTO consent_purposes VALUES (:c, :p)"),
                        {"c": consent_id, "p": second})
    caplog.set_level(logging.ERROR, logger=AUTHORITY_LOG)
    assert world.identify(flipped_jpegs[0], purpose=second).candidates == []
    assert [(e.details["consent_id"], e.details["mismatch"]) for e in mismatches(world)] == [
        (consent_id, "purpose_withdrawn_in_journal")]
    assert [c.subject for c in world.identify(flipped_jpegs[0]).candidates] == [subject]


def test_an_expiry_extended_by_sql_ends_where_the_receipt_says(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    subject, consent_id = world.subject(days=30)
    world.enrol(subject, consent_id, portrait_jpegs[0])
    sql(settings, "UPDATE consents SET expires_at = ?, retained_until = ? WHERE id = ?",
        "2099-12-31 00:00:00.000000", "2099-12-31 00:00:00.000000", consent_id)
    world = reopen(world)
    caplog.set_level(logging.ERROR, logger=AUTHORITY_LOG)
    clock.advance(days=31)  # past the signed end, long before the row's
    assert world.identify(flipped_jpegs[0]).candidates == []
    refused("consent_required", lambda: world.enrol(subject, consent_id, portrait_jpegs[0]))
    assert [(e.details["use"], e.details["mismatch"], e.outcome) for e in mismatches(world)] == [
        ("identify", "ends_later_than_receipt", "consent_required"),
        ("enrol", "ends_later_than_receipt", "consent_required")]
    assert logged(caplog, consent_id)


def test_a_consent_extended_by_sql_keeps_its_templates_only_until_its_receipts_end(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    """The sweep ends a consent at the earlier of its row's end and its receipt's: a row pushed
    out to 2099 goes, with its template, when the 30 days its person signed are over, and the
    server's sweeper wakes for that moment. Found at the first sweep, chained once: not again
    at the next sweep, nor after a restart."""
    subject, consent_id = world.subject(days=30)
    template = world.enrol(subject, consent_id, portrait_jpegs[0])
    kept = world.enrol(*world.subject(days=365), portrait_jpegs[1])
    ciphertext, plaintext = template_bytes(world.service, template.id)
    sql(settings, "UPDATE consents SET expires_at = ?, retained_until = ? WHERE id = ?",
        "2099-12-31 00:00:00.000000", "2099-12-31 00:00:00.000000", consent_id)
    world = reopen(world)
    caplog.set_level(logging.ERROR, logger=AUTHORITY_LOG)
    report = world.service.sweep()
    assert (report.consents_expired, report.templates_destroyed, report.erasures) == (0, 0, [])
    assert world.service.seconds_to_next_consent_end() == timedelta(days=30).total_seconds()
    world.service.sweep()
    world = reopen(world)
    world.service.sweep()
    assert [(e.details["consent_id"], e.details["use"], e.details["mismatch"], e.outcome)
            for e in mismatches(world)] == [
        (consent_id, "retention", "ends_later_than_receipt", "consent_expired")]
    assert logged(caplog, consent_id)
    clock.advance(days=30)
    [erasure] = world.service.sweep().erasures
    assert (erasure.reason, erasure.templates_destroyed) == (ErasureReason.EXPIRY, 1)
    assert world.service.index.labels() == {kept.id}  # type: ignore[attr-defined]
    for needle in (ciphertext, plaintext):
        assert readable_occurrences(world.service, needle) == []
    refused("subject_erased", lambda: world.service.get_subject(actor=world.portal,
                                                                subject=subject))
    assert world.service.verify_audit().ok


def test_a_consent_no_receipt_backs_is_swept_at_once(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes],
) -> None:
    """Stripped of its receipt, a consent has nothing to say it was given (consent.authority):
    the first sweep ends it and takes its template."""
    stripped = world.enrolled(portrait_jpegs[0])
    sql(settings, "UPDATE consents SET receipt = NULL, receipt_signature = NULL"
        " WHERE subject_ref = ?", stripped)
    world = reopen(world)
    report = world.service.sweep()
    assert [(e.reason, e.templates_destroyed) for e in report.erasures] == [
        (ErasureReason.EXPIRY, 1)]
    assert report.consents_expired == 1 and world.service.index.count() == 0
    assert [(e.details["use"], e.details["mismatch"]) for e in mismatches(world)] == [
        ("retention", "no_receipt")]


def test_a_row_rewritten_between_the_sweeps_read_and_its_write_is_judged_as_it_is_then(
    world: World, settings: ConsentSettings, portrait_jpegs: list[bytes], clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep verifies the receipts before its write transaction (consent.retention.
    read_receipts) and there only the rows whose signature, subject or purposes changed since:
    rows rewritten by a second connection just after that read are judged on what they hold
    in the write. One pushed out to 2099 ends when its receipt's 30 days are over, one moved to
    a purpose its receipt does not name ends at once, verified again in the write transaction
    (the one receipt verified there); each chained as before."""
    second = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")
    pushed, pushed_consent = world.subject(days=30)
    world.enrol(pushed, pushed_consent, portrait_jpegs[0])
    _, moved_consent = world.subject()
    read = world.service.runtime.receipt_ends.read
    verify = receipt_ends.receipt_end
    verified_in_write: list[str] = []

    def counted(consent: Consent, *, pseudonym: str, public_key: str) -> datetime | Mismatch:
        verified_in_write.append(consent.id)
        return verify(consent, pseudonym=pseudonym, public_key=public_key)

    def read_then_rewrite(consents: Iterable[tuple[Consent, str]], *, public_key: str) -> None:
        read(consents, public_key=public_key)
        sql(settings, "UPDATE consents SET expires_at = ?, retained_until = ? WHERE id = ?",
            "2099-12-31 00:00:00.000000", "2099-12-31 00:00:00.000000", pushed_consent)
        sql(settings, "UPDATE consent_purposes SET purpose_id = ? WHERE consent_id = ?",
            second, moved_consent)
        monkeypatch.setattr(receipt_ends, "receipt_end", counted)

    monkeypatch.setattr(world.service.runtime.receipt_ends, "read", read_then_rewrite)
    report = world.service.sweep()
    monkeypatch.undo()
    assert verified_in_write == [moved_consent]
    assert (report.consents_expired, [e.reason for e in report.erasures]) == (
        1, [ErasureReason.EXPIRY])
    assert sorted((e.details["consent_id"], e.details["use"], e.details["mismatch"])
                  for e in mismatches(world)) == sorted([
        (pushed_consent, "retention", "ends_later_than_receipt"),
        (moved_consent, "retention", "purpose_not_in_receipt")])
    assert world.service.seconds_to_next_consent_end() == timedelta(days=30).total_seconds()
    clock.advance(days=30)
    [erasure] = world.service.sweep().erasures
    assert (erasure.reason, erasure.templates_destroyed) == (ErasureReason.EXPIRY, 1)
    assert world.service.index.count() == 0
    assert len(mismatches(world)) == 2 and world.service.verify_audit().ok


def test_a_probe_consent_inserted_by_sql_is_refused_as_unsigned(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    subject, consent_id = world.subject()
    world.enrol(subject, consent_id, portrait_jpegs[0])
    image = flipped_jpegs[0]
    sql(settings, """INSERT INTO probe_consents (id, purpose_id, notice_id, method,
        evidence_sha256, obtained_at, expires_at, used_at, created_by, probe_sha256,
        researcher_key_id, receipt, receipt_signature, subject_ref)
        VALUES ('prb_forged000000000001', ?, ?, 'passkey', ?, datetime('now'),
        '2099-01-01 00:00:00.000000', NULL, ?, ?, ?, NULL, NULL, NULL)""",
        world.purpose, world.notice, "0" * 64, world.researcher.key_id,
        hashlib.sha256(image).hexdigest(), world.researcher.key_id)
    world = reopen(world)
    caplog.set_level(logging.ERROR, logger=AUTHORITY_LOG)
    refused_as_unsigned(world, "prb_forged000000000001", image)
    assert [(e.details["consent_id"], e.details["mismatch"]) for e in mismatches(world)] == [
        ("prb_forged000000000001", "no_receipt")]
    assert logged(caplog, "prb_forged000000000001")


def test_a_signed_probe_consent_moved_to_another_image_by_sql_is_refused(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    subject, consent_id = world.subject()
    world.enrol(subject, consent_id, portrait_jpegs[0])
    signed_for = world.probe(image=portrait_jpegs[5])  # the person agreed to this photo only
    sql(settings, "UPDATE probe_consents SET probe_sha256 = ? WHERE id = ?",
        hashlib.sha256(flipped_jpegs[0]).hexdigest(), signed_for)
    world = reopen(world)
    refused_as_unsigned(world, signed_for, flipped_jpegs[0])
    assert [e.details["mismatch"] for e in mismatches(world)] == ["binding_not_in_receipt"]


def test_a_verifys_probe_consent_moved_to_another_subject_by_sql_is_refused(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """A verify's probe consent is signed by the subject compared with: pointing its row at
    another subject (the keyed hash copied from that subject's own probe consent) does not
    make its receipt that subject's."""
    signer = world.enrolled(portrait_jpegs[0])
    other = world.enrolled(portrait_jpegs[1])
    signed = world.probe(image=flipped_jpegs[0], subject=signer)
    others = world.probe(image=flipped_jpegs[1], subject=other)
    sql(settings, "UPDATE probe_consents SET subject_ref = (SELECT subject_ref FROM"
        " probe_consents WHERE id = ?) WHERE id = ?", others, signed)
    world = reopen(world)
    with pytest.raises(ProbeConsentRequired) as refusal:
        world.service.verify(actor=world.researcher, subject=other, purpose_id=world.purpose,
                             probe_consent_id=signed, image=flipped_jpegs[0])
    assert refusal.value.details["problem"] == "receipt_mismatch"
    assert [e.details["mismatch"] for e in mismatches(world)] == ["receipt_of_another_subject"]


def test_consents_narrowed_the_legitimate_ways_still_grant_what_they_keep(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], clock: FakeClock,
) -> None:
    second = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")
    kept, both = world.subject(purposes=[world.purpose, second])
    world.enrol(kept, both, portrait_jpegs[0])
    world.withdraw_purpose(kept, both, second)  # narrower: one purpose out, retention sooner
    # 14 (Québec's age of consent) in 25 days: the guardian's consent ends 30 days later,
    # before its expiry, and its receipt's termination already says so.
    minor = world.person(age=AgeCategory.MINOR_13,
                         declared_on=clock.now().date() - timedelta(days=340))
    given = world.consent(minor.pseudonym, days=60)
    world.signer(minor.pseudonym).set_searchable(True)
    world.enrol(minor.pseudonym, given.consent.id, portrait_jpegs[1])
    soon, short = world.subject(days=10)
    world.enrol(soon, short, portrait_jpegs[2])
    assert [c.subject for c in world.identify(flipped_jpegs[0]).candidates] == [kept]
    assert [c.subject for c in world.identify(flipped_jpegs[1]).candidates] == [minor.pseudonym]
    assert [c.subject for c in world.verify(soon, flipped_jpegs[2]).candidates] == [soon]
    clock.advance(days=11)  # expired: out of the gallery by its row, no mismatch
    assert world.identify(flipped_jpegs[2]).candidates == []
    assert world.service.sweep().consents_expired == 1  # the sweep reads the receipts too
    assert mismatches(world) == []


def test_a_receipt_of_the_older_form_still_backs_its_consent(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """Receipts made before the retention limit and the guardian's end counted stated the
    expiry alone as each purpose's termination; signed by the same key, they still back their
    row, whose end is never later than its expiry."""
    subject, consent_id = world.subject()
    world.enrol(subject, consent_id, portrait_jpegs[0])
    runtime = world.service.runtime
    with runtime.db.transaction() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None and consent.receipt is not None
        older = {**consent.receipt, "services": [
            {**s, "purposes": [{**p, "termination": consent.expires_at.isoformat()}
                               for p in s["purposes"]]} for s in consent.receipt["services"]]}
        older.pop("expiresISO")
        consent.receipt = older
        consent.receipt_signature = runtime.keys.sign(canonical_json(older))
    assert [c.subject for c in world.identify(flipped_jpegs[0]).candidates] == [subject]
    assert world.service.sweep().consents_expired == 0
    assert mismatches(world) == []


def test_a_receipt_signed_by_another_key_backs_nothing(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """The service's key is the key store's, never the one a receipt names: a receipt signed
    by a key of the operator's making (named in its ``publicKey``) does not back a row."""
    subject, consent_id = world.subject()
    world.enrol(subject, consent_id, portrait_jpegs[0])
    forger = Ed25519PrivateKey.generate()
    named = base64.b64encode(forger.public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)).decode()
    with world.service.runtime.db.transaction() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None and consent.receipt is not None
        consent.receipt = {**consent.receipt, "publicKey": named}
        consent.receipt_signature = base64.b64encode(
            forger.sign(canonical_json(consent.receipt))).decode()
    assert world.identify(flipped_jpegs[0]).candidates == []
    assert [e.details["mismatch"] for e in mismatches(world)] == ["signature_invalid"]


def test_a_consent_stripped_of_its_receipt_or_given_anothers_grants_nothing(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """No consent in force lacks its receipt (see consent.authority), so a row without one is
    no consent; another consent's receipt, valid as it is, names another row."""
    stripped = world.enrolled(portrait_jpegs[0])
    borrower, consent_id = world.subject()
    world.enrol(borrower, consent_id, portrait_jpegs[1])
    _, lent = world.subject()
    sql(settings, "UPDATE consents SET receipt = NULL, receipt_signature = NULL"
        " WHERE subject_ref = ?", stripped)
    sql(settings, "UPDATE consents SET (receipt, receipt_signature) = (SELECT receipt,"
        " receipt_signature FROM consents WHERE id = ?) WHERE id = ?", lent, consent_id)
    world = reopen(world)
    assert world.identify(flipped_jpegs[0]).candidates == []
    assert world.identify(flipped_jpegs[1]).candidates == []
    # Each search reports every consent among its nearest templates, above the threshold or not.
    assert {e.details["mismatch"] for e in mismatches(world)} == {
        "no_receipt", "receipt_of_another_row"}


def test_a_template_moved_under_another_persons_consent_by_sql_is_not_found(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """B consented to study 1 only; A to study 2. Moving B's template under A's consent would
    put B's face in study 2's gallery: the template's seal names B's consent, so the start
    leaves it out of the index and says so."""
    second = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")
    moved = world.enrolled(portrait_jpegs[1])
    _, other_consent = world.subject(purposes=[second])
    sql(settings, "UPDATE templates SET consent_id = ? WHERE subject_id ="
        " (SELECT subject_id FROM consents WHERE subject_ref = ?)", other_consent, moved)
    world = reopen(world)
    assert world.identify(flipped_jpegs[1], purpose=second).candidates == []
    assert [e.details["mismatch"] for e in mismatches(world)] == ["template_not_sealed"]


def test_a_probe_consent_extended_by_sql_ends_where_its_receipt_says(
    world: World, reopen: Callable[[World], World], settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], clock: FakeClock,
) -> None:
    world.enrolled(portrait_jpegs[0])
    signed = world.probe(image=flipped_jpegs[0])
    clock.advance(days=1)  # long past the link's minutes
    sql(settings, "UPDATE probe_consents SET expires_at = ? WHERE id = ?",
        "2099-01-01 00:00:00.000000", signed)
    world = reopen(world)
    refused_as_unsigned(world, signed, flipped_jpegs[0])
    assert [e.details["mismatch"] for e in mismatches(world)] == ["ends_later_than_receipt"]
