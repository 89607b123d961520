"""Every item of the bad-input corpus through every upload route of a real app.

Each item gets its documented answer (the ``code`` of the JSON error body, or success for the
accepted ones), never a 5xx; a refused upload writes nothing (ledger templates, index entries and
the files of the data dir are unchanged); and the whole run stays within bounded memory (the
decompression bomb declares 30000 x 30000 pixels and must be refused from its header).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from optinface.engine.decode import BgrImage
from tests.corpus.generate import ACCEPTED, CorpusItem, build_corpus
from tests.support.api import World, auth, portal_session
from tests.support.reliability import (
    data_snapshot,
    peak_rss_mb,
    record,
    reliability_settings,
)

RSS_GROWTH_LIMIT_MB = 500
ROUTES = ("enrol", "identify", "verify", "portal_enrol")


@pytest.fixture
def corpus(portrait_images: list[BgrImage], api_settings: ApiSettings) -> list[CorpusItem]:
    return build_corpus(portrait_images[0], portrait_images[1],
                        max_bytes=api_settings.max_image_bytes)


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    """Every accepted item is enrolled for the same subject (the same face, variously encoded)."""
    return reliability_settings(tmp_path, max_templates_per_subject=10_000)


def _capture(world: World, data: bytes) -> str:
    """A capture session for exactly these bytes, approved by the subject's passkey."""
    return world.people[world.subject].approve_capture(world.consent_id, data,
                                                       desk=world.keys.portal)


def _portal_signed(world: World, data: bytes, csrf: str) -> str:
    """What passkey.js posts in the portal's ``signed`` field for this photo."""
    challenge = world.client.post("/portal/challenge", headers={"X-CSRF-Token": csrf}, json={
        "act": "enrol", "consent_id": world.consent_id,
        "photo_sha256": hashlib.sha256(data).hexdigest()}).json()
    credential = world.people[world.subject].authenticator.get(challenge["options"])
    return json.dumps({"ceremony_id": challenge["ceremony_id"], "credential": credential})


def _send(world: World, route: str, item: CorpusItem, portal_csrf: str):  # type: ignore[no-untyped-def]
    files = {"image": (item.filename, item.data, "application/octet-stream")}
    client = world.client
    if route == "enrol":
        return client.post(f"/v1/subjects/{world.subject}/faces",
                           data={"capture_id": _capture(world, item.data)}, files=files,
                           headers=auth(world.keys.portal))
    if route == "identify":
        return client.post("/v1/identify",
                           data={"purpose_id": world.purpose_id,
                                 "probe_consent_id": world.probe_consent(item.data)},
                           files=files, headers=auth(world.keys.researcher))
    if route == "verify":
        return client.post("/v1/verify",
                           data={"subject": world.subject, "purpose_id": world.purpose_id,
                                 "probe_consent_id": world.probe_consent(
                                     item.data, subject=world.subject)},
                           files=files, headers=auth(world.keys.researcher))
    return client.post("/portal/enrol", files=files, data={
        "csrf": portal_csrf, "consent_id": world.consent_id,
        "signed": _portal_signed(world, item.data, portal_csrf)})


@pytest.mark.slow
def test_every_corpus_item_gets_its_documented_answer_and_refusals_write_nothing(
    world: World, service: OptinFace, corpus: list[CorpusItem], api_settings: ApiSettings
) -> None:
    # A first template, so that verify has something to compare with.
    accepted_jpeg = next(i for i in corpus if i.expected == ACCEPTED and i.name == "exif_rotated")
    world.enrol(world.subject, world.consent_id, accepted_jpeg.data)
    portal_csrf = portal_session(world.client, world.people[world.subject])
    data_dir = api_settings.data_dir
    rss_before = peak_rss_mb()
    answers: Counter[str] = Counter()
    failures: list[str] = []
    for item in corpus:
        for route in ROUTES:
            before = service.health()
            files_before = data_snapshot(data_dir)
            response = _send(world, route, item, portal_csrf)
            assert response.status_code < 500, f"{item.name} via {route}: {response.text[:300]}"
            expected = item.expected
            if expected == ACCEPTED:
                if response.status_code not in (200, 201):
                    failures.append(f"{item.name} via {route}: {response.status_code} "
                                    f"{response.text[:200]}")
                answers["accepted"] += 1
                continue
            if route == "portal_enrol":
                code = expected if expected in response.text else "?"
            else:
                code = response.json().get("code", "?")
            if code != expected or not 400 <= response.status_code < 500:
                failures.append(f"{item.name} via {route}: expected {expected}, got "
                                f"{response.status_code} {response.text[:200]}")
            answers[expected] += 1
            after = service.health()
            assert (after["templates"], after["index_entries"]) == (
                before["templates"], before["index_entries"]), f"{item.name} via {route} wrote"
            assert data_snapshot(data_dir) == files_before, f"{item.name} via {route}: new files"
    growth = peak_rss_mb() - rss_before
    assert world.client.get("/healthz").status_code == 200  # the server is still up
    assert not failures, "\n".join(failures)
    assert growth < RSS_GROWTH_LIMIT_MB, f"peak RSS grew by {growth:.0f} MB"
    record("corpus", {
        "items": len(corpus), "routes": len(ROUTES), "requests": len(corpus) * len(ROUTES),
        "answers": dict(answers), "peak_rss_growth_mb": round(growth, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    })
