"""``optinface audit verify-export``: an auditor holding only the JSON export, the published key
and a checkpoint they kept checks the log, with no data directory.

The files are the deployment's own answers over HTTP (``GET /v1/audit/export``,
``POST /v1/audit/checkpoints``, ``/.well-known/optinface-keys.json``); each tampering is done on
the JSON as someone handing the file on could. Each test was seen failing against the weakened
check it guards against.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.consent.audit import GENESIS, event_hash, event_leaf
from optinface.consent.merkle import MerkleTree
from optinface.consent.notes import Checkpoint, Signer, Verifier
from optinface.consent.roles import Role
from optinface.consent.schemas import AuditEventPublic
from optinface.engine.pipeline import FacePipeline
from tests.support.api import auth, deployment
from tests.support.consent import FakeClock
from tests.support.console import console
from tests.support.files import file_bytes

runner = CliRunner()
Events = list[dict[str, Any]]


@dataclass(frozen=True)
class Saved:
    """What the auditor was handed, each file as the deployment answered it."""

    folder: Path
    vkey: str
    checkpoint: Path  # kept after the subjects and keys were made, before the exports
    whole: Path  # the unfiltered JSON export, after the checkpoint
    later: Path  # a checkpoint taken after the export: it covers more events
    again: Path  # the unfiltered JSON export, right after that checkpoint
    filtered: Path  # ?action=key_created
    csv: Path
    pruned: Path  # an export half a year on, once retention emptied the access events
    data_dir: Path  # the deployment's, beside its key store (closed)

    def events(self, path: Path | None = None) -> Events:
        loaded: Events = json.loads((path or self.whole).read_text())
        return loaded


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline) -> Iterator[Saved]:
    root = tmp_path_factory.mktemp("export")
    folder = root / "auditor"
    folder.mkdir()
    clock = FakeClock(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
    with deployment(root, pipeline, clock=clock,
                    access_log_retention_days=183) as (settings, service, client, keys):
        reviewer, admin = auth(keys.reviewer), auth(keys.admin)

        def keep(name: str, path: str, method: str = "GET", **params: str) -> Path:
            answer = client.request(method, path, params=params, headers=reviewer)
            assert answer.status_code == 200, answer.text
            (folder / name).write_bytes(answer.content)
            return folder / name

        made = [client.post("/v1/subjects", json={"age_category": "adult"},
                            headers=auth(keys.portal)).json()["pseudonym"] for _ in range(3)]
        assert client.delete(f"/v1/subjects/{made[0]}", headers=admin).status_code == 200
        checkpoint = keep("checkpoint.json", "/v1/audit/checkpoints", "POST")
        for number in range(3):
            service.create_api_key(actor=service.authenticate(keys.admin), role=Role.REVIEWER,
                                   name=f"after the checkpoint {number}")
        whole = keep("audit.json", "/v1/audit/export", format="json")
        later = keep("later.json", "/v1/audit/checkpoints", "POST")
        signed = checkpoint_rows(settings.data_dir)
        again = keep("again.json", "/v1/audit/export", format="json")
        assert checkpoint_rows(settings.data_dir) == signed, "the head was signed already"
        filtered = keep("filtered.json", "/v1/audit/export", format="json",
                        action="key_created")
        csv = keep("audit.csv", "/v1/audit/export", format="csv")
        clock.advance(days=184)
        service.sweep()  # the reads of the log above are access events: emptied
        pruned = keep("pruned.json", "/v1/audit/export", format="json")
        [vkey] = [key["verifier_key"] for key in
                  client.get("/.well-known/optinface-keys.json").json()["keys"]
                  if key["verifier_key"]]
    yield Saved(folder=folder, vkey=vkey, checkpoint=checkpoint, whole=whole, later=later,
                again=again, filtered=filtered, csv=csv, pruned=pruned, data_dir=settings.data_dir)


def checkpoint_rows(data_dir: Path) -> int:
    with closing(sqlite3.connect(data_dir / "optinface.db")) as db:
        counted: int = db.execute("SELECT count(*) FROM audit_checkpoints").fetchone()[0]
        return counted


def verify_export(saved: Saved, file: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify-export", str(file), "--public-key",
                                 saved.vkey, *extra])
    return result.exit_code, result.output


def written(tmp_path: Path, events: Events) -> Path:
    path = tmp_path / "handed-on.json"
    path.write_text(json.dumps(events))
    return path


def rehashed(event: dict[str, Any]) -> None:
    """Give ``event`` the hash its content now has, as a forger would (``event_hash``)."""
    event["hash"] = event_hash(AuditEventPublic.model_validate(event))


def test_a_whole_export_verifies_against_a_checkpoint_and_writes_nothing(
    saved: Saved, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no data directory anywhere: none may be made here
    before = file_bytes(saved.folder, tmp_path)
    code, output = verify_export(saved, saved.whole, "--against", str(saved.checkpoint))
    events = saved.events()
    assert code == 0, output
    # It carries a checkpoint signed at its own last event (red team 7, #1: it carried the
    # newest one existing, the events after it resting on their chain alone), which the export
    # and the published key alone then check, and which signs every event of it.
    [carrier] = [event for event in events if "checkpoint" in event]
    assert carrier is events[-1]
    assert carrier["checkpoint"] != json.loads(saved.checkpoint.read_text())["note"]
    assert verify_export(saved, saved.whole)[1].startswith(
        f"audit export OK: {len(events)} events, the whole log from event 1, 1 checkpoints"
        " covered; root ")
    assert output.startswith(f"audit export OK: {len(events)} events, the whole log from event"
                             " 1, 2 checkpoints covered; root "), output
    verdict, signed, seals = output.splitlines()
    assert verdict.endswith(f"; key {saved.vkey}"), output
    assert signed == (f"signed: events 1-{len(events)} (to {carrier['at']}) by the checkpoint"
                      f" the export carries at event {len(events)}"), output
    assert seals.startswith("keyed seals: NOT checked, no key store at "), output
    assert file_bytes(saved.folder, tmp_path) == before and not list(tmp_path.iterdir())
    # The export holds an erasure, its seals forgotten, and events naming living subjects.
    assert any(e["action"] == "erase" for e in events)
    assert any(s["salt"] is None for e in events for s in e["subject_seals"] or ())
    assert any(s["salt"] for e in events for s in e["subject_seals"] or ())


def _edit(events: Events) -> None:
    events[4]["outcome"] = "nothing happened"


def _delete(events: Events) -> None:
    del events[5]


def _reorder(events: Events) -> None:
    events[3], events[4] = events[4], events[3]


def _rehash_one(events: Events) -> None:
    _edit(events)
    rehashed(events[4])


def _rename_a_subject(events: Events) -> None:
    """A pseudonym is covered through its seal only: the seal no longer opens it."""
    named = next(e for e in events if e["subjects"])
    named["subjects"] = ["subj_" + "0" * 32]


def _forget_a_salt(events: Events) -> None:
    """A person's pseudonym removed with its salt, the seal hash kept: what an erasure does,
    with no erasure's event listing the seal."""
    named = next(e for e in reversed(events) if e["subjects"] and e["action"] != "erase")
    named["subjects"], named["subject_seals"] = [], [
        {"hash": s["hash"], "salt": None} for s in named["subject_seals"]]


def _hide_an_edit_behind_a_kept_leaf(events: Events) -> None:
    """A key's creation marked pruned with its true leaf: its content is no longer hashed."""
    event = events[4]
    event["pruned_leaf"] = event_leaf(AuditEventPublic.model_validate(event)).hex()
    _edit(events)


def _repeat(events: Events) -> None:
    events.insert(5, events[5])


def _number_from_zero(events: Events) -> None:
    events[0]["seq"] = 0


def _keep_a_leaf_that_is_no_hash(events: Events) -> None:
    events[4]["pruned_leaf"] = "not hex"


def _salt_that_is_no_hex(events: Events) -> None:
    named = next(e for e in events if e["subjects"])
    named["subject_seals"][0]["salt"] = "not hex"


@pytest.mark.parametrize(("tamper", "verdict"), [
    (_edit, "BROKEN at sequence 5: event 5 differs from its hash (edited)"),
    (_delete, "BROKEN at sequence 6: event 6 is missing (deleted, or the export was filtered)"),
    (_reorder, "BROKEN at sequence 4: event 4 comes after event 5 in the export (reordered)"),
    (_rehash_one, "BROKEN at sequence 6: event 6 does not link to event 5 (inserted, reordered"
                  " or rewritten)"),
    (_rename_a_subject, "names subjects its seals do not commit to (edited)"),
    (_forget_a_salt, "lost a subject's pseudonym that no erasure forgot (edited)"),
    (_hide_an_edit_behind_a_kept_leaf, "BROKEN at sequence 5: event 5 is marked pruned but is"
                                       " not an emptied access event (edited)"),
    # Crafted values are findings, not tracebacks.
    (_repeat, "BROKEN at sequence 6: event 6 appears twice"),
    (_number_from_zero, "BROKEN at sequence 0: event 0: the log numbers its events from 1"),
    (_keep_a_leaf_that_is_no_hash, "BROKEN at sequence 5: event 5 keeps a pruned leaf that is"
                                   " not a hash (edited)"),
    (_salt_that_is_no_hex, "names subjects its seals do not commit to (edited)"),
])
def test_a_tampered_export_is_broken_at_its_first_problem(
    saved: Saved, tmp_path: Path, tamper: Callable[[Events], None], verdict: str
) -> None:
    events = saved.events()
    tamper(events)
    code, output = verify_export(saved, written(tmp_path, events),
                                 "--against", str(saved.checkpoint))
    assert code == 1 and output.startswith("audit export ") and verdict in output, output
    assert output.count("\n") == 1


def _rechained(events: Events) -> Events:
    """An edit, and every event chained again with the project's own hash, as a forger would:
    the links all hold."""
    _edit(events)
    previous = GENESIS
    for event in events:
        event["prev_hash"] = previous
        rehashed(event)
        previous = event["hash"]
    return events


def test_an_export_alone_is_held_by_the_checkpoint_it_carries_and_never_ok_unanchored(
    saved: Saved, tmp_path: Path
) -> None:
    """Red team 4, #8: a forger re-chains the export. The note the export carries catches it;
    stripped of that note, with no checkpoint given and no key store, the export is NOT
    ANCHORED (exit 3), never OK as it was."""
    events = _rechained(saved.events())
    [carrier] = [event for event in events if "checkpoint" in event]
    code, output = verify_export(saved, written(tmp_path, events))
    assert (code, output) == (1, f"audit export BROKEN at sequence {carrier['seq']}: events"
                                 f" 1-{carrier['seq']} are not those signed in the checkpoint"
                                 f" the export carries at event {carrier['seq']} (rewritten)\n")
    del carrier["checkpoint"]
    code, output = verify_export(saved, written(tmp_path, events))
    assert code == 3, output  # nothing signed to hold it to: consistent, but not anchored
    verdict, signed, seals = output.splitlines()
    assert verdict.startswith(f"audit export NOT ANCHORED: {len(events)} events match their"
                              " hashes and links, but no signed checkpoint covers them"), output
    assert signed == (f"signed: events 1-{len(events)} (to {events[-1]['at']}) by their chain"
                      " only"), output
    assert seals.startswith("keyed seals: NOT checked, no key store at "), output


def test_an_export_ends_at_the_checkpoint_it_signed_or_at_one_already_there(
    saved: Saved) -> None:
    """Red team 7, #1: the export carried the checkpoint at 41 of its 45 events. Taken right
    after a checkpoint was signed at the log's head, it carries that one and signs no other
    (the fixture counts the rows)."""
    later = json.loads(saved.later.read_text())
    events = saved.events(saved.again)
    assert (events[-1]["seq"], events[-1]["checkpoint"]) == (later["seq"], later["note"])
    assert [event["seq"] for event in events if "checkpoint" in event] == [later["seq"]]
    code, output = verify_export(saved, saved.again)
    assert code == 0 and f"signed: events 1-{later['seq']} (to " in output, output


def _old_note_on_a_rechained_export(saved: Saved) -> tuple[Events, int]:
    """The red team's forge (``forge_export.py``): the note the export carries dropped, an
    older checkpoint's (the one kept, at event ``size``) put on its event, an event after it
    deleted, a key renamed and every event after ``size`` numbered and chained again with the
    project's own hash. The forged events and ``size``."""
    note = json.loads(saved.checkpoint.read_text())
    size = int(note["seq"])
    events = saved.events()
    for event in events:
        event.pop("checkpoint", None)
    events[size - 1]["checkpoint"] = note["note"]
    del events[size + 1]
    renamed = next(e for e in events[size:] if e["action"] == "key_created")
    renamed["details"]["name"] = "ethics board audit key"
    for number, event in enumerate(events[size:], size + 1):
        event["seq"], event["prev_hash"] = number, events[number - 2]["hash"]
        rehashed(event)
    return events, size


def test_an_old_note_on_a_rechained_export_is_not_anchored_and_names_the_unsigned_events(
    saved: Saved, tmp_path: Path
) -> None:
    """Red team 7, #1: it said ``audit export OK`` (exit 0): the old note holds the events up
    to it, and those after it rested on their chain alone, which a forger makes. Now exit 3,
    naming which events a checkpoint signed and which only their chain holds; beside the key
    store, the first rewritten event's keyed seal names the forgery."""
    events, size = _old_note_on_a_rechained_export(saved)
    forged = written(tmp_path, events)
    last = len(events)
    code, output = verify_export(saved, forged)
    assert code == 3, output
    verdict, signed, seals = output.splitlines()
    assert verdict.startswith(f"audit export NOT ANCHORED: events {size + 1}-{last} lie past the"
                              f" newest signed checkpoint (at event {size}) and no keyed seal"
                              f" was checked: an export rewritten from event {size + 1}"), output
    assert signed == (f"signed: events 1-{size} (to {events[size - 1]['at']}) by the checkpoint"
                      f" the export carries at event {size}; events {size + 1}-{last} (to"
                      f" {events[-1]['at']}) by their chain only"), output
    assert seals.startswith("keyed seals: NOT checked, no key store at "), output
    # The kept checkpoint the note came from changes nothing: it is as old.
    assert verify_export(saved, forged, "--against", str(saved.checkpoint))[0] == 3
    code, output = verify_export(saved, forged, "--data-dir", str(saved.data_dir))
    assert code == 1 and output.startswith(f"audit export BROKEN at sequence {size + 1}: "), output
    assert "[keyed_seal_invalid]" in output


def test_the_console_script_exits_3_on_the_forge_and_0_on_the_true_export(
    saved: Saved, tmp_path: Path
) -> None:
    """The command an auditor runs, as a process of its own (no data directory where it runs)."""
    events, size = _old_note_on_a_rechained_export(saved)

    def run(file: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "optinface.api.cli.main", "audit",
                               "verify-export", str(file), "--public-key", saved.vkey],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120,
                              check=False)

    forged = run(written(tmp_path, events))
    assert forged.returncode == 3 and forged.stdout == "", forged
    assert f"events {size + 1}-{len(events)} lie past the newest signed checkpoint" in (
        forged.stderr), forged
    true = run(saved.whole)
    assert true.returncode == 0 and true.stderr == "", true
    assert f"\nsigned: events 1-{len(saved.events())} (to " in true.stdout, true


def test_a_rewritten_chain_with_every_hash_recomputed_is_caught_by_the_checkpoint(
    saved: Saved, tmp_path: Path
) -> None:
    events = _rechained(saved.events())
    for event in events:  # the note it carries stripped: a checkpoint kept apart catches it
        event.pop("checkpoint", None)
    path = written(tmp_path, events)
    size = int(json.loads(saved.checkpoint.read_text())["seq"])
    code, output = verify_export(saved, path, "--against", str(saved.checkpoint))
    assert (code, output) == (1, f"audit export BROKEN at sequence {size}: events 1-{size} are"
                                 f" not those signed in {saved.checkpoint} (rewritten)\n")


def test_a_checkpoint_signed_by_another_key_is_not_one(saved: Saved, tmp_path: Path) -> None:
    """The forger names the deployment's log and signs the export's true root with a key of
    their own: the signature line is not the published key's."""
    events = saved.events()
    ours = Verifier.parse(saved.vkey)
    forger = Signer(name=ours.name, key=Ed25519PrivateKey.generate())
    leaves = [event_leaf(AuditEventPublic.model_validate(e)) for e in events]
    note = forger.sign(Checkpoint(origin=ours.name, size=len(events),
                                  root=MerkleTree(leaves).root()).text())
    forged = tmp_path / "forged.note"
    forged.write_text(note)
    code, output = verify_export(saved, saved.whole, "--against", str(forged))
    assert (code, output) == (1, f"audit export BROKEN: {forged} is not a checkpoint signed by"
                                 f" the pinned key (no signature by {ours.name}+"
                                 f"{ours.key_hash.hex()})\n")


def test_a_checkpoint_covering_more_events_than_the_export_is_broken(saved: Saved) -> None:
    """Signed after the export was taken, or the export's tail was cut: either way the file
    does not hold what the deployment signed."""
    held = len(saved.events())
    size = int(json.loads(saved.later.read_text())["seq"])
    code, output = verify_export(saved, saved.whole, "--against", str(saved.later))
    assert (code, output) == (1, f"audit export BROKEN at sequence {held + 1}: {saved.later}"
                                 f" covers {size} events but the export holds {held} (truncated"
                                 " or emptied)\n")


def test_a_filtered_export_is_checked_event_by_event_and_says_checkpoints_were_not(
    saved: Saved, tmp_path: Path
) -> None:
    events = saved.events(saved.filtered)
    assert {e["action"] for e in events} == {"key_created"} and events[0]["seq"] > 1
    code, output = verify_export(saved, saved.filtered, "--filtered",
                                 "--against", str(saved.checkpoint), "--data-dir",
                                 str(saved.data_dir))
    assert (code, output.splitlines()[0]) == (
        0, f"audit export OK (filtered): {len(events)} events each match their hash, and their"
           " predecessor's where the export holds it; checkpoints cannot be checked on a"
           " filtered export (1 given, not checked)"), output
    # Without the key store nothing signed holds a filtered export: not anchored (red team 4,
    # #8), whatever checkpoints were given.
    code, output = verify_export(saved, saved.filtered, "--filtered",
                                 "--against", str(saved.checkpoint))
    assert code == 3 and output.startswith("audit export NOT ANCHORED: "), output
    # Taken for the whole log, its gaps are deletions.
    code, output = verify_export(saved, saved.filtered)
    assert code == 1 and "BROKEN at sequence 1: event 1 is missing (deleted, or the export was"\
                         " filtered)" in output, output
    # Event by event: an edit, even with its own hash recomputed, is still found.
    _edit(events)
    assert verify_export(saved, written(tmp_path, events), "--filtered")[1].startswith(
        f"audit export BROKEN at sequence {events[4]['seq']}: event {events[4]['seq']} differs")
    events = saved.events(saved.filtered)
    # The keys made at start mostly follow one another (the start's sweep may come between).
    at = next(i for i in range(len(events) - 1) if events[i + 1]["seq"] == events[i]["seq"] + 1)
    first, second = events[at]["seq"], events[at + 1]["seq"]
    events[at]["outcome"] = "nothing happened"
    rehashed(events[at])
    code, output = verify_export(saved, written(tmp_path, events), "--filtered")
    assert code == 1 and f"event {second} does not link to event {first}" in output, output


def test_a_filtered_export_checks_the_keyed_seals_it_can_with_the_key_store(
    saved: Saved, tmp_path: Path
) -> None:
    """A filtered export that leaves out ``log_seals_adopted`` cannot tell an event without a
    seal from one from before keyed seals: it says how many it did not judge; a seal that is
    there but not the key store's is named."""
    events = saved.events(saved.filtered)
    with_key = ("--filtered", "--data-dir", str(saved.data_dir))
    code, output = verify_export(saved, saved.filtered, *with_key)
    assert code == 0 and output.endswith("keyed seals: every event's checked with the key"
                                         " store\n"), output
    events[1]["keyed_seal"] = None
    code, output = verify_export(saved, written(tmp_path, events), *with_key)
    assert code == 0 and output.endswith(
        "keyed seals: checked with the key store where an event carries one; 1 carry none,"
        " which this filtered export cannot tell from events from before keyed seals (it"
        " leaves out log_seals_adopted)\n"), output
    events[1]["keyed_seal"] = events[0]["keyed_seal"]  # another event's seal
    code, output = verify_export(saved, written(tmp_path, events), *with_key)
    assert code == 1 and output.startswith(f"audit export BROKEN at sequence {events[1]['seq']}:"
                                           ), output
    assert "[keyed_seal_invalid]" in output


def test_an_export_with_pruned_access_events_verifies_by_their_kept_leaves(
    saved: Saved, tmp_path: Path
) -> None:
    events = saved.events(saved.pruned)
    pruned = [e for e in events if e["pruned_leaf"]]
    assert pruned and all(e["action"] == "audit_read" and not e["details"] for e in pruned)
    # Retention empties only what a signed checkpoint covers: the later one signed a kept leaf.
    assert pruned[0]["seq"] <= json.loads(saved.later.read_text())["seq"]
    code, output = verify_export(saved, saved.pruned, "--against", str(saved.checkpoint),
                                 "--against", str(saved.later))
    assert code == 0 and "3 checkpoints covered" in output, output  # and the one it carries
    code, output = verify_export(saved, saved.pruned, "--data-dir", str(saved.data_dir))
    assert code == 0 and output.endswith("keyed seals: every event's checked with the key"
                                         " store\n"), output  # an emptied event keeps its seal
    # Each emptied event is named by the run's record (consent.prune_records), after it.
    [record] = [e for e in events if e["action"] == "log_pruned"]
    assert all(any(a <= e["seq"] <= b for a, b in record["details"]["ranges"])
               and e["seq"] < record["seq"] for e in pruned)
    pruned[0]["pruned_leaf"] = "00" * 32  # the leaf the signed checkpoint committed to, edited
    code, output = verify_export(saved, written(tmp_path, events), "--against", str(saved.later))
    assert code == 1 and "(rewritten)" in output, output


DEEP_JSON = "[" * 100_000 + "]" * 100_000  # deeper than Python's JSON parser recurses


@pytest.mark.parametrize(("content", "why"), [
    ("not json", "not a JSON export of the audit log (Expecting value"),
    ("", "not a JSON export of the audit log (Expecting value"),
    (DEEP_JSON, "not a JSON export of the audit log (maximum recursion depth"),
    ('[{"seq": 1, "outcome": "\\ud800"}]', "not a JSON export of the audit log ('utf-8' codec"),
    ('{"events": []}', "not an export of the audit log: at the top: Input should be a valid"
                       " list"),
    ("[]", "the export holds no event"),
    ('[{"seq": "1"}]', "not an export of the audit log: at 0 seq: Input should be a valid"
                       " integer"),
])
def test_a_file_that_is_no_json_export_is_unusable_in_one_line(
    saved: Saved, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], content: str, why: str
) -> None:
    path = tmp_path / "given.json"
    path.write_text(content)
    code, lines = console(monkeypatch, capsys, "audit", "verify-export", str(path),
                          "--public-key", saved.vkey)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"refused: unreadable_file: {path}: {why}"), lines


def test_the_csv_export_is_for_reading_not_verifying(
    saved: Saved, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = console(monkeypatch, capsys, "audit", "verify-export", str(saved.csv),
                          "--public-key", saved.vkey)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].endswith("only the JSON export is verified, the CSV is for reading"), lines


def test_a_file_that_is_not_text_is_unusable_naming_the_byte(saved: Saved,
                                                            tmp_path: Path) -> None:
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\x87\xff" + os.urandom(98))
    code, output = verify_export(saved, binary)
    assert (code, output) == (2, f"refused: unreadable_file: {binary}: not a JSON export of the"
                                 " audit log (not UTF-8 text: byte 0)\n")


def test_a_key_or_checkpoint_file_that_cannot_be_used_is_refused_not_a_verdict(
    saved: Saved, tmp_path: Path
) -> None:
    answer = runner.invoke(app, ["audit", "verify-export", str(saved.whole),
                                 "--public-key", base64.b64encode(b"k" * 32).decode()])
    assert answer.exit_code == 2, answer.output
    assert answer.output.startswith("refused: invalid_request: unusable --public-key: "), (
        answer.output)
    no_note = tmp_path / "receipt.json"
    no_note.write_text(json.dumps({"receipt": {"a": 1}, "signature": "AAAA"}))
    code, output = verify_export(saved, saved.whole, "--against", str(no_note))
    assert (code, output) == (2, f"refused: unreadable_file: {no_note}: no signed checkpoint in"
                                 " this file (a receipt is not one)\n")
