"""Fuzzing with hypothesis: the image decoder and the JSON bodies and ids of the API.

The decoder, given random bytes or mutated valid JPEG/PNG/WebP files, returns pixels or raises
:class:`InvalidImage` / :class:`ImageTooLarge`, nothing else. The API, given generated JSON for
subject, consent and purpose creation, malformed ids, 1 MB strings and SQL-looking text, answers
either a success or a 4xx in the one error shape, never a 5xx, and a refusal stores nothing.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select

from optinface.consent.service import OptinFace
from optinface.consent.tables import ApiKey, Consent, Notice, Purpose, Subject, Template
from optinface.engine.decode import BgrImage, decode_image
from optinface.engine.errors import ImageTooLarge, InvalidImage
from optinface.engine.settings import EngineSettings
from tests.support.api import World, auth
from tests.support.reliability import record

EXAMPLES = 150
SQL = ["'; DROP TABLE subjects;--", "1 OR 1=1", "\" OR \"\"=\"", "%' --", "../../etc/passwd",
       "\x00", "🙂" * 3, "<script>alert(1)</script>", "a" * 300]
MEGABYTE = "x" * (1024 * 1024)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
_examples: dict[str, int] = {}


def _count(name: str) -> None:
    _examples[name] = _examples.get(name, 0) + 1
    record("fuzz", {"examples": dict(_examples), "examples_total": sum(_examples.values())})


# Decoder -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def valid_files(portrait_images: list[BgrImage]) -> list[bytes]:
    small = cv2.resize(portrait_images[0], (96, 96))
    rgb = Image.fromarray(small[:, :, ::-1])
    files = []
    for fmt in ("JPEG", "PNG", "WEBP"):
        buffer = io.BytesIO()
        rgb.save(buffer, format=fmt)
        files.append(buffer.getvalue())
    return files


def _decode(data: bytes) -> None:
    engine = EngineSettings()
    try:
        image = decode_image(data, max_bytes=engine.max_image_bytes,
                             max_pixels=engine.max_image_pixels,
                             max_decode_bytes=engine.max_decode_bytes,
                             allowed_formats=engine.allowed_formats)
    except (InvalidImage, ImageTooLarge):
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_decode_or_are_refused_cleanly(data: bytes) -> None:
    _count("decoder_random_bytes")
    _decode(data)


@FUZZ
@given(choice=st.integers(0, 2), cuts=st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 255), st.sampled_from(["flip", "cut",
                                                                              "insert"])),
    min_size=1, max_size=8))
def test_mutated_valid_images_decode_or_are_refused_cleanly(
    valid_files: list[bytes], choice: int, cuts: list[tuple[int, int, str]]
) -> None:
    _count("decoder_mutated_images")
    data = bytearray(valid_files[choice])
    for position, value, how in cuts:
        where = position % max(len(data), 1)
        if how == "flip":
            data[where] = value
        elif how == "cut":
            del data[where:]
        else:
            data[where:where] = bytes([value]) * (1 + value % 16)
        if not data:
            break
    _decode(bytes(data))


# API bodies --------------------------------------------------------------------------------------
text = st.one_of(st.text(max_size=40), st.sampled_from(SQL))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=8)


def _stored(service: OptinFace) -> tuple[Any, ...]:
    with service.runtime.db.transaction() as session:
        rows = tuple(session.scalar(select(func.count()).select_from(t)) for t in
                     (Subject, Template, Purpose, Notice, Consent, ApiKey))
    return (*rows, service.index.count())


def _check(world: World, service: OptinFace, method: str, url: str, *, secret: str,
           body: Any = None) -> int:
    before = _stored(service)
    answer = world.client.request(method, url, json=body, headers=auth(secret))
    assert answer.status_code < 500, (url, answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        shape = answer.json()
        assert set(shape) == {"code", "message", "details"}, shape
        assert _stored(service) == before, f"{url}: a refused request stored something"
    return answer.status_code


def _body(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with the schema's keys (each value fuzzed or well-formed) plus random extra keys."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(v, json_values)
                                              for k, v in fields.items()}).flatmap(
        lambda d: st.dictionaries(text, json_values, max_size=3).map(lambda extra: {**extra, **d}))


@FUZZ
@given(body=st.one_of(json_values, _body({
    "age_category": st.sampled_from(["adult", "minor", "child", "ADULT", ""]),
    "searchable": st.booleans(),
    "jurisdiction": st.sampled_from(["QC", "EU", "US", "'; DROP TABLE subjects;--"])})))
def test_subject_creation_fuzz(world: World, service: OptinFace, body: Any) -> None:
    _count("api_subject_bodies")
    _check(world, service, "POST", "/v1/subjects", secret=world.keys.portal, body=body)


@FUZZ
@given(body=_body({
    "act": st.sampled_from(["consent", "withdraw", "searchable", "enrol", "telepathy"]),
    "purposes": st.lists(text, max_size=3), "notice_id": text, "consent_id": text,
    "language": st.sampled_from(["en", "fr-CA", "", "x" * 30]),
    "photo_sha256": st.sampled_from(["0" * 64, "zz", ""]), "searchable": st.booleans(),
    "given_by": st.sampled_from(["self", "parental_authority", "cat"]),
    "expires_at": st.sampled_from(["2030-01-01T00:00:00Z", "yesterday", "1999-01-01T00:00:00Z",
                                   "9999-12-31T23:59:59Z"])}),
       subject=st.one_of(st.just(""), text))
def test_signed_act_challenge_fuzz(
    world: World, service: OptinFace, body: Any, subject: str
) -> None:
    """Challenges for consent, withdrawal, opt-in and capture: what a person's act starts from."""
    _count("api_consent_bodies")
    target = subject if subject and subject.strip("./") else world.subject
    _check(world, service, "POST", f"/v1/subjects/{quote(target, safe='')}/challenges",
           secret=world.subject_token if target == world.subject else world.keys.admin,
           body=body)


@FUZZ
@given(body=_body({"ceremony_id": text, "credential": json_values}))
def test_signed_act_answer_fuzz(world: World, service: OptinFace, body: Any) -> None:
    """Forged or garbled WebAuthn answers are refused with a code, never a 500."""
    _count("api_passkey_answers")
    _check(world, service, "POST", f"/v1/subjects/{world.subject}/consents",
           secret=world.subject_token, body=body)
    _check(world, service, "POST", "/v1/passkeys/sign-ins", secret=world.subject_token,
           body=body)


@FUZZ
@given(body=_body({
    "name": text, "description": text, "legal_basis": text,
    "operations": st.lists(st.sampled_from(["enrol", "verify", "identify", "surveil"]),
                           max_size=4),
    "retention_days": st.integers(), "study": text}))
def test_purpose_creation_fuzz(world: World, service: OptinFace, body: Any) -> None:
    _count("api_purpose_bodies")
    _check(world, service, "POST", "/v1/purposes", secret=world.keys.admin, body=body)


@FUZZ
@given(identifier=text, method=st.sampled_from(["GET", "DELETE", "PATCH"]))
def test_malformed_ids_are_refused_cleanly(
    world: World, service: OptinFace, identifier: str, method: str
) -> None:
    _count("api_malformed_ids")
    if not identifier.strip("./") or identifier == world.subject:
        return
    _check(world, service, method, f"/v1/subjects/{quote(identifier, safe='')}",
           secret=world.keys.admin, body={"searchable": True} if method == "PATCH" else None)


@pytest.mark.parametrize("field", ["name", "legal_basis"])
def test_one_megabyte_strings_are_refused(world: World, service: OptinFace, field: str) -> None:
    body = {"name": "p", "description": "d", "legal_basis": "consent",
            "operations": ["enrol"], "retention_days": 30, field: MEGABYTE}
    assert _check(world, service, "POST", "/v1/purposes", secret=world.keys.admin,
                  body=body) == 422


def test_unknown_purpose_in_consent_is_refused(world: World, service: OptinFace) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    body = {"act": "consent", "purposes": ["pur_does_not_exist"], "notice_id": world.notice_id,
            "language": "en", "expires_at": expires}
    status = _check(world, service, "POST", f"/v1/subjects/{world.subject}/challenges",
                    secret=world.subject_token, body=body)
    assert status == 404
