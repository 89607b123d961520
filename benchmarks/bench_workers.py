"""Several workers on one PostgreSQL ledger: throughput, latency and replica lag.

Three deployments of real ``optinface serve`` processes on loopback ports, started the way the
tests start them (``tests/support/postgres.py``, ``tests/support/workers.py``):

* ``sqlite_1``: the embedded default, one process (SQLite + hnswlib in its data directory);
* ``postgres_1``: one worker on a local PostgreSQL 15;
* ``postgres_2``: two workers on that PostgreSQL, each with its own index replica; requests
  alternate between them.

For each: ``enrol`` (subjects and consents made beforehand, untimed) and ``identify`` (one
single-use probe consent each, made beforehand) through the HTTP API, ``--requests`` calls at
``--concurrency`` clients. On ``postgres_2`` also the replica lag, ``--lag-samples`` times:
from worker A's answer to an enrolment (committed) until worker B's ``/healthz`` counts the
template in its index, and from A's answer to an erasure until B's count drops (B has removed
the vector from memory; it flushes the removal to its file in the same step). B is polled
every :data:`POLL_SECONDS`, which bounds the resolution.

PostgreSQL keeps fsync and synchronous commit on here, so a commit costs what SQLite's
``synchronous=FULL`` costs. All processes share one machine: on two cores, two workers
compete for the same CPUs as one, so the figures show what coordination costs, not how far
workers on separate machines scale.

    python -m benchmarks.bench_workers                     # about 3 minutes on two cores
    python -m benchmarks.bench_workers --requests 80 --lag-samples 40

Writes benchmarks/results/bench_workers.json and bench_workers.png.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
from matplotlib.figure import Figure

from benchmarks.command_line import IntOption, bench_parser
from benchmarks.output import RESULTS, spread, write_results
from optinface.api.cli.bench import machine, run_level, sample_faces
from optinface.api.soft_person import SoftHttpPerson, probe_consent
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from tests.support.postgres import PostgresServer, postgres_server
from tests.support.server import free_port
from tests.support.workers import Secrets, Worker, cluster_settings, declare_ledger, environment

POLL_SECONDS = 0.005
THRESHOLDS = EngineSettings().thresholds_path


class Deployment:
    """Workers sharing one ledger, and the calls the benchmark makes to them."""

    def __init__(self, workers: list[Worker], secrets: Secrets) -> None:
        self.workers = workers
        self.secrets = secrets
        self.http = httpx2.Client(timeout=120, limits=httpx2.Limits(max_connections=64))

    def _post(self, worker: Worker, path: str, key: str, **kwargs: Any) -> httpx2.Response:
        return self.http.post(f"{worker.url}{path}", headers={"Authorization": f"Bearer {key}"},
                              **kwargs)

    def consenting_subject(self, i: int, image: bytes) -> tuple[str, str]:
        """A new subject, made through worker ``i``, whose person (a SOFTWARE passkey, see
        consent.soft_authenticator) consented and approved ``image``: (pseudonym, capture id).
        Set-up, untimed: the timed enrolment is the desk's upload of the approved photo."""
        worker = self.workers[i % len(self.workers)]
        made = self._post(worker, "/v1/subjects", self.secrets.portal,
                          json={"age_category": "adult"}).json()
        client = httpx2.Client(base_url=worker.url, timeout=120)
        person = SoftHttpPerson.take_over(client, made["enrolment"]["secret"])
        person.set_searchable(True)
        given = person.consent(purposes=[self.secrets.purpose], notice_id=self.secrets.notice,
                               expires_at=(datetime.now(UTC) + timedelta(days=30)).isoformat())
        capture = person.approve_capture(given["consent"]["id"], image,
                                         desk=self.secrets.portal)
        client.close()
        return person.pseudonym, capture

    def probe_consent(self, i: int, image: bytes) -> str:
        """A probe consent signed by the (software) person in ``image``; set-up, untimed."""
        worker = self.workers[i % len(self.workers)]
        with httpx2.Client(base_url=worker.url, timeout=120) as client:
            return str(probe_consent(client, self.secrets.researcher,
                                     purpose_id=self.secrets.purpose,
                                     notice_id=self.secrets.notice, image=image)["id"])

    def enrol(self, worker: Worker, subject: tuple[str, str], image: bytes) -> httpx2.Response:
        return self._post(worker, f"/v1/subjects/{subject[0]}/faces", self.secrets.portal,
                          data={"capture_id": subject[1]},
                          files={"image": ("face.jpg", image, "image/jpeg")})

    def identify(self, worker: Worker, probe_consent: str, image: bytes) -> httpx2.Response:
        return self._post(worker, "/v1/identify", self.secrets.researcher,
                          data={"purpose_id": self.secrets.purpose,
                                "probe_consent_id": probe_consent},
                          files={"image": ("probe.jpg", image, "image/jpeg")})

    def erase(self, worker: Worker, pseudonym: str) -> httpx2.Response:
        return self.http.delete(f"{worker.url}/v1/subjects/{pseudonym}",
                                headers={"Authorization": f"Bearer {self.secrets.admin}"})

    def index_entries(self, worker: Worker) -> int:
        return int(self.http.get(f"{worker.url}/healthz").json()["index_entries"])


def prepared(count: int, make: Callable[[int], Any]) -> list[Any]:
    """``count`` untimed set-up calls, four at a time."""
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(make, range(count)))


def throughput(deployment: Deployment, faces: list[bytes], probes: list[bytes], *,
               requests: int, concurrency: int) -> dict[str, Any]:
    workers = deployment.workers
    subjects = prepared(requests, lambda i: deployment.consenting_subject(
        i, faces[i % len(faces)]))

    def enrol(i: int) -> str | None:
        answer = deployment.enrol(workers[i % len(workers)], subjects[i], faces[i % len(faces)])
        return None if answer.status_code == 201 else str(answer.status_code)

    enrolled = run_level(enrol, calls=requests, concurrency=concurrency).summary()
    consents = prepared(requests, lambda i: deployment.probe_consent(
        i, probes[i % len(probes)]))

    def identify(i: int) -> str | None:
        answer = deployment.identify(workers[i % len(workers)], consents[i],
                                     probes[i % len(probes)])
        if answer.status_code != 200:
            return str(answer.status_code)
        return None if answer.json()["outcome"] == "candidates_for_review" else "no_candidate"

    identified = run_level(identify, calls=requests, concurrency=concurrency).summary()
    return {"enrol": enrolled, "identify": identified}


def wait_for(condition: Callable[[], bool], *, timeout: float = 30.0) -> float:
    """Seconds until ``condition`` holds, polled every :data:`POLL_SECONDS`."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise RuntimeError("replica did not catch up within the timeout")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def replica_lag(deployment: Deployment, faces: list[bytes], *, samples: int) -> dict[str, Any]:
    a, b = deployment.workers
    searchable, scrubbed = [], []

    def holds(entries: int) -> Callable[[], bool]:
        """Whether worker B's index holds ``entries`` vectors, to poll."""
        return lambda: deployment.index_entries(b) == entries

    for i in range(samples):
        subject = deployment.consenting_subject(0, faces[i % len(faces)])
        before = deployment.index_entries(b)
        assert deployment.enrol(a, subject, faces[i % len(faces)]).status_code == 201
        searchable.append(wait_for(holds(before + 1)))
        assert deployment.erase(a, subject[0]).status_code == 200
        scrubbed.append(wait_for(holds(before)))
    return {"enrol_to_searchable_elsewhere": _summary(searchable),
            "erase_to_scrubbed_elsewhere": _summary(scrubbed),
            "poll_ms": POLL_SECONDS * 1000,
            "samples_ms": {"searchable": [round(s * 1000, 1) for s in searchable],
                           "scrubbed": [round(s * 1000, 1) for s in scrubbed]}}


def _summary(seconds: list[float]) -> dict[str, float]:
    return spread([second * 1000 for second in seconds],
                  {"p50_ms": 50, "p95_ms": 95, "max_ms": 100}, digits=1)


@contextmanager
def deployment(root: Path, pipeline: FacePipeline, *, server: PostgresServer | None,
               workers: int) -> Iterator[Deployment]:
    """Declare a fresh ledger and start ``workers`` workers on it (SQLite: one, in setup/)."""
    url = server.new_database() if server else f"sqlite:///{root / 'setup' / 'optinface.db'}"
    settings = cluster_settings(root, url, THRESHOLDS)
    secrets = declare_ledger(settings, pipeline)
    env = environment(settings)
    folders = [root / "setup"] if server is None else [root / f"worker-{i}"
                                                        for i in range(workers)]
    started: list[Worker] = []
    try:
        for folder in folders:
            started.append(Worker(folder, env).start())
        yield Deployment(started, secrets)
    finally:
        for worker in started:
            worker.stop()


def plot(results: dict[str, Any], path: Path) -> None:
    figure = Figure(figsize=(13, 4.2))
    names = list(results["deployments"])
    for column, (metric, unit) in enumerate((("throughput_per_s", "requests / s"),
                                             ("p50_ms", "p50 latency (ms)"))):
        ax = figure.add_subplot(1, 3, column + 1)
        width = 0.38
        for offset, operation in ((-width / 2, "enrol"), (width / 2, "identify")):
            values = [results["deployments"][n][operation].get(metric, 0) for n in names]
            bars = ax.bar(np.arange(len(names)) + offset, values, width, label=operation)
            ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set_xticks(np.arange(len(names)), names)
        ax.set_ylabel(unit)
        ax.legend()
    lag = results["replica_lag"]["samples_ms"]
    ax = figure.add_subplot(1, 3, 3)
    ax.boxplot([lag["searchable"], lag["scrubbed"]], showfliers=True)
    ax.set_xticks([1, 2], ["enrol -> searchable\non the other", "erase -> scrubbed\non the other"])
    ax.axhline(1000, linestyle="--", color="C3", label="1 s target")
    ax.set_ylabel("replica lag (ms)")
    ax.set_yscale("log")
    ax.legend()
    figure.suptitle("optinface: 1 and 2 workers on PostgreSQL against one SQLite process "
                    "(shared 2-core machine)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = bench_parser(__doc__, IntOption("--requests", 40, "timed calls per operation"),
                          IntOption("--concurrency", 4), IntOption("--lag-samples", 20))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    pipeline = FacePipeline.from_settings(EngineSettings())
    faces, probes = sample_faces(pipeline)
    results: dict[str, Any] = {
        "benchmark": "bench_workers", "machine": machine(),
        "note": "one shared 2-core machine (other agents were running): every worker, "
                "PostgreSQL and the clients compete for the same cores",
        "requests": args.requests, "concurrency": args.concurrency, "deployments": {}}
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-workers-")))
        server = stack.enter_context(postgres_server(free_port(), durable=True))
        for name, backend, count in (("sqlite_1", None, 1), ("postgres_1", server, 1),
                                     ("postgres_2", server, 2)):
            with deployment(root / name, pipeline, server=backend, workers=count) as made:
                results["deployments"][name] = throughput(
                    made, faces, probes, requests=args.requests, concurrency=args.concurrency)
                print(name, json.dumps(results["deployments"][name]))
                if count == 2:
                    results["replica_lag"] = replica_lag(made, faces, samples=args.lag_samples)
                    print("replica lag", json.dumps(
                        {k: v for k, v in results["replica_lag"].items() if k != "samples_ms"}))
    results["machine"]["load_average_after"] = list(os.getloadavg())
    write_results("bench_workers", results, plot, folder=args.out)


if __name__ == "__main__":
    main()
