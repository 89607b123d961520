"""Two real ``optinface serve`` workers on one PostgreSQL ledger, driven over HTTP.

What a deployment of several workers promises: an enrolment through one is searchable through
the other; an erasure through either stops every worker from returning the face at once and
leaves every replica's index soon after; a ``kill -9`` of a worker in the middle of an erasure
leaves the other serving, and the killed one finishes the erasure and catches up on restart,
or, left down, the other's next sweep finishes it; the audit chain both wrote verifies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest

from optinface.api.soft_person import SoftHttpPerson, probe_consent
from optinface.engine.pipeline import FacePipeline
from tests.support.api import thresholds_for_tests
from tests.support.polling import eventually
from tests.support.postgres import PostgresServer
from tests.support.workers import Secrets, Worker, cluster_settings, declare_ledger, environment


class Cluster:
    def __init__(self, root: Path, url: str, secrets: Secrets, env: dict[str, str]) -> None:
        self.root, self.database_url, self.secrets = root, url, secrets
        self.a = Worker(root / "worker-a", env)
        self.b = Worker(root / "worker-b", env)

    def subject(self, worker: Worker, image: bytes) -> tuple[str, int]:
        """A new consenting subject enrolled through ``worker``: (pseudonym, template id)."""
        portal = {"Authorization": f"Bearer {self.secrets.portal}"}
        with httpx2.Client(base_url=worker.url, timeout=60) as http:
            made = http.post("/v1/subjects", json={"age_category": "adult"}, headers=portal)
            assert made.status_code == 201, made.text
            person = SoftHttpPerson.take_over(http, made.json()["enrolment"]["secret"])
            person.set_searchable(True)
            given = person.consent(
                purposes=[self.secrets.purpose], notice_id=self.secrets.notice,
                expires_at=(datetime.now(UTC) + timedelta(days=30)).isoformat())
            enrolled = person.enrol(given["consent"]["id"], image, desk=self.secrets.portal)
            return person.pseudonym, int(enrolled["id"])

    def identify(self, worker: Worker, image: bytes) -> list[str]:
        """The subjects ``worker`` returns for ``image`` (empty: no match)."""
        researcher = {"Authorization": f"Bearer {self.secrets.researcher}"}
        with httpx2.Client(base_url=worker.url, timeout=60) as http:
            probe = probe_consent(http, self.secrets.researcher, purpose_id=self.secrets.purpose,
                                  notice_id=self.secrets.notice, image=image)
            found = http.post("/v1/identify", data={
                "purpose_id": self.secrets.purpose, "probe_consent_id": probe["id"]},
                files={"image": ("p.jpg", image, "image/jpeg")}, headers=researcher)
            assert found.status_code == 200, found.text
            return [c["subject"] for c in found.json()["candidates"]]

    def erase(self, worker: Worker, pseudonym: str) -> httpx2.Response:
        admin = {"Authorization": f"Bearer {self.secrets.admin}"}
        return httpx2.delete(f"{worker.url}/v1/subjects/{pseudonym}", headers=admin, timeout=120)

    def erase_dying(self, worker: Worker, pseudonym: str) -> None:
        """An erasure whose worker is killed before it answers."""
        try:
            self.erase(worker, pseudonym)
        except httpx2.HTTPError:
            pass

    def killed_while_erasing(self, worker: Worker, pseudonym: str, template: int) -> None:
        """``kill -9`` of ``worker`` in the middle of erasing ``pseudonym``, whose template
        row is held: its erasure has excluded the subject and scrubbed its own index, and waits
        on the row lock to delete the row. That is where it dies."""
        with psycopg.connect(self.libpq) as holder:
            holder.execute("SELECT id FROM templates WHERE id = %s FOR UPDATE", (template,))
            erasing = threading.Thread(target=self.erase_dying, args=(worker, pseudonym),
                                       daemon=True)
            erasing.start()
            with psycopg.connect(self.libpq, autocommit=True) as watcher:
                assert eventually(lambda: watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'DELETE FROM templates%'").fetchone() == (1,))
            worker.kill()
            holder.rollback()

    @property
    def libpq(self) -> str:
        """The database URL as psycopg takes it."""
        return self.database_url.replace("postgresql+psycopg://", "postgresql://")

    def erasures(self, worker: Worker) -> int:
        admin = {"Authorization": f"Bearer {self.secrets.admin}"}
        return len(httpx2.get(f"{worker.url}/v1/erasures", headers=admin, timeout=30).json())

    def sweep(self, worker: Worker) -> dict[str, Any]:
        admin = {"Authorization": f"Bearer {self.secrets.admin}"}
        answer = httpx2.post(f"{worker.url}/v1/sweep", headers=admin, timeout=120)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def chain_ok(self, worker: Worker) -> bool:
        admin = {"Authorization": f"Bearer {self.secrets.admin}"}
        answer = httpx2.get(f"{worker.url}/v1/audit/verify", headers=admin, timeout=60)
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["ok"])



def index_entries(worker: Worker) -> int:
    return int(worker.health()["index_entries"])  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, pipeline: FacePipeline
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("workers")
    settings = cluster_settings(root, postgres.new_database(), thresholds_for_tests(root))
    made = Cluster(root, settings.url, declare_ledger(settings, pipeline), environment(settings))
    try:
        made.a.start()
        made.b.start()
        yield made
    finally:
        made.a.stop()
        made.b.stop()


@pytest.mark.slow
def test_enrol_identify_and_erase_across_workers(
    cluster: Cluster, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    a, b = cluster.a, cluster.b
    before = index_entries(b)
    pseudonym, _ = cluster.subject(a, portrait_jpegs[0])
    assert eventually(lambda: index_entries(b) == before + 1)
    assert cluster.identify(b, flipped_jpegs[0]) == [pseudonym]

    erased = cluster.erase(b, pseudonym)
    assert erased.status_code == 200, erased.text
    assert cluster.identify(a, flipped_jpegs[0]) == []  # at once, whatever A's replica holds
    assert eventually(lambda: index_entries(a) == before)
    assert cluster.chain_ok(a) and cluster.chain_ok(b)


def test_a_worker_killed_during_an_erasure_leaves_the_other_serving_and_catches_up(
    cluster: Cluster, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    a, b = cluster.a, cluster.b
    erasures = cluster.erasures(b)
    victim, victim_template = cluster.subject(a, portrait_jpegs[1])
    kept, _ = cluster.subject(a, portrait_jpegs[2])
    assert eventually(lambda: index_entries(b) == index_entries(a))

    cluster.killed_while_erasing(a, victim, victim_template)
    assert cluster.identify(b, flipped_jpegs[1]) == []  # excluded: the exclusion had committed
    assert cluster.identify(b, flipped_jpegs[2]) == [kept]  # B serves on
    during, _ = cluster.subject(b, portrait_jpegs[3])  # enrolled while A is down

    a.start()
    assert cluster.identify(a, flipped_jpegs[1]) == []
    assert cluster.identify(a, flipped_jpegs[3]) == [during]  # A caught up
    assert eventually(lambda: index_entries(a) == index_entries(b))
    assert cluster.erasures(a) == erasures + 1  # A's start-up finished the erasure it died in
    assert cluster.chain_ok(a) and cluster.chain_ok(b)


def test_an_erasure_whose_worker_died_is_finished_by_another_workers_sweep(
    cluster: Cluster, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """A worker killed in the middle of an erasure and left down: no start-up finishes it, so
    the next sweep on a survivor does (its own sweeper's, here asked for over the API)."""
    a, b = cluster.a, cluster.b
    erasures = cluster.erasures(b)
    victim, victim_template = cluster.subject(a, portrait_jpegs[4])
    assert eventually(lambda: index_entries(b) == index_entries(a))
    before = index_entries(b)
    with psycopg.connect(cluster.libpq) as ledger:
        subject_id = ledger.execute("SELECT id FROM subjects WHERE pseudonym = %s",
                                    (victim,)).fetchone()
    cluster.killed_while_erasing(a, victim, victim_template)
    assert cluster.identify(b, flipped_jpegs[4]) == []  # excluded: the exclusion had committed
    assert index_entries(b) == before  # but B's index still holds the vector

    [finished] = cluster.sweep(b)["erasures"]
    assert finished["reason"] == "request" and finished["templates_destroyed"] == 1
    assert finished["signed"]["receipt"]["reason"] == "request"
    assert index_entries(b) == before - 1
    with psycopg.connect(cluster.libpq) as ledger:
        assert ledger.execute("SELECT count(*) FROM templates WHERE id = %s",
                              (victim_template,)).fetchone() == (0,)
        assert ledger.execute("SELECT count(*) FROM subject_keys WHERE subject_id = %s",
                              subject_id).fetchone() == (0,)
    assert cluster.erasures(b) == erasures + 1
    assert cluster.sweep(b)["erasures"] == []  # finished once
    assert cluster.chain_ok(b)
    a.start()  # the cluster as the next test expects it
    assert cluster.erasures(a) == erasures + 1  # A's start found nothing left to finish
