"""A person's export of a search shows their own seal alone (red team 7, #4): the event's hash
covers the other candidates' seals through a root (:mod:`consent.audit_seal_tree`), so nothing
in the export says how many others there were, and the event still matches its hash and proof.
An edit to the hidden seal list, a redacted detail or the shown path fails; an erasure of
another candidate leaves the export verifying; a search of the form before stays as it was.
An operator's read naming several people takes the same form; the path has one length for
every count an event of the form may name (a search of the largest ``k`` as of ``k`` 1)."""

from __future__ import annotations

from typing import Any

import annotated_types
import pytest
from sqlalchemy import select

from optinface.api.routes.matching import MAX_CANDIDATES
from optinface.consent import audit_seal_tree
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.audit_verify import (
    read_access_export,
    read_export,
    verify_access,
    verify_export,
)
from optinface.consent.schemas import (
    AccessEvent,
    AccessExport,
    AuditFilter,
    ErasureReason,
    ExportedEvent,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent
from tests.support.backends import both_backends
from tests.support.consent import World, chain_before_seal_roots


def _row(world: World, seq: int) -> AuditEvent:
    with world.service.runtime.db.reading() as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).one()
        session.expunge(row)
    return row


def _search(export: AccessExport) -> AccessEvent:
    return max((e for e in export.events if e.action == AuditAction.IDENTIFY),
               key=lambda e: e.seq)


def _verdict(world: World, export: AccessExport | dict[str, Any]) -> Any:
    text = (export.model_dump_json() if isinstance(export, AccessExport)
            else AccessExport.model_validate(export).model_dump_json())
    return verify_access(read_access_export(text),
                         verifier=world.service.runtime.log.signer.verifier)


def _three_candidates(world: World, jpeg: bytes, probe: bytes) -> tuple[str, list[str]]:
    """Three people enrolled with the same face and one search finding all three: the first,
    and the other two."""
    mine, *others = (world.enrolled(jpeg) for _ in range(3))
    assert len(world.identify(probe).candidates) == 3
    return mine, others


def test_the_export_of_a_search_with_three_candidates_shows_no_count_of_the_others_and_holds(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    world.enrolled(portrait_jpegs[1])  # someone alone in a search of their own
    alone_search = world.identify(flipped_jpegs[1])
    mine, others = _three_candidates(world, portrait_jpegs[0], flipped_jpegs[0])
    export = world.service.export(actor=world.reviewer, subject=mine)
    search = _search(export)
    row = _row(world, search.seq)
    assert len(row.subject_seals or ()) == 3 and audit_seal_tree.committed(row.details)
    assert search.subjects == [mine] and len(search.subject_seals or ()) == 1
    assert search.seal_root and len(search.seal_proof or ()) == audit_seal_tree.DEPTH
    text = export.model_dump_json()
    [own] = search.subject_seals or ()
    hidden = [s["hash"] for s in row.subject_seals or () if s["hash"] != own["hash"]]
    assert len(hidden) == 2 and not [h for h in hidden if h in text]
    assert not [p for p in others if p in text]
    assert audit_seal_tree.SALT not in text and row.details[audit_seal_tree.SALT] not in text
    # A search that found one person shows the same: one seal, a path of the same length.
    assert len(alone_search.candidates) == 1
    alone = _search(world.service.export(actor=world.reviewer,
                                         subject=alone_search.candidates[0].subject))
    assert len(alone.subject_seals or ()) == 1 and len(alone.seal_proof or ()) == len(
        search.seal_proof or ())
    report = _verdict(world, export)
    assert report.ok and report.anchored, report
    assert all(v.holds for v in report.events), report


def _largest_k() -> int:
    """The most candidates the consent core lets a search name: ``max_candidates``'s bound."""
    [bound] = [m.le for m in ConsentSettings.model_fields["max_candidates"].metadata
               if isinstance(m, annotated_types.Le)]
    assert isinstance(bound, int)
    return bound


def test_the_tree_hides_every_count_the_core_and_the_api_let_a_search_return() -> None:
    assert audit_seal_tree.PLACES == 2 ** audit_seal_tree.DEPTH
    assert audit_seal_tree.PLACES >= max(_largest_k(), MAX_CANDIDATES)
    assert audit_seal_tree.SEVERAL <= set(AuditAction)


def test_a_search_with_the_largest_k_shows_the_path_of_a_search_with_k_1(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """A search naming the person alone (``k`` 1), and one naming as many people as the core
    lets a search name, chained by the log's own code: the same path length."""
    mine = world.enrolled(portrait_jpegs[0])
    found = world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                                   probe_consent_id=world.probe(image=flipped_jpegs[0]),
                                   image=flipped_jpegs[0], k=1)
    assert [c.subject for c in found.candidates] == [mine]
    most = _largest_k()
    runtime = world.service.runtime
    with runtime.db.transaction() as session:
        widest = runtime.audit(session, Entry(
            action=AuditAction.IDENTIFY, actor=world.researcher, outcome="candidates",
            purpose=world.purpose, subjects=[mine, *(f"{n:032x}" for n in range(1, most))],
            details={"k": most, "gallery_size": most, "decision_use": False})).seq
    export = world.service.export(actor=world.reviewer, subject=mine)
    searches = {e.seq: e for e in export.events if e.action == AuditAction.IDENTIFY}
    [one] = [e for seq, e in searches.items() if seq != widest]
    assert len(_row(world, widest).subject_seals or ()) == most
    assert len(searches[widest].subject_seals or ()) == len(one.subject_seals or ()) == 1
    assert len(searches[widest].seal_proof or ()) == len(one.seal_proof or ()) \
        == audit_seal_tree.DEPTH
    report = _verdict(world, export)
    assert report.ok and report.anchored and all(v.holds for v in report.events), report


def test_an_event_of_the_form_naming_more_than_the_trees_places_is_refused(
    world: World,
) -> None:
    """No caller names more (see the module); were one to, its path would say so: refused."""
    runtime = world.service.runtime
    names = [f"{n:032x}" for n in range(audit_seal_tree.PLACES + 1)]
    with pytest.raises(ValueError, match="at most 64 subjects"), \
            runtime.db.transaction() as session:
        runtime.audit(session, Entry(action=AuditAction.AUDIT_READ, actor=world.reviewer,
                                     subjects=names, details={"view": "bench"}))
    assert world.service.verify_audit().ok


def _read_of(world: World, *subjects: str) -> int:
    """A reviewer's read of ``subjects``' events in one page (one ``audit_read`` naming them
    all, as the dashboard chains one): its sequence number."""
    with world.service.reading(actor=world.reviewer, view="/review/subjects") as reads:
        for subject in subjects:
            world.service.audit_events(actor=world.reviewer,
                                       filters=AuditFilter(subject=subject), reads=reads)
    with world.service.runtime.db.reading() as session:
        return int(session.scalars(select(AuditEvent.seq).where(
            AuditEvent.action == AuditAction.AUDIT_READ).order_by(AuditEvent.seq.desc()))
            .first() or 0)


def _read_shown(export: AccessExport, seq: int) -> AccessEvent:
    [shown] = [e for e in export.events if e.seq == seq]
    return shown


@both_backends
def test_a_read_naming_three_people_shows_the_persons_seal_alone_and_verifies(
    world: World,
) -> None:
    (mine, _), *others = (world.subject() for _ in range(3))
    alone = _read_of(world, mine)
    several = _read_of(world, mine, *(other for other, _ in others))
    row = _row(world, several)
    assert len(row.subject_seals or ()) == 3 and audit_seal_tree.committed(row.details)
    export = world.service.export(actor=world.reviewer, subject=mine)
    shown, by_itself = _read_shown(export, several), _read_shown(export, alone)
    assert shown.subjects == [mine] and len(shown.subject_seals or ()) == 1
    assert shown.seal_root and len(shown.seal_proof or ()) == audit_seal_tree.DEPTH
    # A read of the person alone has the same form: it does not tell them apart.
    assert by_itself.seal_root and len(by_itself.seal_proof or ()) == audit_seal_tree.DEPTH
    assert len(by_itself.subject_seals or ()) == 1
    text = export.model_dump_json()
    hidden = [s["hash"] for s in row.subject_seals or ()
              if s["hash"] != (shown.subject_seals or ())[0]["hash"]]
    assert len(hidden) == 2 and not [h for h in hidden if h in text]
    assert not [other for other, _ in others if other in text]
    assert row.details[audit_seal_tree.SALT] not in text
    report = _verdict(world, export)
    assert report.ok and report.anchored and all(v.holds for v in report.events), report
    assert world.service.verify_audit().ok


def test_an_edit_to_the_path_of_a_read_fails_the_export(world: World) -> None:
    (mine, _), *others = (world.subject() for _ in range(3))
    seq = _read_of(world, mine, *(other for other, _ in others))
    export = world.service.export(actor=world.reviewer, subject=mine).model_dump(mode="json")
    [event] = [e for e in export["events"] if e["seq"] == seq]
    event["seal_proof"] = [event["seal_proof"][0][::-1], *event["seal_proof"][1:]]
    report = _verdict(world, export)
    assert report.problem is not None and report.problem.sequence == seq, report


def test_a_read_of_the_form_before_keeps_its_seal_list_and_verifies(world: World) -> None:
    """A read naming several people chained before reads took the root form hashes its seal
    list, and the person's view of it still shows the others' hashes: it verifies."""
    (mine, _), (other, _) = world.subject(), world.subject()
    old = chain_before_seal_roots(world.service.runtime, Entry(
        action=AuditAction.AUDIT_READ, actor=world.reviewer, subjects=[mine, other],
        details={"view": "/review/subjects", "filters": {}, "lists": {"audit_events": 0},
                 "returned": 0}))
    assert world.service.verify_audit().ok
    export = world.service.export(actor=world.reviewer, subject=mine)
    shown = _read_shown(export, old)
    assert shown.seal_root is None and len(shown.subject_seals or ()) == 2
    report = _verdict(world, export)
    assert report.ok and report.anchored and all(v.holds for v in report.events), report


def test_an_edit_to_the_hidden_seal_list_or_a_redacted_detail_fails_the_log(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    _three_candidates(world, portrait_jpegs[0], flipped_jpegs[0])
    seq = _search_seq(world)
    edits = (
        lambda row: {"subject_seals": row.subject_seals[:-1]},  # a candidate taken out, salt too
        lambda row: {"subject_seals": [*row.subject_seals[:-1], {
            "hash": row.subject_seals[-1]["hash"][::-1], "salt": None}]},  # another's seal
        lambda row: {"details": {**row.details, "k": row.details["k"] + 1}},
        lambda row: {"details": {**row.details, audit_seal_tree.SALT: "00" * 16}},
    )
    for edit in edits:
        with world.service.runtime.db.transaction() as session:
            row = session.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).one()
            kept = {"subject_seals": row.subject_seals, "details": row.details,
                    "subjects": row.subjects}
            changed = edit(row)
            if "subject_seals" in changed:  # the pseudonyms as the seals left say
                changed["subjects"] = row.subjects[:len(changed["subject_seals"])]
            for name, value in changed.items():
                setattr(row, name, value)
        found = world.service.verify_audit()
        assert not found.ok and found.first_bad_sequence == seq, found
        with world.service.runtime.db.transaction() as session:
            row = session.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).one()
            for name, value in kept.items():
                setattr(row, name, value)
        assert world.service.verify_audit().ok


def _search_seq(world: World) -> int:
    with world.service.runtime.db.reading() as session:
        return int(session.scalars(select(AuditEvent.seq).where(
            AuditEvent.action == AuditAction.IDENTIFY).order_by(AuditEvent.seq.desc())).first()
            or 0)


def test_an_edit_to_the_shown_seal_its_path_or_the_root_fails_the_export(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    mine, _ = _three_candidates(world, portrait_jpegs[0], flipped_jpegs[0])
    export = world.service.export(actor=world.reviewer, subject=mine).model_dump(mode="json")
    seq = max(e["seq"] for e in export["events"] if e["action"] == "identify")

    def shown(document: dict[str, Any]) -> dict[str, Any]:
        [event] = [e for e in document["events"] if e["seq"] == seq]
        return event

    def sibling_swapped(event: dict[str, Any]) -> None:
        event["seal_proof"] = [event["seal_proof"][1], event["seal_proof"][0],
                               *event["seal_proof"][2:]]

    def path_cut(event: dict[str, Any]) -> None:
        event["seal_proof"] = event["seal_proof"][:-1]

    def root_changed(event: dict[str, Any]) -> None:
        event["seal_root"] = event["seal_root"][::-1]

    def seal_added(event: dict[str, Any]) -> None:
        event["subject_seals"].append({"hash": "ab" * 32, "salt": None})

    for edit in (sibling_swapped, path_cut, root_changed, seal_added):
        edited = {**export, "events": [dict(e) for e in export["events"]]}
        event = shown(edited)
        event["seal_proof"], event["subject_seals"] = list(event["seal_proof"]), [
            dict(s) for s in event["subject_seals"]]
        edit(event)
        report = _verdict(world, edited)
        assert report.problem is not None and report.problem.sequence == seq, (edit, report)


@both_backends
def test_an_erasure_of_another_candidate_leaves_the_persons_export_and_the_log_verifying(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    mine, (erased, _) = _three_candidates(world, portrait_jpegs[0], flipped_jpegs[0])
    before = _search(world.service.export(actor=world.reviewer, subject=mine))
    world.service.erase(actor=world.people[erased].actor, subject=erased,
                        reason=ErasureReason.REQUEST)
    row = _row(world, before.seq)
    assert erased not in row.subjects and [s["salt"] for s in row.subject_seals or ()].count(
        None) == 1
    assert world.service.verify_audit().ok
    export = world.service.export(actor=world.reviewer, subject=mine)
    after = _search(export)
    assert (after.seal_root, after.seal_proof) == (before.seal_root, before.seal_proof)
    report = _verdict(world, export)
    assert report.ok and report.anchored and all(v.holds for v in report.events), report


@both_backends
def test_a_search_of_the_form_before_seal_roots_keeps_its_form_and_verifies(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """An identify chained as between commitments and seal roots (its seal list hashed),
    then one of the new form: the log, its whole export and the person's export verify."""
    mine = world.enrolled(portrait_jpegs[0])
    runtime = world.service.runtime
    old = chain_before_seal_roots(runtime, Entry(
        action=AuditAction.IDENTIFY, actor=world.researcher, outcome="candidates",
        subjects=[mine, "someone-else"], details={"k": 5, "gallery_size": 2,
                                                   "decision_use": False}))
    world.identify(flipped_jpegs[0])
    assert world.service.verify_audit().ok
    with runtime.db.reading() as session:
        whole = read_export("[" + ",".join(
            ExportedEvent.model_validate(row).model_dump_json()
            for row in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))) + "]")
    assert verify_export(whole, verifier=runtime.log.signer.verifier).problem is None
    export = world.service.export(actor=world.reviewer, subject=mine)
    [shown] = [e for e in export.events if e.seq == old]
    assert shown.seal_root is None and shown.redacted is not None
    assert len(shown.subject_seals or ()) == 2  # as before: the other's hash, no salt
    assert _search(export).seal_root is not None
    report = _verdict(world, export)
    assert report.ok and report.anchored and all(v.holds for v in report.events), report
