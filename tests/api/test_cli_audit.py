"""``optinface audit verify`` catches what someone with write access to the data can do.

Every tampering here is done as a new user would, with ``sqlite3`` on the database file; the
witness folder stands for a separate append-only mount, and a reviewer's saved checkpoint for the
file they kept. Each test was seen failing against the weakened verifier it guards against.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, event
from typer.testing import CliRunner

from optinface.api.cli.common import one_line
from optinface.api.cli.main import app
from optinface.api.settings import ApiSettings, load_settings
from optinface.consent.audit import GENESIS, event_bytes
from optinface.consent.merkle import MerkleTree, leaf_hash
from optinface.consent.notes import Checkpoint, Signer
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace
from optinface.consent.witness import checkpoint_path, pinned_key, witnessed
from tests.support.api import thresholds_for_tests
from tests.support.backends import both_backends
from tests.support.console import console
from tests.support.files import file_bytes

runner = CliRunner()
# Events: 1 reconciled, 2-11 keys created, 12 the reviewer's checkpoint, 13 a last key.
# Checkpoints (rows and witness files) at 1 (the first start), at each key's creation (witnessed
# before its secret is shown), 10, and 12 (kept).
KEYS = 12
JSON_COLUMNS = {"subjects", "subject_seals", "details"}  # as sqlite3 returns them: text


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ApiSettings:
    return _settings(tmp_path, monkeypatch)


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ApiSettings:
    monkeypatch.setenv("OPTINFACE_THRESHOLDS_PATH", str(thresholds_for_tests(tmp_path)))
    monkeypatch.setenv("OPTINFACE_MATCH_FMR", "0.0001")
    monkeypatch.setenv("OPTINFACE_AUDIT_CHECKPOINT_EVERY", "10")
    return load_settings(data_dir=tmp_path / "var")


@pytest.fixture
def saved(settings: ApiSettings, tmp_path: Path) -> Path:
    """A log of 13 events, closed; returns the checkpoint a reviewer kept at event 12."""
    service = OptinFace.open(settings)
    try:
        admin = service.authenticate(
            service.create_api_key(actor=None, role=Role.ADMIN, name="root").secret)
        for number in range(KEYS - 3):
            service.create_api_key(actor=admin, role=Role.REVIEWER, name=f"r{number}")
        kept = service.audit_checkpoint(actor=admin)  # event 11: the CHECKPOINT itself
        service.create_api_key(actor=admin, role=Role.REVIEWER, name="late")
    finally:
        service.close()
    path = tmp_path / "kept-checkpoint.json"
    path.write_text(kept.model_dump_json())
    return path


def verify(settings: ApiSettings, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(settings.data_dir),
                                 *extra])
    return result.exit_code, result.output


def sql(settings: ApiSettings, *statements: str) -> None:
    with sqlite3.connect(settings.data_dir / "optinface.db") as db:
        for statement in statements:
            db.execute(statement)


def vkey(settings: ApiSettings) -> str:
    pinned = pinned_key(settings.witness_dir)
    assert pinned is not None
    return pinned.vkey


def test_an_untouched_log_verifies(settings: ApiSettings, saved: Path) -> None:
    with sqlite3.connect(settings.data_dir / "optinface.db") as db:
        events, signed = db.execute("SELECT (SELECT count(*) FROM audit_events),"
                                    " (SELECT count(*) FROM audit_checkpoints)").fetchone()
    code, output = verify(settings, "--against", str(saved))
    outside = len(witnessed(settings.witness_dir)) + 1  # the folder's and the one kept
    assert code == 0, output
    assert f"audit log OK: {events} events, {signed} signed checkpoints, {outside} outside" \
        in output
    assert "keyed seals: every event's checked with the key store" in output


@both_backends
def test_a_log_checked_while_the_server_appends_is_read_as_one_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None
) -> None:
    """``audit verify`` read the events, then the checkpoint rows: against a server creating
    keys it said ``BROKEN at sequence 327: checkpoint row 327 covers 327 events but the log
    holds 326 (truncated or emptied)`` in 11 runs of 15. Here a checkpoint is appended, and
    committed, just as the check reads the checkpoint rows: it reads the log as it was."""
    if database_url is not None:
        monkeypatch.setenv("OPTINFACE_DATABASE_URL", database_url)
    settings = _settings(tmp_path, monkeypatch)
    service = OptinFace.open(settings)
    appended: list[object] = []

    def append_between_the_reads(_connection: Connection, _cursor: object, statement: str,
                                 *_: object) -> None:
        if CHECKPOINT_ROWS_READ in statement and not appended:
            appended.append("begun")  # the append's own statements pass through here
            appended.append(service.audit_checkpoint(actor=admin))

    try:
        admin = service.authenticate(
            service.create_api_key(actor=None, role=Role.ADMIN, name="root").secret)
        code, before = verify(settings)
        assert code == 0, before
        event.listen(Engine, "before_cursor_execute", append_between_the_reads)
        try:
            code, during = verify(settings)
        finally:
            event.remove(Engine, "before_cursor_execute", append_between_the_reads)
    finally:
        service.close()
    assert len(appended) == 2 and (code, during) == (0, before)  # the log as the check began
    assert verify(settings)[1] != before  # the append was committed meanwhile


CHECKPOINT_ROWS_READ = "FROM audit_checkpoints ORDER BY audit_checkpoints.seq"
"""How the check reads the checkpoint rows, after the events (``consent.audit_verify``)."""


def test_a_truncated_tail_fails_below_the_witnessed_checkpoint(
    settings: ApiSettings, saved: Path
) -> None:
    # The red team's proof of concept, made careful: the last three events and every
    # checkpoint row that mentions them are gone, so the database agrees with itself.
    sql(settings, "DELETE FROM audit_events WHERE seq > 10",
        "DELETE FROM audit_checkpoints WHERE seq > 10")
    code, output = verify(settings)
    assert code == 1 and "BROKEN at sequence 11" in output and "truncated" in output, output


def test_deleting_every_checkpoint_row_fails(settings: ApiSettings, saved: Path) -> None:
    sql(settings, "DELETE FROM audit_checkpoints")
    code, output = verify(settings)
    assert code == 1 and "missing from the checkpoint rows" in output, output


def test_an_emptied_log_fails(settings: ApiSettings, saved: Path) -> None:
    sql(settings, "DELETE FROM audit_events", "DELETE FROM audit_checkpoints")
    code, output = verify(settings)
    assert code == 1 and "BROKEN at sequence 1" in output, output


def test_a_deleted_database_fails(settings: ApiSettings, saved: Path) -> None:
    (settings.data_dir / "optinface.db").unlink()
    code, output = verify(settings)
    assert code == 1 and "BROKEN" in output, output


def test_a_reviewers_saved_checkpoint_alone_catches_deleted_events(
    settings: ApiSettings, saved: Path
) -> None:
    # Here the attacker could also wipe the witness folder: only the reviewer's file is left.
    key = vkey(settings)
    shutil.rmtree(settings.witness_dir)
    sql(settings, "DELETE FROM audit_events WHERE seq > 11", "DELETE FROM audit_checkpoints")
    assert verify(settings, "--public-key", key)[0] == 0  # nothing else remembers the log
    code, output = verify(settings, "--public-key", key, "--against", str(saved))
    assert code == 1 and "BROKEN at sequence 12" in output and str(saved) in output, output


def _hashed(row: dict[str, Any]) -> bytes:
    """The bytes a forger must hash for a raw row, as the server does (``event_bytes``)."""
    columns = {name: json.loads(row[name]) if name in JSON_COLUMNS and row[name] else row[name]
               for name in row}
    return event_bytes(SimpleNamespace(**columns))


def _rewrite_consistently(settings: ApiSettings) -> None:
    """Edit event 3, re-hash the chain, and put the new roots in the checkpoint notes (the
    forger cannot sign them, so the old signature lines stay)."""
    with sqlite3.connect(settings.data_dir / "optinface.db") as db:
        db.row_factory = sqlite3.Row
        db.execute("UPDATE audit_events SET outcome = 'rewritten' WHERE seq = 3")
        rows = [dict(r) for r in db.execute("SELECT * FROM audit_events ORDER BY seq")]
        previous, leaves = GENESIS, []
        for row in rows:
            row["prev_hash"] = previous
            body = _hashed(row)
            previous = hashlib.sha256(body).hexdigest()
            leaves.append(leaf_hash(body))
            db.execute("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?",
                       (row["prev_hash"], previous, row["seq"]))
        tree = MerkleTree(leaves)
        hashes = dict(db.execute("SELECT seq, hash FROM audit_events").fetchall())
        for seq, note in db.execute("SELECT seq, note FROM audit_checkpoints").fetchall():
            lines = note.split("\n")
            lines[2] = base64.b64encode(tree.root(seq)).decode()
            db.execute("UPDATE audit_checkpoints SET note = ?, hash = ? WHERE seq = ?",
                       ("\n".join(lines), hashes[seq], seq))


def test_a_consistent_rewrite_fails_on_the_checkpoint_signatures(
    settings: ApiSettings, saved: Path
) -> None:
    key = vkey(settings)
    shutil.rmtree(settings.witness_dir)  # the worst case: only the database is left
    _rewrite_consistently(settings)
    code, output = verify(settings, "--public-key", key)  # the key store names each event
    assert code == 1 and "[keyed_seal_invalid]" in output, output
    assert settings.key_dir is not None
    shutil.rmtree(settings.key_dir)  # the chain alone, as an outsider checks it
    code, output = verify(settings, "--public-key", key)
    assert code == 1 and "not signed by the pinned key" in output, output


def _resigned_and_pinned(settings: ApiSettings) -> str:
    """Red team 7, #9 (``forge_copy.py``): the operator's copy for an auditor, the log
    rewritten and chained again, every checkpoint row and witness note signed again with a key
    of the operator's own, which the copy's witness folder pins. That key."""
    _rewrite_consistently(settings)
    signer = Signer.for_log(Ed25519PrivateKey.generate())
    with sqlite3.connect(settings.data_dir / "optinface.db") as db:
        db.row_factory = sqlite3.Row
        tree = MerkleTree([leaf_hash(_hashed(dict(row))) for row in
                           db.execute("SELECT * FROM audit_events ORDER BY seq")])
        for seq, in db.execute("SELECT DISTINCT seq FROM audit_checkpoints").fetchall():
            note = signer.sign(Checkpoint(origin=signer.name, size=seq,
                                          root=tree.root(seq)).text())
            db.execute("UPDATE audit_checkpoints SET note = ? WHERE seq = ?", (note, seq))
            checkpoint_path(settings.witness_dir, seq).write_text(note)
    (settings.witness_dir / "checkpoint.vkey").write_text(signer.verifier.vkey + "\n")
    return signer.verifier.vkey


def test_a_pinned_key_nothing_vouches_for_is_not_anchored(
    settings: ApiSettings, saved: Path
) -> None:
    """Red team 7, #9: with no --public-key, the verdict rested on whatever key the witness
    folder pins, and said OK. Beside the key store the pin is set against its checkpoint key;
    elsewhere a kept checkpoint or the published key vouches for it, or the verdict is NOT
    ANCHORED (exit 3)."""
    published = vkey(settings)
    code, output = verify(settings)
    assert code == 0, output
    assert ("checkpoint key: pinned by the witness folder, the key store's checkpoint key"
            in output.splitlines()), output
    assert settings.key_dir is not None
    keys = settings.key_dir.rename(settings.key_dir.with_name("kept-apart"))  # a copy
    code, output = verify(settings)
    assert code == 3 and output.startswith(
        f"audit log NOT ANCHORED: {event_count(settings)} events and {checkpoint_count(settings)}"
        " signed checkpoints hold"
        f" together, but only under the key the witness folder {settings.witness_dir} pins"
        f" ({published}), not a published one"), output
    code, output = verify(settings, "--against", str(saved))
    assert code == 0 and ("checkpoint key: pinned by the witness folder, which signed the"
                          " checkpoints you kept (--against)") in output, output
    code, output = verify(settings, "--public-key", published)
    assert code == 0 and "checkpoint key: given with --public-key" in output, output
    ours = _resigned_and_pinned(settings)
    code, output = verify(settings)  # it said OK (exit 0)
    assert code == 3 and f"pins ({ours}), not a published one" in output, output
    code, output = verify(settings, "--public-key", published)
    assert (code, output) == (1, f"audit log BROKEN: the witness folder {settings.witness_dir}"
                                 " pins another key than --public-key\n")
    code, output = verify(settings, "--against", str(saved))
    assert code == 1 and f"{saved} is not a checkpoint signed by the pinned key" in output, output
    keys.rename(settings.key_dir)
    code, output = verify(settings)
    assert (code, output) == (1, f"audit log BROKEN: the witness folder {settings.witness_dir}"
                                 " pins another key than the key store's checkpoint key\n")


def event_count(settings: ApiSettings) -> int:
    return _counted(settings, "audit_events")


def checkpoint_count(settings: ApiSettings) -> int:
    """The checkpoints signed into the ledger (one per spend too: their number follows the
    deployment's acts, not this test)."""
    return _counted(settings, "audit_checkpoints")


def _counted(settings: ApiSettings, table: str) -> int:
    with closing(sqlite3.connect(settings.data_dir / "optinface.db")) as db:
        counted: int = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return counted


def test_an_edit_with_its_own_hash_recomputed_breaks_the_next_link(
    settings: ApiSettings, saved: Path
) -> None:
    with sqlite3.connect(settings.data_dir / "optinface.db") as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM audit_events WHERE seq = 6").fetchone())
        row["outcome"] = "nothing happened"
        forged = hashlib.sha256(_hashed(row)).hexdigest()
        db.execute("UPDATE audit_events SET outcome = ?, hash = ? WHERE seq = 6",
                   (row["outcome"], forged))
    code, output = verify(settings)  # the key store names the edit itself: its seal
    assert code == 1 and "BROKEN at sequence 6:" in output, output
    assert "[keyed_seal_invalid]" in output
    assert settings.key_dir is not None
    shutil.rmtree(settings.key_dir)  # the chain alone, as an outsider checks it
    code, output = verify(settings)
    assert code == 1 and "BROKEN at sequence 7:" in output, output


def test_verify_changes_no_byte_and_creates_no_key(settings: ApiSettings, saved: Path) -> None:
    assert settings.key_dir is not None
    shutil.rmtree(settings.key_dir)  # an auditor's copy holds no keys: none may appear
    folders = (settings.data_dir, settings.key_dir, settings.witness_dir)
    before = file_bytes(*folders)
    assert verify(settings, "--against", str(saved))[0] == 0
    assert file_bytes(*folders) == before and not settings.key_dir.exists()


def test_a_checkpoint_is_not_a_receipt_and_a_receipt_is_not_a_checkpoint(
    settings: ApiSettings, saved: Path, tmp_path: Path
) -> None:
    refused = runner.invoke(app, ["receipt", "verify", str(saved), "--data-dir",
                                  str(settings.data_dir)])
    assert refused.exit_code != 0 and "no signed receipt" in refused.output
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps({"receipt": {"a": 1}, "signature": "AAAA"}))
    code, output = verify(settings, "--against", str(receipt))
    assert code == 2 and output.startswith("refused: unreadable_file: "), output
    assert "no signed checkpoint" in output


DEEP_JSON = "[" * 100_000 + "]" * 100_000  # deeper than Python's JSON parser recurses
LONG_INTEGER = '{"a": ' + "1" * 5000 + "}"  # past Python's 4,300 digits: a plain ValueError


@pytest.mark.parametrize("content", ["not json", "", "line one\n\nnot a signature line\n",
                                     DEEP_JSON, LONG_INTEGER])
def test_a_file_that_holds_no_note_is_unreadable_not_tampering(
    settings: ApiSettings, saved: Path, tmp_path: Path, content: str
) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_text(content)
    code, output = verify(settings, "--against", str(garbage))
    assert code == 2 and output.startswith("refused: unreadable_file: "), output
    assert "no signed checkpoint" in output


def test_a_file_that_is_not_text_is_unreadable_naming_the_file(
    settings: ApiSettings, saved: Path, tmp_path: Path
) -> None:
    """Only the decoder's words were printed (``'utf-8' codec can't decode byte 0x87...``),
    naming neither the file nor what was wrong with it."""
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\x87\xff" + os.urandom(98))
    code, output = verify(settings, "--against", str(binary))
    assert (code, output) == (2, f"refused: unreadable_file: {binary}: no signed checkpoint in"
                                 " this file (not UTF-8 text: byte 0)\n")


def test_another_deployments_checkpoint_is_named_as_such_not_placed_at_a_sequence(
    settings: ApiSettings, saved: Path, tmp_path: Path
) -> None:
    """It read ``audit log BROKEN at sequence None``: a checkpoint this log's key never signed
    belongs at no sequence of it."""
    OptinFace.open(load_settings(data_dir=tmp_path / "other")).close()
    [theirs, *_] = witnessed(tmp_path / "other-witness")
    code, output = verify(settings, "--against", str(theirs))
    assert code == 1 and output.startswith(one_line(  # as printed: a long path is cut short
        f"audit log BROKEN: {theirs} is not a checkpoint signed by the pinned key (")), output


def test_a_receipt_checked_where_there_is_no_deployment_says_so(tmp_path: Path) -> None:
    """It said the key directory was missing "while the ledger holds data": there was no
    ledger at all, and the verifier makes none."""
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps({"receipt": {"a": 1}, "signature": "AAAA"}))
    missing = tmp_path / "missing"
    answer = runner.invoke(app, ["receipt", "verify", str(receipt), "--data-dir", str(missing)])
    assert (answer.exit_code, answer.output) == (
        2, f"error: key_store_unusable: no key store at {missing}-keys to check the receipt with"
           f" (is {missing} a deployment's data directory?); pass the published --public-key\n")
    assert sorted(tmp_path.iterdir()) == [receipt]


def test_a_receipt_file_nested_too_deep_is_unreadable_in_one_line(
    settings: ApiSettings, tmp_path: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP_JSON)
    answer = runner.invoke(app, ["receipt", "verify", str(deep), "--public-key", "AAAA"])
    assert answer.exit_code == 2, answer.output
    assert answer.output.startswith("refused: unreadable_file: "), answer.output


def test_a_receipt_file_holding_an_integer_past_the_digit_limit_is_unreadable_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad-input test 18, #2: a ValueError traceback (``Exceeds the limit (4300 digits)``), the
    command catching the JSON errors it listed but that one; every parser's refusal is now one
    ValueError (``engine.documents.json_from``)."""
    given = tmp_path / "long.json"
    given.write_text(LONG_INTEGER)
    code, lines = console(monkeypatch, capsys, "receipt", "verify", str(given),
                          "--public-key", "AAAA")
    assert (code, lines) == (2, [f"refused: unreadable_file: {given}: not a JSON receipt"
                                 " (Exceeds the limit (4300 digits) for integer string"
                                 " conversion: value has 5000 digits)"])


@pytest.mark.parametrize("key", ["not base64!", "AAAA"])
def test_a_public_key_that_is_no_key_is_refused_not_reported_as_a_bad_signature(
    tmp_path: Path, key: str
) -> None:
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps({"receipt": {"a": 1}, "signature": "AAAA"}))
    answer = runner.invoke(app, ["receipt", "verify", str(receipt), "--public-key", key])
    assert answer.exit_code == 2, answer.output
    assert answer.output.startswith("refused: invalid_request: unusable --public-key"), (
        answer.output)


def test_a_witness_folder_pinning_another_key_is_refused(settings: ApiSettings,
                                                         saved: Path) -> None:
    from optinface.consent.errors import WitnessUnusable

    vkey_file = settings.witness_dir / "checkpoint.vkey"  # another deployment's witness
    vkey_file.write_text(Signer.for_log(Ed25519PrivateKey.generate()).verifier.vkey + "\n")
    with pytest.raises(WitnessUnusable):
        OptinFace.open(settings)


def test_a_pinned_key_that_is_not_text_is_refused_in_one_line(
    settings: ApiSettings, saved: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (settings.witness_dir / "checkpoint.vkey").write_bytes(b"\x87\xff" + os.urandom(98))
    code, lines = console(monkeypatch, capsys, "audit", "verify",
                          "--data-dir", str(settings.data_dir))
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: witness_unusable: witness folder {settings.witness_dir}:"
                               " unusable checkpoint.vkey: 'utf-8' codec can't decode"), lines


def test_a_server_started_on_a_shorter_log_than_its_witness_says_so(
    settings: ApiSettings, saved: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sql(settings, "DELETE FROM audit_events WHERE seq > 10",
        "DELETE FROM audit_checkpoints WHERE seq > 10")
    OptinFace.open(settings).close()  # starts: a restored copy must be inspectable
    assert "events were lost" in caplog.text
    assert verify(settings)[0] == 1
