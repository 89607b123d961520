"""The operator's commands: keys, audit verify, register, sweep, export, erase, receipts, demo."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import typer
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from typer.testing import CliRunner

from optinface.api.cli.keys import KeyRole
from optinface.api.cli.main import app
from optinface.api.cli.serve import (
    STOPPING_SIGNALS,
    Stopping,
    bind_every,
    listening_sockets,
    url_host,
)
from optinface.api.cli.servers import Server, serve_together, server_config
from optinface.api.settings import load_settings
from optinface.consent.backup import DATABASE_NAME
from optinface.consent.backup import backup as back_up
from optinface.consent.errors import DataDirInUse
from optinface.consent.lock import LOCK_FILE
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace
from optinface.consent.witness import latest_witnessed, pinned_key
from optinface.engine.pipeline import FacePipeline
from tests.support.api import auth, deployment
from tests.support.console import (
    FREE_PORT,
    at_run,
    commands_data_dir,
    console,
    printed_secret,
    seeded_for_bootstrap,
)
from tests.support.docs import flowing, page
from tests.support.files import file_bytes
from tests.support.full_disk import console_on_a_full_disk, small_file_system
from tests.support.ledger_lock import held_locked
from tests.support.server import free_port, inherited_environment, running
from tests.support.workers import Worker

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return commands_data_dir(tmp_path, monkeypatch)


@pytest.fixture()
def made_dir(data_dir: Path, admin: str) -> Path:
    """A deployment's data dir, its first admin key made: only serve and the bootstrap keys
    create make one, and every other command refuses a folder that holds none."""
    return data_dir


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def admin(data_dir: Path) -> str:
    code, output = run("keys", "create", "--role", "admin", "--name", "ops",
                       "--data-dir", str(seeded_for_bootstrap(data_dir)))
    assert code == 0, output
    return printed_secret(output)


def test_a_deployment_made_under_a_umask_of_000_lets_no_one_else_write_or_read_its_data(
    data_dir: Path,
) -> None:
    """Its witness's folders were 0777, writable by any user of the machine. Now 0755 whatever
    the umask (reviewers read the witness); the data and the keys 0700, their files 0600."""
    seeded_for_bootstrap(data_dir)
    made = subprocess.run([sys.executable, "-m", "optinface.api.cli.main", "keys", "create",
                           "--role", "admin", "--name", "ops", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120, umask=0)
    assert made.returncode == 0, made.stderr
    settings = load_settings(data_dir=data_dir)
    modes = {path: stat.S_IMODE(path.stat().st_mode)
             for top in (settings.data_dir, settings.keys_dir, settings.witness_dir)
             for path in (top, *top.rglob("*"))}
    witness = {path: mode for path, mode in modes.items() if path.is_relative_to(
        settings.witness_dir)}
    assert {mode for path, mode in witness.items() if path.is_dir()} == {0o755}
    assert all(mode & 0o022 == 0 for mode in witness.values()), witness
    assert {mode for path, mode in modes.items() if path not in witness and path.is_dir()} == {
        0o700}
    assert {mode for path, mode in modes.items() if path not in witness
            and not path.is_dir()} == {0o600}


def test_a_data_dir_named_with_url_characters_keeps_its_ledger_inside(
    data_dir: Path, tmp_path: Path,
) -> None:
    """The default ledger URL was the folder's name pasted in: "?" began its query and "%20"
    was decoded, so the ledger of ``we#ird?d%20 x`` was made at ``we#ird``, outside the data
    directory (its lock, its backups and the erasure scans of its files), beside it."""
    odd = data_dir.with_name("we#ird?d%20 x")
    code, output = run("keys", "create", "--role", "admin", "--name", "ops",
                       "--data-dir", str(seeded_for_bootstrap(odd)))
    assert code == 0, output
    assert (odd / "optinface.db").is_file()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("we")) == [
        odd.name, f"{odd.name}-keys", f"{odd.name}-witness"]
    code, output = run("sweep", "--data-dir", str(odd))
    assert code == 0, output


def test_first_admin_key_bootstraps_then_bootstrap_is_refused(data_dir: Path, admin: str) -> None:
    code, output = run(
        "keys", "create", "--role", "admin", "--name", "x", "--data-dir", str(data_dir)
    )
    assert code == 1 and "invalid_request" in output


def test_keys_create_list_revoke(data_dir: Path, admin: str) -> None:
    d = ("--data-dir", str(data_dir), "--api-key", admin)
    code, output = run("keys", "create", "--role", "reviewer", "--name", "auditor", *d)
    assert code == 0, output
    key_id = output.split()[0]
    code, output = run("keys", "list", "--json", *d)
    assert key_id in [k["key_id"] for k in json.loads(output)]
    assert run("keys", "revoke", key_id, *d)[0] == 0
    revoked = [k for k in json.loads(run("keys", "list", "--json", *d)[1]) if k["key_id"] == key_id]
    assert revoked[0]["revoked_at"] is not None


def test_a_wrong_key_is_refused(data_dir: Path, admin: str) -> None:
    code, output = run("keys", "list", "--data-dir", str(data_dir), "--api-key", "key_x.y")
    assert code == 1 and "unauthenticated" in output


def test_the_commands_print_every_instant_in_one_iso_form(
    data_dir: Path, admin: str, tmp_path: Path
) -> None:
    """rotate-epoch printed ``2026-12-01 10:45:23+00:00`` and backup ``...+00:00`` beside the
    ``...T...Z`` of every other command: one definition now (``common.echo_json``)."""
    d = ("--api-key", admin, "--data-dir", str(data_dir))
    printed = {command: run(*command, *d) for command in (
        ("keys", "rotate-epoch"), ("keys", "epochs"), ("keys", "list", "--json"))}
    printed["backup"] = run("backup", str(tmp_path / "backup"), "--data-dir", str(data_dir))
    assert all(code == 0 for code, _ in printed.values()), printed
    rotated, epochs, keys, backed = (json.loads(output) for _, output in printed.values())
    instants = [rotated["rotated_at"], *(epoch["created_at"] for epoch in epochs),
                *(key["created_at"] for key in keys), backed["createdAt"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", instant)
               for instant in instants), instants


def test_admin_passkey_link_is_issued_for_an_admin_key_only_once_admin_mfa_is_on(
    data_dir: Path, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's link for an admin key's first passkey: refused in one line while the
    second factor is off, and for a key that is not an admin's in force (a break-glass key,
    exempt from the second factor, takes none)."""
    d = ("--data-dir", str(data_dir))
    key_id = admin.split(".")[0]
    code, output = run("keys", "admin-passkey-link", key_id, *d)
    assert code == 1 and "second_factor_off" in output
    monkeypatch.setenv("OPTINFACE_ADMIN_MFA", "true")
    code, output = run("keys", "admin-passkey-link", "key_0123456789abcdef", *d)
    assert code == 1 and "not_found" in output
    code, output = run("keys", "break-glass", "--reason", "INC-1: drill", *d)
    assert code == 0, output
    code, output = run("keys", "admin-passkey-link", json.loads(output)["key_id"], *d)
    assert code == 1 and "not_found" in output
    code, output = run("keys", "admin-passkey-link", key_id, *d)
    assert code == 0, output
    printed = json.loads(output)
    assert printed["key_id"] == key_id and printed["link"].startswith("otl_lnk_")


def test_break_glass_opens_an_expiring_admin_key_when_the_only_one_was_revoked(
    data_dir: Path, admin: str
) -> None:
    """No admin key left: the operator opens the glass where the data directory is, with a
    reason and no key; the key works and lists its expiry, and the chain verifies with a
    witnessed checkpoint over the opening."""
    d = ("--data-dir", str(data_dir))
    assert run("keys", "revoke", admin.split(".")[0], "--api-key", admin, *d)[0] == 0
    assert run("keys", "list", "--api-key", admin, *d)[0] == 1
    code, output = run("keys", "break-glass", "--reason", "INC-7: root key revoked",
                       "--hours", "2", *d)
    assert code == 0, output
    printed = json.loads(output)
    key_id = printed["key_id"]
    assert printed["role"] == "admin" and printed["expires_at"].endswith("Z")
    code, listed = run("keys", "list", "--json", "--api-key", printed["secret"], *d)
    assert code == 0, listed
    [glass] = [key for key in json.loads(listed) if key["key_id"] == key_id]
    assert glass["role"] == "admin"
    lifetime = datetime.fromisoformat(glass["expires_at"]) - datetime.fromisoformat(
        glass["created_at"])
    assert lifetime == timedelta(hours=2)
    code, verified = run("audit", "verify", *d)
    assert code == 0 and "OK" in verified
    with sqlite3.connect(data_dir / "optinface.db") as db:
        [(seq, details)] = db.execute("SELECT seq, details FROM audit_events"
                                      " WHERE action = 'break_glass_opened'").fetchall()
    assert json.loads(details)["reason"] == "INC-7: root key revoked"
    assert latest_witnessed(load_settings(data_dir=data_dir).witness_dir) >= seq


@pytest.mark.parametrize(("folder", "why"), [
    pytest.param("new", "pins no checkpoint key", id="new"),
    pytest.param("empty", "pins no checkpoint key", id="empty"),
    pytest.param("an-old-copy", "did not hold it", id="an-old-copy"),
])
def test_break_glass_where_the_witness_is_not_the_deployments_is_refused_writing_nothing(
    data_dir: Path, admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str,
    why: str,
) -> None:
    """A deployment stopped with signed checkpoints, break-glass pointed at a scratch witness
    (a new or empty folder, or a copy of the witness older than the ledger's newest
    checkpoint): had its start taken the folder up (its key pinned, the head witnessed there),
    the opening would reach no folder a reviewer keeps, and deleting it from the log would still
    verify against the real witness. Refused in one line, no key and no event made, the folder
    left as it was found; with the deployment's own witness the glass opens."""
    d = ("--data-dir", str(data_dir))
    scratch = tmp_path / "scratch-witness"
    if folder == "empty":
        scratch.mkdir()
    elif folder == "an-old-copy":
        shutil.copytree(load_settings(data_dir=data_dir).witness_dir, scratch)
        made = run("keys", "create", "--role", "reviewer", "--name", "r", "--api-key", admin, *d)
        assert made[0] == 0, made
    before = _keys_and_events(data_dir), file_bytes(scratch)
    monkeypatch.setenv("OPTINFACE_AUDIT_WITNESS_DIR", str(scratch))
    code, output = run("keys", "break-glass", "--reason", "INC-9", *d)
    assert code == 1 and output.startswith("error: witness_unusable: ") and (
        output.count("\n") == 1) and why in output, output
    assert (_keys_and_events(data_dir), file_bytes(scratch)) == before
    assert scratch.exists() is (folder != "new")
    monkeypatch.delenv("OPTINFACE_AUDIT_WITNESS_DIR")
    code, output = run("keys", "break-glass", "--reason", "INC-9", *d)
    assert code == 0 and json.loads(output)["secret"], output
    assert run("audit", "verify", *d)[0] == 0


def _keys_and_events(data_dir: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(data_dir / "optinface.db")) as db:
        return (db.execute("SELECT count(*) FROM api_keys").fetchone()[0],
                db.execute("SELECT count(*) FROM audit_events").fetchone()[0])


@pytest.mark.parametrize("options", [
    pytest.param(("--reason", "INC-7", "--hours", "0"), id="no-hours"),
    pytest.param(("--reason", "INC-7", "--hours", "25"), id="more-than-a-day"),
    pytest.param(("--reason", "   "), id="blank-reason"),
    pytest.param(("--reason", "INC-7\nand a line of my choosing"), id="two-line-reason"),
    pytest.param(("--reason", "erase subj_0123456789abcdef01234567 today"), id="a-pseudonym"),
])
def test_break_glass_beyond_a_day_or_without_a_one_line_reason_is_one_line_creating_nothing(
    data_dir: Path, admin: str, options: tuple[str, ...]
) -> None:
    d = ("--data-dir", str(data_dir))
    keys, _ = _keys_and_events(data_dir)
    code, output = run("keys", "break-glass", *options, *d)
    assert code == 1 and output.startswith("refused: invalid_request: ") and (
        output.count("\n") == 1), output
    assert _keys_and_events(data_dir)[0] == keys  # no key was made


def test_keys_reseal_seals_every_row_again_chained_with_its_reason(
    data_dir: Path, admin: str
) -> None:
    """The operator's way back after a migration round trip below 0030 (or a refused
    adoption): with the key store, counts printed as JSON and chained with the reason; a reason
    that names a subject is one line and seals nothing."""
    d = ("--data-dir", str(data_dir))
    code, output = run("keys", "reseal", "--reason", "subj_0123456789abcdef01234567", *d)
    assert code == 1 and output.startswith("refused: invalid_request: "), output
    code, output = run("keys", "reseal", "--reason", "CHG-7: schema round trip", *d)
    assert code == 0, output
    done = json.loads(output)
    assert done["sealed"]["api_keys"] == 1 and done["were_unsealed"]["api_keys"] == [] and set(
        done["sealed"]) == {"passkeys", "opt_ins", "declarations", "templates", "api_keys",
                            "admin_passkeys", "ages", "subject_tokens", "enrolments"}
    assert run("keys", "list", "--api-key", admin, *d)[0] == 0  # the key still authenticates


def test_register_declare_and_show(data_dir: Path, admin: str) -> None:
    d = ("--data-dir", str(data_dir))
    assert (
        run(
            "register",
            "declare",
            "--date",
            "2026-01-05",
            "--reference",
            "CAI-9",
            "--api-key",
            admin,
            *d,
        )[0]
        == 0
    )
    code, output = run("register", "--format", "json", *d)
    assert code == 0 and json.loads(output)["declaration"]["reference"] == "CAI-9"
    code, output = run("register", *d)
    assert code == 0 and "CAI-9" in output


def test_register_pia_prints_a_skeleton_naming_the_material_to_assess(made_dir: Path) -> None:
    d = ("--data-dir", str(made_dir))
    material = json.loads(run("register", "--format", "json", *d)[1])["material_sha256"]
    code, output = run("register", "pia", *d)
    assert code == 0, output
    assert f"**Register material assessed**: {material}" in output
    assert "OPTINFACE_PIA_MATERIAL_SHA256" in output and "### Purposes" in output
    accuracy = json.loads(run("register", "--format", "json", *d)[1])["accuracy"]
    assert ("misidentification at the operating point assessed (model w600k\\_mbf: threshold"
            f" {accuracy['threshold']!r} (a score at or above it makes a candidate), calibrated"
            f" for a false-match rate of {accuracy['fmr']:g}") in output


def test_register_md_states_the_hosting_location(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTINFACE_HOSTING_COUNTRY", "CA")
    monkeypatch.setenv("OPTINFACE_HOSTING_REGION", "Montréal, Québec")
    monkeypatch.setenv("OPTINFACE_HOSTING_PROVIDER", "OVHcloud BHS")
    code, output = run("register", "--format", "md", "--data-dir", str(made_dir))
    assert code == 0
    assert "**Hosting location**: CA, Montréal, Québec, by OVHcloud BHS" in output


def _hosted_in_roubaix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hosting in France under an adequacy decision: a transfer out of Québec."""
    monkeypatch.setenv("OPTINFACE_HOSTING_COUNTRY", "FR")
    monkeypatch.setenv("OPTINFACE_HOSTING_REGION", "Roubaix")
    monkeypatch.setenv("OPTINFACE_TRANSFER_SAFEGUARDS", "adequacy decision 2002/2/EC")


def test_register_states_the_transfers_from_the_settings(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GDPR art. 30(1)(e) from OPTINFACE_HOSTING_* and OPTINFACE_TRANSFER_SAFEGUARDS; EU
    persons once OPTINFACE_EU_REPRESENTATIVE names who represents the controller."""
    _hosted_in_roubaix(monkeypatch)
    d = ("--data-dir", str(made_dir))
    code, output = run("register", *d)
    assert code == 0 and ("## Transfers\n- **QC**: to FR (Roubaix), outside Québec;"
                          " safeguards: adequacy decision 2002/2/EC\n\n") in output
    monkeypatch.setenv("OPTINFACE_EU_REPRESENTATIVE", "Rep GmbH, Berlin, rep@rep.de")
    code, output = run("register", "--format", "json", *d)
    assert code == 0 and json.loads(output)["transfers"][1] == {
        "jurisdiction": "EU", "area": "the EEA",
        "hosted_in": {"country": "FR", "region": "Roubaix",
                                            "provider": "(placeholder) not chosen"},
        "transfer": False, "safeguards": None}


def test_register_ropa_states_the_transfers_and_names_the_registers_hash(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GDPR art. 30(1), point by point, from the same live settings as the register."""
    _hosted_in_roubaix(monkeypatch)
    d = ("--data-dir", str(made_dir))
    code, output = run("register", "ropa", *d)
    assert code == 0, output
    assert ("## Art. 30(1)(e): Transfers to third countries and their safeguards\n"
            "- QC: to FR (Roubaix), outside Québec; safeguards: adequacy decision 2002/2/EC"
            "\n\n") in output
    material = json.loads(run("register", "--format", "json", *d)[1])["material_sha256"]
    assert f"- **Register material sha256**: {material}\n" in output
    code, output = run("register", "ropa", "--format", "json", *d)
    ropa = json.loads(output)
    assert code == 0 and ropa["register_material_sha256"] == material
    assert [e["point"] for e in ropa["entries"]] == [
        "30(1)(a)", "30(1)(b)", "30(1)(c)", "30(1)(c)", "30(1)(d)", "30(1)(e)", "30(1)(f)",
        "30(1)(g)"]


def test_the_register_the_command_prints_verifies_offline_with_the_receipt_key(
    made_dir: Path, tmp_path: Path
) -> None:
    code, output = run("register", "--format", "json", "--data-dir", str(made_dir))
    assert code == 0, output
    register = json.loads(output)
    [key] = [k["public_key"] for k in register["signing_keys"] if "consent receipts" in k["signs"]]
    printed = tmp_path / "register.json"
    printed.write_text(output)
    code, verdict = run("register", "verify", str(printed), "--public-key", key)
    assert code == 0 and f"material sha256 {register['material_sha256']}" in verdict, verdict


def test_register_ropa_and_pia_print_french_with_lang_and_the_same_material(
    made_dir: Path
) -> None:
    """``--lang fr`` (the API's ``lang``): the declaration's register, the record and the
    assessment in French, naming the material SHA-256 the JSON states; the JSON is the same
    whatever the language (the option changes only what people read)."""
    d = ("--data-dir", str(made_dir))
    code, output = run("register", "--format", "json", *d)
    assert code == 0, output
    register = json.loads(output)
    material = register["material_sha256"]
    code, french = run("register", "--lang", "fr", *d)
    assert code == 0, french
    assert french.startswith("# Registre de la banque de caractéristiques biométriques\n")
    assert "## Mesures de sécurité\n" in french and "## Security measures" not in french
    assert f"sha256 actuel des éléments déclarés {material})" in french
    code, ropa = run("register", "ropa", "--lang", "fr", *d)
    assert code == 0 and ropa.startswith("# Registre des activités de traitement"), ropa
    assert f"- **SHA-256 des éléments déclarés du registre** : {material}\n" in ropa
    code, pia = run("register", "pia", "--language", "fr", *d)
    assert code == 0 and pia.startswith("# Évaluation des facteurs relatifs à la vie privée"), pia
    assert f"- **Éléments déclarés du registre évalués (sha256)** : {material}\n" in pia
    code, output = run("register", "--format", "json", "--lang", "fr", *d)
    in_french = json.loads(output)
    assert code == 0 and in_french["signature"]["kid"] == register["signature"]["kid"]
    for each in (in_french, register):  # one reading each, signed at its own time
        del each["generated_at"], each["signature"]
    assert in_french == register
    code, english = run("register", "--lang", "en", *d)
    assert english.startswith("# Register of the biometric database\nGenerated "), english[:80]


def test_register_suspend_applies_a_destruction_order(data_dir: Path, admin: str) -> None:
    d = ("--data-dir", str(data_dir), "--api-key", admin)
    code, output = run("register", "suspend", "--order", "CAI-ORD-7", "--destroy", *d)
    assert code == 0 and "CAI-ORD-7" in output, output
    code, output = run("register", "--format", "json", "--data-dir", str(data_dir))
    [order] = json.loads(output)["orders"]
    assert order["reference"] == "CAI-ORD-7" and order["kind"] == "destroy"
    assert not json.loads(output)["in_service"]
    assert run("register", "lift", "--order", "CAI-ORD-7", *d)[0] == 0


def test_register_suspend_refuses_an_order_in_force_in_one_line(data_dir: Path, admin: str) -> None:
    """The outside tester's repeat: refused with its code, no traceback, nothing recorded; the
    one lift then lifts the order, and a second lift is refused."""
    d = ("--data-dir", str(data_dir), "--api-key", admin)
    assert run("register", "suspend", "--order", "CAI-9", *d)[0] == 0
    for repeat in ((), ("--destroy",)):
        code, output = run("register", "suspend", "--order", "CAI-9", *repeat, *d)
        assert code == 1 and output.startswith("refused: order_in_force: order CAI-9"), output
    code, output = run("register", "lift", "--order", "CAI-9", *d)
    assert code == 0 and "order CAI-9 lifted" in output, output
    code, output = run("register", "--format", "json", "--data-dir", str(data_dir))
    [order] = json.loads(output)["orders"]
    assert order["reference"] == "CAI-9" and order["lifted_at"] is not None
    code, output = run("register", "lift", "--order", "CAI-9", *d)
    assert code == 1 and output.startswith("refused: invalid_request: no order CAI-9"), output


@pytest.mark.parametrize("command", [
    ("register", "suspend", "--order"), ("register", "declare", "--date", "2026-01-05",
                                         "--reference")])
@pytest.mark.parametrize("reference", ["", "CAI/2026 #1?x", "X\x01"])
def test_a_reference_the_api_would_refuse_is_refused_on_the_command_line(
    data_dir: Path, admin: str, command: tuple[str, ...], reference: str
) -> None:
    code, output = run(*command, reference, "--data-dir", str(data_dir), "--api-key", admin)
    assert code == 1 and "refused: invalid_request: reference must be" in output, output
    code, output = run("register", "--format", "json", "--data-dir", str(data_dir))
    register = json.loads(output)
    assert register["orders"] == [] and register["declaration"] is None


def test_register_states_the_configured_recipients(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = ("--data-dir", str(made_dir))
    code, output = run("register", *d)
    assert code == 0 and "## Recipients\n- none\n" in output
    board = {"name": "Ethics board", "purpose": "audit of searches", "legal_basis": "consent"}
    monkeypatch.setenv("OPTINFACE_RECIPIENTS", json.dumps([board]))
    code, output = run("register", "--format", "json", *d)
    assert code == 0 and json.loads(output)["recipients"] == [board]
    code, output = run("register", *d)
    assert code == 0 and "- **Ethics board**: audit of searches (consent)" in output


def test_texts_list_the_missing_french_and_set_refuses_what_is_no_translation_in_one_line(
    data_dir: Path, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's French from the command line (Law 25; Charter of the French language):
    listed with their SHA-256, set with an admin key, refused in one line when it is not a
    translation of a text in use, nothing kept then."""
    board = {"name": "Ethics board", "purpose": "audit of searches", "legal_basis": "consent"}
    monkeypatch.setenv("OPTINFACE_RECIPIENTS", json.dumps([board]))
    d = ("--data-dir", str(data_dir))
    code, output = run("texts", "list", "--missing", *d)
    assert code == 0, output
    listed = {text["places"][0]: text for text in json.loads(output)}
    assert sorted(listed) == ["recipient 1 legal_basis", "recipient 1 name", "recipient 1 purpose"]
    name = listed["recipient 1 name"]
    assert (name["source"], name["text"]) == ("Ethics board", None)
    key = ("--api-key", admin)
    code, output = run("texts", "set", name["source_sha256"], "--text", "Comité\nd'éthique",
                       *key, *d)
    assert code == 1 and output.startswith("refused: invalid_request: the English is one"), output
    code, output = run("texts", "set", "0" * 64, "--text", "Comité d'éthique", *key, *d)
    assert code == 1 and output.startswith("refused: not_found:"), output
    code, output = run("texts", "set", name["source_sha256"], "--text", "Comité d'éthique",
                       "--api-key", "nope", *d)
    assert code == 1 and output.startswith("refused: unauthenticated:"), output
    code, output = run("texts", "list", "--language", "de", *d)
    assert code == 2, output  # typer's own: not a choice
    code, output = run("texts", "set", name["source_sha256"], "--text", "Comité d'éthique",
                       *key, *d)
    assert code == 0 and json.loads(output)["text"] == "Comité d'éthique", output
    code, output = run("texts", "list", "--missing", *d)
    assert sorted(t["places"][0] for t in json.loads(output)) == [
        "recipient 1 legal_basis", "recipient 1 purpose"]


def test_the_register_states_the_databases_absolute_location_however_it_is_run(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, pipeline: FacePipeline
) -> None:
    """Run from the data directory's parent with the relative default (``var``), the command
    line and the API name the same file by its absolute path, not one relative to a shell."""
    monkeypatch.chdir(data_dir.parent)
    expected = f"sqlite:///{data_dir / 'optinface.db'}"
    with deployment(Path("."), pipeline) as (settings, _, client, keys):
        assert not settings.data_dir.is_absolute()
        stated = client.get("/v1/register", headers=auth(keys.reviewer)).json()
    code, output = run("register", "--format", "json", "--data-dir", "var")
    assert code == 0, output
    assert json.loads(output)["database_location"] == stated["database_location"] == expected
    code, output = run("register", "--data-dir", "var")
    assert code == 0 and f"- **Database**: {expected}\n" in output


def test_audit_verify_names_the_first_tampered_sequence(data_dir: Path, admin: str) -> None:
    d = ("--data-dir", str(data_dir))
    code, output = run("audit", "verify", *d)
    assert code == 0 and "OK" in output
    with sqlite3.connect(data_dir / "optinface.db") as db:
        db.execute("UPDATE audit_events SET outcome = 'edited' WHERE seq = 1")
    code, output = run("audit", "verify", *d)
    assert code == 1 and "sequence 1" in output


def test_sweep_reports_what_it_erased(data_dir: Path, admin: str) -> None:
    code, output = run("sweep", "--data-dir", str(data_dir))
    assert code == 0 and "0 erased" in output


_SWEEP_IN_A_CHILD = ("import sys\n"
                     "from optinface.api.cli.main import app\n"
                     "try:\n"
                     "    app(['sweep', '--data-dir', sys.argv[1]])\n"
                     "except SystemExit as end:\n"
                     "    print(end.code, 'insightface' in sys.modules)\n")


def test_a_command_that_embeds_nothing_loads_no_model_yet_refuses_a_tampered_one(
    data_dir: Path, admin: str, tmp_path: Path,
) -> None:
    """``sweep`` opens the ledger, the keys and the index, and never sees a face: its models
    are checked, not loaded (insightface and two ONNX sessions were a fifth of its time,
    ``benchmarks/bench_cli_open.py``). A tampered model file refuses it in one line all the
    same, as it refuses every command."""
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (tampered / "w600k_mbf.onnx").write_bytes(b"not the model")
    ended: dict[str, tuple[list[str], list[str]]] = {}
    for name, environment in (("as installed", os.environ),
                              ("tampered", {**os.environ, "OPTINFACE_MODEL_DIR": str(tampered)})):
        child = subprocess.run([sys.executable, "-c", _SWEEP_IN_A_CHILD, str(data_dir)],
                               env=environment, capture_output=True, text=True, timeout=120)
        ended[name] = child.stdout.split()[-2:], child.stderr.strip().splitlines()
    assert ended["as installed"] == (["0", "False"], [])
    code_and_loaded, [line] = ended["tampered"]
    assert code_and_loaded == ["1", "False"] and "model_integrity" in line


def test_commands_are_refused_while_a_server_has_the_data_dir_open(
    data_dir: Path, admin: str
) -> None:
    service = OptinFace.open(load_settings(data_dir=data_dir))  # as `optinface serve` holds it
    try:
        for command in (["sweep"], ["erase", "subj_00", "--api-key", admin],
                        ["protect", "rekey", "--api-key", admin],
                        ["keys", "rotate-receipt-key", "--reason", "INC-7", "--yes"]):
            code, output = run(*command, "--data-dir", str(data_dir))
            assert code == 1 and "refused: data_dir_in_use" in output, command
            assert f"process {os.getpid()}" in output
    finally:
        service.close()
    assert run("sweep", "--data-dir", str(data_dir))[0] == 0


BESIDE_A_SERVER = {"audit verify", "audit verify-export", "audit verify-access", "receipt verify",
                   "register verify", "models", "embed", "demo --url", "bench --url"}


def _said_to_run_beside_a_server() -> set[str]:
    """The commands ``docs/cli.md`` names as running while ``optinface serve`` has the data dir."""
    text = flowing(page("cli"))
    sentence = text.split("Beside it run only the commands", 1)[1].split(".", 1)[0]
    return set(re.findall(r"`([^`]+)`", sentence))


def test_the_cli_page_names_the_commands_that_run_beside_a_server_and_they_do(
    data_dir: Path, admin: str, tmp_path: Path
) -> None:
    """Black box 21, #2: the README said every other command is refused beside a server, and
    ``audit verify`` answered OK there. It names the read-only ones; those that touch the data
    directory or the key store answer beside an open service, the others are refused."""
    assert _said_to_run_beside_a_server() == BESIDE_A_SERVER
    d = ("--data-dir", str(data_dir))
    exported, printed = tmp_path / "audit.json", tmp_path / "register.json"
    assert run("audit", "export", "--out", str(exported), *d)[0] == 0
    code, register = run("register", "--format", "json", *d)
    assert code == 0, register
    printed.write_text(register)
    [key] = [k["public_key"] for k in json.loads(register)["signing_keys"]
             if "consent receipts" in k["signs"]]
    settings = load_settings(data_dir=data_dir)
    pinned = pinned_key(settings.witness_dir)
    assert pinned is not None
    service = OptinFace.open(settings)  # as `optinface serve` holds it
    try:
        for command in (["audit", "verify", *d],
                        ["audit", "verify-export", str(exported), "--public-key", pinned.vkey,
                         *d],
                        ["register", "verify", str(printed), "--public-key", key]):
            code, output = run(*command)
            assert code == 0 and "data_dir_in_use" not in output, (command, output)
        code, output = run("receipt", "verify", str(printed), *d)  # the key store only read
        assert (code, output) == (2, f"refused: unreadable_file: {printed}: no signed receipt"
                                     " in this file\n"), output
        for command in (["audit", "export", "--out", str(tmp_path / "again.json")],
                        ["register"]):
            code, output = run(*command, *d)
            assert code == 1 and "refused: data_dir_in_use" in output, command
    finally:
        service.close()


def test_demo_walks_the_whole_life_cycle(data_dir: Path) -> None:
    """Run as an operator's shell runs it, its output piped: nothing on stderr (Starlette's
    warning about its test client was), and no line wrapped at 80 columns (a JSON value was
    split in two, a step's heading cut)."""
    result = subprocess.run(
        [sys.executable, "-m", "optinface.api.cli.main", "demo", "--data-dir", str(data_dir)],
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"}, capture_output=True, text=True,
        check=False)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    for marker in ("THIS IS A DEMO", '"candidates_for_review"', '"no_candidate"',
                   "Erasure receipt", "demo complete"):
        assert marker in result.stdout
    assert re.search(r'^  "notice_sha256": "[0-9a-f]{64}"$', result.stdout, re.MULTILINE)
    assert re.search(r"^─+ 4\. The person registered .* the receipt holds their signature ─+$",
                     result.stdout, re.MULTILINE)


def test_receipt_verify_refuses_a_tampered_receipt(
    data_dir: Path, admin: str, tmp_path: Path
) -> None:
    code, output = run("erase", "subj_nobody", "--data-dir", str(data_dir), "--api-key", admin)
    assert code == 1 and "not_found" in output
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"receipt": {"a": 1}, "signature": "AAAA", "public_key": "x"}))
    assert run("receipt", "verify", str(forged), "--data-dir", str(data_dir))[0] == 1
    (tmp_path / "junk.json").write_text("not json")
    code, output = run("receipt", "verify", str(tmp_path / "junk.json"), "--data-dir",
                       str(data_dir))
    assert code == 2 and output.startswith("refused: unreadable_file: "), output


def test_export_and_erase_a_subject(data_dir: Path, admin: str, tmp_path: Path) -> None:
    from optinface.api.settings import load_settings
    from optinface.consent.schemas import AgeCategory, SubjectCreate
    from optinface.consent.service import OptinFace

    service = OptinFace.open(load_settings(data_dir=data_dir))
    try:
        actor = service.authenticate(admin)
        portal = service.create_api_key(actor=actor, role="portal", name="p")  # type: ignore[arg-type]
        pseudonym = service.create_subject(
            actor=service.authenticate(portal.secret),
            body=SubjectCreate(age_category=AgeCategory.ADULT),
        ).pseudonym
    finally:
        service.close()
    d = ("--data-dir", str(data_dir), "--api-key", admin)
    code, output = run("export", pseudonym, "--format", "md", *d)
    assert code == 0 and pseudonym in output
    code, output = run("export", pseudonym, "--format", "md", "--lang", "fr", *d)
    assert code == 0 and output.startswith("# Données détenues à votre sujet"), output[:80]
    code, output = run("erase", pseudonym, *d)
    assert code == 0, output
    path = tmp_path / "receipt.json"
    path.write_text(output)
    assert run("receipt", "verify", str(path), "--data-dir", str(data_dir))[0] == 0
    tampered = json.loads(output)
    tampered["signed"]["receipt"]["templates_destroyed"] = 99
    path.write_text(json.dumps(tampered))
    assert run("receipt", "verify", str(path), "--data-dir", str(data_dir))[0] == 1
    assert run("export", pseudonym, *d)[0] == 1


def test_every_command_and_group_help_has_an_example() -> None:
    paths = [tuple(words) for words, _ in _commands()[1:]]  # the program itself aside
    assert len(paths) >= 30  # a walk that finds fewer is broken
    without = [path for path in paths
               if (found := run(*path, "--help"))[0] != 0 or "Example:" not in found[1]]
    assert without == []


def test_keys_create_offers_every_role_but_the_subjects() -> None:
    """A subject's token comes with its subject's passkey: the choices say so, and a request
    for one is a usage error naming the roles there are."""
    assert {str(role) for role in KeyRole} == {str(role) for role in Role} - {"subject"}
    code, output = run("keys", "create", "--role", "subject", "--name", "x")
    assert code == 2 and "'subject' is not one of" in output


def test_serve_refuses_options_that_are_not_valid_before_making_anything(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each named by the flag that gave it: ``--port 70000`` blamed OPTINFACE_PORT, which the
    operator had not set."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    for option, value in (("--port", "70000"), ("--host", "not a host"),
                          ("--host", "localhost\n")):
        code, lines = console(monkeypatch, capsys, "serve", option, value,
                              "--data-dir", str(data_dir))
        assert code == 1 and len(lines) == 1, lines
        assert lines[0].startswith(f"error: invalid_settings: {option}: "), lines
    assert list(tmp_path.iterdir()) == []  # no data dir, no key store beside it


@pytest.mark.parametrize("host", ["[::1", "::1]", "[[::1]]"])
def test_a_host_is_an_ipv6_address_only_whole_in_its_brackets(
    data_dir: Path, host: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPTINFACE_HOST", host)
    code, lines = console(monkeypatch, capsys, "sweep", "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: invalid_settings: OPTINFACE_HOST: "), lines


def test_serve_refuses_a_port_in_use_in_one_line_before_making_anything(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        code, lines = console(monkeypatch, capsys, "serve", "--port", port,
                              "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: address_unavailable: cannot listen on 127.0.0.1:{port}")
    assert list(tmp_path.iterdir()) == []


def test_the_servers_connections_send_without_waiting_for_the_clients_ack() -> None:
    """Each connection the server's socket accepts has Nagle off, as uvicorn's own socket has:
    with it on, an answer written in two parts waited 40 ms for the client's delayed ACK."""

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[int] = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                connection = transport.get_extra_info("socket")
                accepted.set_result(connection.getsockopt(socket.IPPROTO_TCP,
                                                          socket.TCP_NODELAY))
                transport.close()

        [listener] = listening_sockets("127.0.0.1", 0)
        server = await loop.create_server(Probe, sock=listener)
        async with server:
            port = server.sockets[0].getsockname()[1]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return await asyncio.wait_for(accepted, timeout=10)

    assert asyncio.run(accepted_nodelay()) == 1


def _two_servers() -> list[tuple[Server, list[socket.socket]]]:
    return [(Server(server_config(FastAPI(), None, proxies=(), lifespan=False)),
             listening_sockets("127.0.0.1", 0)) for _ in range(2)]


def _serve_until(pairs: list[tuple[Server, list[socket.socket]]],
                 stop: Callable[[], None]) -> None:
    """Serve ``pairs`` together under :class:`Stopping`, ``stop`` once both listen; then
    every port refuses connections and the process's handlers are as they were."""
    before = {signum: signal.getsignal(signum) for signum in STOPPING_SIGNALS}

    async def stop_once_started() -> None:
        while not all(server.started for server, _ in pairs):
            await asyncio.sleep(0.05)
        stop()

    async def serving(stopping: Stopping) -> None:
        stopper = asyncio.create_task(stop_once_started())
        await asyncio.wait_for(serve_together(pairs, stopping), timeout=30)
        await stopper

    ports = [sockets[0].getsockname()[1] for _, sockets in pairs]
    with Stopping() as stopping:
        asyncio.run(serving(stopping))
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    assert {signum: signal.getsignal(signum) for signum in STOPPING_SIGNALS} == before


def test_when_one_of_serves_ports_stops_the_other_stops_too() -> None:
    """The relying parties' port and the main one stop together: a server that stopped (or
    failed) on one never leaves the other serving alone, with no one to close the service."""
    pairs = _two_servers()
    _serve_until(pairs, lambda: setattr(pairs[1][0], "should_exit", True))


def test_a_stop_signal_reaches_every_port_and_leaves_the_handlers_as_they_were() -> None:
    _serve_until(_two_servers(), lambda: os.kill(os.getpid(), signal.SIGTERM))


def test_the_servers_access_log_names_routes_never_a_pseudonym(tmp_path: Path) -> None:
    """uvicorn's own access lines would keep each pseudonym a path or a filter named, past
    its erasure, in a file no erasure reaches; ``serve`` logs each route's template instead."""
    environment = {**inherited_environment(), "OPTINFACE_DEMO_MODE": "true",
                   "OPENBLAS_NUM_THREADS": "1"}
    worker = Worker(tmp_path / "var", environment).start()
    try:
        [secret] = re.findall(r"^(key_\S+)$", worker.log.read_text(), flags=re.MULTILINE)
        admin = auth(secret)
        created = httpx2.post(f"{worker.url}/v1/subjects", json={"age_category": "adult"},
                             headers=admin)
        assert created.status_code == 201, created.text
        pseudonym = created.json()["pseudonym"]
        for method, path, params in (("GET", f"/v1/subjects/{pseudonym}", {}),
                                     ("GET", "/v1/audit/events", {"subject": pseudonym}),
                                     ("DELETE", f"/v1/subjects/{pseudonym}", {})):
            answer = httpx2.request(method, worker.url + path, params=params, headers=admin)
            assert answer.status_code == 200, answer.text
    finally:
        worker.stop()
    log = worker.log.read_text()
    # Whole, though no terminal is 95 columns wide here: rich split it at 80.
    assert (f"listening on {worker.url}  (API /v1, docs /docs, portal /portal, review /review)"
            in log.splitlines()), log[:2000]
    assert pseudonym not in log
    for line in ('"GET /v1/subjects/{subject} HTTP/1.1" 200', '"GET /v1/audit/events HTTP/1.1"',
                 '"DELETE /v1/subjects/{subject} HTTP/1.1" 200'):
        assert line in log, log[-2000:]


def test_the_server_listens_on_every_address_its_host_resolves_to() -> None:
    """With ``::1`` listed first for ``localhost``, only it was bound and 127.0.0.1 clients were
    refused. The wildcard names both families: they share one port, the IPv6 socket being
    IPv6 only (a dual-stack one would hold the IPv4 port too)."""
    resolved = socket.getaddrinfo(None, 0, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP,
                                  flags=socket.AI_PASSIVE)
    listeners = bind_every(resolved)
    try:
        assert {listener.family for listener in listeners} == {socket.AF_INET, socket.AF_INET6}
        [port] = {listener.getsockname()[1] for listener in listeners}
        for loopback in ("127.0.0.1", "::1"):
            socket.create_connection((loopback, port), timeout=10).close()
    finally:
        for listener in listeners:
            listener.close()


def test_an_ipv6_host_is_written_in_brackets_in_a_url() -> None:
    assert [url_host(host) for host in ("::1", "[::1]", "127.0.0.1", "localhost")] == [
        "[::1]", "[::1]", "127.0.0.1", "localhost"]


@pytest.mark.parametrize("command", [("serve", "--port", FREE_PORT),
                                     ("keys", "create", "--role", "admin", "--name", "ops")])
def test_a_data_dir_that_cannot_be_made_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path,
    command: tuple[str, ...]
) -> None:
    """The same line whether the service is opened by serve or by the other command that
    makes a deployment (``opened``): the prefix follows from the code (5xx: ``error:``), not
    from where it was caught."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    code, lines = console(monkeypatch, capsys, *command, "--data-dir", "/proc/optinface-nope")
    assert (code, lines) == (1, ["error: data_dir_unusable: data directory /proc/optinface-nope:"
                                 " No such file or directory"])


def _delete_signing_key(keys: Path, _data: Path) -> None:
    (keys / "signing.key").unlink()


def _shorten_signing_key(keys: Path, _data: Path) -> None:
    (keys / "signing.key").write_bytes(os.urandom(5))


def _folder_for_hmac_key(keys: Path, _data: Path) -> None:
    (keys / "hmac.key").unlink()
    (keys / "hmac.key").mkdir(mode=0o700)


def _garbage_database(_keys: Path, data: Path) -> None:
    for path in data.glob("optinface.db*"):
        path.unlink()
    (data / "optinface.db").write_bytes(os.urandom(10_000))
    (data / "optinface.db").chmod(0o600)


@pytest.mark.parametrize("command", [("serve", "--port", FREE_PORT), ("sweep",)],
                         ids=["serve", "sweep"])
@pytest.mark.parametrize(("fault", "line"), [
    pytest.param(_delete_signing_key, "error: key_store_unusable: the key store lacks the signing"
                 " key that this ledger's data needs: no key is made for a deployment in use",
                 id="missing-key"),
    pytest.param(_shorten_signing_key, "error: key_store_unusable: the signing key in the key"
                 " store is damaged (5 bytes, not 32)", id="short-key"),
    pytest.param(_folder_for_hmac_key, "error: key_store_unusable: key file {keys}/hmac.key is"
                 " not a file", id="folder-for-a-key"),
    pytest.param(_garbage_database, "error: data_dir_unusable: the ledger cannot be read:"
                 " DatabaseError: file is not a database", id="garbage-database"),
])
def test_a_key_store_or_ledger_that_cannot_serve_the_data_is_one_line_changing_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path,
    admin: str, command: tuple[str, ...], fault: Callable[[Path, Path], None], line: str,
) -> None:
    """Whichever command opens the deployment, serve included: one line, no key made, no
    index file deleted."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    keys = data_dir.with_name("var-keys")
    fault(keys, data_dir)
    before = file_bytes(keys, data_dir)
    code, lines = console(monkeypatch, capsys, *command, "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(line.format(keys=keys)), lines
    assert file_bytes(keys, data_dir) == before


@pytest.mark.parametrize("command", [("sweep",), ("register",), ("keys", "list", "--api-key", "k"),
                                     ("keys", "epochs", "--api-key", "k"),
                                     ("keys", "break-glass", "--reason", "x")])
def test_a_command_on_a_data_dir_that_does_not_exist_makes_no_deployment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    command: tuple[str, ...],
) -> None:
    """A mistyped --data-dir is one line: only serve and keys create make a deployment."""
    typo = tmp_path / "vra"
    code, lines = console(monkeypatch, capsys, *command, "--data-dir", str(typo))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: data_dir_unusable: no data directory at {typo}"), lines
    assert list(tmp_path.iterdir()) == []


def test_a_backup_destination_that_cannot_be_written_is_one_line(
    data_dir: Path, admin: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = console(monkeypatch, capsys, "backup", "/proc/optinface-nope",
                          "--data-dir", str(data_dir))
    assert (code, lines) == (1, ["refused: unwritable_file: cannot write the backup in"
                                 " /proc/optinface-nope: No such file or directory"])


def test_a_backup_onto_a_full_disk_is_unwritable_file_in_one_line_leaving_nothing(
    data_dir: Path, admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SQLite's "database or disk is full" while it writes the copy was ``data_dir_unusable``,
    "the ledger cannot be copied": the destination's disk, blamed on the ledger."""
    with small_file_system(tmp_path / "usb") as usb:
        destination = usb / "backup"
        code, lines = console(monkeypatch, capsys, "backup", str(destination),
                              "--data-dir", str(data_dir))
        assert (code, lines) == (1, [f"refused: unwritable_file: cannot write the backup in"
                                     f" {destination}: No space left on device"])
        assert list(usb.iterdir()) == []


def test_a_commands_output_onto_a_full_disk_is_refused_never_cut_short_in_silence(
    data_dir: Path, admin: str, tmp_path: Path,
) -> None:
    """With ``PYTHONUNBUFFERED=1``, as the container image sets it, Python dropped what a
    nearly full disk did not take of a command's output: ``register ropa > ropa.md`` ended 0
    with the record cut at 4 kB."""
    with small_file_system(tmp_path / "usb") as usb:
        (usb / "other-files").write_bytes(bytes(12_288))  # one 4 kB page left
        with (usb / "ropa.md").open("wb") as redirected:
            child = subprocess.run(
                [sys.executable, "-m", "optinface.api.cli.main", "register", "ropa", "--format",
                 "md", "--data-dir", str(data_dir)], stdout=redirected, stderr=subprocess.PIPE,
                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=120)
    assert (child.returncode, child.stderr.splitlines()) == (1, [
        "refused: unwritable_file: cannot write the output: No space left on device; what it"
        " printed is incomplete"])


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_restore_from_a_folder_that_cannot_be_read_is_unreadable_file_in_one_line(
    data_dir: Path, admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], kind: str,
) -> None:
    """A source that is no folder is input that cannot be read, as a verifier's file is
    (black box 25: it was ``invalid_request``, "holds no optinface backup")."""
    source = tmp_path / "no-backup"
    if kind == "file":
        source.write_text("not a folder")
    code, lines = console(monkeypatch, capsys, "restore", str(source), "--data-dir",
                          str(data_dir))
    reason = "not a folder" if kind == "file" else "no such folder"
    assert (code, lines) == (1, [f"refused: unreadable_file: {source}: cannot be read ({reason})"])


def _backed_up(data_dir: Path, destination: Path, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> Path:
    """``destination`` holding a backup of the deployment in ``data_dir``."""
    code, lines = console(monkeypatch, capsys, "backup", str(destination),
                          "--data-dir", str(data_dir))
    assert code == 0, lines
    return destination


@pytest.mark.parametrize("data_dir_is", ["a-file", "unmakeable"])
def test_a_restore_into_a_data_dir_that_is_a_file_or_cannot_be_made_is_one_line(
    data_dir: Path, admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], data_dir_is: str,
) -> None:
    """It was a traceback (``FileExistsError``, ``FileNotFoundError``): a restore makes the
    data directory where there is none (a bare machine taking over), as a start does, and is
    refused as a start is where it cannot."""
    backup = _backed_up(data_dir, tmp_path / "backup", monkeypatch, capsys)
    target = tmp_path / "a-file" if data_dir_is == "a-file" else Path("/proc/optinface-nope")
    if data_dir_is == "a-file":
        target.write_text("not a folder")
    code, lines = console(monkeypatch, capsys, "restore", str(backup), "--data-dir", str(target))
    assert (code, lines) == (1, [f"error: data_dir_unusable: data directory {target} is not a"
                                 " folder" if data_dir_is == "a-file" else
                                 f"error: data_dir_unusable: data directory {target}: No such"
                                 " file or directory"])


def test_a_command_on_a_full_disk_is_one_line(data_dir: Path, admin: str) -> None:
    """Each command that opens the deployment writes to the ledger as it opens: SQLite's
    "disk I/O error" past the start's reads (a full disk's "database or disk is full" alike)
    was a traceback. The limit, the size of SQLite's shared-memory file, lets those reads
    through."""
    child = console_on_a_full_disk(32_768, "sweep", "--data-dir", str(data_dir))
    assert (child.returncode, child.stderr.splitlines()) == (1, [
        "error: data_dir_unusable: the ledger's storage failed: OperationalError: disk I/O"
        " error"])


def _held_files(data_dir: Path) -> dict[str, bytes]:
    """Every file of ``data_dir`` and its bytes but the lock's, which names the last process to
    hold it."""
    return {path: content for path, content in file_bytes(data_dir).items()
            if Path(path).name != LOCK_FILE}


def test_a_restore_that_cannot_write_its_copy_leaves_the_ledger_as_it_was(
    data_dir: Path, admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A full disk, played by a limit on the size of the files the command writes (half the
    backup's): the copy is written, voided and made durable beside the ledger before any file
    of it is shredded. The ledger was shredded first: a restore refused half-way left zeros
    where it stood, and a traceback."""
    backup = _backed_up(data_dir, tmp_path / "backup", monkeypatch, capsys)
    limit = (backup / "optinface.db").stat().st_size // 2
    held = _held_files(data_dir)
    child = console_on_a_full_disk(limit, "restore", str(backup), "--data-dir", str(data_dir))
    assert (child.returncode, child.stderr.splitlines()) == (1, [
        f"error: data_dir_unusable: the backup cannot be copied into {data_dir}: File too large;"
        " the ledger is as it was, nothing was replaced"])
    assert _held_files(data_dir) == held
    code, lines = console(monkeypatch, capsys, "audit", "verify", "--data-dir", str(data_dir))
    assert code == 0, lines


@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "empty-folder"])
def test_a_backup_of_a_ledger_that_is_not_a_database_is_one_line_leaving_nothing(
    data_dir: Path, admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], existing: bool,
) -> None:
    """A traceback, and an empty ``optinface.db`` in the destination that would pass for a
    backup, before."""
    _garbage_database(Path(), data_dir)
    destination = tmp_path / "backup"
    if existing:
        destination.mkdir()
    code, lines = console(monkeypatch, capsys, "backup", str(destination),
                          "--data-dir", str(data_dir))
    assert (code, lines) == (1, ["error: data_dir_unusable: the ledger cannot be copied:"
                                 " DatabaseError: file is not a database; nothing was backed"
                                 " up"])
    assert (list(destination.iterdir()) == []) if existing else not destination.exists()


def test_a_backup_of_a_ledger_another_process_holds_locked_waits_then_refuses_leaving_nothing(
    made_dir: Path, tmp_path: Path
) -> None:
    """sqlite3's backup retried a locked ledger for ever: the command never ended, and a
    backup killed for it left an empty ``optinface.db`` that would pass for one."""
    destination = tmp_path / "backup"
    with held_locked(made_dir / DATABASE_NAME), pytest.raises(DataDirInUse) as refusal:
        back_up(load_settings(data_dir=made_dir), destination, now=datetime.now(UTC),
                lock_wait_ms=200)
    assert refusal.value.message == ("another process holds the ledger locked (OperationalError:"
                                     " database is locked); try again once it lets go")
    assert not destination.exists()


def test_audit_verify_of_a_ledger_another_process_holds_locked_is_not_checked_never_broken(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said ``audit log BROKEN: the audit tables cannot be read``, the verdict of a log
    altered, of a ledger an operator's ``sqlite3`` shell held for a moment."""
    with held_locked(made_dir / DATABASE_NAME):
        code, lines = console(monkeypatch, capsys, "audit", "verify", "--data-dir",
                              str(made_dir))
    assert (code, lines) == (2, ["refused: data_dir_in_use: another process holds the ledger"
                                 " locked (OperationalError: database is locked); try again"
                                 " once it lets go; the log was not checked"])
    code, lines = console(monkeypatch, capsys, "audit", "verify", "--data-dir", str(made_dir))
    assert code == 0, lines


@pytest.mark.parametrize("command", [("register",), ("sweep",),
                                     ("serve", "--port", FREE_PORT)])
def test_a_database_file_that_cannot_be_made_is_one_line(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...],
) -> None:
    """``sqlite:////etc/passwd/x.db``: a file where the database's folder should be. Only
    serve may make a ledger; the other commands find none there."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    monkeypatch.setenv("OPTINFACE_DATABASE_URL", f"sqlite:///{in_the_way}/optinface.db")
    data_dir.mkdir()
    code, lines = console(monkeypatch, capsys, *command, "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(
        f"error: data_dir_unusable: the ledger's database {in_the_way}/optinface.db cannot be"
        f" made: a file stands in the way of its folder {in_the_way}" if command[0] == "serve"
        else f"error: data_dir_unusable: no ledger at {in_the_way}/optinface.db,"), lines


@pytest.mark.parametrize("command", [("keys", "revoke"), ("keys", "admin-passkey-link")])
def test_a_whole_key_where_its_id_is_expected_is_refused_without_echoing_its_secret(
    data_dir: Path, admin: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...],
) -> None:
    """``keys revoke key_ID.SECRET`` printed ``no API key key_ID.SECRET``: the secret, on the
    operator's screen and in whatever records it. Refused before anything is opened, naming
    the id alone; the key is not revoked."""
    monkeypatch.setenv("OPTINFACE_ADMIN_MFA", "true")
    key_id, secret = admin.split(".")
    operator = ("--api-key", admin) if command[-1] == "revoke" else ()  # the other: no key
    code, lines = console(monkeypatch, capsys, *command, admin, *operator,
                          "--data-dir", str(data_dir))
    assert (code, lines) == (1, [f"refused: invalid_request: a key id is expected, not the key:"
                                 f" pass {key_id} (the part before the dot)"])
    assert secret not in lines[0]
    listed = json.loads(run("keys", "list", "--json", "--api-key", admin,
                            "--data-dir", str(data_dir))[1])
    assert [key["revoked_at"] for key in listed] == [None]


def test_an_error_line_escapes_control_characters_and_cuts_a_long_value(
    data_dir: Path, admin: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pseudonym holding a bell and an OSC sequence (which retitles a terminal) reached
    stderr raw; one of 100,000 characters was printed whole."""
    d = ("--api-key", admin, "--data-dir", str(data_dir))
    code, lines = console(monkeypatch, capsys, "export", "subj_\x07\x1b]0;pwn\x07", *d)
    assert (code, lines) == (1, [r"refused: not_found: no subject subj_\x07\x1b]0;pwn\x07"])
    code, lines = console(monkeypatch, capsys, "export", "subj_" + "a" * 100_000, *d)
    assert (code, lines) == (1, ["refused: not_found: no subject subj_" + "a" * 115 + "…"])


def test_a_demo_step_that_fails_is_one_line_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was printed on stdout, wrapped over two lines, with whatever the server answered."""
    app = FastAPI()
    app.get("/healthz")(lambda: {"status": "ok"})
    app.post("/v1/keys")(lambda: PlainTextResponse("down\nfor \x1b[31mmaintenance", 503))
    with running(app) as url:
        code, lines = console(monkeypatch, capsys, "demo", "--url", url, "--api-key", "key_x.y")
    assert (code, lines) == (1, [r"demo failed: POST /v1/keys -> 503 down\nfor"
                                 r" \x1b[31mmaintenance"])


def test_keys_list_off_a_terminal_cuts_no_key_id_nor_name(data_dir: Path, admin: str) -> None:
    """Piped, rich laid the table out for 80 columns: ``key_1e79…``, an id ``keys revoke``
    cannot take."""
    d = ("--api-key", admin, "--data-dir", str(data_dir))
    name = "a relying party with a long name " * 5
    code, output = run("keys", "create", "--role", "reviewer", "--name", name.strip(), *d)
    assert code == 0, output
    code, output = run("keys", "list", *d)
    assert code == 0, output
    rows = [line for line in output.splitlines() if "key_" in line]
    assert len(rows) == 2, output
    assert admin.split(".")[0] in rows[0] and name.strip() in rows[1] and "…" not in output


def _commands() -> list[tuple[list[str], Any]]:
    """Every command and group of the console script, by the words that invoke it."""
    def walk(command: Any, words: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield words, command
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(sub, [*words, name])
    return list(walk(typer.main.get_command(app), []))


def test_every_example_passes_the_key_its_command_requires() -> None:
    """``register declare``, ``suspend`` and ``lift`` showed examples without ``--api-key``."""
    for words, command in _commands():
        needs_key = any("--api-key" in getattr(param, "opts", ()) and param.required
                        for param in command.params)
        if needs_key:
            code, output = run(*words, "--help")
            example = output.split("Example:")[1].split("╭")[0]
            assert code == 0 and "--api-key" in example, (words, example)


def test_no_help_shows_markup_it_does_not_render() -> None:
    """``keys epochs --help`` showed ``copiesUndecryptableAt`` with its reST backquotes."""
    for words, _ in _commands():
        code, output = run(*words, "--help")
        assert code == 0 and "``" not in output, words


def test_the_command_list_gives_each_command_its_summary_on_one_line() -> None:
    """``restore``'s summary ran over four lines, broken where its docstring's lines end."""
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "300"})
    below = result.output.split("─ Commands ")[1].splitlines()[1:]
    panel = below[:[line.startswith("╰") for line in below].index(True)]
    assert panel and all(re.match(r"│ [a-z]", line) for line in panel), panel


def test_a_setting_that_is_not_even_json_is_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPTINFACE_RECIPIENTS", "not json")
    code, lines = console(monkeypatch, capsys, "register", "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: invalid_settings: OPTINFACE_RECIPIENTS: not JSON ("), (
        lines)  # the variable, no longer pydantic-settings' field name (bad-input test 18, #4)


@pytest.mark.parametrize(("variable", "value"), [
    ("OPTINFACE_KEY_EPOCH_HOURS", "100000000"),  # the next boundary would overflow at erasure
    ("OPTINFACE_SUBJECT_TOKEN_DAYS", "3000000"),  # a sign-in's token would overflow
    ("OPTINFACE_MINOR_CONSENT_MAX_DAYS", "1e20"),
    ("OPTINFACE_AUDIT_WITNESS_INTERVAL_SECONDS", "inf"),  # the witness thread would die
    ("OPTINFACE_RATE_PER_SECOND", "inf"),  # no bound but finiteness
    ("OPTINFACE_ACCESS_LOG_HOLD", "   "),  # a hold of spaces states nothing
    ("OPTINFACE_HOSTING_COUNTRY", "C\nA"),  # the register's Markdown would break
    ("OPTINFACE_HOSTING_COUNTRY", "XX"),  # two capitals, but no country: no transfer rule applies
    ("OPTINFACE_CONTROLLER_NAME", "Acme\u202e"),
    ("OPTINFACE_JOINT_CONTROLLER", "Acme\n## Art. 30(1)(g)"),  # a section of the ROPA
    ("OPTINFACE_INTRA_OP_THREADS", "99999999999999999999"),  # onnxruntime's TypeError
    ("OPTINFACE_INTRA_OP_THREADS", "5000"),  # burnt the CPU for minutes
    ("OPTINFACE_INDEX_MAX_ELEMENTS", "99999999999999"),  # hnswlib's std::bad_alloc
    ("OPTINFACE_INDEX_M", "1000000000"),  # capped by hnswlib at 10000: 80 KB a slot
    ("OPTINFACE_INDEX_EF_SEARCH", "1000000000"),
    ("OPTINFACE_DET_SIZES", "[]"),  # an IndexError at the first image
    ("OPTINFACE_DET_SIZES", "[0]"),  # every image no_face
    ("OPTINFACE_DET_SIZES", "[-5, 99999999]"),
    ("OPTINFACE_DET_SIZES", "[100]"),  # not a multiple of SCRFD's stride: numpy's error
    ("OPTINFACE_DET_SIZES", "[4096]"),
    ("OPTINFACE_ALLOWED_FORMATS", "[]"),  # every image refused
    ("OPTINFACE_ALLOWED_FORMATS", '["jpeg"]'),  # Pillow says JPEG: every image refused
    ("OPTINFACE_PROVIDERS", "[]"),  # reads as none, ran on the CPU
    ("OPTINFACE_PROVIDERS", '["CUDAExecutionProvidr"]'),  # dropped: the CPU, nothing said
    ("OPTINFACE_PUBLIC_URL", "javascript:alert(1)"),  # handed to people as their link
    ("OPTINFACE_PUBLIC_URL", "https://portal.example/#x"),  # the links add their own fragment
    ("OPTINFACE_PASSKEY_ORIGINS", '["x"]'),  # no browser sends it: every passkey refused
    ("OPTINFACE_PASSKEY_ORIGINS", '["http://portal.example"]'),  # WebAuthn: http on localhost
    ("OPTINFACE_PASSKEY_ORIGINS", '["https://portal.example/"]'),  # a browser writes no path
])
def test_a_setting_that_would_fail_later_is_refused_at_start_in_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variable: str, value: str,
) -> None:
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    monkeypatch.setenv(variable, value)
    code, lines = console(monkeypatch, capsys, "register", "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: invalid_settings: {variable}: "), lines


@pytest.mark.parametrize(("variable", "widest"), [
    ("OPTINFACE_AUDIT_WITNESS_INTERVAL_SECONDS", 600),
    ("OPTINFACE_AUDIT_CHECKPOINT_EVERY", 1000),
])
def test_the_unsigned_tail_of_the_log_is_bounded_at_start(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variable: str, widest: int,
) -> None:
    """Red team 4, finding 3: a day between witnessed checkpoints (86400 s, a million events)
    let a kill -9 and a DELETE of the newest events go unseen for a day's searches. Past ten
    minutes or a thousand events the start is refused in one line naming the variable; the
    bound itself starts."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    for value in ("86400" if "SECONDS" in variable else "1000000", str(widest + 1)):
        monkeypatch.setenv(variable, value)
        code, lines = console(monkeypatch, capsys, "register", "--data-dir", str(made_dir))
        assert (code, lines) == (1, [f"error: invalid_settings: {variable}: Input should be"
                                     f" less than or equal to {widest}"]), value
    monkeypatch.setenv(variable, str(widest))
    code, lines = console(monkeypatch, capsys, "register", "--data-dir", str(made_dir))
    assert code == 0, lines


def test_passkey_origins_outside_the_relying_party_id_are_refused_at_start(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A browser signs for a relying party id only from its domain or a subdomain: an origin
    elsewhere (here beside the default id, localhost) would refuse every passkey unexplained."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    monkeypatch.setenv("OPTINFACE_PASSKEY_ORIGINS", '["https://portal.example"]')
    code, lines = console(monkeypatch, capsys, "register", "--data-dir", str(made_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: invalid_settings: "), lines
    assert "OPTINFACE_PASSKEY_RP_ID" in lines[0] and "subdomain" in lines[0], lines
    monkeypatch.setenv("OPTINFACE_PASSKEY_RP_ID", "example")
    code, lines = console(monkeypatch, capsys, "register", "--data-dir", str(made_dir))
    assert code == 0, lines


PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
FORGED_CALIBRATION = ("[models.w600k_mbf]\ndataset = \"LFW\"\ndate = \"2026-11-23\"\npoints = ["
                      "{ fmr = 0.001, threshold = 0.2332, fnmr = 0.0007 },"
                      " { fmr = 0.0001, threshold = -0.5, fnmr = 0.0016 }]\n")
"""Red team 4, finding 4: the packaged calibration with its 1e-4 point's threshold forged to
-0.5, below the 1e-3 point's: declared, it made every stranger a candidate."""


@pytest.mark.parametrize(("variable", "written", "said"), [
    ("OPTINFACE_MODEL_DIR", PASSWD, "error: model_integrity: model folder {path}"
                                    " (OPTINFACE_MODEL_DIR) is not a folder"),
    ("OPTINFACE_THRESHOLDS_PATH", PASSWD, "error: manifest_unreadable: thresholds file {path}"
                                          " cannot be read: Expected '=' after a key"),
    ("OPTINFACE_THRESHOLDS_PATH", None, "error: manifest_unreadable: thresholds file {path} is"
                                        " not a file"),
    ("OPTINFACE_THRESHOLDS_PATH", FORGED_CALIBRATION,
     "error: manifest_unreadable: thresholds file {path} is not a calibration: model w600k_mbf:"
     " threshold -0.5 at false-match rate 0.0001 is not above 0.2332 at 0.001"),
])
def test_a_model_folder_or_thresholds_file_that_is_none_is_refused_before_anything_is_made(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], variable: str, written: str | None, said: str,
) -> None:
    """/etc/passwd as the model folder was ignored (the package's models taken instead); as the
    thresholds file, the server started only to refuse every match with it; a forged
    calibration started, and matched every stranger once declared. ``keys create`` opens the
    service as serve does (``OptinFace.open``), and ends where a regression would leave serve
    serving."""
    path = tmp_path / "named"
    if written is None:
        path.mkdir()
    else:
        path.write_text(written)
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    monkeypatch.setenv(variable, str(path))
    code, lines = console(monkeypatch, capsys, "keys", "create", "--role", "admin", "--name",
                          "ops", "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(said.format(path=path)), lines
    assert not list(tmp_path.glob("var*")), "no data dir, no key store beside it"


UNSUPPORTED_DATABASES = ["garbage://", "not a url hunter2", "mysql://ops:hunter2@db/optinface",
                         "postgresql+asyncpg://ops:hunter2@db/optinface",
                         "sqlite+aiosqlite:///hunter2.db"]


@pytest.mark.parametrize("url", UNSUPPORTED_DATABASES)
@pytest.mark.parametrize("command", [("keys", "epochs", "--api-key", "key_x.y"),
                                     ("serve", "--port", "8000")])
def test_a_database_url_the_ledger_cannot_use_is_one_line_without_its_value(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], url: str, command: tuple[str, ...],
) -> None:
    """Refused with the settings, before anything is made: the driver's own failure came later,
    as a traceback; and the URL may hold a password, so its value is never printed."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    monkeypatch.setenv("OPTINFACE_DATABASE_URL", url)
    code, lines = console(monkeypatch, capsys, *command, "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: invalid_settings: OPTINFACE_DATABASE_URL: "), lines
    assert "hunter2" not in lines[0] and "garbage" not in lines[0]
    assert not list(tmp_path.glob("var*")), "no data dir, no key store beside it"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:",
                                 "sqlite:///file::memory:?uri=true",
                                 "sqlite:///file:hunter2?mode=memory&uri=true"])
@pytest.mark.parametrize("command", [("register",), ("sweep",)])
def test_a_database_in_memory_is_refused_as_no_ledger(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], url: str, command: tuple[str, ...],
) -> None:
    """Lost at exit: these commands ran against a throw-away ledger, and serve started, its
    sweeper then failing. Refused with the settings, in one line without the value."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    monkeypatch.setenv("OPTINFACE_DATABASE_URL", url)
    code, lines = console(monkeypatch, capsys, *command, "--data-dir", str(data_dir))
    assert (code, len(lines)) == (1, 1), lines
    assert lines[0].startswith("error: invalid_settings: OPTINFACE_DATABASE_URL: Value error,"
                               " a SQLite database in memory is no ledger"), lines
    assert "hunter2" not in lines[0] and ":memory:" not in lines[0]
    assert not list(tmp_path.glob("var*")), "no data dir, no key store beside it"


@pytest.mark.parametrize("url", ["sqlite:///var/optinface.db", "sqlite+pysqlite:///ledger.db",
                                 "postgresql+psycopg://ops:hunter2@db:5432/optinface"])
def test_the_ledgers_sqlite_and_postgresql_urls_are_valid_settings(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("OPTINFACE_DATABASE_URL", url)
    assert load_settings(data_dir=data_dir).url == url


@pytest.mark.parametrize("server", [f"127.0.0.1:{FREE_PORT}", "nowhere.invalid:5432"],
                         ids=["port-closed", "name-not-resolved"])
@pytest.mark.parametrize("command", [("sweep",), ("register",),
                                     ("serve", "--port", FREE_PORT)])
def test_a_postgresql_ledger_no_server_answers_for_is_one_line_without_the_password(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    server: str, command: tuple[str, ...],
) -> None:
    """A database that is down, or whose host name does not resolve (a DNS outage), is no
    bug of the command: one line naming the ledger as out of reach, the password of its URL
    never printed."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    monkeypatch.setenv("OPTINFACE_DATABASE_URL",
                       f"postgresql+psycopg://ops:hunter2@{at_run(server)}/optinface")
    code, lines = console(monkeypatch, capsys, *command, "--data-dir", str(made_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: ledger_unavailable: OperationalError: "), lines
    assert "hunter2" not in lines[0]


@pytest.mark.parametrize("server", [f"127.0.0.1:{FREE_PORT}", "nowhere.invalid:5432"],
                         ids=["port-closed", "name-not-resolved"])
def test_audit_verify_of_a_postgresql_ledger_no_server_answers_for_is_not_checked_never_broken(
    made_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    server: str,
) -> None:
    """It said ``audit log BROKEN``, exit 1, the verdict of a log altered, when the database
    was down: exit 2, a log that could not be checked."""
    monkeypatch.setenv("OPTINFACE_DATABASE_URL",
                       f"postgresql+psycopg://ops:hunter2@{at_run(server)}/optinface")
    code, lines = console(monkeypatch, capsys, "audit", "verify", "--data-dir", str(made_dir))
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ledger_unavailable: OperationalError: "), lines
    assert lines[0].endswith("; the log was not checked") and "hunter2" not in lines[0], lines


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_a_url_where_no_server_answers_is_one_line(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The URL is named, but never a password it holds."""
    port = free_port()
    url = f"http://ops:hunter2@127.0.0.1:{port}/"
    code, lines = console(monkeypatch, capsys, command, "--url", url, "--api-key", "key_x.y")
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(
        f"error: server_unreachable: no server answers at http://***@127.0.0.1:{port}/:"), lines
    assert "hunter2" not in lines[0] and "ops" not in lines[0]
