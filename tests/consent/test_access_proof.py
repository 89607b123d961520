"""A person's access export proves each event naming them, the searches included (red team 7,
#4): an event's hash covers the details kept from them (other people's scores, the query, the
gallery) through a salted commitment, so the event as they see it matches its hash and its
inclusion proof; events chained before commitments keep their hash rule, and a log of both
forms verifies end to end."""

from __future__ import annotations

from sqlalchemy import select

from optinface.consent import audit_redaction
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.audit_verify import (
    NOT_CHECKABLE,
    read_access_export,
    read_export,
    verify_access,
    verify_export,
)
from optinface.consent.schemas import AccessExport, ExportedEvent
from optinface.consent.tables import AuditEvent
from tests.support.consent import World, chain_before_commitments


def _checked(world: World, export: AccessExport) -> dict[int, tuple[bool | None, str]]:
    """Each event's verdict, the export read back from its JSON as the person holds it."""
    report = verify_access(read_access_export(export.model_dump_json()),
                           verifier=world.service.runtime.log.signer.verifier)
    assert report.ok and report.anchored == (report.unchecked == 0), report
    return {v.seq: (v.holds, v.what) for v in report.events}


def test_an_identify_naming_the_person_holds_to_its_hash_and_proof_without_the_others(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    mine = world.enrolled(portrait_jpegs[0])
    other = world.enrolled(portrait_jpegs[0])  # the same face under another pseudonym
    world.identify(flipped_jpegs[0])
    export = world.service.export(actor=world.reviewer, subject=mine)
    [search] = [e for e in export.events if e.action == AuditAction.IDENTIFY]
    assert search.redacted is not None and not search.redacted_before_commitments
    assert audit_redaction.REDACTED_DETAILS.isdisjoint(search.details)
    assert audit_redaction.SALT not in search.details
    text = export.model_dump_json()
    assert other not in text and "gallery_size" not in text
    with world.service.runtime.db.reading() as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.seq == search.seq)).one()
    assert row.details["probe_consent_id"] not in text  # the probe's, another person's
    assert {"probe_consent_id", "dropped"} <= audit_redaction.REDACTED_DETAILS
    verdicts = _checked(world, export)
    assert all(holds for holds, _ in verdicts.values()), verdicts
    assert "by their commitment" in verdicts[search.seq][1]


def test_a_log_of_events_chained_before_and_after_commitments_verifies_end_to_end(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """An identify chained as before (its details hashed as they are, no salt), then one with
    a commitment: the log, the whole export and the person's export each say what holds."""
    mine = world.enrolled(portrait_jpegs[0])
    runtime = world.service.runtime
    before = chain_before_commitments(runtime, Entry(
        action=AuditAction.IDENTIFY, actor=world.researcher, outcome="candidates",
        subjects=[mine], details={"k": 5, "gallery_size": 1, "decision_use": False}))
    own = chain_before_commitments(runtime, Entry(  # none of the details left out then
        action=AuditAction.PROBE_CONSENT_CREATED, actor=None, subjects=[mine],
        details={"probe_consent_id": "their-own-probe-consent", "researcher_key_id": "key"}))
    world.identify(flipped_jpegs[0])
    assert world.service.verify_audit().ok
    with runtime.db.reading() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        whole = read_export("[" + ",".join(
            ExportedEvent.model_validate(row).model_dump_json() for row in rows) + "]")
    assert any(audit_redaction.committed(row.details) for row in rows)
    assert verify_export(whole, verifier=runtime.log.signer.verifier).problem is None
    export = world.service.export(actor=world.reviewer, subject=mine)
    verdicts = _checked(world, export)
    assert verdicts[before] == (None, NOT_CHECKABLE)
    assert verdicts[own][0] is True, verdicts  # shown whole, as before: it still holds
    [shown] = [e for e in export.events if e.seq == own]
    assert shown.details["probe_consent_id"] == "their-own-probe-consent"
    [after] = [e.seq for e in export.events if e.action == AuditAction.IDENTIFY
               and e.seq != before]
    assert verdicts[after][0] is True, verdicts
