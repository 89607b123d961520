"""After ``optinface keys rotate-receipt-key``, run by the operator with the server stopped, what
the retired key signed still verifies where people look: the published keys list it apart,
the reviewers' erasures page says its receipts verify, and ``optinface receipt verify`` run
beside the data directory accepts them."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from optinface.api.app import create_app
from optinface.api.routes.wellknown import KEYS_PATH
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.support.api import auth, cli, deployment, page_login, set_up_world
from tests.support.console import commands_data_dir

REASON = "INC-7: receipt key copied"


def test_a_receipt_signed_before_a_rotation_verifies_over_http_and_beside_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pipeline: FacePipeline,
    portrait_jpegs: list[bytes],
) -> None:
    data_dir = commands_data_dir(tmp_path, monkeypatch)  # the commands' settings, as served
    with deployment(tmp_path, pipeline) as (settings, _, client, keys):
        assert settings.data_dir == data_dir
        world = set_up_world(client, keys)
        world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
        erased = client.delete(f"/v1/subjects/{world.subject}", headers=auth(keys.admin))
        assert erased.status_code == 200, erased.text
        subject_hash, signed = erased.json()["subject_hash"], erased.json()["signed"]
        before = client.get(KEYS_PATH).json()
    assert before["retired_keys"] == []

    rotated = CliRunner().invoke(cli, ["keys", "rotate-receipt-key", "--reason", REASON,
                                       "--yes", "--data-dir", str(data_dir)])
    assert rotated.exit_code == 0, rotated.output
    done = json.loads(rotated.stdout)

    with (closing(OptinFace.open(settings, pipeline=pipeline)) as service,
          TestClient(create_app(settings, service=service)) as client):
        after = client.get(KEYS_PATH).json()
        # The keys in force: the same list, in the same shape, the receipt key replaced.
        [receipt_key, checkpoint_key] = before["keys"]
        assert after["keys"] == [{**receipt_key, "key_id": done["new_key_id"],
                                  "public_key": done["new_public_key"]}, checkpoint_key]
        # The retired one apart, with when it stopped signing.
        [retired] = after["retired_keys"]
        assert retired == {**receipt_key, "retired_at": retired["retired_at"]}
        assert retired["retired_at"] == done["retired_at"].replace("+00:00", "Z")
        # The reviewers see the erasure receipt signed before as verifying, with that key.
        page_login(client, "review", keys.reviewer)
        listed = client.get("/review/erasures").text
        assert "Every receipt verifies with the published key." in listed, listed
        shown = client.get(f"/review/erasures/{subject_hash}").text
        assert "This receipt verifies" in shown, shown
        assert f"--public-key {receipt_key['public_key']}</code>" in shown

    # Anyone beside the data directory checks it with the key store's keys, no --public-key.
    saved = tmp_path / "erasure.json"
    saved.write_text(json.dumps(signed))
    checked = subprocess.run(
        [sys.executable, "-m", "optinface.api.cli.main", "receipt", "verify", str(saved),
         "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stderr
    assert f"1 valid signature(s) by {receipt_key['public_key']}" in checked.stdout
    assert "is a retired receipt key" in checked.stdout
