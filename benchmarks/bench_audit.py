"""Cost of the witnessed audit log: verifying it, signing a checkpoint, proving an export.

Usage: python -m benchmarks.bench_audit [--n 100000]

Events are appended with the log's own code (:func:`consent.audit.append`, each sealed with an
HMAC key as the server's are: :mod:`consent.log_seals`) into a real SQLite file, 1,000 per
transaction, with a signed and witnessed checkpoint every 100 events as the server does. At each
size of ``SIZES`` up to ``--n`` it times: ``optinface audit verify``'s work on a read-only
connection with the key store (chain, tree, every checkpoint row and witness file, every
event's keyed seal), the same without the key store (an outsider's check), the tree a server
builds once at start, one checkpoint (the cached tree extended, signed, committed, witnessed),
ten inclusion proofs of an access export from the cached tree, and the daily quota's check of
the next day's first search (it must read that day's rows only, not the log), and what an
append costs: one event in its own transaction, committed (median of ``APPEND_COMMITS``), and
the append call alone inside a transaction (mean of ``APPEND_BATCH``), for an identify whose
redacted details are committed (:mod:`consent.audit_redaction`) and, alternated with it, the
same event in the hash form from before commitments, with their ratio and the load average.
Writes
``results/bench_audit.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from benchmarks.output import write_results
from benchmarks.plots import labelled_figure
from optinface.consent.audit import AuditAction, AuditLog, AuditTree, Entry, append, newest
from optinface.consent.audit_verify import verify_log
from optinface.consent.db import Database, read_only_engine
from optinface.consent.notes import Signer
from optinface.consent.quota import require_identify_quota
from optinface.consent.transparency import witness_checkpoints
from optinface.consent.witness import Witness

SIZES = (1_000, 10_000, 100_000)
BATCH = 1_000
CHECKPOINT_EVERY = 100
NOW = datetime(2027, 3, 1, tzinfo=UTC)
PURPOSE = "pur_0123456789abcdef01234567"
QUOTA_CHECKS = 21
APPEND_COMMITS = 51
APPEND_BATCH = 1_000
APPENDED_BY_MEASURE = 1 + 2 * (APPEND_COMMITS + APPEND_BATCH)
"""Events :func:`_measure` appends: the measured checkpoint's own, and the timed appends."""
SEAL_KEY = bytes(range(32))
"""The HMAC key the events are sealed with (the key store's, on a server)."""


def _details(seq: int, *, committed: bool) -> dict[str, object]:
    """An identify's details as the server writes them (a query of 5, scores and review ids
    of its 5 candidates, :func:`_found`); ``committed=False``: the same under names no
    commitment covers, so the event is chained in the hash form from before commitments
    (:mod:`consent.audit_redaction`) with the same bytes to hash."""
    seals = _found(seq)
    details = {"k": 5, "gallery_size": 10_000, "decision_use": False,
               "scores": {h: 0.5 + n / 100 for n, h in enumerate(seals)},
               "review_ids": {h: f"rev_{n:024x}" for n, h in enumerate(seals)}}
    return details if committed else {f"{name}_": value for name, value in details.items()}


def _found(seq: int) -> list[str]:
    """The pseudonyms of the 5 candidates an identify found."""
    return [f"{seq:027x}{n:05x}" for n in range(5)]


def _entry(seq: int, *, committed: bool = True) -> Entry:
    """An identify event as the server writes one: a purpose, its candidates, a probe hash."""
    return Entry(action=AuditAction.IDENTIFY, actor=None, purpose=PURPOSE,
                 subjects=_found(seq), probe_sha256=f"{seq:064x}",
                 details=_details(seq, committed=committed))


def _measure(url: str, log: AuditLog, db: Database) -> dict[str, float]:
    engine = read_only_engine(url)
    try:
        timed = {}
        for name, key in (("verify_seconds", SEAL_KEY), ("verify_without_key_seconds", None)):
            start = time.perf_counter()
            with Session(engine) as session:
                report = verify_log(session, verifier=log.signer.verifier,
                                    known=witness_checkpoints(log.witness.directory),
                                    seal_key=key)
            timed[name] = round(time.perf_counter() - start, 3)
            assert report.ok, report.problem
        start = time.perf_counter()
        with Session(engine) as session:
            AuditTree().sync(session)  # what a server start pays: the whole tree, once
        start_s = time.perf_counter() - start
    finally:
        engine.dispose()
    start = time.perf_counter()
    with db.transaction() as session:  # an export: the server's cached tree, ten proofs
        tree = log.tree.sync(session)
        for index in range(0, tree.size, max(1, tree.size // 10)):
            tree.inclusion_proof(index)
    proofs_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    with db.transaction() as session:
        append(session, _entry(0), last=newest(session), now=NOW, seal_key=SEAL_KEY)
        log.checkpoint(session, now=NOW)
    checkpoint_ms = (time.perf_counter() - start) * 1000
    return {**timed, "tree_at_start_seconds": round(start_s, 3),
            "export_proofs_ms": round(proofs_ms, 2),
            "checkpoint_ms": round(checkpoint_ms, 2), "quota_check_ms": _quota_check_ms(db),
            **_append_costs(db),
            "checkpoints": report.checkpoints,
            "witnessed": report.known}


def _quota_check_ms(db: Database) -> float:
    """The quota check of the first search on the day after the log's events (median of
    ``QUOTA_CHECKS``): nothing to count, so its cost is what it reads to find that out."""
    timings = []
    for _ in range(QUOTA_CHECKS):
        start = time.perf_counter()
        with db.transaction() as session:
            require_identify_quota(session, key_id="key_bench", purpose=PURPOSE, limit=200,
                                   now=NOW + timedelta(days=1))
        timings.append(time.perf_counter() - start)
    return round(statistics.median(timings) * 1000, 3)


def _append_costs(db: Database) -> dict[str, float]:
    """One event appended and committed in its own transaction, as a use case's event commits
    with its work (median), and the append call alone in an open transaction (mean): each of
    the two hash forms, alternated event by event so both meet the same load (``_old``: the
    form from before commitments), with the load average they ran under."""
    timings: dict[bool, list[float]] = {True: [], False: []}
    for seq in range(APPEND_COMMITS):
        for committed in (True, False):
            start = time.perf_counter()
            with db.transaction() as session:
                append(session, _entry(seq, committed=committed), last=newest(session),
                       now=NOW, seal_key=SEAL_KEY)
            timings[committed].append(time.perf_counter() - start)
    batch = {True: 0.0, False: 0.0}
    with db.transaction() as session:
        for seq in range(APPEND_BATCH):
            for committed in (True, False):
                start = time.perf_counter()
                append(session, _entry(seq, committed=committed), last=newest(session),
                       now=NOW, seal_key=SEAL_KEY)
                batch[committed] += time.perf_counter() - start
    new, old = (round(batch[form] / APPEND_BATCH * 1e6, 1) for form in (True, False))
    return {"append_commit_ms": round(statistics.median(timings[True]) * 1000, 3),
            "append_commit_ms_old": round(statistics.median(timings[False]) * 1000, 3),
            "append_in_transaction_us": new, "append_in_transaction_us_old": old,
            "commitment_ratio": round(new / old, 3), "load_average": os.getloadavg()[0]}


def run(*, n: int, folder: Path) -> dict[str, object]:
    db_path = folder / "audit.db"
    url = f"sqlite:///{db_path}"
    db = Database(url)
    db.open()
    log = AuditLog(signer=Signer.for_log(Ed25519PrivateKey.generate()),
                   witness=Witness(folder / "witness"))
    log.witness.pin(log.signer.verifier)
    rows: list[dict[str, float]] = []
    sizes = [s for s in SIZES if s <= n] or [n]
    appended, populate = 0, 0.0
    for size in sizes:
        start = time.perf_counter()
        while appended < size:
            with db.transaction() as session:
                for _ in range(min(BATCH, size - appended)):
                    event = append(session, _entry(appended), last=newest(session),
                                   now=NOW, seal_key=SEAL_KEY)
                    appended += 1
                    if event.seq % CHECKPOINT_EVERY == 0:
                        log.checkpoint(session, now=NOW)
        populate += time.perf_counter() - start
        db.checkpoint()
        row = _measure(url, log, db)
        rows.append({"events": appended, **row,
                     "database_mb": round(db_path.stat().st_size / 1e6, 1)})
        print(json.dumps(rows[-1]))
        appended += APPENDED_BY_MEASURE
    db.close()
    return {"populate_seconds": round(populate, 1), "checkpoint_every": CHECKPOINT_EVERY,
            "rows": rows, "machine": "shared, 2 cores, other agents running"}


def plot(result: dict[str, object], path: Path) -> None:
    rows = result["rows"]
    assert isinstance(rows, list)
    events = [r["events"] for r in rows]
    with labelled_figure(path, title="Witnessed audit log: cost against size (shared 2-core "
                         "machine)", xlabel="events in the log", ylabel="seconds") as axes:
        axes.plot(events, [r["verify_seconds"] for r in rows], marker="o",
                  label="audit verify, keyed seals too (s)")
        axes.plot(events, [r["verify_without_key_seconds"] for r in rows], marker="o",
                  label="audit verify, no key store (s)")
        axes.plot(events, [r["tree_at_start_seconds"] for r in rows], marker="o",
                  label="tree built at server start (s)")
        axes.plot(events, [r["export_proofs_ms"] / 1000 for r in rows], marker="o",
                  label="an export's inclusion proofs (s)")
        axes.plot(events, [r["checkpoint_ms"] / 1000 for r in rows], marker="o",
                  label="one checkpoint (s)")
        axes.plot(events, [r["quota_check_ms"] / 1000 for r in rows], marker="o",
                  label="a search's quota check, the next day (s)")
        axes.plot(events, [r["append_in_transaction_us"] / 1e6 for r in rows], marker="o",
                  label="an append, redacted details committed (s)")
        axes.plot(events, [r["append_in_transaction_us_old"] / 1e6 for r in rows], marker="x",
                  linestyle="--", label="an append, the form before commitments (s)")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.legend(fontsize="small")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="events in the largest log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_audit_") as temporary:
        result = run(n=args.n, folder=Path(temporary))
    write_results("bench_audit", result, lambda path: plot(result, path))


if __name__ == "__main__":
    main()
