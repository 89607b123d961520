"""Concurrency: enrol, identify, withdraw and erase at once, on the same and different subjects.

No acknowledged enrolment is lost (unless its subject was erased or its consent withdrawn), no
search started after an erasure returned shows the erased subject, nothing deadlocks (every
operation ends within a bounded wait), only domain refusals escape (never SQLite's
OperationalError), and the per-key rate limit and daily identify quota hold exactly under load.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from optinface.api.app import create_app
from optinface.consent.errors import ConsentError
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.tables import Template
from optinface.engine.errors import EngineError
from tests.support.api import Keys, auth, set_up_world
from tests.support.consent import FakeClock, make_world
from tests.support.reliability import record, reliability_settings

SEED = 11
WORKERS = 6
JOIN_TIMEOUT_S = 300


@dataclass
class Outcome:
    kind: str
    subject: str | None
    started: float
    ended: float
    result: Any = None
    refusal: str | None = None


def test_concurrent_enrol_identify_withdraw_erase_keep_every_promise(
    service: OptinFace, portrait_jpegs: list[bytes]
) -> None:
    world = make_world(service, FakeClock(datetime.now(UTC)))
    subjects = [world.subject() for _ in range(8)]
    consents = dict(subjects)
    image_of = {p: portrait_jpegs[i % len(portrait_jpegs)] for i, (p, _) in enumerate(subjects)}
    for pseudonym, consent_id in subjects[:4]:
        world.enrol(pseudonym, consent_id, image_of[pseudonym])
    rng = random.Random(SEED)
    plan: list[tuple[str, str | None]] = (
        [("enrol", rng.choice(subjects)[0]) for _ in range(16)]
        + [("identify", None) for _ in range(16)]
        + [("withdraw", p) for p, _ in rng.sample(subjects, 3)]
        + [("erase", p) for p, _ in rng.sample(subjects, 3)]
    )
    rng.shuffle(plan)
    pictures = [rng.choice(portrait_jpegs) for _ in range(16)]
    identify_images = iter(pictures)
    probe_ids = iter([world.probe(image=picture) for picture in pictures])
    lock = threading.Lock()

    def run(kind: str, subject: str | None) -> Outcome:
        with lock:
            image = next(identify_images) if kind == "identify" else None
            probe = next(probe_ids) if kind == "identify" else None
        started = time.monotonic()
        result: Any = None
        refusal = None
        try:
            if kind == "enrol":
                assert subject is not None
                result = world.enrol(subject, consents[subject], image_of[subject])
            elif kind == "identify":
                assert image is not None and probe is not None
                result = service.identify(actor=world.researcher, purpose_id=world.purpose,
                                          probe_consent_id=probe, image=image)
            elif kind == "withdraw":
                assert subject is not None
                result = world.withdraw(subject, consents[subject])
            else:
                assert subject is not None
                result = service.erase(actor=world.portal, subject=subject,
                                       reason=ErasureReason.REQUEST)
        except (ConsentError, EngineError) as error:  # a refusal: allowed, anything else is not
            refusal = error.code
        return Outcome(kind, subject, started, time.monotonic(), result, refusal)

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(run, kind, subject) for kind, subject in plan]
        _, pending = wait(futures, timeout=JOIN_TIMEOUT_S)
        assert not pending, "deadlock: operations still running"
    outcomes = [f.result() for f in futures]  # re-raises anything that was not a refusal

    gone_at: dict[str, float] = {}
    for o in outcomes:
        if o.refusal is None and o.kind in ("erase", "withdraw"):
            gone_at[o.subject or ""] = min(gone_at.get(o.subject or "", o.ended), o.ended)
    for o in outcomes:
        if o.kind == "identify" and o.refusal is None:
            for candidate in o.result.candidates:
                erased = gone_at.get(candidate.subject)
                assert erased is None or erased > o.started, (
                    f"{candidate.subject} found by a search started after its erasure returned")
    with service.runtime.db.transaction() as session:
        rows = set(session.scalars(select(Template.id)))
    labels = service.index.labels()  # type: ignore[attr-defined]
    for o in outcomes:
        if o.kind == "enrol" and o.refusal is None and o.subject not in gone_at:
            assert o.result.id in rows and o.result.id in labels, f"lost enrolment {o.result.id}"
    assert labels <= rows
    assert service.verify_audit().ok

    latencies: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        latencies[o.kind].append((o.ended - o.started) * 1000)
    every = [ms for values in latencies.values() for ms in values]
    record("concurrency", {
        "operations": len(outcomes), "workers": WORKERS,
        "refusals": sum(o.refusal is not None for o in outcomes),
        "refusal_codes": sorted({o.refusal for o in outcomes if o.refusal}),
        "p99_ms": round(float(np.percentile(every, 99)), 1),
        "p99_ms_by_operation": {k: round(float(np.percentile(v, 99)), 1)
                                for k, v in sorted(latencies.items())},
    })


def _hammer(client: TestClient, requests: list[dict[str, Any]], threads: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def send(kwargs: dict[str, Any]) -> None:
        answer = client.request(**kwargs)
        with lock:
            statuses.append(answer.status_code)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(send, r) for r in requests]
        _, pending = wait(futures, timeout=JOIN_TIMEOUT_S)
        assert not pending
        for future in futures:
            future.result()
    return statuses


def test_daily_identify_quota_holds_exactly_under_concurrency(
    tmp_path: Path, service: OptinFace, keys: Keys, portrait_jpegs: list[bytes]
) -> None:
    quota = 5
    settings = reliability_settings(tmp_path, identify_daily_quota=quota)
    with TestClient(create_app(settings, service=service)) as client:
        world = set_up_world(client, keys)
        probes = [world.probe_consent(portrait_jpegs[0]) for _ in range(16)]
        requests = [{"method": "POST", "url": "/v1/identify",
                     "data": {"purpose_id": world.purpose_id, "probe_consent_id": probe},
                     "files": {"image": ("p.jpg", portrait_jpegs[0], "image/jpeg")},
                     "headers": auth(keys.researcher)} for probe in probes]
        statuses = _hammer(client, requests, threads=8)
    assert statuses.count(429) == len(requests) - quota
    assert all(s == 200 for s in statuses if s != 429)
    record("concurrency", {"quota_requests": len(requests), "quota_allowed": quota,
                           "quota_429": statuses.count(429)})


def test_rate_limit_holds_exactly_under_concurrency(
    tmp_path: Path, service: OptinFace, keys: Keys
) -> None:
    burst = 5
    settings = reliability_settings(tmp_path, rate_per_second=0.001, rate_burst=burst)
    with TestClient(create_app(settings, service=service)) as client:
        requests = [{"method": "GET", "url": "/v1/purposes", "headers": auth(keys.researcher)}
                    for _ in range(24)]
        statuses = _hammer(client, requests, threads=12)
    assert statuses.count(200) == burst
    assert statuses.count(429) == len(requests) - burst
    record("concurrency", {"rate_requests": len(requests), "rate_burst": burst,
                           "rate_429": statuses.count(429)})
