"""Crash consistency: ``kill -9`` of a real server, of the retention sweep and of an index save.

A server process (the code of ``optinface serve``) is killed at random points (fixed seed) while a
client enrols, erases and searches over HTTP, and restarted each time. Afterwards, opening the
service directly must show: every index label has a template row of an active subject under an
active consent, and every template row has an index label (a subject whose consent ended while
the sweep was killed is erased by start-up reconciliation, not kept for a later sweep); every
enrolment the client saw acknowledged is still there unless its subject's erasure was attempted;
an erased subject is nowhere (ledger, index labels, the raw bytes of the database, its WAL and
the index file); the audit chain verifies.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import numpy as np
import pytest
from sqlalchemy import select

from optinface.api.settings import ApiSettings
from optinface.api.soft_person import SoftHttpPerson, SoftPersonFailed
from optinface.consent.service import OptinFace
from optinface.consent.tables import Consent, ConsentStatus, Subject, Template
from optinface.engine.errors import IndexCorrupt
from optinface.engine.index import HnswIndex
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from tests.reliability.test_secrets import key_forms
from tests.reliability.zygote import INDEX_KEY
from tests.support.reliability import record, reliability_settings
from tests.support.server import free_port, inherited_environment, wait_until_healthy
from tests.support.workers import Secrets, declare_ledger

SERVER_KILLS = 20
SWEEP_KILLS = 3
SAVE_KILLS = 5
SEED = 20260601
ZYGOTE = Path(__file__).with_name("zygote.py")


@dataclass
class Seen:
    """What the client saw acknowledged, and what it only attempted."""

    enrolled: dict[int, str] = field(default_factory=dict)  # template id -> pseudonym
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # pseudonym -> token, consent
    erase_attempted: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)
    operations: int = 0
    refused: list[str] = field(default_factory=list)


class Zygote:
    def __init__(self, settings: ApiSettings, folder: Path) -> None:
        env = {**inherited_environment(), "OPENBLAS_NUM_THREADS": "1",
               "OPTINFACE_DATA_DIR": str(settings.data_dir),
               "OPTINFACE_THRESHOLDS_PATH": str(settings.thresholds_path),
               "OPTINFACE_MATCH_FMR": str(settings.match_fmr),
               "OPTINFACE_INDEX_MAX_ELEMENTS": str(settings.index_max_elements),
               "OPTINFACE_RATE_PER_SECOND": "10000", "OPTINFACE_RATE_BURST": "10000",
               "OPTINFACE_SIGN_IN_CHALLENGES_PER_MINUTE": "10000",
               "OPTINFACE_SIGN_IN_CHALLENGE_BURST": "10000",
               "OPTINFACE_IDENTIFY_DAILY_QUOTA": "10000",
               "OPTINFACE_DEMO_MODE": "true"}  # a test deployment: placeholder accountability
        self.folder = folder
        self.process = subprocess.Popen([sys.executable, str(ZYGOTE)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env,
                                        cwd=Path(__file__).parents[2])
        self.children = 0

    def fork(self, *words: str) -> tuple[int, Path]:
        self.children += 1
        progress = self.folder / f"child-{self.children}.log"
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(" ".join([words[0], str(progress), *words[1:]]) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().split()
        assert answer and answer[0] == "pid", answer
        return int(answer[1]), progress

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def zygote_factory(tmp_path: Path) -> Iterator[type[Zygote]]:
    made: list[Zygote] = []

    class Tracked(Zygote):
        def __init__(self, settings: ApiSettings, folder: Path) -> None:
            super().__init__(settings, folder)
            made.append(self)

    yield Tracked
    for zygote in made:
        zygote.close()


def _kill(pid: int, *, timeout: float = 30) -> None:
    """SIGKILL, then wait until every thread of the process has exited (on a loaded host that can
    take longer than any fixed sleep).

    A zombie leader is not enough: the leader of a killed process can be a zombie while its other
    threads are still exiting, and the process's files (its data-directory lock among them) close
    only when the last thread has gone, so the leader must be a zombie and alone.
    """
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    status = Path(f"/proc/{pid}/status")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (FileNotFoundError, ProcessLookupError):
            return
        if fields["State"].split()[0] == "Z" and fields["Threads"].strip() == "1":
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still alive {timeout} s after SIGKILL")


def _wait_for(progress: Path, text: str, *, pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if progress.is_file() and text in progress.read_text(errors="replace"):
            return
        time.sleep(0.02)
    _kill(pid)
    raise AssertionError(f"{text!r} not seen: {progress.read_text(errors='replace')[-2000:]}")


@contextmanager
def _server(zygote: Zygote) -> Iterator[tuple[str, int]]:
    port = free_port()
    pid, progress = zygote.fork("serve", str(port))
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, seconds=90, interval=0.05,
                       log=lambda: progress.read_text(errors="replace")[-2000:])
    try:
        yield url, pid
    finally:
        _kill(pid)


def _client_loop(url: str, secrets: Secrets, seen: Seen, images: list[bytes],
                 rng: random.Random, stop: threading.Event, *, consent_days: float = 365) -> None:
    portal = {"Authorization": f"Bearer {secrets.portal}"}
    try:
        with httpx2.Client(base_url=url, timeout=20) as http:
            while not stop.is_set():
                choice = rng.random()
                if choice < 0.25 and len(seen.tokens) > len(seen.erase_attempted):
                    victim = rng.choice(sorted(set(seen.tokens) - seen.erase_attempted))
                    seen.erase_attempted.add(victim)
                    answer = http.delete(f"/v1/subjects/{victim}", headers=portal)
                    if answer.status_code == 200:
                        seen.erased.add(victim)
                    elif answer.status_code >= 500:
                        seen.refused.append(f"erase {answer.status_code} {answer.text[:200]}")
                else:
                    made = http.post("/v1/subjects", json={"age_category": "adult"},
                                     headers=portal)
                    if made.status_code != 201:
                        seen.refused.append(f"subject {made.status_code}")
                        continue
                    try:  # the person takes the shell over, consents, approves one photo
                        person = SoftHttpPerson.take_over(http, made.json()["enrolment"]["secret"])
                        expires = datetime.now(UTC) + timedelta(days=consent_days)
                        consent_id = person.consent(
                            purposes=[secrets.purpose], notice_id=secrets.notice,
                            expires_at=expires.isoformat())["consent"]["id"]
                    except SoftPersonFailed as refused:
                        seen.refused.append(f"consent {refused.response.status_code}")
                        continue
                    seen.tokens[person.pseudonym] = (person.token, consent_id)
                    try:
                        enrolled = person.enrol(consent_id, rng.choice(images),
                                                desk=secrets.portal)
                        seen.enrolled[int(enrolled["id"])] = person.pseudonym
                    except SoftPersonFailed as refused:
                        seen.refused.append(f"enrol {refused.response.status_code}")
                seen.operations += 1
    except httpx2.HTTPError:
        return  # the server was killed under us: expected


def _ciphertexts(db_path: Path) -> dict[int, bytes]:
    """Template ciphertexts read straight from the crashed database (the server is dead)."""
    with sqlite3.connect(db_path) as connection:
        return dict(connection.execute("SELECT id, ciphertext FROM templates").fetchall())


def _raw_files(data_dir: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()
            and not p.name.endswith(".log")}


def _check_invariants(settings: ApiSettings, pipeline: FacePipeline, seen: Seen,
                      ciphertexts: dict[int, bytes]) -> dict[str, int]:
    with closing(OptinFace.open(settings, pipeline=pipeline)) as service:
        labels = service.index.labels()  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        with service.runtime.db.transaction() as session:
            rows = {t.id: t for t in session.scalars(select(Template))}
            pseudonyms = {s.id: s.pseudonym for s in session.scalars(select(Subject))}
            consents = {c.id: c for c in session.scalars(select(Consent))}
            for label in labels:
                assert label in rows, f"index label {label} has no template row"
                template = rows[label]
                consent = consents[template.consent_id]
                assert consent.status == ConsentStatus.ACTIVE and consent.expires_at > now
                assert template.subject_id in pseudonyms
            live_pseudonyms = set(pseudonyms.values())
        # Every row is accounted for: start-up reconciliation indexes it or erases its subject
        # (no consent in force). The one stored-but-unindexed state by design, a template of
        # another model kept for re-enrolment, cannot occur here: one model throughout.
        other_model = {t for t, row in rows.items() if row.model_id != pipeline.model_id}
        assert not other_model
        assert set(rows) == labels, (
            f"rows without index label {sorted(set(rows) - labels)}")
        for template_id, pseudonym in seen.enrolled.items():
            if pseudonym in seen.erase_attempted:
                continue
            assert template_id in rows, f"acknowledged enrolment {template_id} lost"
            assert template_id in labels, f"acknowledged enrolment {template_id} not searchable"
        gone_templates = {t for t, p in seen.enrolled.items() if p in seen.erased}
        assert not seen.erased & live_pseudonyms
        assert not gone_templates & set(rows)
        assert not gone_templates & labels
        service.runtime.db.checkpoint()
        raw = _raw_files(settings.data_dir)
        for template_id in gone_templates:
            blob = ciphertexts.get(template_id)
            if blob is not None:
                assert not [path for path, data in raw.items() if blob in data], template_id
        assert service.verify_audit().ok
        return {"labels": len(labels), "templates": len(rows),
                "erased_scanned": sum(1 for t in gone_templates if t in ciphertexts)}


@pytest.mark.slow
# 20 server kills, each a start and a client run: 190-200 s on the 2-core VM beside two other
# workers, two thirds of the suite's 300 s hang limit (pyproject.toml); a slower CI machine
# would fail it for a hang it is not. Ten minutes still stops a real hang.
@pytest.mark.timeout(600)
def test_kill_9_at_random_points_loses_nothing_acknowledged_and_keeps_erasure(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes],
    zygote_factory: type[Zygote],
) -> None:
    settings = reliability_settings(tmp_path)
    secrets = declare_ledger(settings, pipeline)
    zygote = zygote_factory(settings, tmp_path)
    rng = random.Random(SEED)
    seen = Seen()
    ciphertexts: dict[int, bytes] = {}
    db_path = settings.data_dir / "optinface.db"
    started = time.monotonic()
    for _ in range(SERVER_KILLS):
        with _server(zygote) as (url, pid):
            stop = threading.Event()
            client = threading.Thread(target=_client_loop, args=(
                url, secrets, seen, portrait_jpegs, random.Random(rng.random()), stop))
            client.start()
            time.sleep(rng.uniform(0.1, 1.2))
            _kill(pid)
            stop.set()
            client.join(timeout=30)
            assert not client.is_alive()
        time.sleep(0.05)  # let the kernel reap the child before reading its files
        ciphertexts.update(_ciphertexts(db_path))
    # Subjects whose consent expires in a moment, for the sweep that is killed next.
    with _server(zygote) as (url, pid):
        stop = threading.Event()
        expiring = Seen()
        thread = threading.Thread(target=_client_loop, args=(
            url, secrets, expiring, portrait_jpegs, random.Random(SEED), stop),
            kwargs={"consent_days": 2 / 86400})
        thread.start()
        time.sleep(1.0)
        stop.set()
        thread.join(timeout=60)
    ciphertexts.update(_ciphertexts(db_path))
    time.sleep(2.5)  # the short consents expire
    for _ in range(SWEEP_KILLS):
        pid, progress = zygote.fork("sweep")
        _wait_for(progress, "ready", pid=pid)
        time.sleep(rng.uniform(0.0, 0.05))
        _kill(pid)
        time.sleep(0.05)
    assert not seen.refused, seen.refused
    figures = _check_invariants(settings, pipeline, seen, ciphertexts)
    server_logs = b"".join(p.read_bytes() for p in tmp_path.glob("child-*.log"))
    assert b"Uvicorn running" in server_logs or b"Application startup" in server_logs
    for form in key_forms(settings):  # the servers' stdout and stderr never carry a key
        assert form not in server_logs
    # The subjects whose consent expired under the killed sweeps are gone on opening, before
    # any sweep: start-up reconciliation erased them.
    with closing(OptinFace.open(settings, pipeline=pipeline)) as service:
        assert not set(expiring.tokens) & _live_pseudonyms(service)
        service.sweep()
        assert not set(expiring.tokens) & _live_pseudonyms(service)
        assert service.verify_audit().ok
    record("crash", {
        "server_kills": SERVER_KILLS, "sweep_kills": SWEEP_KILLS,
        "client_operations": seen.operations, "acknowledged_enrolments": len(seen.enrolled),
        "acknowledged_erasures": len(seen.erased),
        "erase_attempts": len(seen.erase_attempted), **figures,
        "seconds": round(time.monotonic() - started, 1),
    })


def _live_pseudonyms(service: OptinFace) -> set[str]:
    with service.runtime.db.transaction() as session:
        return set(session.scalars(select(Subject.pseudonym)))


def test_kill_9_during_index_save_leaves_the_old_or_the_new_file(
    tmp_path: Path, zygote_factory: type[Zygote]
) -> None:
    settings = reliability_settings(tmp_path)
    zygote = zygote_factory(settings, tmp_path)
    rng = random.Random(SEED)
    versions_seen: list[int] = []
    for attempt in range(SAVE_KILLS):
        engine = EngineSettings(data_dir=tmp_path / f"data-{attempt}", index_m=4,
                                index_ef_construction=8, index_max_elements=20_000)
        path = engine.index_path
        pid, progress = zygote.fork("save", str(path), "12")
        _wait_for(progress, "saved 1", pid=pid)
        time.sleep(rng.uniform(0.0, 0.6))
        _kill(pid)
        time.sleep(0.05)
        try:
            index = HnswIndex.open(engine, dim=512, key=INDEX_KEY)
        except IndexCorrupt as error:  # pragma: no cover - the failure this test exists for
            raise AssertionError(f"index file corrupt after kill -9: {error}") from error
        count = index.count()
        assert count % 200 == 0 and count >= 200
        assert index.labels() == set(range(count))
        # A temporary the kill left held every vector: opening shreds it, none is tolerated.
        assert list(path.parent.iterdir()) == [path]
        versions_seen.append(count // 200)
        assert np.isfinite(count)
    record("crash", {"index_save_kills": SAVE_KILLS, "index_versions_found": versions_seen})
