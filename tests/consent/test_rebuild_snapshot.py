"""A start that builds its index from the ledger (consent.reconcile.build_from_snapshot) holds
no write lock while it builds: another worker's erasure commits meanwhile, without waiting, and
the start's reconciliation, under the lock once the build is done, still ends with exactly the
sealed templates the ledger allows (an erasure committed during the build out of the index, an
enrolment made during it in).

A third worker with a fresh data directory starts on the ledger of the ``workers`` fixture: its
index is empty, so every template goes in through the build, as after an index file that did
not open. The other worker's acts run from ``reconcile.between_chunks``, the build's documented
seam, on a thread the build waits for: had the build held the lock, the erasure would wait for
the build to end, and the build for the erasure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import pytest

from optinface.consent import reconcile, service
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ErasureReason, ReconcileReport
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, World, outside_sql

WAIT_SECONDS = 60.0
"""How long the build waits for the other worker's acts (an enrolment runs the engine)."""


def _third_worker(settings: ConsentSettings) -> ConsentSettings:
    """The same ledger, key store and witness folder; a data directory no index was saved in."""
    return settings.model_copy(update={"data_dir": settings.data_dir.with_name("worker-c")})


@dataclass
class _Start:
    """What a watched start did: whether the other worker's acts returned during its build,
    and the labels its index held when reconciliation returned (before its replica's follower
    begins: that would apply the other worker's erasure anyway, from the change feed)."""

    acted: threading.Event = field(default_factory=threading.Event)
    labels: set[int] = field(default_factory=set)


def _watched(monkeypatch: pytest.MonkeyPatch, acts: Callable[[Runtime], None]) -> _Start:
    """Have the next start run ``acts`` once, after its build's first chunk, on another thread
    it waits for (at most :data:`WAIT_SECONDS`), and note its index at reconciliation's end."""
    watched, began = _Start(), threading.Event()

    def between_chunks(runtime: Runtime) -> None:
        if began.is_set():
            return
        began.set()

        def act() -> None:
            acts(runtime)
            watched.acted.set()

        thread = threading.Thread(target=act, daemon=True)
        thread.start()
        thread.join(WAIT_SECONDS)

    def reconciled(runtime: Runtime, **arguments: Any) -> ReconcileReport:
        report = reconcile.reconcile(runtime, **arguments)
        watched.labels = runtime.index.labels()
        return report

    monkeypatch.setattr(reconcile, "between_chunks", between_chunks)
    monkeypatch.setattr(service, "reconcile", reconciled)
    return watched


def test_an_erasure_during_a_starts_rebuild_commits_at_once_and_ends_out_of_its_index(
    workers: tuple[World, World], pg_settings: ConsentSettings, pipeline: FacePipeline,
    clock: FakeClock, portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = workers
    kept_subject, kept_consent = a.subject()
    kept = a.enrol(kept_subject, kept_consent, portrait_jpegs[0])
    erased_subject, erased_consent = a.subject()
    erased = a.enrol(erased_subject, erased_consent, portrait_jpegs[1])
    new_subject, new_consent = b.subject()
    seen: dict[str, object] = {}

    def other_worker(runtime: Runtime) -> None:
        seen["built_first"] = runtime.index.labels()
        b.service.erase(actor=b.admin, subject=erased_subject, reason=ErasureReason.REQUEST)
        seen["new"] = b.enrol(new_subject, new_consent, portrait_jpegs[2]).id

    start = _watched(monkeypatch, other_worker)
    with closing(OptinFace.open(_third_worker(pg_settings), pipeline=pipeline,
                                clock=clock)) as started:
        # Committed while the build ran, which had put the erased template in already.
        assert start.acted.is_set(), "the erasure waited for the start's build"
        assert erased.id in seen["built_first"]  # type: ignore[operator]
        assert start.labels == {kept.id, seen["new"]}
        report = started.last_reconcile
        assert report is not None
        assert (report.re_added, report.removed, report.index_entries) == (2, 0, 2)


def test_a_seal_broken_during_a_starts_rebuild_leaves_the_template_out(
    workers: tuple[World, World], pg_settings: ConsentSettings, pipeline: FacePipeline,
    clock: FakeClock, portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The build checked the seal as it was; the lock's comparison checks it as it is."""
    a, b = workers
    kept = a.enrol(*a.subject(), portrait_jpegs[0])
    moved = a.enrol(*a.subject(), portrait_jpegs[1])
    start = _watched(monkeypatch, lambda _: outside_sql(
        b.service, "UPDATE templates SET seal = :s WHERE id = :t", s="0" * 64, t=moved.id))
    with closing(OptinFace.open(_third_worker(pg_settings), pipeline=pipeline,
                                clock=clock)) as started:
        assert start.acted.is_set()
        assert start.labels == {kept.id}
        report = started.last_reconcile
        assert report is not None and (report.re_added, report.templates_left_out) == (1, 1)
