"""``optinface receipt verify`` vouches only for what it checked, and says what that states
(red team 7, #8 and #11), run as a person or an auditor runs it: the console script (in a
process of its own in the first test and for a closed pipe, in this process elsewhere), with
the file they saved and the deployment's published key.

Every receipt in the file is checked, siblings included, and one with no signature is INVALID;
an object naming a key twice is no receipt; the parts of a file no signature covers (an access
export's templates and events) are named as not checked; each receipt verified is said in one
line (type, whose, what for, when); an erasure receipt is shown to be a pseudonym's with the
salt handed out beside it. A true file saved with a byte order mark reads as saved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from optinface.api.cli.main import app
from tests.support.api import World, auth
from tests.support.console import in_process

pytestmark = pytest.mark.shared_deployment  # the check is offline: one backend makes the files

KEYS_URL = "/.well-known/optinface-keys.json"
BOM = b"\xef\xbb\xbf"


Optinface = Callable[..., subprocess.CompletedProcess[str]]


def _own_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The console script, in a process of its own, as a person runs it (the first test)."""
    return subprocess.run([sys.executable, "-m", "optinface.api.cli.main", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def optinface(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Optinface:
    """The console script as :func:`_own_process` runs it, in this process: the same entry
    point and verdicts without a second of imports each time
    (:func:`tests.support.console.in_process`)."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return in_process(monkeypatch, capsys, *args)
    return run


def _verify(world: World, optinface: Optinface, path: Path,
            *more: str) -> subprocess.CompletedProcess[str]:
    key = world.client.get(KEYS_URL).json()["keys"][0]["public_key"]
    return optinface("receipt", "verify", str(path), "--public-key", key, *more)


def _export(world: World) -> dict[str, Any]:
    """The subject's access export, as they download it with their own token."""
    answer = world.client.get(f"/v1/subjects/{world.subject}/export",
                              headers=auth(world.subject_token))
    assert answer.status_code == 200, answer.text
    exported: dict[str, Any] = answer.json()
    return exported


def _consent_receipt(world: World) -> dict[str, Any]:
    """The subject's consent receipt as the portal's download gives it: receipt, signature, key."""
    [consent] = _export(world)["consents"]
    signed: dict[str, Any] = consent["receipt"]
    return signed


def _saved(tmp_path: Path, document: object, name: str = "receipt.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_a_forged_receipt_beside_a_true_one_is_checked_and_an_unsigned_one_refused(
    world: World, tmp_path: Path,
) -> None:
    """``A.receipt+forged.json``: the first receipt was the only one checked. Now each is, and
    one offered with no signature at all is INVALID too, named by where it lies."""
    signed = _consent_receipt(world)
    forged = {**signed["receipt"], "piiPrincipalId": "subj_SOMEONE_ELSE"}
    beside = _verify(world, _own_process, _saved(tmp_path, {**signed, "withdrawal": {
        "receipt": forged, "signature": "AAAA"}}))
    assert beside.returncode == 1, beside.stdout
    assert "INVALID signature for key" in beside.stderr
    assert "(receipt 2 of 2: withdrawal)" in beside.stderr
    unsigned = _verify(world, _own_process,
                       _saved(tmp_path, [signed, {"kept": {"receipt": forged}}]))
    assert unsigned.returncode == 1, unsigned.stdout
    assert ("INVALID: [1].kept.receipt reads as a receipt and carries no signature"
            in unsigned.stderr)
    both = _verify(world, _own_process, _saved(tmp_path, {"a": signed, "b": [signed]}))
    assert both.returncode == 0, both.stderr
    assert "2 valid signature(s)" in both.stdout


def test_an_access_export_is_verified_for_its_receipts_and_names_what_was_not_checked(
    world: World, tmp_path: Path, optinface: Optinface,
) -> None:
    """``A.export.tampered.json`` passed as if the whole export were signed. Its receipts still
    verify; the verdict now names the parts no signature covers, the edited ones among them."""
    exported = _export(world)
    exported["templates"] = []
    exported["subject"]["searchable"] = False
    verified = _verify(world, optinface, _saved(tmp_path, exported))
    assert verified.returncode == 0, verified.stderr
    [unchecked] = [line for line in verified.stdout.splitlines()
                   if ": not checked, no signature covers them: " in line]
    parts = unchecked.split(": not checked, no signature covers them: ")[1].split(", ")
    for part in ("templates", "subject", "events", "searches", "checkpoint",
                 "consents[*].purposes", "consents[*].status"):
        assert part in parts
    assert "consents[*].receipt" not in parts
    assert "receipt 1 (consents[0].receipt): consent " in verified.stdout


def test_the_verdict_says_whose_receipt_it_is_what_for_and_when(
    world: World, tmp_path: Path, optinface: Optinface,
) -> None:
    signed = _consent_receipt(world)
    receipt = signed["receipt"]
    [purpose] = receipt["services"][0]["purposes"]
    verified = _verify(world, optinface, _saved(tmp_path, signed))
    assert verified.returncode == 0, verified.stderr
    said = verified.stdout.splitlines()[1]
    assert said.startswith(f"{tmp_path / 'receipt.json'}: receipt 1 (the file): consent"
                           f" {receipt['consentReceiptID']} by {world.subject} (given by: self)")
    for stated in (f"{purpose['purpose']} ({purpose['purposeId']})",
                   f"given {receipt['consentTimestampISO']}",
                   f"expires {receipt['expiresISO']}"):
        assert stated in said
    assert "not checked" not in verified.stdout  # a receipt's file holds nothing else
    mine = _verify(world, optinface, _saved(tmp_path, signed), "--pseudonym", world.subject)
    assert mine.returncode == 0, mine.stderr
    assert f"every receipt is {world.subject}'s" in mine.stdout
    theirs = _verify(world, optinface, _saved(tmp_path, signed), "--pseudonym", "subj_" + "0" * 24)
    assert theirs.returncode == 1
    assert f"receipt 1 (the file): it names {world.subject}" in theirs.stderr


def test_a_key_named_twice_in_one_object_is_no_receipt(
    world: World, tmp_path: Path, optinface: Optinface,
) -> None:
    """``A.dup.json``: another pseudonym placed before the signed one verified, Python keeping
    the last; another reader keeps the first. Such a file is refused as unreadable."""
    signed = _consent_receipt(world)
    text = json.dumps(signed).replace(
        '"piiPrincipalId": ', '"piiPrincipalId": "subj_SOMEONE_ELSE", "piiPrincipalId": ', 1)
    path = tmp_path / "dup.json"
    path.write_text(text)
    refused = _verify(world, optinface, path)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (f"refused: unreadable_file: {path}: not a JSON receipt (an"
                              ' object names the key "piiPrincipalId" twice)\n')


def test_a_true_receipt_and_log_export_saved_with_a_byte_order_mark_verify(
    world: World, tmp_path: Path, optinface: Optinface,
) -> None:
    """``A.bom.json``, ``audit.bom.json``: what an older Notepad saves (a BOM, CRLF) is the
    same document."""
    path = tmp_path / "bom.json"
    path.write_bytes(BOM + json.dumps(_consent_receipt(world), indent=2).replace(
        "\n", "\r\n").encode())
    verified = _verify(world, optinface, path)
    assert verified.returncode == 0, verified.stderr
    reviewer = auth(world.keys.reviewer)
    assert world.client.post("/v1/audit/checkpoints", headers=reviewer).status_code == 200
    log = world.client.get("/v1/audit/export", params={"format": "json"}, headers=reviewer)
    assert log.status_code == 200, log.text
    saved = tmp_path / "audit.bom.json"
    saved.write_bytes(BOM + log.content)
    [key] = [key["verifier_key"] for key in world.client.get(KEYS_URL).json()["keys"]
             if key["verifier_key"]]
    checked = optinface("audit", "verify-export", str(saved), "--public-key", key)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_an_erasure_receipt_is_shown_to_be_the_persons_with_the_salt_beside_it(
    world: World, tmp_path: Path, optinface: Optinface,
) -> None:
    """Red team 7, #8 (d): the receipt names the person by keyed hashes only. It now commits to
    the pseudonym; the salt given beside it opens that commitment to theirs and no other, and
    without the salt nothing can be said."""
    world.add_consenting_subject()
    erased = world.client.delete(f"/v1/subjects/{world.subject}",
                                 headers=auth(world.subject_token))
    assert erased.status_code == 200, erased.text
    signed = erased.json()["signed"]
    path = _saved(tmp_path, signed)
    plain = _verify(world, optinface, path)
    assert plain.returncode == 0, plain.stderr
    assert "commits to a pseudonym (--pseudonym checks whose)" in plain.stdout
    mine = _verify(world, optinface, path, "--pseudonym", world.subject)
    assert mine.returncode == 0, mine.stderr
    other = _verify(world, optinface, path, "--pseudonym", "subj_" + "0" * 24)
    assert other.returncode == 1
    assert "its commitment does not open to this pseudonym" in other.stderr
    unsalted = _verify(world, optinface, _saved(tmp_path, {**signed, "pseudonym_salt": None}),
                       "--pseudonym", world.subject)
    assert unsalted.returncode == 1
    assert "no salt is beside it" in unsalted.stderr


def test_a_reader_that_closes_the_pipe_ends_the_verdict_by_sigpipe_never_as_invalid(
    world: World, tmp_path: Path
) -> None:
    """``receipt verify ... | head -1`` on a true receipt: the reader gone, the command ends as
    ``cat`` does, by SIGPIPE (141 in a shell), never with the exit status 1 that says INVALID."""
    path = _saved(tmp_path, _consent_receipt(world))  # verifies: the tests above
    key = world.client.get(KEYS_URL).json()["keys"][0]["public_key"]
    reader, writer = os.pipe()
    os.close(reader)  # gone before the verdict is written
    try:
        ended = subprocess.run([sys.executable, "-m", "optinface.api.cli.main", "receipt",
                                "verify", str(path), "--public-key", key], stdout=writer,
                               stderr=subprocess.PIPE, timeout=120, check=False)
    finally:
        os.close(writer)
    assert ended.returncode == -signal.SIGPIPE, ended.stderr


def test_a_verdict_run_in_place_leaves_the_processs_sigpipe_alone(world: World,
                                                                   tmp_path: Path) -> None:
    """The verdict invoked inside a longer-lived process (a script importing the CLI, a test
    worker) leaves ``SIGPIPE`` as it found it: at its default, that process's next write to a
    closed socket or pipe would kill it (how two test workers once died mid-run)."""
    path = _saved(tmp_path, _consent_receipt(world))
    key = world.client.get(KEYS_URL).json()["keys"][0]["public_key"]
    before = signal.getsignal(signal.SIGPIPE)
    verdict = CliRunner().invoke(app, ["receipt", "verify", str(path), "--public-key", key])
    assert verdict.exit_code == 0, verdict.output
    assert signal.getsignal(signal.SIGPIPE) == before
