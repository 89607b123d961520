"""Findings of the red-team review, each pinned: bare times, subject API keys, re-withdrawal,
cookies off loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.audit import AuditAction
from optinface.consent.errors import InvalidRequest, Unauthenticated
from optinface.consent.identifiers import require_identifiers
from optinface.consent.roles import Role
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from tests.support.api import (
    World,
    auth,
    expire_subject_token,
    page_login,
    portal_session,
)

pytestmark = pytest.mark.shared_deployment

BARE_TIME = (datetime.now() + timedelta(days=30)).replace(microsecond=0).isoformat()


def _refused_as_validation_error(answer: object, field: str) -> None:
    assert answer.status_code == 422, answer.text  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert body["code"] == "validation_error"
    assert [e["type"] for e in body["details"]["errors"] if e["loc"][-1] == field] == [
        "timezone_aware"
    ]


def test_a_consent_expiry_without_a_utc_offset_is_refused(world: World) -> None:
    body = {**world.consent_act(), "expires_at": BARE_TIME}
    answer = world.client.post(
        f"/v1/subjects/{world.subject}/challenges", json=body, headers=auth(world.subject_token)
    )
    _refused_as_validation_error(answer, "expires_at")


def test_an_api_key_is_never_made_for_the_subject_role(world: World, service: OptinFace) -> None:
    answer = world.client.post(
        "/v1/keys", json={"role": "subject", "name": "x"}, headers=auth(world.keys.admin)
    )
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"
    admin = service.authenticate(world.keys.admin)
    with pytest.raises(InvalidRequest):
        service.create_api_key(actor=admin, role=Role.SUBJECT, name="x")


def _withdrawal_events(world: World) -> int:
    events = world.client.get(
        "/v1/audit/events",
        params={"action": "consent_withdrawn"},
        headers=auth(world.keys.reviewer),
    )
    return int(events.json()["total"])


def test_withdrawing_twice_keeps_the_first_withdrawal(world: World) -> None:
    world.consent(world.subject)  # a second consent keeps the subject
    person = world.people[world.subject]
    first = person.withdraw(world.consent_id)
    events = _withdrawal_events(world)
    again = person.withdraw(world.consent_id)
    assert again["consent"]["withdrawn_at"] == first["consent"]["withdrawn_at"]
    assert again["templates_erased"] == 0 and not again["subject_erased"]
    assert _withdrawal_events(world) == events


@pytest.mark.parametrize(
    ("host", "secure"),
    [("127.0.0.1", False), ("::1", False), ("[::1]", False), ("localhost", False),
     ("0.0.0.0", True), ("10.1.2.3", True), ("[2001:db8::1]", True), ("example.org", True)],
)
def test_page_cookies_are_secure_off_loopback(
    api_settings: ApiSettings, service: OptinFace, host: str, secure: bool
) -> None:
    settings = api_settings.model_copy(update={"host": host})
    with TestClient(create_app(settings, service=service)) as client:
        cookie = client.get("/portal").headers["set-cookie"]
    assert ("Secure" in cookie) is secure


@pytest.mark.parametrize("tls", [False, True])
def test_page_cookies_are_secure_where_this_server_speaks_tls_even_on_loopback(
    api_settings: ApiSettings, service: OptinFace, tmp_path: Path, tls: bool
) -> None:
    """Its pages are https then, whatever address it listens on; the language a ``?lang=``
    chose is remembered in a cookie marked alike."""
    files = {"tls_cert": tmp_path / "cert.pem", "tls_key": tmp_path / "key.pem"} if tls else {}
    settings = api_settings.model_copy(update={"host": "127.0.0.1", **files})
    with TestClient(create_app(settings, service=service)) as client:
        cookies = [client.get("/portal").headers["set-cookie"],
                   client.get("/privacy", params={"lang": "fr"}).headers["set-cookie"]]
    assert "optinface_lang=fr" in cookies[1]
    assert [("Secure" in cookie) for cookie in cookies] == [tls, tls]


def _audit_total(world: World) -> int:
    # The chain check counts the events without reading them (a read of the events would be
    # logged itself and change the count).
    status = world.client.get("/v1/audit/verify", headers=auth(world.keys.reviewer))
    return int(status.json()["events"])


HUGE = "x" * 1_000_000


def test_an_oversized_identifier_is_refused_before_anything_is_logged(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    files = {"image": ("face.jpg", portrait_jpegs[0], "image/jpeg")}
    researcher = auth(world.keys.researcher)
    probe = world.probe_consent(portrait_jpegs[0])
    before = _audit_total(world)
    attempts = [
        world.client.post(
            "/v1/identify",
            data={"purpose_id": HUGE, "probe_consent_id": probe},
            files=files,
            headers=researcher,
        ),
        world.client.post(
            "/v1/verify",
            data={"subject": HUGE, "purpose_id": world.purpose_id, "probe_consent_id": probe},
            files=files,
            headers=researcher,
        ),
        world.client.post(
            "/v1/identify",
            data={"purpose_id": "pur_<script>", "probe_consent_id": probe},
            files=files,
            headers=researcher,
        ),
        world.client.get(f"/v1/subjects/{'s' * 5000}", headers=auth(world.keys.portal)),
        world.client.post(
            f"/v1/subjects/{world.subject}/consents",
            json={"ceremony_id": HUGE, "credential": {}},
            headers=auth(world.subject_token),
        ),
        world.client.post(
            "/v1/keys", json={"role": "researcher", "name": "a\nb"}, headers=auth(world.keys.admin)
        ),
    ]
    assert [a.status_code for a in attempts] == [422] * len(attempts)
    assert {a.json()["code"] for a in attempts} == {"validation_error"}
    assert all(len(a.content) < 2000 for a in attempts)  # the value is never echoed
    assert _audit_total(world) == before


def test_a_pseudonym_ending_in_a_newline_is_refused_before_anything_is_logged(
    world: World,
) -> None:
    """Python's ``$`` matches before a final newline: ``subj_dead\n`` passed as an identifier
    and its refusal stored the newline in the audit log. The route's own check refuses it now,
    and the use cases' check (the CLI's and a notebook's way in) matches whole as well."""
    before = _audit_total(world)
    answer = world.client.post(
        "/v1/subjects/subj_dead%0A/challenges",
        json={"act": "enrol", "consent_id": world.consent_id, "photo_sha256": "0" * 64},
        headers=auth(world.keys.portal),
    )
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error", answer.text
    assert "\n" not in answer.text and "\\n" not in answer.text
    assert _audit_total(world) == before
    with pytest.raises(InvalidRequest):
        require_identifiers(subject="subj_dead\n")


@pytest.mark.parametrize("name", ["lab\n", "a\u0085b", "a\u2028b", "a\u2029b", "a\u202eb",
                                  "a\u2067b", "a\x9bb"])
def test_a_key_name_with_a_line_break_or_a_bidi_control_is_refused(
    world: World, name: str
) -> None:
    answer = world.client.post(
        "/v1/keys", json={"role": "researcher", "name": name}, headers=auth(world.keys.admin)
    )
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error", answer.text


def test_the_core_refuses_an_oversized_identifier_without_a_record(
    world: World, service: OptinFace, portrait_jpegs: list[bytes]
) -> None:
    researcher = service.authenticate(world.keys.researcher)
    probe = world.probe_consent(portrait_jpegs[0])
    before = _audit_total(world)
    with pytest.raises(InvalidRequest) as refused:
        service.identify(
            actor=researcher,
            purpose_id=HUGE,
            probe_consent_id=probe,
            image=portrait_jpegs[0],
        )
    assert refused.value.details == {"field": "purpose"}
    assert _audit_total(world) == before


def _login_failure_events(service: OptinFace, world: World) -> list[dict[str, object]]:
    reviewer = service.authenticate(world.keys.reviewer)
    page = service.audit_events(
        actor=reviewer, filters=AuditFilter(action=AuditAction.LOGIN_FAILURE), limit=1000
    )
    return [event.details for event in page.events]


def _failures_logged(service: OptinFace, world: World) -> int:
    """Failed authentications the audit log counts so far (the pending tally flushed first)."""
    service.flush_auth_failures()
    return sum(int(e["failures"]) for e in _login_failure_events(service, world))  # type: ignore[call-overload]


@contextmanager
def _guesser(api_settings: ApiSettings, service: OptinFace, *, burst: int,
             address: str) -> Iterator[TestClient]:
    """A client at ``address`` on an app on ``service`` where a client's ``burst`` failed
    authentications make it wait (its ``app``, for another client of the same server)."""
    tight = api_settings.model_copy(
        update={"auth_failures_per_minute": 0.01, "auth_failure_burst": burst})
    with TestClient(create_app(tight, service=service), client=(address, 4000)) as guesser:
        yield guesser


def test_failed_authentications_are_throttled_per_client_before_authenticating(
    api_settings: ApiSettings, service: OptinFace, world: World
) -> None:
    before = _failures_logged(service, world)
    with _guesser(api_settings, service, burst=3, address="192.0.2.7") as guesser:
        # A good key used first: its row is kept, so it answers without reading the ledger.
        assert guesser.get("/v1/purposes", headers=auth(world.keys.admin)).status_code == 200
        guesses = [
            guesser.get("/v1/purposes", headers=auth(f"key_{n:016x}.guess")).status_code
            for n in range(6)
        ]
        # Refused before its secret is looked at: even a good key, kept or not, waits now.
        good_from_guesser = guesser.get("/v1/purposes", headers=auth(world.keys.admin))
    with TestClient(guesser.app, client=("192.0.2.8", 4000)) as other:  # the same server
        good_from_other = other.get("/v1/purposes", headers=auth(world.keys.admin))
    assert guesses == [401, 401, 401, 429, 429, 429]
    assert good_from_guesser.status_code == 429
    assert good_from_guesser.json()["code"] == "rate_limited"
    assert int(good_from_guesser.headers["Retry-After"]) >= 1
    assert good_from_other.status_code == 200
    after = _failures_logged(service, world)
    assert after - before == 3  # the throttled guesses never reached the consent core


def test_failed_authentications_are_aggregated_in_the_audit_log(
    service: OptinFace, world: World
) -> None:
    service.flush_auth_failures()
    events_before = len(_login_failure_events(service, world))
    for n in range(25):
        with pytest.raises(Unauthenticated):
            service.authenticate(f"key_{n:016x}.guess")
    # At most one event while the window is open (the first failure of a quiet period).
    assert len(_login_failure_events(service, world)) - events_before <= 1
    service.flush_auth_failures()
    new = _login_failure_events(service, world)[events_before:]
    assert 1 <= len(new) <= 2
    assert sum(int(e["failures"]) for e in new) == 25  # type: ignore[call-overload]
    assert all(e["key_ids"] == [] for e in new)  # unknown key ids are not the attacker's to log


def test_every_refused_credential_gets_the_same_401(world: World, service: OptinFace) -> None:
    admin = auth(world.keys.admin)
    made = world.client.post("/v1/keys", json={"role": "researcher", "name": "lab"}, headers=admin)
    revoked = made.json()["secret"]
    assert (
        world.client.delete(f"/v1/keys/{made.json()['key_id']}", headers=admin).status_code == 204
    )
    other, expired = world.new_subject()
    expire_subject_token(service, expired, pseudonym=other)
    unknown = "key_0123456789abcdef.not-a-secret"
    wrong = world.keys.researcher[:-4] + "AAAA"
    answers = [
        world.client.get("/v1/purposes", headers=auth(secret))
        for secret in (revoked, unknown, wrong, "malformed")
    ]
    answers.append(world.client.get(f"/v1/subjects/{other}", headers=auth(expired)))
    answers.append(world.client.get("/v1/purposes"))
    assert {a.status_code for a in answers} == {401}
    assert len({a.content for a in answers}) == 1, {a.text for a in answers}


def test_the_core_refuses_a_key_name_that_is_not_one_printable_line(
    world: World, service: OptinFace
) -> None:
    admin = service.authenticate(world.keys.admin)
    for name in ("", "a\nb", "x" * 201, "lab\n", "a\u0085b", "a\u2028b", "a\u2029b",
                 "a\u202eb", "a\u2066b", "a\x9bb"):
        with pytest.raises(InvalidRequest):
            service.create_api_key(actor=admin, role=Role.RESEARCHER, name=name)


def test_failed_page_logins_are_throttled_per_client_too(
    api_settings: ApiSettings, service: OptinFace, world: World
) -> None:
    before = _failures_logged(service, world)
    with _guesser(api_settings, service, burst=2, address="192.0.2.9") as guesser:
        answers = []
        for secret in [*(f"key_{n:016x}.guess" for n in range(3)), world.keys.reviewer]:
            form = guesser.get("/review")
            csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
            answers.append(guesser.post("/review/login", data={"token": secret, "csrf": csrf},
                                        follow_redirects=False))
    after = _failures_logged(service, world)
    assert after - before == 2  # the last two never reached the consent core
    assert [a.status_code for a in answers] == [401, 401, 429, 429]
    assert all("does not open this area" in a.text for a in answers[:2])
    # Throttled, even the right key is told to wait, not that it is wrong.
    assert all("Please wait a minute" in a.text and int(a.headers["Retry-After"]) >= 1
               for a in answers[2:])


BEYOND_THE_LEDGER = 2**63  # one past the largest integer a ledger column holds


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/audit/consistency", {"first": BEYOND_THE_LEDGER}),
    ("/v1/audit/consistency", {"first": 1, "second": BEYOND_THE_LEDGER}),
    ("/v1/audit/events", {"offset": BEYOND_THE_LEDGER}),
])
def test_a_position_beyond_the_ledger_is_a_validation_error_not_a_server_error(
    world: World, path: str, params: dict[str, int],
) -> None:
    """Found by schemathesis: a tree size past 2**63 - 1 reached SQLite and overflowed (500)."""
    answer = world.client.get(path, params=params, headers=auth(world.keys.reviewer))
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error", answer.text


def test_a_template_to_replace_beyond_the_ledger_is_a_validation_error_not_a_server_error(
    world: World,
) -> None:
    """``replaces`` 2**63 reached ``session.get``: OverflowError on SQLite, out of range on
    PostgreSQL, a 500 either way."""
    act = {"act": "enrol", "consent_id": world.consent_id, "photo_sha256": "0" * 64,
           "replaces": BEYOND_THE_LEDGER}
    answer = world.client.post(f"/v1/subjects/{world.subject}/challenges", json=act,
                               headers=auth(world.keys.portal))
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error", answer.text


@pytest.mark.parametrize(("act", "key"), [
    ({"act": "enrol", "photo_sha256": "0" * 64, "replaces": True}, "portal"),  # not template 1
    ({"act": "enrol", "photo_sha256": "0" * 64, "replaces": "1"}, "portal"),
    ({"act": "searchable", "searchable": "yes"}, "subject"),
    ({"act": "searchable", "searchable": 1}, "subject"),
])
def test_what_a_person_signs_is_never_coerced_from_another_type(
    world: World, act: dict[str, object], key: str
) -> None:
    secret = world.keys.portal if key == "portal" else world.subject_token
    answer = world.client.post(f"/v1/subjects/{world.subject}/challenges",
                               json={"consent_id": world.consent_id, **act}, headers=auth(secret))
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error", answer.text


def test_a_dashboard_page_beyond_the_ledger_is_refused_on_the_page(world: World) -> None:
    page_login(world.client, "review", world.keys.reviewer)
    answer = world.client.get("/review/log", params={"page": BEYOND_THE_LEDGER})
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize("page", ["²", "٣", "9" * 5000, "0", "x"])
def test_a_dashboard_page_that_is_not_an_ascii_number_is_refused_on_the_page(
    world: World, page: str
) -> None:
    """A page "²" passed ``str.isdigit`` and made ``int`` raise: a 500, not the refusal page."""
    page_login(world.client, "review", world.keys.reviewer)
    answer = world.client.get("/review/log", params={"page": page})
    assert answer.status_code == 422 and "validation_error" in answer.text, answer.text


@pytest.mark.parametrize("csrf", ["é", "\u202e", "wrong"])
def test_a_login_csrf_token_with_any_character_is_refused_like_a_wrong_one(
    world: World, csrf: str
) -> None:
    """Found by fuzzing: ``compare_digest`` raises TypeError on a non-ASCII str (a 500)."""
    world.client.cookies.clear()
    world.client.get("/review")
    answer = world.client.post("/review/login", data={"token": world.keys.admin, "csrf": csrf},
                               follow_redirects=False)
    assert answer.status_code == 401, answer.text
    assert "The form expired" in answer.text


@pytest.mark.parametrize("csrf", ["é", "\u202e", "wrong"])
def test_a_session_csrf_token_with_any_character_is_refused_like_a_wrong_one(
    world: World, csrf: str
) -> None:
    portal_session(world.client, world.people[world.subject])
    answer = world.client.post("/portal/token", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 403, answer.text
