"""Uploads are parsed in memory: a probe photo never lands in a temporary file.

Starlette spools a multipart file part over 1 MiB to the system temp folder. The test points
``tempfile`` at a folder of its own and records, with a Python audit hook, every file opened
there (``TemporaryFile`` opens the folder itself with ``O_TMPFILE``, so listing it would see
nothing) while a 2 MiB upload goes through every upload route, and through forms that want no
file at all: Starlette parses whatever parts a form is sent.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import params
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from optinface.api.uploads import InMemoryFormRoute
from tests.support.api import World, auth

pytestmark = pytest.mark.shared_deployment

SPOOL_THRESHOLD = 1024 * 1024
_watched: list[Path] = []
_opened: list[str] = []


def _record_temp_files(event: str, args: tuple[object, ...]) -> None:
    """Audit hook (process-wide and permanent, so inert unless a test is watching)."""
    if not _watched:
        return
    if event.startswith("tempfile."):
        _opened.append(f"{event} {args[0]!r}")
    elif event == "open" and isinstance(args[0], str | bytes):
        path = Path(args[0].decode() if isinstance(args[0], bytes) else args[0])
        if any(path == folder or folder in path.parents for folder in _watched):
            _opened.append(str(path))


sys.addaudithook(_record_temp_files)


@contextmanager
def watching_temp_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    _opened.clear()
    _watched.append(folder)
    try:
        yield _opened
    finally:
        _watched.clear()


def _large_upload(jpeg: bytes) -> bytes:
    """A real face photo padded past the spool threshold (decoders ignore trailing bytes)."""
    return jpeg + b"\0" * (2 * SPOOL_THRESHOLD - len(jpeg))


def test_upload_is_never_written_to_a_temporary_file(
    world: World,
    client: TestClient,
    portrait_jpegs: list[bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = _large_upload(portrait_jpegs[0])
    files = {"image": ("face.jpg", image, "image/jpeg")}
    capture = world.people[world.subject].approve_capture(world.consent_id, image,
                                                          desk=world.keys.portal)
    probes = [world.probe_consent(image), world.probe_consent(image, subject=world.subject)]
    with watching_temp_folder(tmp_path, monkeypatch) as opened:
        enrolled = client.post(
            f"/v1/subjects/{world.subject}/faces",
            data={"capture_id": capture},
            files=files,
            headers=auth(world.keys.portal),
        )
        identified = client.post(
            "/v1/identify",
            data={"purpose_id": world.purpose_id, "probe_consent_id": probes[0]},
            files=files,
            headers=auth(world.keys.researcher),
        )
        verified = client.post(
            "/v1/verify",
            data={
                "subject": world.subject,
                "purpose_id": world.purpose_id,
                "probe_consent_id": probes[1],
            },
            files=files,
            headers=auth(world.keys.researcher),
        )
    assert enrolled.status_code == 201, enrolled.text
    assert identified.status_code == 200, identified.text
    assert verified.status_code == 200, verified.text
    assert opened == []


@pytest.mark.parametrize("path", ["/review/login", "/portal/erasure-receipt"])
def test_a_file_sent_to_a_form_that_wants_none_is_not_written_to_a_temporary_file(
    client: TestClient, portrait_jpegs: list[bytes], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, path: str,
) -> None:
    """Anyone may post a form, and Starlette parses every part of it before the route looks:
    a photo sent to a log-in form must stay in memory too."""
    files = {"image": ("face.jpg", _large_upload(portrait_jpegs[0]), "image/jpeg")}
    with watching_temp_folder(tmp_path, monkeypatch) as opened:
        answer = client.post(path, data={"code": "x", "secret": "x"}, files=files)
    assert answer.status_code < 500, answer.text
    assert opened == []


def test_every_route_that_reads_a_form_parses_it_in_memory(client: TestClient) -> None:
    with_form = {
        str(context.path): context.original_route
        for context in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(context.original_route, APIRoute)
        and any(
            isinstance(param.field_info, params.Form)  # File is a Form
            for param in context.original_route.dependant.body_params
        )
    }
    assert set(with_form) >= {
        "/v1/identify",
        "/v1/verify",
        "/v1/subjects/{subject}/faces",
        "/portal/enrol",
        "/review/login",
        "/portal/erasure-receipt",
    }
    on_disk = [p for p, route in with_form.items() if not isinstance(route, InMemoryFormRoute)]
    assert on_disk == []
