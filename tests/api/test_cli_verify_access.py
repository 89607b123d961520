"""``optinface audit verify-access``: a person checks their access export with the published
key alone, the searches that named them included (red team 7, #4), on SQLite and PostgreSQL.

The command runs where no data directory is (in a process of its own in the first test, in
this process as the console script runs it in the others). A search with three
candidates shows the person's seal alone and verifies (exit 0), before and after another
candidate's erasure, and so does a reviewer's read naming three people. An altered public field
of a redacted event, an altered commitment, an altered proof, an altered path to the seal root
(a search's or a read's) or a seal added beside the person's fails (exit 1), and so does a
checkpoint signed by another key; an export without its checkpoint, or with an event it marks
not checkable, is NOT ANCHORED (exit 3); a file that is not JSON is unreadable (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from optinface.consent import audit_seal_tree
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.audit_verify import NOT_CHECKABLE
from optinface.consent.notes import Checkpoint, Signer, Verifier
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from tests.support.api import World, auth
from tests.support.backends import on_both_backends
from tests.support.consent import chain_before_commitments
from tests.support.console import in_process

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

Export = dict[str, Any]


def _published(world: World) -> str:
    [vkey] = [key["verifier_key"] for key in
              world.client.get("/.well-known/optinface-keys.json").json()["keys"]
              if key["verifier_key"]]
    return str(vkey)


def _searched_export(world: World, portrait_jpegs: list[bytes]) -> Export:
    """The person's own export after a 1:N search that named them."""
    world.enrolled_and_identified(portrait_jpegs[0])
    return _own_export(world)


Verify = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def verify(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Verify:
    """``optinface audit verify-access`` on an export saved in an empty folder, with the
    published key unless ``key``: run as the console script runs it, in this process
    (:func:`tests.support.console.in_process`; the first test below runs it in a process of
    its own)."""
    monkeypatch.chdir(tmp_path)  # where no data directory is

    def run(export: Export | str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        return in_process(monkeypatch, capsys, *_arguments(world, tmp_path, export, key))
    return run


def _arguments(world: World, tmp_path: Path, export: Export | str,
               key: str | None = None) -> list[str]:
    file = tmp_path / "my-data.json"
    file.write_text(export if isinstance(export, str) else json.dumps(export))
    return ["audit", "verify-access", str(file), "--public-key", key or _published(world)]


def _identify(export: Export) -> Export:
    [search] = [e for e in export["events"] if e["action"] == "identify"]
    return search


def test_an_export_with_the_identify_naming_the_person_verifies(
    world: World, portrait_jpegs: list[bytes], tmp_path: Path
) -> None:
    """In a process of its own, where no data directory is, as the person runs it."""
    export = _searched_export(world, portrait_jpegs)
    search = _identify(export)
    assert search["redacted"] and "scores" not in search["details"]
    done = subprocess.run([sys.executable, "-m", "optinface.api.cli.main",
                           *_arguments(world, tmp_path, export)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 0 and done.stderr == "", done
    assert done.stdout.startswith(f"access export OK: {len(export['events'])} events hold"), done
    assert (f"event {search['seq']}: OK: its hash holds (its redacted details by their"
            " commitment); in the signed checkpoint") in done.stdout, done


def _public_field(export: Export) -> None:
    _identify(export)["details"]["decision_use"] = True


def _commitment(export: Export) -> None:
    search = _identify(export)
    search["redacted"] = search["redacted"][::-1]


def _proof(export: Export) -> None:
    seq = _identify(export)["seq"]
    [proof] = [p for p in export["inclusion_proofs"] if p["seq"] == seq]
    proof["audit_path"] = proof["audit_path"][::-1] if len(proof["audit_path"]) > 1 else []


@pytest.mark.parametrize("alter", [_public_field, _commitment, _proof])
def test_an_altered_redacted_event_or_its_proof_fails(
    world: World, portrait_jpegs: list[bytes], verify: Verify, alter: Callable[[Export], None]
) -> None:
    export = _searched_export(world, portrait_jpegs)
    alter(export)
    done = verify(export)
    seq = _identify(export)["seq"]
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr.startswith(f"access export BROKEN at sequence {seq}: event {seq} "), done
    assert f"\nevent {seq}: FAILS: " in done.stderr, done


def _three_candidates(world: World, portrait_jpegs: list[bytes]) -> tuple[list[str], Export]:
    """Two more people enrolled with the world's subject's face, then one search finding all
    three: the two others, and the world's subject's own export."""
    others = []
    for _ in range(2):
        other, _token = world.new_subject()
        world.enrol(other, world.consent(other), portrait_jpegs[0])
        others.append(other)
    assert len(world.enrolled_and_identified(portrait_jpegs[0]).json()["candidates"]) == 3
    return others, _own_export(world)


def _own_export(world: World) -> Export:
    answer = world.client.get(f"/v1/subjects/{world.subject}/export",
                              headers=auth(world.subject_token))
    assert answer.status_code == 200, answer.text
    export: Export = answer.json()
    return export


def test_a_search_with_three_candidates_shows_the_persons_seal_alone_and_verifies(
    world: World, portrait_jpegs: list[bytes], verify: Verify
) -> None:
    others, export = _three_candidates(world, portrait_jpegs)
    search = _identify(export)
    assert search["subjects"] == [world.subject] and len(search["subject_seals"]) == 1
    assert search["seal_root"] and len(search["seal_proof"]) == audit_seal_tree.DEPTH
    assert not [other for other in others if other in json.dumps(export)]
    done = verify(export)
    assert done.returncode == 0 and done.stderr == "", done
    assert f"event {search['seq']}: OK: " in done.stdout, done


@pytest.mark.parametrize("alter", ["seal_proof", "subject_seals"])
def test_an_edit_to_the_path_or_the_shown_seal_fails(
    world: World, portrait_jpegs: list[bytes], verify: Verify, alter: str
) -> None:
    """The path folds the person's own seal to the root the event's hash covers: another
    sibling, or another seal shown beside theirs, is an edit (exit 1)."""
    _, export = _three_candidates(world, portrait_jpegs)
    search = _identify(export)
    if alter == "seal_proof":
        search["seal_proof"][0] = search["seal_proof"][0][::-1]
    else:
        search["subject_seals"].append({"hash": "ab" * 32, "salt": None})
    done = verify(export)
    seq = search["seq"]
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr.startswith(f"access export BROKEN at sequence {seq}: event {seq} "), done


def test_an_erasure_of_another_candidate_leaves_the_persons_export_verifying(
    world: World, portrait_jpegs: list[bytes], verify: Verify
) -> None:
    (erased, _), before = _three_candidates(world, portrait_jpegs)
    gone = world.client.delete(f"/v1/subjects/{erased}", headers=auth(world.keys.admin))
    assert gone.status_code == 200, gone.text
    export = _own_export(world)
    assert _identify(export)["seal_root"] == _identify(before)["seal_root"]
    done = verify(export)
    assert done.returncode == 0 and done.stderr == "", done


@pytest.mark.parametrize("alter", [None, "seal_proof"])
def test_a_read_naming_three_people_shows_the_persons_seal_alone_and_verifies(
    world: World, service: OptinFace, verify: Verify, alter: str | None
) -> None:
    """One reviewer's page reading the events of the person and two others: one
    ``audit_read`` naming the three, which the person's export shows with their own seal and
    its path alone (exit 0); another sibling on the path is an edit (exit 1)."""
    others = [world.new_subject()[0] for _ in range(2)]
    reviewer = service.authenticate(world.keys.reviewer)
    with service.reading(actor=reviewer, view="/review/subjects") as reads:
        for subject in (world.subject, *others):
            service.audit_events(actor=reviewer, filters=AuditFilter(subject=subject),
                                 reads=reads)
    export = _own_export(world)
    [read] = [e for e in export["events"] if e["action"] == "audit_read"
              and e["details"].get("view") == "/review/subjects"][-1:]
    assert read["subjects"] == [world.subject] and len(read["subject_seals"]) == 1
    assert read["seal_root"] and len(read["seal_proof"]) == audit_seal_tree.DEPTH
    assert not [other for other in others if other in json.dumps(export)]
    if alter is not None:
        read[alter][0] = read[alter][0][::-1]
    done = verify(export)
    seq = read["seq"]
    if alter is None:
        assert done.returncode == 0 and done.stderr == "", done
        assert f"event {seq}: OK: " in done.stdout, done
    else:
        assert done.returncode == 1 and done.stdout == "", done
        assert done.stderr.startswith(f"access export BROKEN at sequence {seq}: "), done


def test_a_checkpoint_signed_by_another_key_fails(
    world: World, portrait_jpegs: list[bytes], verify: Verify
) -> None:
    """The forger signs the export's true tree head with a key of their own, under the
    deployment's name: not the published key's signature (exit 1)."""
    export = _searched_export(world, portrait_jpegs)
    ours = Verifier.parse(_published(world))
    body = export["checkpoint"]["note"].split("\n\n")[0] + "\n"
    checkpoint = Checkpoint.parse(body)
    forger = Signer(name=ours.name, key=Ed25519PrivateKey.generate())
    export["checkpoint"]["note"] = forger.sign(Checkpoint(
        origin=checkpoint.origin, size=checkpoint.size, root=checkpoint.root).text())
    done = verify(export)
    assert done.returncode == 1, done
    assert done.stderr.startswith("access export BROKEN: the checkpoint the export carries is"
                                  " not signed by the given key"), done


def test_an_export_without_its_checkpoint_is_not_anchored_and_a_non_json_file_unreadable(
    world: World, portrait_jpegs: list[bytes], verify: Verify
) -> None:
    export = _searched_export(world, portrait_jpegs)
    done = verify({**export, "checkpoint": None})
    assert done.returncode == 3 and done.stderr.startswith("access export NOT ANCHORED: "), done
    unreadable = verify("seq,at\n1,2026")
    assert unreadable.returncode == 2 and "refused: unreadable_file" in unreadable.stderr, \
        unreadable


def test_a_log_of_both_hash_forms_verifies_and_the_old_search_is_named_not_checkable(
    world: World, service: OptinFace, portrait_jpegs: list[bytes], verify: Verify
) -> None:
    """An identify chained as before commitments, then one with its commitment, on this
    backend: the log verifies end to end, and the person's export says what holds of each."""
    before = chain_before_commitments(service.runtime, Entry(
        action=AuditAction.IDENTIFY, actor=None, outcome="candidates", subjects=[world.subject],
        details={"k": 5, "gallery_size": 1, "decision_use": False}))
    export = _searched_export(world, portrait_jpegs)
    assert service.verify_audit().ok
    done = verify(export)
    assert done.returncode == 3 and done.stdout == "", done
    assert done.stderr.startswith("access export NOT ANCHORED: "), done
    assert f"; 1 not checked at all, marked {NOT_CHECKABLE}" in done.stderr, done
    assert f"event {before}: NOT CHECKED: {NOT_CHECKABLE}" in done.stderr, done
    assert f"event {_identify_seq(export)}: OK: " in done.stderr, done


def _identify_seq(export: Export) -> int:
    return max(int(e["seq"]) for e in export["events"] if e["action"] == "identify")


def test_an_event_edited_and_marked_redacted_before_commitments_is_never_ok(
    world: World, portrait_jpegs: list[bytes], verify: Verify
) -> None:
    """The mark is the export's word: whoever edits an event and marks it so, before the first
    committed event where the walk cannot tell it is late, gets NOT ANCHORED (exit 3), never
    OK."""
    export = _searched_export(world, portrait_jpegs)
    edited = min(export["events"], key=lambda e: e["seq"])
    assert edited["seq"] < _identify(export)["seq"]
    edited["outcome"] = "refused"
    edited["redacted_before_commitments"] = True
    done = verify(export)
    assert done.returncode == 3 and done.stdout == "", done
    assert f"; 1 not checked at all, marked {NOT_CHECKABLE}" in done.stderr, done
    assert f"event {edited['seq']}: NOT CHECKED: {NOT_CHECKABLE}" in done.stderr, done
