"""``optinface serve`` for real: first run, then 4 clients enrolling and searching for ~20 s.

Bounded in time, on loopback; it checks behaviour (no 5xx, no lost enrolment), and prints the
latencies rather than asserting on them (timings belong to benchmarks, not tests).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx2
import numpy as np
import pytest

from optinface.api.settings import ApiSettings
from optinface.api.soft_person import SoftHttpPerson, probe_consent
from optinface.consent.declaration import declared_long_enough_ago
from tests.support.server import serve_environment, serve_process

CLIENTS = 4
LOAD_SECONDS = 20.0
RESULTS = Path("/tmp/optinface-load.json")


@dataclass
class Server:
    url: str
    admin: str
    first_output: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serve")
    env = serve_environment(
        tmp,
        OPTINFACE_RATE_PER_SECOND="1000",
        OPTINFACE_RATE_BURST="1000",
        OPTINFACE_SIGN_IN_CHALLENGES_PER_MINUTE="100000",
        OPTINFACE_SIGN_IN_CHALLENGE_BURST="1000",
        OPTINFACE_IDENTIFY_DAILY_QUOTA="100000",
    )
    with serve_process(tmp / "var", env) as served:
        output = served.output()
        admin = re.search(r"^(key_\S+)$", output, re.MULTILINE)
        assert admin, output
        yield Server(url=served.url, admin=admin.group(1), first_output=output)


def test_first_run_creates_the_data_dir_and_prints_one_admin_key(server: Server) -> None:
    assert "First run" in server.first_output
    assert f"listening on {server.url}" in server.first_output
    answer = httpx2.get(f"{server.url}/v1/keys", headers={"X-API-Key": server.admin})
    assert answer.status_code == 200 and len(answer.json()) == 1


@dataclass
class Tally:
    enrolled: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"enrol": [], "identify": []})
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, started: float, answer: httpx2.Response) -> None:
        with self.lock:
            self.latencies[kind].append(time.perf_counter() - started)
            self.statuses.append(answer.status_code)


@pytest.mark.slow
def test_four_clients_enrol_and_search_without_errors_or_lost_enrolments(
    server: Server, portrait_jpegs: list[bytes]
) -> None:
    with httpx2.Client(base_url=server.url, timeout=60) as setup:
        admin = {"Authorization": f"Bearer {server.admin}"}
        key = {
            r: setup.post("/v1/keys", json={"role": r, "name": r}, headers=admin).json()["secret"]
            for r in ("portal", "researcher")
        }
        purpose = setup.post(
            "/v1/purposes",
            headers=admin,
            json={
                "name": "load",
                "description": "load test",
                "legal_basis": "consent",
                "operations": ["enrol", "identify"],
                "retention_days": 30,
            },
        ).json()["id"]
        notice = setup.post(
            "/v1/notices",
            headers=admin,
            json={"version": "1", "language": "en", "text": "load test"},
        ).json()["id"]
        setup.post(
            "/v1/register/declaration",
            headers=admin,
            json={"date": declared_long_enough_ago(date.today(), ApiSettings()).isoformat(),
                  "reference": "LOAD"},
        )
        before = setup.get("/healthz").json()["templates"]
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    tally = Tally()
    stop_at = time.monotonic() + LOAD_SECONDS

    def worker(number: int) -> None:
        portal = {"Authorization": f"Bearer {key['portal']}"}
        researcher = {"Authorization": f"Bearer {key['researcher']}"}
        with httpx2.Client(base_url=server.url, timeout=60) as client:
            turn = 0
            while time.monotonic() < stop_at:
                face = portrait_jpegs[(number + turn) % len(portrait_jpegs)]
                turn += 1
                made = client.post("/v1/subjects", headers=portal,
                                   json={"age_category": "adult"}).json()
                # The person's own acts (passkey sign-in, consent, opt-in, photo approval)
                # are set-up here: the timed calls are the enrolment upload and the search.
                person = SoftHttpPerson.take_over(client, made["enrolment"]["secret"])
                person.set_searchable(True)
                consent = person.consent(purposes=[purpose], notice_id=notice,
                                         expires_at=expires)["consent"]["id"]
                capture = person.approve_capture(consent, face, desk=key["portal"])
                started = time.perf_counter()
                enrolled = client.post(
                    f"/v1/subjects/{person.pseudonym}/faces",
                    headers=portal,
                    data={"capture_id": capture},
                    files={"image": ("f.jpg", face, "image/jpeg")},
                )
                tally.record("enrol", started, enrolled)
                if enrolled.status_code == 201:
                    with tally.lock:
                        tally.enrolled += 1
                probe = probe_consent(client, key["researcher"], purpose_id=purpose,
                                      notice_id=notice, image=face)["id"]
                started = time.perf_counter()
                found = client.post(
                    "/v1/identify",
                    headers=researcher,
                    data={"purpose_id": purpose, "probe_consent_id": probe},
                    files={"image": ("p.jpg", face, "image/jpeg")},
                )
                tally.record("identify", started, found)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(worker, range(CLIENTS)))

    health = httpx2.get(f"{server.url}/healthz").json()
    figures = {
        kind: {
            "n": len(values),
            "p50_ms": round(1000 * float(np.percentile(values, 50)), 1),
            "p99_ms": round(1000 * float(np.percentile(values, 99)), 1),
        }
        for kind, values in tally.latencies.items()
    }
    figures["clients"] = CLIENTS  # type: ignore[assignment]
    figures["seconds"] = LOAD_SECONDS  # type: ignore[assignment]
    RESULTS.write_text(json.dumps(figures, indent=2))
    print(f"\nload test ({CLIENTS} clients, {LOAD_SECONDS:.0f} s, loopback): {figures}")
    assert not [s for s in tally.statuses if s >= 500]
    assert set(tally.statuses) <= {200, 201}
    assert tally.enrolled > 0
    assert health["templates"] - before == tally.enrolled
    assert health["index_entries"] == health["templates"]
