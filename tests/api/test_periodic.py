"""The witnessing thread keeps running through a failure and stops when told."""

from __future__ import annotations

import threading

from optinface.api.periodic import Periodic


def test_a_periodic_task_runs_again_after_a_failure_and_stops() -> None:
    calls: list[int] = []
    twice = threading.Event()

    def task() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the first round fails")
        twice.set()

    periodic = Periodic("test", task, interval=0.01)
    periodic.start()
    assert twice.wait(timeout=10)
    periodic.stop()
    stopped_at = len(calls)
    threading.Event().wait(0.1)
    assert len(calls) == stopped_at >= 2
