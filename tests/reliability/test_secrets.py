"""Secrets at rest and in logs, and the denied-and-audited paths the role matrix does not cover.

API keys and subject tokens exist in clear only in the answer that creates them; the key files
are 0600 and their bytes (raw, hex or base64) appear in no log and no audit row; a template in
the database is ciphertext (the protected float32 bytes are nowhere in the file or its WAL);
revoked keys, expired subject tokens and a subject token used on another subject are refused,
and each authentication failure is chained into the audit log without the secret.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from tests.support.api import World, auth, expire_subject_token
from tests.support.consent import outside_sql
from tests.support.files import template_bytes
from tests.support.reliability import record


def key_files(settings: ApiSettings) -> list[Path]:
    return sorted(settings.keys_dir.glob("*.key"))


def key_forms(settings: ApiSettings) -> list[bytes]:
    """Every way a key file's content could be leaked as text or bytes."""
    forms: list[bytes] = []
    for path in key_files(settings):
        raw = path.read_bytes()
        secret = raw[-32:] if len(raw) > 64 else raw  # the rotation key: a 32-byte slice suffices
        forms += [secret, secret.hex().encode(), base64.b64encode(secret).rstrip(b"="),
                  base64.urlsafe_b64encode(secret).rstrip(b"=")]
    return forms


def db_bytes(settings: ApiSettings) -> bytes:
    folder = settings.data_dir
    return b"".join(p.read_bytes() for p in folder.glob("optinface.db*") if p.is_file())


def test_secrets_are_hashed_keys_private_and_never_logged(
    world: World, service: OptinFace, api_settings: ApiSettings, portrait_jpegs: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    template = world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    assert world.identify(portrait_jpegs[0]).status_code == 200
    _, other_token = world.new_subject()
    secrets = [world.keys.admin, world.keys.researcher, world.keys.reviewer, world.keys.portal,
               world.subject_token, other_token]
    stored = db_bytes(api_settings)
    for secret in secrets:
        assert secret.encode() not in stored and secret.split(".")[1].encode() not in stored
    for path in key_files(api_settings):
        assert path.stat().st_mode & 0o777 == 0o600, path
    with service.runtime.db.engine.connect() as connection:
        audit = "\n".join(str(r) for r in connection.execute(text("SELECT * FROM audit_events")))
    logs = caplog.text.encode()
    for form in key_forms(api_settings):
        assert form not in logs and form not in audit.encode()
    ciphertext, protected = template_bytes(service, int(str(template["id"])))
    service.runtime.db.checkpoint()
    stored = db_bytes(api_settings)
    assert ciphertext in stored and protected not in stored
    assert protected[:64] not in stored  # not even the first 16 floats
    record("secrets", {"secrets_scanned": len(secrets),
                       "key_forms_scanned": len(key_forms(api_settings)),
                       "key_files_0600": len(key_files(api_settings))})


def _login_failures(service: OptinFace) -> list[tuple[str, str]]:
    with service.runtime.db.engine.connect() as connection:
        return [(str(r[0]), str(r[1])) for r in connection.execute(text(
            "SELECT outcome, details FROM audit_events WHERE action = 'login_failure'"))]


def test_revoked_key_and_expired_token_are_refused_and_audited(
    world: World, service: OptinFace
) -> None:
    admin = auth(world.keys.admin)
    made = world.client.post("/v1/keys", json={"role": "researcher", "name": "lab"},
                             headers=admin).json()
    assert world.client.delete(f"/v1/keys/{made['key_id']}", headers=admin).status_code == 204
    refused = world.client.get("/v1/purposes", headers=auth(made["secret"]))
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"

    other, token = world.new_subject()
    expire_subject_token(service, token, pseudonym=other)
    expired = world.client.get(f"/v1/subjects/{other}", headers=auth(token))
    assert expired.status_code == 401 and expired.json()["code"] == "unauthenticated"

    service.flush_auth_failures()  # failures are aggregated: one event per window
    failures = _login_failures(service)
    assert any(made["key_id"] in details and "revoked" in details for _, details in failures)
    assert any(token.split(".")[0] in details and "expired" in details for _, details in failures)
    assert not [d for _, d in failures if made["secret"] in d or token in d]


def test_a_subject_token_moved_to_another_subject_by_sql_opens_nothing(
    world: World, service: OptinFace, portrait_jpegs: list[bytes],
) -> None:
    """Red team 3, finding 1 (tokmove.py), over HTTP: the operator's own token, its row moved
    to alice by SQL, gets no copy of her template's vectors (401, as any refused credential);
    hers still does."""
    alice, hers = world.new_subject()
    world.enrol(alice, world.consent(alice), portrait_jpegs[0])
    _, mine = world.new_subject()
    url = f"/v1/subjects/{alice}/export?vectors=true"
    assert world.client.get(url, headers=auth(mine)).status_code == 403
    outside_sql(service, "UPDATE subject_tokens SET subject_id = (SELECT id FROM subjects"
                " WHERE pseudonym = :p) WHERE id = :t", p=alice, t=mine.split(".")[0])
    moved = world.client.get(url, headers=auth(mine))
    assert moved.status_code == 401 and moved.json()["code"] == "unauthenticated"
    own = world.client.get(url, headers=auth(hers))
    assert own.status_code == 200 and own.json()["template_vectors"]


def test_a_subject_token_opens_only_its_own_subject(world: World) -> None:
    other, _ = world.new_subject()
    mine = auth(world.subject_token)
    for method, url in (("GET", f"/v1/subjects/{other}"), ("GET", f"/v1/subjects/{other}/export"),
                        ("DELETE", f"/v1/subjects/{other}"),
                        ("GET", f"/v1/subjects/{other}/consents")):
        answer = world.client.request(method, url, headers=mine)
        assert answer.status_code == 403 and answer.json()["code"] == "forbidden", (url, answer)
