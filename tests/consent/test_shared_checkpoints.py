"""Spent rights that queue for a checkpoint share one (:mod:`consent.shared_checkpoints`), and
only one whose signature began after they committed: each act still answers only once its
events are in the witness folder."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from optinface.consent.shared_checkpoints import SharedCheckpoints
from optinface.consent.witness import witnessed
from tests.support.consent import World
from tests.support.polling import eventually


class Folder:
    """A witness folder and log as :meth:`SharedCheckpoints.sign` sees them: each signature
    covers the events committed when it began and is held unless the folder refuses it. The
    first one waits until :attr:`release` is set, so that others queue behind it; the second
    one is ``failing`` (refused by the folder, or raising as a restore found would)."""

    def __init__(self, *, failing: str | None = None) -> None:
        self._commits = threading.Lock()
        self.committed = 0
        self.holds = 0
        self.signatures = 0
        self.first_running = threading.Event()
        self.release = threading.Event()
        self.failing = failing

    def commit(self) -> int:
        """Commit one act's event: the log's size with it."""
        with self._commits:
            self.committed += 1
            return self.committed

    def witness(self) -> int:
        self.signatures += 1
        size = self.committed
        if self.signatures == 1:
            self.first_running.set()
            assert self.release.wait(10)
        elif self.signatures == 2 and self.failing == "raised":
            raise RuntimeError("a restore found")
        elif self.signatures == 2 and self.failing == "refused":
            return size
        self.holds = max(self.holds, size)
        return size

    def held(self) -> int:
        return self.holds


def _act(checkpoints: SharedCheckpoints, folder: Folder) -> tuple[int, int | None]:
    """An act: commit its event, then sign (or not); the log's size it committed, and
    :meth:`SharedCheckpoints.sign`'s answer."""
    mine = folder.commit()
    return mine, checkpoints.sign(folder.witness, held=folder.held)


def _queued(pool: ThreadPoolExecutor, checkpoints: SharedCheckpoints, folder: Folder,
            acts: int) -> list[Future[tuple[int, int | None]]]:
    """``acts`` acts, the first signing until the folder is released, the rest committed while
    it signs and queued behind it."""
    first = pool.submit(_act, checkpoints, folder)
    assert folder.first_running.wait(10)
    rest = [pool.submit(_act, checkpoints, folder) for _ in range(acts - 1)]
    assert eventually(lambda: folder.committed == acts)
    time.sleep(1.0)  # each takes its ticket right after its commit (a busy CI has them late)
    folder.release.set()
    return [first, *rest]


def test_acts_queued_behind_a_signature_share_the_next_one_and_none_is_answered_uncovered(
) -> None:
    """Three acts: the first signs; the two that committed while it signed are not covered by
    it (it began before they committed): the next one signs for both, the last answers on it."""
    checkpoints, folder = SharedCheckpoints(), Folder()
    with ThreadPoolExecutor(3) as pool:
        answers = [future.result(10) for future in _queued(pool, checkpoints, folder, 3)]
    assert folder.signatures == 2
    assert sorted(size is None for _, size in answers) == [False, False, True]
    assert all(folder.holds >= mine for mine, _ in answers)
    first_mine, first_size = answers[0]
    assert first_size == first_mine == 1  # its own signature, which the others came after


@pytest.mark.parametrize("failure", ["refused", "raised"])
def test_a_signature_the_folder_refuses_or_that_fails_covers_no_one(failure: str) -> None:
    """The second signature, begun after the second and third acts committed, fails (the folder
    does not hold it, or its check raises): the other queued act, which it would have covered,
    signs for itself, as it would alone. Which of the two queued acts signs second is the
    lock's choice (it keeps no order), so the test names neither (CI once saw the third)."""
    checkpoints, folder = SharedCheckpoints(), Folder(failing=failure)
    with ThreadPoolExecutor(3) as pool:
        futures = _queued(pool, checkpoints, folder, 3)
        assert futures[0].result(10) == (1, 1)
        queued = [future.exception(10) or future.result() for future in futures[1:]]
    assert folder.signatures == 3 and folder.holds == 3
    raised = [outcome for outcome in queued if isinstance(outcome, Exception)]
    answered = [outcome for outcome in queued if not isinstance(outcome, Exception)]
    assert [str(error) for error in raised] == (["a restore found"] if failure == "raised"
                                                 else [])
    assert all(size == 3 for _, size in answered)  # none covered by the failed signature


def test_concurrent_identifies_each_answer_with_their_search_witnessed(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """Four researchers' identifies at once on the real service: each answers, and the folder
    then holds a checkpoint of the whole log (every search's event in it), signed no more often
    than once per identify."""
    service, image = world.service, portrait_jpegs[0]
    pseudonym, consent_id = world.subject()
    world.enrol(pseudonym, consent_id, image)
    probes = [world.probe(image=image) for _ in range(4)]
    before = len(witnessed(service.settings.witness_dir))

    def identify(probe: str) -> object:
        return service.identify(actor=world.researcher, purpose_id=world.purpose,
                                probe_consent_id=probe, image=image)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(identify, probes))
    assert len(results) == 4
    assert service.runtime.log.witness.latest_size() >= service.verify_audit().events
    assert len(witnessed(service.settings.witness_dir)) - before <= 4
