"""``optinface register verify``: a regulator checks a served register (and its record of
processing) with the published receipt key alone, on SQLite and PostgreSQL.

The command runs as a process of its own, where no data directory is. The register as served
verifies and prints its material SHA-256, the one its declaration recorded, and that the key
its material names signed it; one byte changed in a figure fails (exit 1), and so does another
key (the checkpoint key, a stranger's); a file that is not JSON, or not a register, is
unreadable (exit 2)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.consent.declaration import RECEIPT_KEY, material_sha256
from optinface.consent.receipts import SIGNS
from optinface.consent.schemas import Register
from optinface.consent.service import OptinFace
from optinface.consent.signed_documents import signed
from tests.support.api import World, auth
from tests.support.backends import on_both_backends

pytestmark = [pytest.mark.shared_deployment, on_both_backends]


def _receipt_key(world: World, signs: str = SIGNS[0]) -> str:
    """The published key (base64) that signs ``signs``: the receipt key by default."""
    [key] = [key["public_key"] for key in
             world.client.get("/.well-known/optinface-keys.json").json()["keys"]
             if signs in key["signs"]]
    return str(key)


def _served(world: World, path: str = "/v1/register") -> str:
    answer = world.client.get(path, headers=auth(world.keys.reviewer))
    assert answer.status_code == 200, answer.text
    return answer.text


def _verify(tmp_path: Path, text: str, key: str, *,
            own_process: bool = False) -> subprocess.CompletedProcess[str]:
    """``register verify`` on ``text``: in this process (the same command, its exit code and
    streams), or, ``own_process``, as a regulator runs it, a process of its own where no data
    directory is (a few seconds each, so once per backend)."""
    file = tmp_path / "register.json"
    file.write_text(text, encoding="utf-8")
    arguments = ["register", "verify", str(file), "--public-key", key]
    if own_process:
        return subprocess.run([sys.executable, "-m", "optinface.api.cli.main", *arguments],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120,
                              check=False)
    result = CliRunner().invoke(app, arguments)
    return subprocess.CompletedProcess(arguments, result.exit_code, result.stdout, result.stderr)


def test_a_served_register_verifies_with_the_published_key_and_prints_the_declared_hash(
    world: World, tmp_path: Path
) -> None:
    served = _served(world)
    register, key = json.loads(served), _receipt_key(world)
    declared = register["declaration"]["material_sha256"]
    assert register["in_service"] and register["material_sha256"] == declared
    done = _verify(tmp_path, served, key, own_process=True)
    assert done.returncode == 0 and done.stderr == "", done
    assert (f"register of {register['generated_at']} signed by {key}"
            f" ({register['signature']['kid']})") in done.stdout, done
    assert f"material sha256 {declared} (material version 2)" in done.stdout, done
    assert f"recorded {declared}: the same" in done.stdout, done
    assert f"its material names the receipt key {key}: the key that signed" in done.stdout, done
    pretty = _verify(tmp_path, json.dumps(register, indent=2, ensure_ascii=False), key)
    assert pretty.returncode == 0, pretty  # the JSON is what is signed, not its layout


def test_one_byte_changed_in_a_figure_fails(world: World, tmp_path: Path) -> None:
    served = _served(world)
    figure = re.search(r'"subjects":(\d)', served)
    assert figure is not None, served
    changed = (served[:figure.start(1)] + str((int(figure[1]) + 1) % 10)
               + served[figure.end(1):])
    assert len(changed) == len(served) and changed != served
    done = _verify(tmp_path, changed, _receipt_key(world))
    assert done.returncode == 1 and done.stdout == "", done
    assert len(done.stderr.splitlines()) == 1 and "INVALID signature for key" in done.stderr, done


def test_another_key_fails(world: World, tmp_path: Path) -> None:
    served = _served(world)
    stranger = base64.b64encode(
        Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    for key in (_receipt_key(world, "audit checkpoints (C2SP signed notes)"), stranger):
        done = _verify(tmp_path, served, key)
        assert done.returncode == 1 and "INVALID signature for key" in done.stderr, done
        assert "Traceback" not in done.stderr


def test_a_register_signed_by_a_key_its_material_does_not_name_is_not_bound(
    world: World, service: OptinFace, tmp_path: Path
) -> None:
    """The signature holds and the material hashes to the hash stated, but the receipt key the
    material names (which the declaration hashed) is not the one that signed: exit 1."""
    register = json.loads(_served(world))
    stranger = base64.b64encode(
        Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    register["material"]["signing_keys"][RECEIPT_KEY] = stranger
    register["material_sha256"] = material_sha256(register["material"])
    forged = signed(service.runtime.keys, Register.model_validate(register))
    done = _verify(tmp_path, forged.model_dump_json(), _receipt_key(world))
    assert done.returncode == 1, done
    assert f"NOT BOUND: its material names the receipt key {stranger}" in done.stderr, done


def test_the_record_of_processing_verifies_and_names_the_registers_hash(
    world: World, tmp_path: Path
) -> None:
    served = _served(world, "/v1/register/ropa")
    ropa, key = json.loads(served), _receipt_key(world)
    done = _verify(tmp_path, served, key)
    assert done.returncode == 0, done
    assert (f"register material sha256 {ropa['register_material_sha256']}, as the record"
            " states it") in done.stdout, done
    ropa["generated_at"] = ropa["generated_at"].replace("20", "19", 1)
    assert _verify(tmp_path, json.dumps(ropa), key).returncode == 1


def test_the_markdown_names_the_key_that_signs_the_json(world: World) -> None:
    register = json.loads(_served(world))
    markdown = world.client.get("/v1/register", params={"format": "md"},
                                headers=auth(world.keys.reviewer)).text
    assert (f"This register's JSON is signed by the key {register['signature']['kid']}:"
            in markdown)


def test_an_unreadable_file_or_one_no_register_exits_2(world: World, tmp_path: Path) -> None:
    key = _receipt_key(world)
    for text in ("{not json", '{"material_sha256": 1, "material_sha256": 2}', '{"a": 1}', "[]"):
        done = _verify(tmp_path, text, key)
        assert done.returncode == 2, (text, done)
        assert len(done.stderr.splitlines()) == 1, done
        assert done.stderr.startswith("refused: unreadable_file: "), done
    missing = CliRunner().invoke(app, ["register", "verify", str(tmp_path / "absent.json"),
                                       "--public-key", key])
    assert missing.exit_code == 2 and missing.stderr.startswith("refused: unreadable_file: "), (
        missing.stderr)
    unsigned = json.loads(_served(world))
    del unsigned["signature"]
    done = _verify(tmp_path, json.dumps(unsigned), key)
    assert done.returncode == 1 and "carries no signature" in done.stderr, done
