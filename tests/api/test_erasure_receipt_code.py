"""The erasure receipt's one-time code lives in the ledger: it outlives the server process."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from typer.testing import CliRunner

from optinface.api.app import create_app
from optinface.api.cli.main import app as cli
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.support.api import (
    auth,
    deployment,
    page_login,
    portal_session,
    set_up_world,
    settings_for_tests,
    signed_erasure,
)
from tests.support.forgery import resign_tombstone_receipt


def test_the_erasure_receipt_code_still_works_after_a_restart_then_is_used_up(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        world = set_up_world(client, keys)
        csrf = portal_session(client, world.people[world.subject])
        erased = signed_erasure(client, csrf, world.people[world.subject])
        assert erased.status_code == 200, erased.text
        code = erased.text.split('<p class="code">')[1].split("<")[0]
    settings = settings_for_tests(tmp_path)  # a new process on the same data
    with closing(OptinFace.open(settings, pipeline=pipeline)) as service, TestClient(
            create_app(settings, service=service)) as client:
        first = client.post("/portal/erasure-receipt", data={"code": code})
        assert first.status_code == 200, first.text
        path = tmp_path / "erasure.json"
        path.write_text(first.text)
        verified = CliRunner().invoke(cli, ["receipt", "verify", str(path), "--public-key",
                                            service.public_key])
        assert verified.exit_code == 0, verified.output
        assert json.loads(first.text)["receipt"]["type"] == "erasure"
        assert client.post("/portal/erasure-receipt", data={"code": code}).status_code == 200
        used = client.post("/portal/erasure-receipt", data={"code": code})
        assert used.status_code == 410  # receipt_code_invalid: the two fetches are spent
        assert "already used twice" in used.text


def test_wrong_erasure_receipt_codes_meet_the_failed_authentication_limit(
    api_settings: ApiSettings, service: OptinFace
) -> None:
    """The code's 60 bits assume the limit in front: a client's third wrong code waits (429)."""
    tight = api_settings.model_copy(
        update={"auth_failures_per_minute": 0.01, "auth_failure_burst": 2})
    with TestClient(create_app(tight, service=service), client=("192.0.2.11", 4000)) as guesser:
        answers = [guesser.post("/portal/erasure-receipt", data={"code": f"AAAA-BBBB-CCC{n}"})
                   for n in range(3)]
    assert [a.status_code for a in answers] == [410, 410, 429], answers[-1].text
    assert "rate_limited" in answers[-1].text


def test_a_receipt_resigned_in_the_database_is_not_given_and_the_person_is_told(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """Red team 7, #5: K erases in the portal; the database's writer replaces the receipt with
    one re-signed by another deployment's key, the disclosure to the police dropped. The code
    fetched it, naming that other key. Now the person is told the receipt kept is not the one
    signed (409 ``erasure_receipt_altered``), the log chains the refusal, and the reviewers'
    erasures page flags the tombstone."""
    with deployment(tmp_path, pipeline) as (settings, _, client, keys):
        world = set_up_world(client, keys)
        world.disclose_to_the_police()
        csrf = portal_session(client, world.people[world.subject])
        erased = signed_erasure(client, csrf, world.people[world.subject])
        assert erased.status_code == 200, erased.text
        code = erased.text.split('<p class="code">')[1].split("<")[0]
        [tombstone] = [t for t in client.get("/v1/erasures",
                                       headers=auth(keys.reviewer)).json()
                       if t["receipt"]["recipientsToNotify"]]  # the police: K's
        writer = create_engine(settings.url)
        try:
            resign_tombstone_receipt(writer, tombstone["subject_hash"], recipientsToNotify=[])
        finally:
            writer.dispose()
        refused = client.post("/portal/erasure-receipt", data={"code": code})
        assert refused.status_code == 409, refused.text
        assert "is not the one this service signed" in refused.text
        assert "attachment" not in refused.headers.get("content-disposition", "")
        events = client.get("/v1/audit/events", params={"action": "erasure_receipt_altered"},
                            headers=auth(keys.reviewer)).json()["events"]
        assert [e["subjects"] for e in events] == [[tombstone["subject_hash"]]]
        page_login(client, "review", keys.reviewer)
        flagged = client.get("/review/erasures")
        assert flagged.status_code == 200
        assert "receipts do NOT verify with the published key." in flagged.text
