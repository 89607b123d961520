"""What the tests of unfinished and raced erasures need: a journal that refuses writes, and
erasures held at their journal line so that a race is played in a chosen order."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from optinface.consent import erasure_journal
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ErasureReason, ErasureReceipt, SweepReport
from optinface.consent.service import OptinFace

WAIT_S = 60.0
A = TypeVar("A")
B = TypeVar("B")


@contextmanager
def folder_in_place(path: Path) -> Iterator[None]:
    """A folder where the file ``path`` goes (nothing can write it as a file), the file moved
    aside meanwhile, if there is one (a first enrolment wrote the journal), and put back after."""
    aside = path.with_name(path.name + ".aside")
    there = path.exists()
    if there:
        path.rename(aside)
    path.mkdir(parents=True)
    try:
        yield
    finally:
        path.rmdir()
        if there:
            aside.rename(path)


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` (an existing file) refuses to open for writing, as on a mount gone read-only:
    made read-only, or for root, whom permissions do not stop, immutable (``chattr +i``)."""
    if os.geteuid() != 0:
        path.chmod(0o400)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)],
                                        capture_output=True, check=False).returncode != 0:
        pytest.skip("run as root where no file can be made immutable (chattr +i)")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


class HeldAtJournal:
    """Holds each erasure just before its journal line (after its exclusion committed, before
    its destroying transaction), in the order they come, until the test releases it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._record = erasure_journal.record
        self._arrived: queue.Queue[threading.Event] = queue.Queue()
        monkeypatch.setattr(erasure_journal, "record", self)

    def __call__(self, runtime: Runtime, *entries: erasure_journal.Entry) -> None:
        release = threading.Event()
        self._arrived.put(release)
        assert release.wait(WAIT_S), "never released"
        self._record(runtime, *entries)

    def next_held(self) -> threading.Event:
        """The release of the next erasure to reach its journal line, once it has."""
        return self._arrived.get(timeout=WAIT_S)


def held_race(held: HeldAtJournal, one: Callable[[], A], other: Callable[[], B], *,
              one_first: bool) -> tuple[A, B]:
    """``one`` and then ``other`` (two erasures of one subject, from this process's threads)
    each held past its exclusion until both are; then ``one`` destroys and finishes before
    ``other`` is let go if ``one_first``, else the other way round: both answers."""
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(one)
        first_held = held.next_held()
        second = pool.submit(other)
        second_held = held.next_held()
        order: list[tuple[threading.Event, Future[Any]]] = [
            (first_held, first), (second_held, second)]
        for release, done in order if one_first else reversed(order):
            release.set()
            done.result(timeout=WAIT_S)
        return first.result(), second.result()


def race(sweeper: OptinFace, requester: OptinFace, *, admin: Actor, pseudonym: str,
         first: str, held: HeldAtJournal) -> tuple[SweepReport, ErasureReceipt]:
    """``sweeper``'s sweep and an erasure request to ``requester`` (the same worker or another)
    both erase ``pseudonym``, each held past its exclusion until both are; then ``first``
    ("sweep" or "request") destroys and finishes, then the other: the sweep's report and the
    request's answer."""
    return held_race(held, sweeper.sweep,
                     lambda: requester.erase(actor=admin, subject=pseudonym,
                                             reason=ErasureReason.REQUEST),
                     one_first=first == "sweep")
