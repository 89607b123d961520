"""Uploads waiting for a decode slot are bounded, so the server's threads stay free for the
other routes: health and a withdrawal answer while uploads queue.

Starlette runs sync routes on 40 threads, and an upload waiting for a decode slot holds one
(outside test: 44 slow identifies held ``/healthz`` for 15.6 s). A real server here, one decode
slot, 44 identifies with a photo that is slow to decode but allowed (a 16 Mpx JPEG of the most
scans allowed): the slot's few waiting places fill, the rest are refused at once with
``engine_busy`` and ``Retry-After``, and the health check and a person's withdrawal answer
before the queue has drained.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import httpx2
import pytest

from optinface.api.app import create_app
from optinface.engine.decode import BUSY_RETRY_SECONDS, WAITING_PER_SLOT
from optinface.engine.jpeg_scans import MAX_JPEG_SCANS
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from tests.corpus.generate import scan_bomb
from tests.support.api import auth, deployment, set_up_world
from tests.support.server import running

UPLOADS = 44  # more than Starlette's 40 threads
ADMITTED = 1 + WAITING_PER_SLOT  # one decode slot and its waiting places
EXPECTED_REFUSALS = UPLOADS - 2 * ADMITTED


@pytest.mark.slow
def test_uploads_past_the_queue_are_refused_at_once_and_other_routes_stay_answerable(
    tmp_path: Path,
) -> None:
    one_slot = FacePipeline.from_settings(EngineSettings(max_concurrent_decodes=1))
    slow = scan_bomb(4000, 4000, scans=MAX_JPEG_SCANS)
    with deployment(tmp_path, one_slot) as (settings, service, client, keys):
        world = set_up_world(client, keys)
        probes = [world.probe_consent(slow) for _ in range(UPLOADS)]
        answers: list[httpx2.Response] = []
        refused = threading.Semaphore(0)
        with running(create_app(settings, service=service)) as url:

            def identify(probe: str) -> None:
                answer = httpx2.post(
                    f"{url}/v1/identify",
                    data={"purpose_id": world.purpose_id, "probe_consent_id": probe},
                    files={"image": ("slow.jpg", slow, "image/jpeg")},
                    headers=auth(keys.researcher), timeout=600)
                answers.append(answer)
                if answer.status_code == 503:
                    refused.release()

            uploads = [threading.Thread(target=identify, args=(p,)) for p in probes]
            for upload in uploads:
                upload.start()
            # On a loaded machine a decode may end before the last upload arrives, and its
            # place goes to a later one: a few more than ADMITTED may be decoded in all.
            refused_at_once = all(refused.acquire(timeout=60) for _ in range(EXPECTED_REFUSALS))
            health = httpx2.get(f"{url}/healthz", timeout=60)
            person = dataclasses.replace(world.people[world.subject],
                                         client=httpx2.Client(base_url=url, timeout=60))
            withdrawal = person.withdraw(world.consent_id)
            still_queued = UPLOADS - len(answers)
            for upload in uploads:
                upload.join()
    busy = [a for a in answers if a.status_code == 503]
    assert refused_at_once, f"{len(busy)} refused at once"
    assert health.status_code == 200
    assert withdrawal["consent"]["status"] == "withdrawn"
    assert still_queued > 0  # both answered while uploads were still queued
    assert {(a.json()["code"], a.headers["Retry-After"]) for a in busy} == {
        ("engine_busy", str(BUSY_RETRY_SECONDS))
    }
    assert {a.json()["code"] for a in answers if a.status_code != 503} == {"no_face"}
