"""Cost of two records written once: a subject's first enrolment's journal line, and a subject
token's last use, written by the first request of each day; and what the journal's ``enrolled``
lines cost every start.

Usage: python -m benchmarks.bench_first_use [--rounds 21] [--lines 0 10000 100000]
       [--token-rounds 41] [--pg-port PORT] [--adopted 1000 10000]

Four parts, each on the real engine and a SQLite ledger in a temporary folder, each with its
baseline taken in the same run (modes alternated round by round: :mod:`benchmarks.modes`):

- ``enrolment``: a subject's first enrolment through the service (the photo uploaded to a
  capture the desk opened and the person approved before the clock starts), ``after`` as
  served, ``before`` with its journal line (``enrolment.journal_first_enrolment``, one
  :class:`consent.erasure_journal.Enrolled` appended and fsynced before the commit) replaced by
  nothing, and ``line``: that line's write alone (:func:`consent.erasure_journal.record`). The
  baseline is the same first enrolment without the line, not a second enrolment of the same
  subject: a second one compares the face with the subject's template and finds the subject
  enrolled, work a first one does not do, so its difference would not be the line's.
  Writes ``results/bench_first_use_enrolment.json`` and ``.png``.
- ``journal``: a start's reads of a journal holding 0, 10k, 100k ``enrolled`` lines, written
  with the journal's own writer in batches (no face enrolled): the first read of a fresh
  :class:`consent.journal_ends.JournalEnds` (what the first check after a start pays), the
  whole journal parsed as reconciliation reads it once (:func:`consent.erasure_journal.entries`),
  the memory the kept ends hold (``tracemalloc``: what the ends object keeps, and the peak while
  reading), per subject against the empty journal, one ``enrolled`` lookup after the read, and
  a start on that journal (``OptinFace.open``, median of 3, then its first check): how long
  each takes and how many times the journal's bytes were parsed between them (1: once).
  Writes ``results/bench_first_use_journal.json`` and ``.png``.
- ``token``: a request authenticated by a subject token over the API (``TestClient``,
  ``GET /v1/subjects/{s}``), ``first_of_day`` after the injected clock moved a day (its
  authentication writes ``last_used_on``: :func:`consent.token_use.note_use`) and ``same_day``
  after it moved a minute (no write), with the ``UPDATE subject_tokens`` statements each mode
  sent; with ``--pg-port``, on PostgreSQL too (a durable cluster started for the run).
  Writes ``results/bench_first_use_token[_postgresql].json`` and ``.png``.
- ``adoption``: the first start after the upgrade journals an ``enrolled`` line for every
  subject enrolled before the lines existed (:func:`consent.enrolment_lines.adopt_once`): that
  call with 1,000 and 10,000 such subjects (made as the version before left them: the sealed
  column, no line; a fresh ledger each), against the same call at the next start, which finds
  its event and adopts nothing (what every later start pays), and the bytes added to the
  journal. Writes ``results/bench_first_use_adoption.json`` and ``.png``.
"""

from __future__ import annotations

import gc
import itertools
import json
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from contextlib import AbstractContextManager, closing, nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks.bench_audit import NOW, SPEND_SEED, service_settings
from benchmarks.bench_readback import database
from benchmarks.command_line import IntOption, bench_parser
from benchmarks.modes import Samples, alternated, medians
from benchmarks.output import checked, measured, write_results
from benchmarks.plots import labelled_figure
from optinface.consent import enrolment, enrolment_lines, erasure_journal, journal_ends, row_seals
from optinface.consent.erasure_journal import Enrolled
from optinface.consent.journal_ends import JournalEnds
from optinface.consent.ledger import create_subject, tombstone_hash
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import AgeCategory, SubjectCreate
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import encode, portraits
from optinface.engine.settings import EngineSettings
from tests.support.api import auth, deployment, set_up_world
from tests.support.consent import FakeClock, make_world
from tests.support.statements import token_updates

ENROL_MODES = ("before", "after", "line")
"""A first enrolment without its journal line, as served, and the line written alone."""
TOKEN_MODES = ("first_of_day", "same_day")
LINES = (0, 10_000, 100_000)
BATCH = 1_000
"""Lines appended per write (one fsync each) while the journal is filled."""
READS = 5
"""Fresh reads of the whole journal timed at each size (median)."""
STARTS = 3
"""Starts timed at each size (median)."""
LOOKUPS = 1_000
"""``enrolled`` lookups timed after the read (mean)."""
ADOPTED = (1_000, 10_000)
"""Subjects enrolled before the journal's lines, one adoption timed for each count."""


def _line_left_out(mode: str) -> AbstractContextManager[object]:
    """``before``: the first enrolment's journal line replaced by nothing; else as served."""
    return (mock.patch.object(enrolment, "journal_first_enrolment", lambda *_, **__: None)
            if mode == "before" else nullcontext())


def _enrolled_line(runtime: Runtime, n: int) -> Enrolled:
    """The line a first enrolment of the ``n``-th synthetic subject writes."""
    return Enrolled(subject_hash=tombstone_hash(runtime.keys, f"bench-subject-{n}"),
                    at=runtime.clock.now())


def enrolment_line(*, rounds: int, folder: Path, pipeline: FacePipeline) -> dict[str, object]:
    """Each mode's median seconds over ``rounds`` alternated rounds, the ratio of a first
    enrolment with its line to one without, and the ``enrolled`` lines each mode wrote."""
    settings = service_settings(folder, templates=2 * rounds + 64)
    clock = FakeClock(NOW)
    images = [encode(image) for image in portraits(pipeline.detector)]
    written = dict.fromkeys(ENROL_MODES, 0)
    turns = itertools.count()
    started = time.perf_counter()
    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock)) as service:
        world = make_world(service, clock)
        runtime = service.runtime
        populate = time.perf_counter() - started

        def measure(mode: str) -> dict[str, float]:
            turn = next(turns)
            before = _enrolled_lines(runtime)
            if mode == "line":
                line = _enrolled_line(runtime, turn)
                start = time.perf_counter()
                erasure_journal.record(runtime, line)
                seconds = time.perf_counter() - start
            else:
                image = images[turn % len(images)]
                pseudonym, consent_id = world.subject()
                capture = world.signer(pseudonym).approve_capture(consent_id, image,
                                                                  desk=world.portal)
                with _line_left_out(mode):
                    start = time.perf_counter()
                    service.enrol(actor=world.portal, subject=pseudonym,
                                  capture_id=capture.id, image=image)
                    seconds = time.perf_counter() - start
            written[mode] += _enrolled_lines(runtime) - before
            return {"ms": seconds * 1000}

        samples = alternated(ENROL_MODES, rounds=rounds, measure=measure)
    result = _summary(samples, rounds=rounds, populate=populate)
    after, before = result["median_ms"]["after"], result["median_ms"]["before"]
    return {"backend": "sqlite", **result, "enrolled_lines_written": written,
            "ratio_after_before": round(after / before, 3),
            "difference_ms": round(after - before, 3)}


def _summary(samples: Samples, *, rounds: int, populate: float) -> dict[str, Any]:
    """The rounds, how long the set-up took, each mode's median milliseconds (to the
    microsecond: :func:`benchmarks.modes.medians`) and samples, and the machine; no population
    is drawn at random (the seed 0)."""
    return {"rounds": rounds, "seed": SPEND_SEED, "populate_seconds": round(populate, 1),
            "median_ms": {mode: figures["ms"] for mode, figures in medians(samples).items()},
            "samples": samples, **measured()}


def _enrolled_lines(runtime: Runtime) -> int:
    return sum(isinstance(entry, Enrolled)
               for entry in erasure_journal.entries(runtime.settings.witness_dir))


def plot_enrolment(result: dict[str, object], path: Path) -> None:
    samples = checked(result, "samples", dict)
    with labelled_figure(path, title="a first enrolment on SQLite: its journal line",
                         xlabel="", ylabel="ms") as axes:
        axes.boxplot([[s["ms"] for s in samples[mode]] for mode in ENROL_MODES])
        axes.set_xticks([1, 2, 3], ["before: no line", "after: line written",
                                    "the line alone"])


def _first_read(witness_dir: Path, probe: str, runtime: Runtime) -> JournalEnds:
    """Ends nothing handed a parse to, after their first check (the whole journal read; a
    start's are handed reconciliation's: :func:`_start_row`)."""
    ends = JournalEnds(witness_dir)
    ends.enrolled(runtime.keys, probe)
    return ends


def _kept_bytes(witness_dir: Path, probe: str, runtime: Runtime) -> tuple[int, int]:
    """What the ends hold once read (bytes traced while the object lives) and the peak while
    reading, by ``tracemalloc`` (timed apart: tracing slows the read)."""
    gc.collect()
    tracemalloc.start()
    try:
        ends = _first_read(witness_dir, probe, runtime)
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
        del ends
    finally:
        tracemalloc.stop()
    return kept, peak


def _journal_row(runtime: Runtime, lines: int) -> dict[str, float]:
    """The reads of a journal of ``lines`` lines: the first read of fresh ends, the start's
    parse, one lookup after the read, and the memory the ends keep."""
    witness_dir = runtime.settings.witness_dir
    probe = "bench-subject-0"  # journaled when lines > 0: a lookup that finds its subject
    reads, parses = [], []
    for _ in range(READS):
        start = time.perf_counter()
        ends = _first_read(witness_dir, probe, runtime)
        reads.append(time.perf_counter() - start)
        start = time.perf_counter()
        erasure_journal.entries(witness_dir)
        parses.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(LOOKUPS):
        ends.enrolled(runtime.keys, probe)
    lookup = (time.perf_counter() - start) / LOOKUPS
    kept, peak = _kept_bytes(witness_dir, probe, runtime)
    size = erasure_journal.journal_size(erasure_journal.journal_path(witness_dir))
    return {"lines": lines, "journal_bytes": size,
            "first_read_ms": round(statistics.median(reads) * 1000, 3),
            "start_parse_ms": round(statistics.median(parses) * 1000, 3),
            "lookup_us": round(lookup * 1e6, 2),
            "kept_bytes": kept, "peak_bytes": peak}


def journal_lines(*, lines: list[int], folder: Path, pipeline: FacePipeline,
                  starts: int = STARTS) -> dict[str, object]:
    """:func:`_journal_row` and :func:`_start_row` at each number of ``enrolled`` lines
    (ascending; the journal grows from one to the next), with what each line adds against the
    first row's journal (the empty one, by default): read time and memory kept, per subject."""
    settings = service_settings(folder)
    rows: list[dict[str, float]] = []
    populate = 0.0
    service = OptinFace.open(settings, pipeline=pipeline, clock=FakeClock(NOW))
    try:
        written = 0
        for target in sorted(lines):
            start = time.perf_counter()
            while written < target:
                batch = range(written, min(target, written + BATCH))
                erasure_journal.record(service.runtime,
                                       *(_enrolled_line(service.runtime, n) for n in batch))
                written = batch.stop
            populate += time.perf_counter() - start
            row = _journal_row(service.runtime, target)
            service.close()
            service, row["start"] = _start_row(settings, pipeline, starts)
            rows.append(row)
            print(json.dumps(rows[-1]))
    finally:
        service.close()
    base = rows[0]
    for row in rows[1:]:
        added = row["lines"] - base["lines"]
        row["kept_bytes_per_subject"] = round((row["kept_bytes"] - base["kept_bytes"]) / added, 1)
        row["first_read_us_per_line"] = round(
            (row["first_read_ms"] - base["first_read_ms"]) * 1000 / added, 3)
    return {"backend": "sqlite", "batch": BATCH, "reads": READS, "starts": starts,
            "lookups": LOOKUPS, "populate_seconds": round(populate, 1), "rows": rows,
            **measured()}


def _start_row(settings: ConsentSettings, pipeline: FacePipeline,
               starts: int) -> tuple[OptinFace, Any]:
    """``starts`` starts (``OptinFace.open``, then the first ``enrolled`` check) on the
    journal as it stands: the median of each, and the journal's bytes parsed from the open to
    the check over its size (1: parsed whole once; counted by a wrapper around the real
    ``parse_lines``, the one parser every read goes through); the last start, left open."""
    parsed: list[int] = []
    real = erasure_journal.parse_lines

    def counting(data: bytes) -> list[erasure_journal.Entry]:
        parsed.append(len(data))
        return real(data)

    opens, checks = [], []
    service: OptinFace | None = None
    for turn in range(starts):
        if service is not None:
            service.close()
        parsed.clear()
        with mock.patch.object(erasure_journal, "parse_lines", counting), \
                mock.patch.object(journal_ends, "parse_lines", counting):
            start = time.perf_counter()
            service = OptinFace.open(settings, pipeline=pipeline, clock=FakeClock(NOW))
            opens.append(time.perf_counter() - start)
            start = time.perf_counter()
            service.runtime.journal_ends.enrolled(service.runtime.keys, f"bench-start-{turn}")
            checks.append(time.perf_counter() - start)
    assert service is not None
    size = erasure_journal.journal_size(erasure_journal.journal_path(settings.witness_dir))
    return service, {"open_ms": round(statistics.median(opens) * 1000, 1),
                     "first_check_ms": round(statistics.median(checks) * 1000, 3),
                     "journals_parsed": round(sum(parsed) / size, 3) if size else 0}


def plot_journal(result: dict[str, object], path: Path) -> None:
    rows = checked(result, "rows", list)
    lines = [row["lines"] for row in rows]
    with labelled_figure(path, title="a start's reads of the journal's enrolled lines",
                         xlabel="enrolled lines in the journal",
                         ylabel="ms (read) / MB (kept)") as axes:
        axes.plot(lines, [row["first_read_ms"] for row in rows], marker="o",
                  label="ends' first read (ms)")
        axes.plot(lines, [row["start_parse_ms"] for row in rows], marker="o",
                  label="reconciliation's parse (ms)")
        axes.plot(lines, [row["start"]["open_ms"] for row in rows], marker="s",
                  label="OptinFace.open (ms)")
        axes.plot(lines, [row["kept_bytes"] / 1e6 for row in rows], marker="x",
                  linestyle="--", label="kept by the ends (MB)")
        axes.legend()



def token_use(*, rounds: int, folder: Path, pipeline: FacePipeline,
              database_url: str | None = None) -> dict[str, object]:
    """A subject token's request over the API, each mode's median seconds over ``rounds``
    alternated rounds, their ratio and difference, and the ``UPDATE`` each mode sent."""
    clock = FakeClock(NOW)
    updates = dict.fromkeys(TOKEN_MODES, 0)
    started = time.perf_counter()
    with deployment(folder, pipeline, clock=clock, database_url=database_url) as (
            _, service, client, keys):
        world = set_up_world(client, keys)
        path, headers = f"/v1/subjects/{world.subject}", auth(world.subject_token)
        assert client.get(path, headers=headers).status_code == 200  # its first use, untimed
        populate = time.perf_counter() - started

        def measure(mode: str) -> dict[str, float]:
            clock.advance(**({"days": 1} if mode == "first_of_day" else {"minutes": 1}))
            with token_updates(service) as sent:
                start = time.perf_counter()
                answer = client.get(path, headers=headers)
                seconds = time.perf_counter() - start
            assert answer.status_code == 200, answer.text
            updates[mode] += len(sent)
            return {"ms": seconds * 1000}

        samples = alternated(TOKEN_MODES, rounds=rounds, measure=measure)
    result = _summary(samples, rounds=rounds, populate=populate)
    first, same = result["median_ms"]["first_of_day"], result["median_ms"]["same_day"]
    return {"backend": "sqlite" if database_url is None else "postgresql", **result,
            "updates_sent": updates, "ratio_first_same": round(first / same, 3),
            "difference_ms": round(first - same, 3)}


def plot_token(result: dict[str, object], path: Path) -> None:
    samples = checked(result, "samples", dict)
    with labelled_figure(path, title=f"a subject token's request: its last use recorded"
                         f" ({result['backend']})", xlabel="", ylabel="ms") as axes:
        axes.boxplot([[s["ms"] for s in samples[mode]] for mode in TOKEN_MODES])
        axes.set_xticks([1, 2], ["first of the day: UPDATE", "same day: no write"])


def _enrolled_before_the_lines(runtime: Runtime, count: int) -> None:
    """``count`` subjects as a version before the journal's enrolment lines left them: the
    column says enrolled, under a holding seal, and the journal names none of them."""
    with runtime.db.transaction() as session:
        for _ in range(count):
            subject = create_subject(session, SubjectCreate(age_category=AgeCategory.ADULT),
                                     jurisdiction=runtime.settings.jurisdiction,
                                     keys=runtime.keys, now=runtime.clock.now())
            subject.first_enrolled_at = runtime.clock.now()
            row_seals.seal_enrolment(runtime.keys, subject)


def adoption(*, subjects: list[int], folder: Path, pipeline: FacePipeline) -> dict[str, object]:
    """For each count of ``subjects`` (a fresh ledger each): the first start's adoption of
    their lines, the next start's call (its event found: nothing adopted), the journal bytes
    the lines added, and the ratio of the first to the second."""
    rows = []
    for count in subjects:
        (folder / str(count)).mkdir()
        settings = service_settings(folder / str(count))
        journal = erasure_journal.journal_path(settings.witness_dir)
        with mock.patch.object(enrolment_lines, "adopt_once", lambda *_, **__: None):
            service = OptinFace.open(settings, pipeline=pipeline,
                                     clock=FakeClock(NOW))  # the version before the lines
        try:
            _enrolled_before_the_lines(service.runtime, count)
            before = erasure_journal.journal_size(journal)
            start = time.perf_counter()
            adopted = enrolment_lines.adopt_once(service.runtime, log_sound=True)
            first = time.perf_counter() - start
            start = time.perf_counter()
            again = enrolment_lines.adopt_once(service.runtime, log_sound=True)
            later = time.perf_counter() - start
        finally:
            service.close()
        assert adopted == {"enrolment_lines": count} and again is None
        rows.append({"subjects": count, "adoption_s": round(first, 3),
                     "later_start_ms": round(later * 1000, 2),
                     "ratio_adoption_later": round(first / later, 1),
                     "journal_bytes_added": erasure_journal.journal_size(journal) - before})
        print(json.dumps(rows[-1]))
    return {"backend": "sqlite", "rows": rows, **measured()}


def plot_adoption(result: dict[str, object], path: Path) -> None:
    rows = checked(result, "rows", list)
    with labelled_figure(path, title="enrolment lines adopted at the first start after upgrade",
                         xlabel="subjects enrolled before the lines",
                         ylabel="seconds") as axes:
        counts = [row["subjects"] for row in rows]
        axes.plot(counts, [row["adoption_s"] for row in rows], marker="o",
                  label="first start: adopt_once")
        axes.plot(counts, [row["later_start_ms"] / 1000 for row in rows], marker="x",
                  label="later start: event found, nothing adopted")
        axes.legend()


def _written(part: str, result: dict[str, object],
             plot: Callable[[dict[str, object], Path], None]) -> None:
    """``results/bench_first_use_PART.json`` and ``.png``, and the figures on stdout."""
    write_results(f"bench_first_use_{part}", result, plot)
    print(json.dumps({key: value for key, value in result.items()
                      if key not in ("samples", "machine")}))


def main() -> None:
    parser = bench_parser(
        __doc__,
        IntOption("--rounds", 21, "first enrolments per mode (0: not timed)"),
        IntOption("--token-rounds", 41, "token requests per mode (0: not timed)"),
        IntOption("--pg-port", None, "the token part on PostgreSQL too, a durable cluster"
                                     " started on this port for the run"),
    )
    parser.add_argument("--lines", type=int, nargs="*", default=list(LINES),
                        help="enrolled lines in the journal read (none: not timed)")
    parser.add_argument("--adopted", type=int, nargs="*", default=list(ADOPTED),
                        help="subjects enrolled before the lines, adopted (none: not timed)")
    args = parser.parse_args()
    pipeline = FacePipeline.from_settings(EngineSettings())
    if args.rounds:
        with tempfile.TemporaryDirectory(prefix="bench_first_use_enrolment_") as temporary:
            result = enrolment_line(rounds=args.rounds, folder=Path(temporary),
                                    pipeline=pipeline)
        _written("enrolment", result, plot_enrolment)
    if args.lines:
        with tempfile.TemporaryDirectory(prefix="bench_first_use_journal_") as temporary:
            result = journal_lines(lines=args.lines, folder=Path(temporary), pipeline=pipeline)
        _written("journal", result, plot_journal)
    if args.adopted:
        with tempfile.TemporaryDirectory(prefix="bench_first_use_adoption_") as temporary:
            result = adoption(subjects=args.adopted, folder=Path(temporary), pipeline=pipeline)
        _written("adoption", result, plot_adoption)
    backends = ["sqlite", *(["postgresql"] if args.pg_port else [])] if args.token_rounds else []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="bench_first_use_token_") as temporary, \
                database(backend, args.pg_port) as url:
            result = token_use(rounds=args.token_rounds, folder=Path(temporary),
                               pipeline=pipeline, database_url=url)
        _written("token" if url is None else "token_postgresql", result, plot_token)


if __name__ == "__main__":
    main()
