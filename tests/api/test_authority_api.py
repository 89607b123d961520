"""Over HTTP, a row written into the ledger file without the key store grants nothing: a
purpose added to a consent finds no one, a probe consent inserted by SQL is refused with
``receipt_mismatch`` (consent.authority)."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from dataclasses import replace

from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from tests.support.api import World, assert_refused, auth, publish_purpose
from tests.support.api import declare_long_enough_ago as declare


def _sql(settings: ApiSettings, statement: str, *parameters: object) -> None:
    with closing(sqlite3.connect(settings.data_dir / "optinface.db")) as ledger:
        ledger.execute(statement, parameters)
        ledger.commit()


def test_rows_written_without_the_key_store_grant_nothing_over_http(
    world: World, api_settings: ApiSettings, service: OptinFace, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    second = replace(world, purpose_id=publish_purpose(world.client, world.keys, "B"))
    declare(world.client, world.keys)
    world.enrolled_and_identified(portrait_jpegs[0])
    _sql(api_settings, "INSERT INTO consent_purposes VALUES (?, ?)", world.consent_id,
         second.purpose_id)
    answer = second.identify(flipped_jpegs[0])
    assert answer.status_code == 200 and answer.json()["candidates"] == []
    log = world.client.get("/v1/audit/events", params={"action": "authority_mismatch"},
                           headers=auth(world.keys.reviewer))
    assert [e["details"]["consent_id"] for e in log.json()["events"]] == [world.consent_id]

    key_id = service.authenticate(world.keys.researcher).key_id
    image = flipped_jpegs[1]
    _sql(api_settings, """INSERT INTO probe_consents (id, purpose_id, notice_id, method,
         evidence_sha256, obtained_at, expires_at, created_by, probe_sha256, researcher_key_id)
         VALUES ('prb_forged000000000001', ?, ?, 'passkey', ?, datetime('now'),
         '2099-01-01 00:00:00.000000', ?, ?, ?)""", world.purpose_id, world.notice_id,
         "0" * 64, key_id, hashlib.sha256(image).hexdigest(), key_id)
    minted = world.client.post(
        "/v1/identify", data={"purpose_id": world.purpose_id,
                              "probe_consent_id": "prb_forged000000000001"},
        files={"image": ("p.jpg", image, "image/jpeg")}, headers=auth(world.keys.researcher))
    assert_refused(minted, 403, "probe_consent_required")
    assert minted.json()["details"]["problem"] == "receipt_mismatch"
