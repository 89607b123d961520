"""``optinface bench``: the latency and throughput a tester sees, on this machine's providers.

Three operations, each at concurrency 1, 2, 4 and 8:

* ``embed``: decode, detect, align and embed one probe, in this process with the engine's
  active execution providers (CPU or CUDA). It is the biometric work every request pays.
* ``identify`` and ``verify``: the same probes through the HTTP API, end to end (a fresh
  single-use probe consent each, created beforehand and not timed).

Before the levels, the bench times the in-process ``embed + search`` of each probe just before
its HTTP identify, interleaved, one client, in ``--overhead-rounds`` passes, and reports
``overhead_ratio``: identify p50 over that p50, pooled over the passes, with each pass's ratio
and their spread. It is what the API, the consent gates and the durable audit commit add to
the biometric work, measured in one run so a busy machine slows both sides alike. With its own
server, the bench also reads the server's CPU time per identify (every thread, from
``/proc``) against its own per embed + search: the same comparison, far less moved by the
machine's load (recorded before and after each pass).

Without ``--url`` the bench starts ``optinface serve`` on a temporary data dir and a free port
(the server a fresh clone gets from ``./dev run``) and stops it afterwards; with ``--url`` and
an admin ``--api-key`` it measures that server. Either way the bench creates its own keys,
purpose, notice, subjects and consents through the API (:func:`prepare`): run it against a
throw-away deployment, never one holding real people. The faces are cut from the sample photo
that insightface ships.

Default server limits (5 requests/s, burst 20 per key; 200 identify attempts per key and day)
would throttle a benchmark, so each key is given at most :data:`CALLS_PER_KEY` timed calls and
as many untimed probe consents: a pool of researcher keys, never a weaker limit. A 429 during
setup is waited out; during timing it is counted as an error, not as a latency.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx2
import numpy as np
import typer

from optinface.api import server_timing
from optinface.api.cli.common import check_remote, redacted, refused
from optinface.api.cli.overhead_split import split
from optinface.api.error_codes import CliErrorCode
from optinface.api.settings import load_settings
from optinface.api.soft_person import SoftHttpPerson, probe_consent, probe_link
from optinface.consent.declaration import declared_long_enough_ago
from optinface.engine.index import HnswIndex
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import Variant, encode, portraits, variant
from optinface.engine.settings import EngineSettings

CONCURRENCY = (1, 2, 4, 8)
CALLS_PER_KEY = 10
"""Timed calls per researcher key: with its 10 probe consents, 20 tokens (the default burst)."""
HTTP_OPERATIONS = ("identify", "verify")
_ADMIN_KEY_LINE = re.compile(r"^(key_\S+)$", re.MULTILINE)


class BenchFailed(Exception):
    """The server refused a setup step or never came up."""


# Talking to the server ----------------------------------------------------------------------
@dataclass
class Api:
    """An HTTP client that waits out rate limits during setup (never during timing)."""

    client: httpx2.Client

    def call(self, method: str, url: str, secret: str, **kwargs: Any) -> Any:
        """The JSON answer to a setup call made with ``secret``; a 429 is waited out (its
        Retry-After, 60 times at most), any other refusal is a :class:`BenchFailed`."""
        headers = {"Authorization": f"Bearer {secret}"}
        for _ in range(60):
            answer = self.client.request(method, url, headers=headers, **kwargs)
            if answer.status_code != 429:
                break
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        if answer.status_code >= 400:
            raise BenchFailed(f"{method} {url} -> {answer.status_code} {answer.text}")
        return answer.json() if answer.content else None


@dataclass
class Deployment:
    """What :func:`prepare` set up: one purpose, enrolled subjects (the software people who
    hold their passkeys), researcher keys."""

    purpose_id: str
    notice_id: str
    people: list[SoftHttpPerson]
    keys: list[str]

    def probe_consent(self, client: httpx2.Client, key: str, image: bytes, *,
                      subject: int | None = None) -> str:
        """A probe consent for ``key``, signed by the (software) person in ``image``, or for a
        verify against subject number ``subject``, by that subject's passkey: set-up, made
        before the timed calls."""
        if subject is not None:
            person = self.people[subject]
            link = probe_link(client, key, purpose_id=self.purpose_id,
                              notice_id=self.notice_id, image=image, subject=person.pseudonym)
            return str(person.sign_probe(link)["id"])
        return str(probe_consent(client, key, purpose_id=self.purpose_id,
                                 notice_id=self.notice_id, image=image)["id"])


class Samples(NamedTuple):
    """What every timed comparison works on: the engine of the bench's own process, the sample
    faces to enrol (those of insightface's ``t1.jpg``), their mirrored probes, and an in-process
    gallery of the faces, for the in-process side of the overhead ratio."""

    pipeline: FacePipeline
    faces: list[bytes]
    probes: list[bytes]
    gallery: HnswIndex


def sample_faces(pipeline: FacePipeline) -> tuple[list[bytes], list[bytes]]:
    """The sample faces cut by ``pipeline``'s detector, and each one's mirrored probe."""
    images = portraits(pipeline.detector)
    return [encode(image) for image in images], [
        encode(variant(image, Variant.FLIP)) for image in images]


def samples(engine: EngineSettings) -> Samples:
    pipeline = FacePipeline.from_settings(engine)
    faces, probes = sample_faces(pipeline)
    gallery = HnswIndex(dim=pipeline.embedding_size)
    gallery.add(list(range(len(faces))),
                np.stack([pipeline.embed_single(face).vector for face in faces]))
    return Samples(pipeline, faces, probes, gallery)


def prepare(api: Api, admin: str, faces: Sequence[bytes], *, researcher_keys: int) -> Deployment:
    """Everything an identify and a verify need, through the API as an operator would do it.

    The consent rules live here and only here (purpose, notice, register declaration, subject
    consent, enrolment, probe consents): when they change, this is the function to adapt. The
    flow follows ``optinface demo``.
    """
    soon = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    run = secrets.token_hex(4)  # names once taken stay taken: a second run against one server
    portal = api.call("POST", "/v1/keys", admin, json={"role": "portal", "name": "bench portal"})
    keys = [
        api.call("POST", "/v1/keys", admin,
                 json={"role": "researcher", "name": f"bench researcher {n}"})["secret"]
        for n in range(researcher_keys)
    ]
    purpose = api.call("POST", "/v1/purposes", admin, json={
        "name": f"Benchmark {run}",
        "description": "Latency benchmark on sample faces; no real person",
        "legal_basis": "express consent",
        "operations": ["enrol", "verify", "identify"],
        "retention_days": 30,
        "study": "bench",
    })["id"]
    notice = api.call("POST", "/v1/notices", admin, json={
        "version": f"bench-{run}", "language": "en",
        "text": "Benchmark faces, used for timing only."
    })["id"]
    # Dated as if the regulator had received it a declaration period ago, as the demo does.
    declared = declared_long_enough_ago(date.today(), load_settings())
    api.call("POST", "/v1/register/declaration", admin,
             json={"date": declared.isoformat(), "reference": "BENCH-NOT-A-DECLARATION"})
    people = []
    for face in faces:
        created = api.call("POST", "/v1/subjects", portal["secret"],
                           json={"age_category": "adult"})
        # SOFTWARE PASSKEYS: benchmark people sign their consent, opt-in and photo approval
        # with an in-process authenticator (see consent.soft_authenticator).
        person = SoftHttpPerson.take_over(api.client, created["enrolment"]["secret"])
        person.set_searchable(True)
        given = person.consent(purposes=[purpose], notice_id=notice, expires_at=soon)
        person.enrol(given["consent"]["id"], face, desk=portal["secret"])
        people.append(person)
    return Deployment(purpose_id=purpose, notice_id=notice, people=people, keys=keys)


OPERATORS_DEPLOYMENT = (
    "OPTINFACE_DATA_DIR", "OPTINFACE_DATABASE_URL", "OPTINFACE_KEY_DIR", "OPTINFACE_KEY_STORE",
    "OPTINFACE_PKCS11_MODULE", "OPTINFACE_PKCS11_TOKEN_LABEL", "OPTINFACE_PKCS11_PIN",
    "OPTINFACE_AUDIT_WITNESS_DIR", "OPTINFACE_FIRST_ADMIN_KEY_FILE", "OPTINFACE_TLS_CERT",
    "OPTINFACE_TLS_KEY", "OPTINFACE_TLS_CLIENT_CA", "OPTINFACE_TLS_CLIENT_PORT",
)
"""The settings that name the operator's own deployment: where it keeps its ledger, keys,
witness and first admin key, and how it is reached. The bench's throw-away server takes none of
them from the environment: in the container they name ``/keys`` and ``/witness``, whose witness
refused the new ledger (``witness_unusable``), and a first admin key file there would be
replaced."""


@contextmanager
def local_server(port: int | None = None, *, python_path: str | None = None,
                 settings: Mapping[str, str] | None = None) -> Iterator[tuple[str, str, int]]:
    """``optinface serve`` on a temporary data dir, a deployment of its own (none of
    :data:`OPERATORS_DEPLOYMENT` inherited); yields its URL, first admin key and pid.

    ``python_path``: the ``src`` folder of another checkout, to serve that version;
    ``settings``: ``OPTINFACE_*`` variables for this server only (``benchmarks/bench_api_ab.py``
    compares two versions, or two configurations)."""
    with tempfile.TemporaryDirectory(prefix="optinface-bench-") as root:
        port = port or _free_port()
        command = [sys.executable, "-m", "optinface.api.cli.main", "serve",
                   "--port", str(port), "--data-dir", str(Path(root) / "var")]
        inherited = {name: value for name, value in os.environ.items()
                     if name not in OPERATORS_DEPLOYMENT}
        env = {**inherited, "COLUMNS": "200", **(settings or {})}
        if python_path is not None:
            env["PYTHONPATH"] = python_path
        env.setdefault("OPENBLAS_NUM_THREADS", "1")  # as ./dev run does
        # Sample faces on a temporary data dir: a demonstration, as ./dev run's default says.
        env.setdefault("OPTINFACE_DEMO_MODE", "true")
        # The daily matching quota holds per purpose over all keys: the benchmark's own
        # throw-away server lifts it, or its many keys would be refused on one purpose.
        env.setdefault("OPTINFACE_IDENTIFY_DAILY_QUOTA", "1000000")
        # Stage times in each answer: where the overhead goes (api.cli.overhead_split).
        env.setdefault("OPTINFACE_SERVER_TIMING", "true")
        process = subprocess.Popen(  # noqa: S603 (our own console script, fixed arguments)
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process, lines)
            admin = _ADMIN_KEY_LINE.search("".join(lines))
            if admin is None:
                raise BenchFailed("the server printed no admin key:\n" + "".join(lines))
            yield url, admin.group(1), process.pid
        finally:
            process.terminate()
            process.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[str], lines: list[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise BenchFailed("the server did not come up:\n" + "".join(lines))


# Timing ---------------------------------------------------------------------------------------
def process_cpu_seconds(pid: int) -> float | None:
    """CPU time of every thread of ``pid`` so far, to the nanosecond (the scheduler's own
    count in ``/proc/PID/task/*/schedstat``); None where that is not readable (not Linux)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total / 1e9


@dataclass
class Level:
    """Latencies of one operation at one concurrency, and the wall time they took."""

    seconds: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @classmethod
    def sequential(cls, seconds: list[float]) -> Level:
        """Calls made one after another: the level's wall time is the sum of their latencies."""
        return cls(seconds=seconds, wall=sum(seconds))

    def summary(self) -> dict[str, Any]:
        done = np.asarray(self.seconds) * 1000
        figures: dict[str, Any] = {"requests": len(self.seconds), "errors": self.errors}
        if len(done):
            figures |= {f"p{q}_ms": round(float(np.percentile(done, q)), 2) for q in (50, 90, 99)}
            figures["throughput_per_s"] = round(len(done) / self.wall, 2)
        return figures


def run_level(work: Callable[[int], str | None], *, calls: int, concurrency: int) -> Level:
    """``calls`` calls of ``work(i)`` on ``concurrency`` threads; each returns an error or None."""
    level = Level()
    lock = threading.Lock()

    def one(i: int) -> None:
        """Time call ``i``: only successes enter the latencies, a refusal is counted by code."""
        started = time.perf_counter()
        error = work(i)
        elapsed = time.perf_counter() - started
        with lock:
            if error is None:
                level.seconds.append(elapsed)
            else:
                level.errors[error] = level.errors.get(error, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(calls)))
    level.wall = time.perf_counter() - started
    return level


@dataclass
class Bench:
    """One run: the server, the prepared deployment, the local engine and the probes."""

    client: httpx2.Client
    deployment: Deployment
    pipeline: FacePipeline
    probes: list[bytes]
    search_index: HnswIndex
    server_pid: int | None = None
    """The server's process when the bench started it: its CPU time is then measured too."""
    key_cursor: int = 0

    def _next_keys(self, calls: int) -> list[str]:
        count = math.ceil(calls / CALLS_PER_KEY)
        keys = self.deployment.keys[self.key_cursor : self.key_cursor + count]
        self.key_cursor += count
        return [keys[i // CALLS_PER_KEY] for i in range(calls)]

    def http_work(self, operation: str, calls: int, *,
                  stages: list[dict[str, float] | None] | None = None,
                  ) -> Callable[[int], str | None]:
        """Call ``i`` of ``operation``; with ``stages``, each answer's Server-Timing stages are
        appended to it (None where the server sent none): sequential calls only."""
        keys = self._next_keys(calls)
        # A verify compares probe i with subject i (its mirrored face), who signs for it.
        consents = [self.deployment.probe_consent(
            self.client, key, self.probes[i % len(self.probes)],
            subject=i % len(self.probes) if operation == "verify" else None)
            for i, key in enumerate(keys)]

        def work(i: int) -> str | None:
            """Call ``i`` with its own key and probe consent. Only an answer with candidates
            is a success: a search that stops finding its subject shows up as an error, never
            as a faster call."""
            probe = i % len(self.probes)
            form = {"purpose_id": self.deployment.purpose_id, "probe_consent_id": consents[i]}
            if operation == "verify":
                form["subject"] = self.deployment.people[probe].pseudonym
            answer = self.client.post(
                f"/v1/{operation}", headers={"Authorization": f"Bearer {keys[i]}"}, data=form,
                files={"image": ("probe.jpg", self.probes[probe], "image/jpeg")})
            if stages is not None:
                timing = answer.headers.get(server_timing.HEADER)
                stages.append(server_timing.parse(timing) if timing else None)
            if answer.status_code != 200:
                json_body = answer.headers.get("content-type", "").startswith("application/json")
                return str(answer.json().get("code") if json_body else answer.status_code)
            return None if answer.json()["outcome"] == "candidates_for_review" else "no_candidate"

        return work

    def embed_work(self, i: int) -> str | None:
        self.pipeline.embed_single(self.probes[i % len(self.probes)])
        return None

    def overhead_round(self, calls: int) -> OverheadRound:
        """Identify over HTTP against in-process embed + search of the same probe, interleaved,
        in wall time and in CPU time (the server's, all threads, while it answers; this
        process's while it embeds and searches)."""
        measured = OverheadRound(load_before=os.getloadavg())
        identify = self.http_work("identify", calls, stages=measured.stages)
        local: list[float] = []
        remote: list[float] = []
        for i in range(calls):
            wall, cpu = self.time_in_process(i)
            local.append(wall)
            measured.local_cpu += cpu
            wall, server_cpu, error = self.time_identify(identify, i)
            remote.append(wall)
            if server_cpu is not None:
                measured.server_cpu = (measured.server_cpu or 0.0) + server_cpu
            if error is not None:
                raise BenchFailed(f"identify answered {error} while measuring the overhead")
        measured.local, measured.remote = Level.sequential(local), Level.sequential(remote)
        measured.load_after = os.getloadavg()
        return measured

    def time_in_process(self, i: int) -> tuple[float, float]:
        """Embed and search probe ``i`` in this process: its wall and CPU seconds."""
        cpu_started, started = time.process_time(), time.perf_counter()
        vector = self.pipeline.embed_single(self.probes[i % len(self.probes)]).vector
        self.search_index.search(vector, k=5, allowed=self.search_index.labels())
        return time.perf_counter() - started, time.process_time() - cpu_started

    def time_identify(self, work: Callable[[int], str | None], i: int,
                      ) -> tuple[float, float | None, str | None]:
        """Call ``i`` of ``work`` (an identify from :meth:`http_work`): its wall seconds, the
        server's CPU seconds meanwhile (None where not readable: not the bench's own server,
        or no ``/proc``) and its error (None: it answered with candidates)."""
        server_before, started = self._server_cpu(), time.perf_counter()
        error = work(i)
        wall = time.perf_counter() - started
        server_after = self._server_cpu()
        if server_before is None or server_after is None:
            return wall, None, error
        return wall, server_after - server_before, error

    def _server_cpu(self) -> float | None:
        return None if self.server_pid is None else process_cpu_seconds(self.server_pid)

    def overhead(self, calls: int, rounds: int) -> dict[str, Any]:
        """:meth:`overhead_round` ``rounds`` times: the pooled ratio, each round's, its spread,
        and the same in CPU time when the server is this bench's own."""
        each = [self.overhead_round(calls) for _ in range(rounds)]
        summaries = [one.summary() for one in each]
        ratios = [summary["overhead_ratio"] for summary in summaries]
        local = Level.sequential([s for one in each for s in one.local.seconds])
        remote = Level.sequential([s for one in each for s in one.remote.seconds])
        return compared(local, remote) | {
            "load_average": {"before": list(each[0].load_before),
                             "after": list(each[-1].load_after)},
            "overhead_ratio_per_round": ratios,
            "overhead_ratio_median_of_rounds": round(float(np.median(ratios)), 3),
            "overhead_ratio_spread": [min(ratios), max(ratios)],
            "cpu": pooled_cpu([summary["cpu"] for summary in summaries
                                if summary["cpu"] is not None]),
            "split_ms_p50": split(remote.seconds, [s for one in each for s in one.stages]),
            "rounds": summaries,
        }


@dataclass
class OverheadRound:
    """One interleaved pass of :meth:`Bench.overhead_round`."""

    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    local: Level = field(default_factory=Level)
    remote: Level = field(default_factory=Level)
    local_cpu: float = 0.0
    server_cpu: float | None = None
    stages: list[dict[str, float] | None] = field(default_factory=list)
    """Each identify's Server-Timing stages (see :mod:`api.cli.overhead_split`)."""

    def cpu(self) -> dict[str, float] | None:
        """CPU milliseconds per call on each side, and their ratio (None: server not ours)."""
        if not self.server_cpu or not self.local_cpu:
            return None
        calls = len(self.remote.seconds)
        return cpu_figures(1000 * self.server_cpu / calls, 1000 * self.local_cpu / calls)

    def summary(self) -> dict[str, Any]:
        return compared(self.local, self.remote) | {
            "cpu": self.cpu(),
            "load_average": {"before": list(self.load_before), "after": list(self.load_after)}}


def compared(local: Level, remote: Level) -> dict[str, Any]:
    """In-process embed + search against identify over HTTP: each side's figures, and the
    ratio and the difference of their p50s."""
    in_process, http = local.summary(), remote.summary()
    return {"in_process_embed_search": in_process, "http_identify": http,
            "overhead_ratio": round(http["p50_ms"] / in_process["p50_ms"], 3),
            "overhead_ms_p50": round(http["p50_ms"] - in_process["p50_ms"], 2)}


def pooled_cpu(rounds: list[dict[str, float]]) -> dict[str, float] | None:
    """The median over rounds of each side's CPU per call, and the ratio of those medians."""
    if not rounds:
        return None
    return cpu_figures(float(np.median([r["server_ms_per_identify"] for r in rounds])),
                       float(np.median([r["in_process_ms_per_embed_search"] for r in rounds])))


def cpu_figures(server_ms: float, local_ms: float) -> dict[str, float]:
    """The server's CPU milliseconds per identify, this process's per embed + search, and
    their ratio, as ``optinface bench`` reports them."""
    return {"server_ms_per_identify": round(server_ms, 2),
            "in_process_ms_per_embed_search": round(local_ms, 2),
            "ratio": round(server_ms / local_ms, 3)}


def measure(bench: Bench, *, requests: int, levels: Sequence[int], overhead_rounds: int,
            progress: Callable[[str], None]) -> dict[str, Any]:
    """The overhead rounds, then every operation at every level, in a fixed order."""
    overhead = bench.overhead(requests, overhead_rounds)
    results: dict[str, Any] = {"overhead": overhead}
    progress(f"overhead ratio {overhead['overhead_ratio']} (rounds:"
             f" {', '.join(map(str, overhead['overhead_ratio_per_round']))}; CPU: "
             f"{overhead['cpu']['ratio'] if overhead['cpu'] else 'not measured'})")
    parts = overhead["split_ms_p50"]
    progress("identify p50 split (ms): " + (", ".join(f"{k} {v}" for k, v in parts.items())
                                            if parts else "no Server-Timing from the server"))
    operations: dict[str, dict[str, Any]] = {"embed": {}, "identify": {}, "verify": {}}
    for concurrency in levels:
        operations["embed"][str(concurrency)] = run_level(
            bench.embed_work, calls=requests, concurrency=concurrency).summary()
        for operation in HTTP_OPERATIONS:
            operations[operation][str(concurrency)] = run_level(
                bench.http_work(operation, requests), calls=requests,
                concurrency=concurrency).summary()
        progress(f"concurrency {concurrency}: " + ", ".join(
            f"{op} p50 {operations[op][str(concurrency)].get('p50_ms')} ms" for op in operations))
    results["operations"] = operations
    return results


def machine() -> dict[str, Any]:
    """What a reader needs to compare runs: the CPU, its cores and how busy it was."""
    cpu = platform.processor()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        cpu = found.group(1) if found else cpu
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpus": len(os.sched_getaffinity(0)), "load_average": list(os.getloadavg())}


def plot(results: dict[str, Any], path: Path) -> None:
    """p50 and p99 latency, and throughput, against concurrency; one line per operation. With
    the server's stage times, a third panel splits identify's p50 against in-process work."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    overhead = results["overhead"]
    parts = overhead["split_ms_p50"]
    figure = Figure(figsize=(16 if parts else 11, 5 if parts else 4.2))
    FigureCanvasAgg(figure)
    latency, throughput, *where = figure.subplots(1, 3 if parts else 2)
    for operation, levels in results["operations"].items():
        xs = [int(c) for c in levels if "p50_ms" in levels[c]]
        latency.plot(xs, [levels[str(c)]["p50_ms"] for c in xs], "o-", label=f"{operation} p50")
        latency.plot(xs, [levels[str(c)]["p99_ms"] for c in xs], "x--", label=f"{operation} p99")
        throughput.plot(xs, [levels[str(c)]["throughput_per_s"] for c in xs], "o-",
                        label=operation)
    if parts:
        plot_split(where[0], parts, in_process_ms=overhead["in_process_embed_search"]["p50_ms"])
    low, high = overhead["overhead_ratio_spread"]
    cpu = f"; CPU {overhead['cpu']['ratio']}" if overhead["cpu"] else ""
    latency.set(xlabel="concurrent clients", ylabel="latency (ms)",
                title=f"identify / in-process embed+search at p50: {overhead['overhead_ratio']}"
                      f"\n(passes {low}-{high}{cpu})")
    throughput.set(xlabel="concurrent clients", ylabel="requests / s", title="throughput")
    for axes in (latency, throughput):  # the split panel keeps its own axes
        axes.set_xscale("log", base=2)
        axes.xaxis.set_minor_locator(NullLocator())
        axes.set_xticks(CONCURRENCY, [str(c) for c in CONCURRENCY])
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.suptitle(f"optinface bench: {results['tag']} ({results['machine']['cpus']} CPUs)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def plot_split(axes: Any, parts: dict[str, float], *, in_process_ms: float) -> None:
    """One stacked bar of identify's parts over HTTP beside the in-process embed + search."""
    left = 0.0
    for name, ms in parts.items():
        axes.barh("HTTP identify", ms, left=left, label=f"{name} {ms:.1f}")
        left += ms
    axes.barh("in process", in_process_ms, color="grey", label=f"embed+search {in_process_ms}")
    axes.set(xlabel="ms (medians per part)", title="where identify's p50 goes")
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)


# The run, for the command (api/cli/drivers.py) ---------------------------------------------
def run(*, url: str | None, api_key: str | None, requests: int, overhead_rounds: int,
        concurrency: list[int] | None, out: Path, tag: str | None) -> None:
    """``optinface bench`` (:mod:`api.cli.drivers`, its options): measure, then write
    ``bench_api_<tag>.json`` and ``.png`` in ``out``."""
    levels = tuple(concurrency or CONCURRENCY)
    server_pid: int | None = None
    check_remote(url, api_key)
    engine = EngineSettings()
    pipeline, faces, probes, gallery = samples(engine)
    # Each timed batch (the overhead pass, then each operation at each level) has its own keys.
    researcher_keys = math.ceil(requests / CALLS_PER_KEY) * (
        overhead_rounds + len(levels) * len(HTTP_OPERATIONS))
    try:
        with ExitStack() as stack:
            if url is None:
                typer.echo("starting optinface serve on a temporary data dir ...")
                url, api_key, server_pid = stack.enter_context(local_server())
            assert api_key is not None
            client = stack.enter_context(httpx2.Client(base_url=url, timeout=120))
            typer.echo(f"preparing {redacted(url)}: {researcher_keys} researcher keys")
            deployment = prepare(Api(client), api_key, faces, researcher_keys=researcher_keys)
            health = client.get("/healthz").json()
            runner = Bench(client=client, deployment=deployment, pipeline=pipeline,
                           probes=probes, search_index=gallery, server_pid=server_pid)
            measured = measure(runner, requests=requests, levels=levels,
                               overhead_rounds=overhead_rounds, progress=typer.echo)
    except BenchFailed as failure:
        raise refused(CliErrorCode.BENCH_FAILED, str(failure)) from failure
    on_cuda = any("CUDA" in p for ps in pipeline.active_providers.values() for p in ps)
    tag = tag or ("cuda" if on_cuda else "cpu")
    results = {
        "tag": tag,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "server": {"url": redacted(url), "providers": health["active_providers"],
                   "models": health["models"], "model_id": health["model_id"]},
        # This process's threads; the bench's own server reads the same environment, so its
        # are set alike, but a --url server's are its own and not known here.
        "onnxruntime_threads": {"intra_op_threads": engine.intra_op_threads,
                                "intra_op_affinities": engine.intra_op_affinities},
        "in_process": {"providers": pipeline.active_providers,
                       "models": {spec.id: spec.sha256 for spec in pipeline.models.values()}},
        "requests_per_level": requests,
        "notes": "Latencies are wall-clock per call; throughput is calls / wall time of the "
                 "level. embed runs in this process; identify and verify over HTTP. The machine "
                 "may be shared: compare ratios within one run. overhead: identify over HTTP "
                 "against in-process embed + search of the same probes, interleaved, in "
                 "--overhead-rounds passes; cpu: the server's CPU time (all threads) per "
                 "identify against this process's per embed + search, with the bench's own "
                 "server only. onnxruntime_threads: this process's settings (and the bench's "
                 "own server's, which reads the same environment; not a --url server's).",
        **measured,
    }
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / f"bench_api_{tag}.json", out / f"bench_api_{tag}.png"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, png_path)
    typer.echo(f"wrote {json_path} and {png_path}")
