"""One error shape and one status per stable code; never a 500 for bad input."""

from __future__ import annotations

import hashlib
import json
import logging
import resource
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

import optinface.api.error_codes
import optinface.consent.errors
import optinface.engine.errors
import optinface.engine.thresholds
from optinface.api.access_log import ACCESS_LOGGER
from optinface.api.app import create_app
from optinface.api.error_codes import STATUS_BY_CODE, ApiErrorCode, CliErrorCode
from optinface.api.errors import LEDGER_RETRY_SECONDS
from optinface.api.periodic import guarded
from optinface.api.routes.matching import MAX_CANDIDATES
from optinface.api.settings import ApiSettings
from optinface.api.soft_person import SoftPersonFailed
from optinface.consent.erasure_journal import journal_path
from optinface.consent.passkeys import b64url, from_b64url
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.corpus.generate import THIN_SHAPES, thin_png
from tests.support.api import (
    Keys,
    World,
    auth,
    deployment,
    make_keys,
    set_up_world,
    settings_for_tests,
)
from tests.support.erasures import folder_in_place
from tests.support.forgery import damage_root_page
from tests.support.postgres import PostgresServer, postgres_server
from tests.support.server import free_port, serve_environment, serve_process

pytestmark = pytest.mark.shared_deployment


def _codes(base: type) -> set[str]:
    found, stack = set(), list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        found.add(cls.code)
        stack.extend(cls.__subclasses__())
    return found


def test_every_domain_code_has_a_status_in_the_table() -> None:
    codes = _codes(optinface.consent.errors.ConsentError) | _codes(
        optinface.engine.errors.EngineError
    )
    assert optinface.engine.thresholds.NotCalibrated.code in codes
    assert codes - STATUS_BY_CODE.keys() == set()


def test_every_code_of_the_api_and_the_command_line_has_a_status_in_the_table() -> None:
    assert set(ApiErrorCode) | set(CliErrorCode) <= STATUS_BY_CODE.keys()


def test_the_table_is_documented_in_the_module_docstring() -> None:
    for code, status in STATUS_BY_CODE.items():
        assert f"{code} " in (optinface.api.error_codes.__doc__ or "") and str(status) in (
            optinface.api.error_codes.__doc__ or ""
        )


def _assert_error(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code


def _enrol(world: World, image: bytes, *, consent_id: str | None = None) -> object:
    """A capture session the person approves, then the desk's upload: the refusing answer."""
    try:
        capture = world.people[world.subject].approve_capture(
            consent_id or world.consent_id, image, desk=world.keys.portal)
    except SoftPersonFailed as refused:
        return refused.response
    return world.client.post(
        f"/v1/subjects/{world.subject}/faces",
        data={"capture_id": capture},
        files={"image": ("x.jpg", image, "image/jpeg")},
        headers=auth(world.keys.portal),
    )


def test_request_validation_uses_the_one_shape(world: World) -> None:
    answer = world.client.post("/v1/purposes", json={"name": ""}, headers=auth(world.keys.admin))
    _assert_error(answer, 422, "validation_error")
    assert answer.json()["details"]["errors"]


def test_a_validation_error_never_quotes_the_input(world: World) -> None:
    """Found by fuzzing: pydantic's message for an unknown ``act`` quoted it whole."""
    sent = "someone's name\u202e\n" + "x" * 1000
    answer = world.client.post(f"/v1/subjects/{world.subject}/challenges",
                               json={"act": sent}, headers=auth(world.subject_token))
    _assert_error(answer, 422, "validation_error")
    assert "someone" not in answer.text
    assert answer.json()["details"]["errors"][0]["msg"].startswith("the 'act' is none of")


def test_malformed_json_is_a_client_error(world: World) -> None:
    answer = world.client.post(
        "/v1/purposes",
        content=b"{nope",
        headers={**auth(world.keys.admin), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/v1/identify", "/v1/subjects/subj_x/faces"])
def test_a_body_the_framework_cannot_parse_is_a_validation_error(world: World, path: str) -> None:
    """Malformed multipart is read before any dependency, authentication included: the one
    shape, the table's 422, with or without a key, and nothing stored."""
    garbage = {"content-type": "multipart/form-data; boundary=zzz"}
    for headers in (garbage, {**garbage, **auth(world.keys.researcher)}):
        answer = world.client.post(path, content=b"garbage", headers=headers)
        _assert_error(answer, 422, "validation_error")


def test_bytes_that_are_not_an_image(world: World) -> None:
    _assert_error(_enrol(world, b"definitely not a jpeg"), 400, "invalid_image")


def test_an_image_without_a_face(world: World, portrait_images: list) -> None:
    from optinface.engine.samples import encode

    blank = portrait_images[0].copy()
    blank[:] = 128
    _assert_error(_enrol(world, encode(blank)), 422, "no_face")


def _stored(world: World) -> tuple[int, int]:
    health = world.client.get("/healthz").json()
    return health["templates"], health["index_entries"]


@pytest.mark.parametrize(("width", "height"), THIN_SHAPES)
def test_an_image_too_thin_for_the_detector_is_no_face_and_stores_nothing(
    world: World, width: int, height: int
) -> None:
    """The detector would scale it to 0 px across: it holds no face it can find (a 500 once)."""
    thin = thin_png(width, height)
    before = _stored(world)
    _assert_error(_enrol(world, thin), 422, "no_face")
    _assert_error(world.verify(world.subject, thin), 422, "no_face")
    _assert_error(world.identify(thin), 422, "no_face")
    assert _stored(world) == before


def _blank_jpeg() -> bytes:
    from optinface.engine.samples import encode

    return encode(np.full((250, 250, 3), 128, dtype=np.uint8))


@pytest.mark.parametrize("probe", [_blank_jpeg, lambda: thin_png(*THIN_SHAPES[0])],
                         ids=["blank", "too_thin"])
def test_an_identify_refused_for_its_image_is_audited_and_uses_up_its_probe_consent(
    world: World, probe: Callable[[], bytes]
) -> None:
    """Whatever makes the image hold no face, the attempt is chained into the log as a refusal
    and its probe consent is spent, like every refused attempt."""
    image = probe()
    digest = hashlib.sha256(image).hexdigest()
    form = {"purpose_id": world.purpose_id, "probe_consent_id": world.probe_consent(image)}
    files = {"image": ("p.png", image, "image/png")}

    def identify() -> object:
        return world.client.post("/v1/identify", data=form, files=files,
                                 headers=auth(world.keys.researcher))

    def refusals() -> dict[int, dict[str, object]]:
        events = world.client.get("/v1/audit/events", params={"action": "refused", "limit": 1000},
                                  headers=auth(world.keys.reviewer)).json()["events"]
        return {e["seq"]: e for e in events if e["probe_sha256"] == digest}

    before = refusals()
    _assert_error(identify(), 422, "no_face")
    [event] = [e for seq, e in refusals().items() if seq not in before]
    assert (event["outcome"], event["purpose"], event["details"]) == (
        "no_face", world.purpose_id, {"attempted": "identify"})
    again = identify()
    _assert_error(again, 403, "probe_consent_required")
    assert again.json()["details"]["problem"] == "used"  # type: ignore[attr-defined]


def test_a_credential_holding_a_lone_surrogate_is_a_validation_error_and_gives_nothing(
    world: World,
) -> None:
    """Found by fuzzing: JSON's ``"\\ud800"`` reached the consent's evidence, which has no
    UTF-8 form for it: a 500 once the passkey had verified."""
    person = world.people[world.subject]
    signed = person.sign(world.consent_act())
    signed["credential"]["clientExtensionResults"] = {"x": "\ud800"}
    consents = world.client.get(f"/v1/subjects/{world.subject}/consents", headers=person.headers)
    answer = world.client.post(f"/v1/subjects/{world.subject}/consents", headers=person.headers
                               | {"Content-Type": "application/json"},
                               content=json.dumps(signed).encode())
    _assert_error(answer, 422, "validation_error")
    assert world.client.get(f"/v1/subjects/{world.subject}/consents",
                            headers=person.headers).json() == consents.json()


def test_a_refusal_quoting_a_lone_surrogate_the_client_sent_keeps_the_one_shape(
    world: World,
) -> None:
    """Found by fuzzing: a sign-in whose client data named the type ``"\\ud800"`` was refused
    with the WebAuthn library's reason, which quotes it; rendering that refusal as UTF-8 failed
    (a bare 500)."""
    person = world.people[world.subject]
    challenge = world.client.post("/v1/passkeys/sign-in-options").json()
    credential = person.authenticator.get(challenge["options"])
    client_data = json.loads(from_b64url(credential["response"]["clientDataJSON"]))
    client_data["type"] = "\ud800"
    credential["response"]["clientDataJSON"] = b64url(json.dumps(client_data).encode())
    answer = world.client.post("/v1/passkeys/sign-ins", json={
        "ceremony_id": challenge["ceremony_id"], "credential": credential})
    _assert_error(answer, 403, "passkey_invalid")


def test_declared_body_over_the_limit_is_refused_before_reading(
    world: World, api_settings: ApiSettings
) -> None:
    answer = world.client.post(
        f"/v1/subjects/{world.subject}/faces",
        content=b"x" * 10,
        headers={
            **auth(world.keys.portal),
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(api_settings.upload_limit_bytes + 1),
        },
    )
    _assert_error(answer, 413, "payload_too_large")


def test_a_body_refused_before_routing_is_logged_under_its_routes_template(
    world: World, api_settings: ApiSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """The body limit answers before the router runs; the access log still names the route by
    its template, as for every other answer, and never by its path (a pseudonym may be in it)."""
    too_long = {"Content-Type": "multipart/form-data; boundary=b",
                "Content-Length": str(api_settings.upload_limit_bytes + 1)}
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    for path in ("/v1/identify", f"/v1/subjects/{world.subject}/faces", "/v1/no-such-route"):
        answer = world.client.post(path, content=b"x" * 10,
                                   headers={**auth(world.keys.portal), **too_long})
        _assert_error(answer, 413, "payload_too_large")
    lines = [record.getMessage() for record in caplog.records if record.name == ACCESS_LOGGER]
    assert [line.split(" - ", 1)[1] for line in lines] == [
        '"POST /v1/identify HTTP/1.1" 413', '"POST /v1/subjects/{subject}/faces HTTP/1.1" 413',
        '"POST (no route) HTTP/1.1" 413']


def test_a_mounted_file_is_logged_under_its_mounts_template_never_the_path_as_sent(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by an outside tester: a mount passes the rest of the path on in no parameter, so
    the log wrote it as sent, escape sequences for the operator's terminal and pseudonyms
    included."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    sent = ["/static/style.css", "/static/x%1b[2J%1b[31mRED%0dCR%08BS%7f",
            f"/docs/assets/{world.subject}.js"]
    assert [world.client.get(path).status_code for path in sent] == [200, 404, 404]
    lines = [record.getMessage() for record in caplog.records if record.name == ACCESS_LOGGER]
    assert [line.split(" - ", 1)[1] for line in lines] == [
        '"GET /static/{path} HTTP/1.1" 200', '"GET /static/{path} HTTP/1.1" 404',
        '"GET /docs/assets/{path} HTTP/1.1" 404']


def test_image_over_the_limit_is_refused(
    api_settings: ApiSettings, service: OptinFace, world: World
) -> None:
    small = api_settings.model_copy(update={"max_image_bytes": 1000})
    with TestClient(create_app(small, service=service)) as client:
        answer = client.post(
            f"/v1/subjects/{world.subject}/faces",
            data={"capture_id": "cer_any"},
            files={"image": ("big.jpg", b"\xff" * 5000, "image/jpeg")},
            headers=auth(world.keys.portal),
        )
    _assert_error(answer, 413, "payload_too_large")


def test_streamed_body_over_the_limit_is_cut_off(
    api_settings: ApiSettings, service: OptinFace, world: World
) -> None:
    small = api_settings.model_copy(update={"max_image_bytes": 1000})

    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b"y" * 1024

    with TestClient(create_app(small, service=service)) as client:
        answer = client.post(
            f"/v1/subjects/{world.subject}/faces",
            content=chunks(),
            headers={**auth(world.keys.portal), "Content-Type": "multipart/form-data; boundary=b"},
        )
    _assert_error(answer, 413, "payload_too_large")


def test_enrol_under_a_consent_of_another_subject_is_refused(world: World, portrait_jpegs) -> None:
    other, _ = world.new_subject()
    other_consent = world.consent(other)
    answer = _enrol(world, portrait_jpegs[0], consent_id=other_consent)
    assert answer.status_code in (403, 404), answer.text
    assert answer.json()["code"] in {"consent_required", "not_found"}


def test_withdrawn_consent_cannot_enrol(world: World, portrait_jpegs: list[bytes]) -> None:
    """Withdrawing the only consent erases the subject, so the pseudonym is gone for good."""
    world.people[world.subject].withdraw(world.consent_id)
    _assert_error(_enrol(world, portrait_jpegs[0]), 410, "subject_erased")


@pytest.mark.parametrize("k", [0, MAX_CANDIDATES + 1])
def test_a_k_outside_1_to_50_is_a_422_before_any_search(
    world: World, portrait_jpegs: list[bytes], k: int
) -> None:
    """A search names at most 50 people (the seal root's 64 places hide that count,
    :mod:`consent.audit_seal_tree`): a ``k`` outside the API's bounds is refused as a request,
    nothing searched or chained; the core caps it again at ``OPTINFACE_MAX_CANDIDATES``."""
    def searches() -> int:
        return int(world.client.get("/v1/audit/events", params={"action": "identify"},
                                    headers=auth(world.keys.reviewer)).json()["total"])

    before = searches()
    _assert_error(world.identify(portrait_jpegs[0], k=k), 422, "validation_error")
    assert searches() == before


def test_a_probe_consent_is_single_use(world: World, portrait_jpegs: list[bytes]) -> None:
    probe = world.probe_consent(portrait_jpegs[0])
    form = {"purpose_id": world.purpose_id, "probe_consent_id": probe}
    files = {"image": ("p.jpg", portrait_jpegs[0], "image/jpeg")}
    first = world.client.post(
        "/v1/identify", data=form, files=files, headers=auth(world.keys.researcher)
    )
    assert first.status_code == 200, first.text
    again = world.client.post(
        "/v1/identify", data=form, files=files, headers=auth(world.keys.researcher)
    )
    _assert_error(again, 403, "probe_consent_required")


def test_unknown_subject_is_not_found(world: World) -> None:
    answer = world.client.get("/v1/subjects/subj_nobody", headers=auth(world.keys.portal))
    _assert_error(answer, 404, "not_found")


def test_unknown_route_and_wrong_method_use_the_one_shape(world: World) -> None:
    _assert_error(world.client.get("/v1/nothing-here"), 404, "not_found")
    _assert_error(world.client.put("/v1/purposes"), 405, "method_not_allowed")


def test_matching_is_refused_until_the_database_is_declared(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        world = set_up_world(client, keys, declare=False)
        _assert_error(world.identify(portrait_jpegs[0]), 409, "not_declared")


def test_matching_without_a_calibrated_threshold(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    no_thresholds = tmp_path / "none.toml"
    with deployment(tmp_path, pipeline, thresholds_path=no_thresholds) as (_, _, client, keys):
        world = set_up_world(client, keys)
        _assert_error(world.identify(portrait_jpegs[0]), 503, "not_calibrated")


def test_consent_to_an_unknown_purpose_is_refused(world: World) -> None:
    subject, token = world.new_subject()
    answer = world.client.post(
        f"/v1/subjects/{subject}/challenges",
        json=world.consent_act("pur_unknown"),
        headers=auth(token),
    )
    _assert_error(answer, 404, "not_found")


def test_a_search_or_its_probe_consent_citing_an_unknown_purpose_is_not_found(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """A purpose must be declared before it is used: the request for the probe consent, the
    1:N and the 1:1 search citing one that does not exist are answered 404 ``not_found``."""
    image, researcher = portrait_jpegs[0], auth(world.keys.researcher)
    link = world.client.post("/v1/probe-consents", headers=researcher, json={
        "purpose_id": "pur_unknown", "notice_id": world.notice_id,
        "probe_sha256": hashlib.sha256(image).hexdigest()})
    _assert_error(link, 404, "not_found")
    form = {"purpose_id": "pur_unknown", "probe_consent_id": "prb_unknown"}
    upload = {"image": ("probe.jpg", image, "image/jpeg")}
    _assert_error(world.client.post("/v1/identify", data=form, files=upload,
                                     headers=researcher), 404, "not_found")
    _assert_error(world.client.post("/v1/verify", data={**form, "subject": world.subject},
                                    files=upload, headers=researcher), 404, "not_found")


def test_unexpected_failure_is_a_bare_internal_error(
    api_settings: ApiSettings, service: OptinFace, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(**_: object) -> None:
        raise RuntimeError("secret internals /var/lib/db")

    monkeypatch.setattr(service, "list_purposes", explode)
    with TestClient(
        create_app(api_settings, service=service), raise_server_exceptions=False
    ) as client:
        answer = client.get("/v1/purposes", headers=auth(world.keys.admin))
    _assert_error(answer, 500, "internal_error")
    assert "secret" not in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"


def test_a_failure_is_logged_with_its_route_never_the_pseudonym_in_its_path(
    api_settings: ApiSettings, service: OptinFace, world: World,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """The server's log outlives an erasure: a failure names the route, not the subject."""
    def explode(**_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "get_subject", explode)
    with TestClient(create_app(api_settings, service=service),
                    raise_server_exceptions=False) as client, caplog.at_level(logging.INFO):
        answer = client.get(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin))
    _assert_error(answer, 500, "internal_error")
    server = "\n".join(r.getMessage() for r in caplog.records
                       if r.name.startswith(("optinface", "uvicorn")))  # not the test's client
    assert "unexpected error on GET /v1/subjects/{subject}" in server
    assert world.subject not in server


PERSONAL = "Jane Q Public"


def _post_a_purpose_named_after_a_person(
    settings: ApiSettings, service: OptinFace, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings, service=service),
                    raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        answer = client.post("/v1/purposes", headers=auth(keys.admin), json={
            "name": PERSONAL, "description": "d", "legal_basis": "consent",
            "operations": ["enrol"], "retention_days": 30})
    _assert_error(answer, 500, "internal_error")


def test_a_database_failure_logs_no_value_the_request_sent(
    tmp_path: Path, pipeline: FacePipeline, caplog: pytest.LogCaptureFixture
) -> None:
    with deployment(tmp_path, pipeline) as (settings, service, _, keys):
        with service.runtime.db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE purposes")  # every statement on it fails
        _post_a_purpose_named_after_a_person(settings, service, keys, caplog)
    assert "no such table: purposes" in caplog.text  # the operator still learns what failed
    assert PERSONAL not in caplog.text


@contextmanager
def _failing_identify(tmp_path: Path, pipeline: FacePipeline, image: bytes, *,
                      sabotage: tuple[str, ...], mend: tuple[str, ...] = (),
                      ) -> Iterator[tuple[TestClient, Keys, dict[str, str], str]]:
    """A deployment whose database is altered by ``sabotage`` once a probe consent for ``image``
    is signed, so that an identify fails unexpectedly, then by ``mend``; the client, the keys,
    the form sent and the probe's hash."""
    with deployment(tmp_path, pipeline) as (settings, service, _, keys), TestClient(
            create_app(settings, service=service), raise_server_exceptions=False) as client:
        world = set_up_world(client, keys)
        form = {"purpose_id": world.purpose_id, "probe_consent_id": world.probe_consent(image)}

        def execute(statements: tuple[str, ...]) -> None:
            with service.runtime.db.engine.begin() as connection:
                for statement in statements:
                    connection.exec_driver_sql(statement)

        execute(sabotage)
        answer = client.post("/v1/identify", data=form, headers=auth(keys.researcher),
                             files={"image": ("p.jpg", image, "image/jpeg")})
        _assert_error(answer, 500, "internal_error")
        execute(mend)
        yield client, keys, form, hashlib.sha256(image).hexdigest()


def test_an_identify_that_fails_unexpectedly_is_audited_and_its_probe_consent_stays_spent(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes],
) -> None:
    """The failure comes after the probe consent was consumed and the face embedded (the
    gallery's table is gone): the attempt is in the log like a refusal, with the failure's type
    only; the consent cannot be used again."""
    image = portrait_jpegs[0]
    with _failing_identify(tmp_path, pipeline, image, sabotage=("DROP TABLE templates",)) as (
            client, keys, form, digest):
        events = client.get("/v1/audit/events", params={"action": "refused", "limit": 1000},
                            headers=auth(keys.reviewer)).json()["events"]
        [event] = [e for e in events if e["probe_sha256"] == digest]
        assert (event["outcome"], event["purpose"], event["details"]) == (
            "internal_error", form["purpose_id"],
            {"attempted": "identify", "failure": "OperationalError"})
        again = client.post("/v1/identify", data=form, headers=auth(keys.researcher),
                            files={"image": ("p.jpg", image, "image/jpeg")})
        _assert_error(again, 403, "probe_consent_required")


def test_a_failure_the_log_cannot_record_is_raised_and_said_in_the_operators_log(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        with _failing_identify(tmp_path, pipeline, portrait_jpegs[0], sabotage=(
                "DROP TABLE templates", "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events"
                " BEGIN SELECT RAISE(ABORT, 'the log is unwritable'); END"),
                mend=("DROP TRIGGER no_audit",)):
            pass
    assert "a failed identify attempt could not be audited: IntegrityError" in caplog.text
    # The failure raised is the search's own, not the log's.
    assert "unexpected error on POST /v1/identify: OperationalError" in caplog.text


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_failure_logs_no_row_the_server_quotes(
    tmp_path: Path, pipeline: FacePipeline, caplog: pytest.LogCaptureFixture,
    database_url: str | None,
) -> None:
    """psycopg's message carries the server's DETAIL (``Failing row contains (...)``): the
    request's values, beyond the reach of ``hide_parameters``."""
    with deployment(tmp_path, pipeline, database_url=database_url) as (settings, service, _, keys):
        with service.runtime.db.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE purposes ADD CONSTRAINT refuse_every_row"
                                       " CHECK (false) NOT VALID")
        _post_a_purpose_named_after_a_person(settings, service, keys, caplog)
    assert "violates check constraint" in caplog.text and "23514" in caplog.text, caplog.text
    assert PERSONAL not in caplog.text


@contextmanager
def _on_its_own_postgresql(
    tmp_path: Path, pipeline: FacePipeline
) -> Iterator[tuple[PostgresServer, OptinFace, TestClient, Keys]]:
    """A deployment on a PostgreSQL of its own, which the test may stop and start again."""
    with postgres_server(free_port()) as server, deployment(
            tmp_path, pipeline, database_url=server.new_database()) as (_, service, client, keys):
        yield server, service, client, keys


def test_a_ledger_that_cannot_be_reached_is_a_503_to_retry_and_the_worker_recovers(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """PostgreSQL stopped under a running worker: every request, authentication included, is a
    503 ``ledger_unavailable`` with a Retry-After rather than a bug's 500, and the worker serves
    again as soon as the database is back."""
    with _on_its_own_postgresql(tmp_path, pipeline) as (server, _, client, keys):
        admin = auth(keys.admin)
        assert client.get("/v1/purposes", headers=admin).status_code == 200
        server.stop()
        for down in (client.get("/v1/purposes", headers=admin), client.get("/healthz")):
            _assert_error(down, 503, "ledger_unavailable")
            assert down.headers["Retry-After"] == str(LEDGER_RETRY_SECONDS)
            assert down.headers["X-Frame-Options"] == "DENY"
        server.resume()
        assert client.get("/v1/purposes", headers=admin).status_code == 200


def test_a_background_task_says_an_outage_in_one_line_and_lives_on(
    tmp_path: Path, pipeline: FacePipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """The deployment's own background tasks may log their outage lines meanwhile: the line
    checked is the one this call's task gave."""
    task = "the test's own sweep"
    with _on_its_own_postgresql(tmp_path, pipeline) as (server, service, _, _):
        server.stop()
        with caplog.at_level(logging.ERROR, logger="optinface.api.periodic"):
            assert guarded(task, service.sweep) is None  # the thread lives on
        server.resume()
    [said] = [r for r in caplog.records
              if r.name == "optinface.api.periodic" and r.getMessage().startswith(task)]
    assert "out of reach" in said.getMessage() and said.exc_info is None
    assert "Traceback" not in said.getMessage()


def test_a_deadlock_is_a_failure_to_fix_not_an_outage(
    tmp_path: Path, pipeline: FacePipeline, postgres: PostgresServer
) -> None:
    """psycopg files a deadlock (SQLSTATE 40P01) under OperationalError as it does a lost
    connection, but waiting mends nothing: a 500, logged with its traceback."""
    with deployment(tmp_path, pipeline,
                    database_url=postgres.new_database()) as (_, service, client, keys):
        with service.runtime.db.engine.begin() as connection:
            connection.execute(text(
                "CREATE FUNCTION deadlocked() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$;"
                " CREATE TRIGGER deadlocked BEFORE INSERT ON purposes"
                " FOR EACH ROW EXECUTE FUNCTION deadlocked()"))
        _assert_error(client.post("/v1/purposes", headers=auth(keys.admin), json={
            "name": "Study D", "description": "d", "legal_basis": "express consent",
            "operations": ["identify"], "retention_days": 30}), 500, "internal_error")


def test_an_erasure_whose_journal_cannot_be_written_is_a_503_and_a_retry_finishes_it(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """The journal line goes before the destruction commits, so a restore cannot bring the
    person back: where it cannot be written (here a folder stands where the journal goes), the
    erasure is refused in the one shape rather than a 500; the person is already unsearchable,
    and a retry once the folder is mended finishes the erasure with its receipt."""
    with deployment(tmp_path, pipeline) as (settings, _, client, keys):
        world = set_up_world(client, keys)
        url, admin = f"/v1/subjects/{world.subject}", auth(keys.admin)
        with folder_in_place(journal_path(settings.witness_dir)):
            _assert_error(client.delete(url, headers=admin), 503, "witness_unusable")
            _assert_error(client.get(url, headers=admin), 410, "subject_erased")  # unsearchable
        finished = client.delete(url, headers=admin)
        assert finished.status_code == 200, finished.text
        assert finished.json()["signed"]["signature"]


def test_a_ledger_damaged_where_a_request_reads_is_a_503_with_its_code_and_a_log_line(
    tmp_path: Path, pipeline: FacePipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad-input test 18, #5, met by the server: noise over the page of the one-time links,
    which the start does not read, and a desk creating a shell (which writes one) got the bare
    500 ``internal_error``. A damaged ledger is the operator's to restore from a backup: 503
    ``data_dir_unusable``, the database's words in the log, not in the answer."""
    settings = settings_for_tests(tmp_path)
    service = OptinFace.open(settings, pipeline=pipeline)
    keys = make_keys(service)
    service.close()
    ledger = settings.data_dir / "optinface.db"
    damage_root_page(ledger, "one_time_links")
    service = OptinFace.open(settings, pipeline=pipeline)
    try:
        with TestClient(create_app(settings, service=service)) as client, \
                caplog.at_level(logging.ERROR, logger="optinface.api.errors"):
            answer = client.post("/v1/subjects", json={"age_category": "adult"},
                                 headers=auth(keys.portal))
    finally:
        with suppress(DatabaseError):  # closing may meet the damage too
            service.close()
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "data_dir_unusable"
    assert "malformed" not in answer.text
    assert "the ledger cannot be read" in caplog.text and "malformed" in caplog.text


@pytest.mark.slow  # a server process
def test_a_full_disk_under_a_running_server_is_a_503_and_it_serves_again_once_freed(
    tmp_path: Path,
) -> None:
    """A disk that fills while the server runs, played by a limit on the size of the files the
    server may write, set on the running process: a write was a bare 500 ``internal_error``.
    It is the operator's to mend, as a damaged ledger is: 503 ``data_dir_unusable``, the
    database's words in the log, not in the answer. Once freed, the same server serves, and
    its log still verifies: what failed left nothing half-written."""
    key_file = tmp_path / "first-admin-key"
    environment = serve_environment(tmp_path, OPTINFACE_FIRST_ADMIN_KEY_FILE=str(key_file))
    with serve_process(tmp_path / "var", environment) as served:
        admin = {"X-API-Key": key_file.read_text().strip()}
        _, hard = resource.prlimit(served.process.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(served.process.pid, resource.RLIMIT_FSIZE, (1, hard))
        full = httpx2.post(f"{served.url}/v1/subjects", json={"age_category": "adult"},
                           headers=admin)
        resource.prlimit(served.process.pid, resource.RLIMIT_FSIZE, (hard, hard))
        freed = httpx2.post(f"{served.url}/v1/subjects", json={"age_category": "adult"},
                            headers=admin)
        verified = httpx2.get(f"{served.url}/v1/audit/verify", headers=admin)
    assert full.status_code == 503, full.text
    assert full.json()["code"] == "data_dir_unusable" and "I/O" not in full.text
    assert "the ledger's storage failed: OperationalError: disk I/O error" in served.output()
    assert freed.status_code == 201, freed.text
    assert verified.json()["ok"] is True, verified.text
