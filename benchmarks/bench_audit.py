"""Cost of the witnessed audit log: verifying it, signing a checkpoint, proving an export.

Usage: python -m benchmarks.bench_audit [--n 100000] [--identify-rounds N] [--challenge-rounds N]

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
seals and redacted details are committed (:mod:`consent.audit_seal_tree`,
:mod:`consent.audit_redaction`) and, alternated with it, the same event in the hash form from
before seal roots and in the one from before commitments (:data:`FORMS`), with the ratios of
the first to each and the load average. The log itself is appended in the form of now, so
its verification and tree include the seal roots' cost.
Writes
``results/bench_audit.json`` and ``.png``.

With ``--identify-rounds N`` (0: skipped) it also times an identification through the service
(the real engine, a SQLite ledger, a gallery of six, the probe consent signed before the clock
starts) as served (``after``: its spent probe consent marked in the witness folder as it
commits, :mod:`consent.spent_marks`, and the checkpoint signed there before it answers,
:mod:`consent.spent_rights`), with the mark alone (``marked``) and with neither (``before``),
the modes alternated round by round (:mod:`benchmarks.modes`), with their ratios. Writes
``results/bench_audit_identify.json`` and ``.png``.

With ``--challenge-rounds N`` (0: skipped) it times, the same way, a passkey sign-in and a
signed act (the person's opt-out or opt-in of search) as served (``after``: their answered
challenge marked in the witness folder as it commits, :mod:`consent.spent_marks`, and the
checkpoint signed before they answer), with the mark alone (``marked``), and with neither
(``before``). Writes ``results/bench_audit_challenge.json`` and ``.png``.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import tempfile
import time
from contextlib import AbstractContextManager, closing, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from benchmarks.command_line import IntOption, bench_parser
from benchmarks.modes import Samples, alternated, summary
from benchmarks.output import checked, write_results
from benchmarks.plots import labelled_figure
from optinface.consent import audit_seal_tree, spent_marks, spent_rights
from optinface.consent.audit import AuditAction, AuditLog, AuditTree, Entry, append, newest
from optinface.consent.audit_verify import verify_log
from optinface.consent.db import Database, read_only_engine
from optinface.consent.notes import Signer
from optinface.consent.quota import require_identify_quota
from optinface.consent.schemas import PasskeyResponse, SearchableAct
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.transparency import witness_checkpoints
from optinface.consent.witness import Witness, latest_witnessed
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import encode, portraits
from tests.support.consent import FakeClock, make_world
from tests.support.thresholds import TEST_FMR, write_test_thresholds

SIZES = (1_000, 10_000, 100_000)
BATCH = 1_000
CHECKPOINT_EVERY = 100
NOW = datetime(2027, 3, 1, tzinfo=UTC)
PURPOSE = "pur_0123456789abcdef01234567"
QUOTA_CHECKS = 21
APPEND_COMMITS = 51
APPEND_BATCH = 1_000
APPENDED_BY_MEASURE = 1 + 3 * (APPEND_COMMITS + APPEND_BATCH)
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


FORMS = ("seal_root", "before_seal_roots", "before_commitments")
"""The hash forms an append is timed in, alternated event by event: the form chained now (a
search's seals through their root, :mod:`consent.audit_seal_tree`), the one before it (the seal
list hashed, the redacted details committed) and the one before commitments."""


def _appended(session: Session, seq: int, form: str) -> None:
    """One identify appended in ``form`` with the log's own code: the form before seal roots
    by :func:`consent.audit_seal_tree.commit` left out, the form before commitments by details
    under names no commitment covers (:func:`_details`)."""
    entry = _entry(seq, committed=form != "before_commitments")
    kept = (mock.patch.object(audit_seal_tree, "commit", lambda details, **_: dict(details))
            if form == "before_seal_roots" else nullcontext())
    with kept:
        append(session, entry, last=newest(session), now=NOW, seal_key=SEAL_KEY)


def _append_costs(db: Database) -> dict[str, float]:
    """One event appended and committed in its own transaction, as a use case's event commits
    with its work (median), and the append call alone in an open transaction (mean): each of
    the :data:`FORMS`, alternated event by event so all meet the same load (``_old``: the form
    before commitments, ``_before_seal_roots``: the one before seal roots), with the load
    average they ran under."""
    timings: dict[str, list[float]] = {form: [] for form in FORMS}
    for seq in range(APPEND_COMMITS):
        for form in FORMS:
            start = time.perf_counter()
            with db.transaction() as session:
                _appended(session, seq, form)
            timings[form].append(time.perf_counter() - start)
    batch = dict.fromkeys(FORMS, 0.0)
    with db.transaction() as session:
        for seq in range(APPEND_BATCH):
            for form in FORMS:
                start = time.perf_counter()
                _appended(session, seq, form)
                batch[form] += time.perf_counter() - start
    new, between, old = (round(batch[form] / APPEND_BATCH * 1e6, 1) for form in FORMS)
    commit_ms = {form: round(statistics.median(timings[form]) * 1000, 3) for form in FORMS}
    return {"append_commit_ms": commit_ms["seal_root"],
            "append_commit_ms_before_seal_roots": commit_ms["before_seal_roots"],
            "append_commit_ms_old": commit_ms["before_commitments"],
            "append_in_transaction_us": new, "append_in_transaction_us_before_seal_roots": between,
            "append_in_transaction_us_old": old,
            "seal_root_ratio": round(new / between, 3), "commitment_ratio": round(new / old, 3),
            "load_average": os.getloadavg()[0]}


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
    rows = checked(result, "rows", list)
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
                  label="an append, seals and redacted details committed (s)")
        axes.plot(events, [r["append_in_transaction_us_before_seal_roots"] / 1e6 for r in rows],
                  marker="x", linestyle=":", label="an append, the form before seal roots (s)")
        axes.plot(events, [r["append_in_transaction_us_old"] / 1e6 for r in rows], marker="x",
                  linestyle="--", label="an append, the form before commitments (s)")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.legend(fontsize="small")


WITNESS_MODES = ("before", "marked", "after")
"""An act that spends a single-use right (an identify, a sign-in, a signed act) with neither
the right's mark (:mod:`consent.spent_marks`) nor its checkpoint (:mod:`consent.spent_rights`)
(``before``), with the mark alone (``marked``), and as served (``after``)."""
SPEND_SEED = 0
"""No population is drawn at random: the six sample portraits, recorded as the seed 0."""


def service_settings(folder: Path, *, templates: int = 64) -> ConsentSettings:
    """A SQLite deployment in ``folder`` whose checkpoint every ``audit_checkpoint_every``
    events falls past the run, so only a spend's is signed; its index room for ``templates``
    (``bench_first_use`` enrols more than the six portraits)."""
    return ConsentSettings(
        data_dir=folder / "var", demo_mode=True, match_fmr=TEST_FMR,
        index_max_elements=templates,
        thresholds_path=write_test_thresholds(folder / "thresholds.toml"),
        audit_checkpoint_every=1000)


def _unwitnessed(mode: str) -> AbstractContextManager[object]:
    """``before`` and ``marked``: the spend's checkpoint call replaced by nothing; ``after``:
    as served."""
    return (mock.patch.object(spent_rights, "witness_spent", lambda *_, **__: None)
            if mode != "after" else nullcontext())


def _unmarked(mode: str) -> AbstractContextManager[object]:
    """``before``: the spent right's mark replaced by nothing; otherwise as served."""
    return (mock.patch.object(spent_marks, "claim_on_commit", lambda *_, **__: None)
            if mode == "before" else nullcontext())


def _marks(witness_dir: Path) -> int:
    """How many marks of spent rights ``witness_dir`` holds."""
    return sum(1 for _ in (witness_dir / spent_marks.SPENT).glob("*/*"))


def _witness_result(samples: Samples, *, rounds: int, populate: float,
                    witnessed: dict[str, int], marked: dict[str, int]) -> dict[str, object]:
    """A witness benchmark's result: :func:`benchmarks.modes.summary`, the checkpoints and
    marks each mode added, and per figure the ratios of ``after`` and ``marked`` to
    ``before``."""
    result = summary(samples, rounds=rounds, seed=SPEND_SEED, populate_seconds=populate)
    medians = checked(result, "median_s", dict)

    def ratios(mode: str) -> dict[str, float]:
        return {figure: round(medians[mode][figure] / medians["before"][figure], 3)
                for figure in medians["before"]}

    return {"backend": "sqlite", **result, "checkpoints_witnessed": witnessed,
            "marks_written": marked, "ratio_after_before": ratios("after"),
            "ratio_marked_before": ratios("marked")}


def spend_witness(*, rounds: int, folder: Path,
                  pipeline: FacePipeline | None = None) -> dict[str, object]:
    """An identification's latency through the service on SQLite, each mode's median over
    ``rounds`` alternated rounds (:data:`WITNESS_MODES`), and the ratios of ``after`` and
    ``marked`` to ``before``; how many checkpoints (one each ``after`` round: the log moved by
    the search's event) and probe consents' marks each mode added. The checkpoint every
    ``audit_checkpoint_every`` events is put past the run, so
    only the spend's is signed; the signature of the person in the probe is made before the
    clock starts."""
    settings = service_settings(folder)
    clock = FakeClock(NOW)
    pipeline = pipeline or FacePipeline.from_settings(settings)
    images = [encode(image) for image in portraits(pipeline.detector)]
    witnessed = {mode: 0 for mode in WITNESS_MODES}
    marked = {mode: 0 for mode in WITNESS_MODES}
    turns = itertools.count()
    started = time.perf_counter()
    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock)) as service:
        world = make_world(service, clock)
        for image in images:
            world.enrolled(image)
        populate = time.perf_counter() - started

        def measure(mode: str) -> dict[str, float]:
            image = images[next(turns) % len(images)]
            probe = world.probe(image=image)
            before, marks = latest_witnessed(settings.witness_dir), _marks(settings.witness_dir)
            with _unwitnessed(mode), _unmarked(mode):
                start = time.perf_counter()
                service.identify(actor=world.researcher, purpose_id=world.purpose,
                                 probe_consent_id=probe, image=image)
                seconds = time.perf_counter() - start
            witnessed[mode] += latest_witnessed(settings.witness_dir) > before
            marked[mode] += _marks(settings.witness_dir) - marks
            return {"identify_seconds": seconds}

        samples = alternated(WITNESS_MODES, rounds=rounds, measure=measure)
    return {"gallery": len(images), **_witness_result(
        samples, rounds=rounds, populate=populate, witnessed=witnessed, marked=marked)}


def _plot_modes(result: dict[str, object], path: Path, *, title: str, ylabel: str,
                figures: tuple[tuple[str, str], ...]) -> None:
    """A box a figure and mode (:data:`WITNESS_MODES`), in milliseconds."""
    samples = checked(result, "samples", dict)
    with labelled_figure(path, title=title, xlabel="", ylabel=ylabel) as axes:
        axes.boxplot([[s[figure] * 1000 for s in samples[mode]]
                      for figure, _ in figures for mode in WITNESS_MODES])
        labels = [f"{name},\n{mode}" for _, name in figures for mode in WITNESS_MODES]
        axes.set_xticks(range(1, len(labels) + 1), labels, fontsize="small")


def plot_spend(result: dict[str, object], path: Path) -> None:
    _plot_modes(result, path, title="identify (SQLite): the probe consent's mark and checkpoint",
                ylabel="ms per identify", figures=(("identify_seconds", "identify"),))


def challenge_witness(*, rounds: int, folder: Path,
                      pipeline: FacePipeline | None = None) -> dict[str, object]:
    """A passkey sign-in's and a signed act's latency through the service on SQLite (the
    person's opt-out then opt-in, ``searchable`` acts: their mean), each mode's median over
    ``rounds`` alternated rounds (:data:`WITNESS_MODES`), and the ratios of ``after`` and
    ``marked`` to ``before``; how many checkpoints and challenge marks each mode added. The
    challenges are asked and signed before the clock starts."""
    settings = service_settings(folder)
    clock = FakeClock(NOW)
    witnessed = {mode: 0 for mode in WITNESS_MODES}
    marked = {mode: 0 for mode in WITNESS_MODES}
    started = time.perf_counter()
    with closing(OptinFace.open(settings, pipeline=pipeline or FacePipeline.from_settings(
            settings), clock=clock)) as service:
        world = make_world(service, clock)
        pseudonym, _ = world.subject()
        person = world.signer(pseudonym)
        populate = time.perf_counter() - started

        def measure(mode: str) -> dict[str, float]:
            asked = service.sign_in_options()
            sign_in = PasskeyResponse(ceremony_id=asked.ceremony_id,
                                      credential=person.authenticator.get(asked.options))
            choices = [person.sign(SearchableAct(searchable=searchable))
                       for searchable in (False, True)]
            before, marks = latest_witnessed(settings.witness_dir), _marks(settings.witness_dir)
            with _unwitnessed(mode), _unmarked(mode):
                start = time.perf_counter()
                service.sign_in(sign_in)
                signed_in = time.perf_counter()
                for choice in choices:
                    service.set_searchable(actor=person.actor, subject=pseudonym, signed=choice)
                acted = time.perf_counter()
            witnessed[mode] += latest_witnessed(settings.witness_dir) > before
            marked[mode] += _marks(settings.witness_dir) - marks
            return {"sign_in_seconds": signed_in - start,
                    "signed_act_seconds": (acted - signed_in) / len(choices)}

        samples = alternated(WITNESS_MODES, rounds=rounds, measure=measure)
    return _witness_result(samples, rounds=rounds, populate=populate, witnessed=witnessed,
                           marked=marked)


def plot_challenge(result: dict[str, object], path: Path) -> None:
    _plot_modes(result, path, title="sign-in and signed act (SQLite): mark and checkpoint",
                ylabel="ms per call",
                figures=(("sign_in_seconds", "sign-in"), ("signed_act_seconds", "signed act")))


def main() -> None:
    args = bench_parser(
        __doc__,
        IntOption("--n", 100_000, "events in the largest log (0: the log's costs not timed)"),
        IntOption("--identify-rounds", 0,
                  "also identify with and without the spend's checkpoint (0: not)"),
        IntOption("--challenge-rounds", 0, "also sign in and sign an act with and without the"
                                           " challenge's checkpoint (0: not)"),
    ).parse_args()
    if args.n:
        with tempfile.TemporaryDirectory(prefix="bench_audit_") as temporary:
            result = run(n=args.n, folder=Path(temporary))
        write_results("bench_audit", result, plot)
    witnessed = (("identify", args.identify_rounds, spend_witness, plot_spend),
                 ("challenge", args.challenge_rounds, challenge_witness, plot_challenge))
    for name, rounds, measure, draw in witnessed:  # each with and without its checkpoint
        if rounds:
            with tempfile.TemporaryDirectory(prefix=f"bench_audit_{name}_") as temporary:
                timed = measure(rounds=rounds, folder=Path(temporary))
            write_results(f"bench_audit_{name}", timed, draw)
            print(json.dumps({key: timed[key] for key in (
                "median_s", "ratio_after_before", "ratio_marked_before", "checkpoints_witnessed",
                "marks_written") if key in timed}))


if __name__ == "__main__":
    main()
