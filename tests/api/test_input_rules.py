"""What a client may write into the ledger: short texts are one printable line, long texts hold
no control character but line breaks and tabs, a regulator's reference fits its lift route,
dates are plausible. Each refusal is a 422 and leaves nothing stored."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

import pytest

from tests.support.api import World, assert_refused, auth

pytestmark = pytest.mark.shared_deployment

CONTROL = "a\nb\x00"


def _orders(world: World) -> list[dict[str, object]]:
    register = world.client.get("/v1/register", headers=auth(world.keys.admin))
    assert register.status_code == 200, register.text
    return list(register.json()["orders"])


def test_an_order_is_lifted_over_http_by_the_reference_it_was_applied_with(world: World) -> None:
    admin = auth(world.keys.admin)
    reference = "CAI 2026-1.b_7"
    applied = world.client.post("/v1/register/orders", json={"reference": reference},
                                headers=admin)
    assert applied.status_code == 200, applied.text
    lifted = world.client.post(f"/v1/register/orders/{quote(reference)}/lift", headers=admin)
    assert lifted.status_code == 200, lifted.text
    [order] = [o for o in lifted.json()["orders"] if o["reference"] == reference]
    assert order["lifted_at"] is not None


def test_an_order_in_force_is_applied_once_and_lifted_once_over_http(world: World) -> None:
    """The service's rule, as HTTP answers it: a repeat is a 409 ``order_in_force``, a lift of
    an order not in force a 422 ``invalid_request``; neither records anything."""
    admin = auth(world.keys.admin)
    applied = world.client.post("/v1/register/orders", json={"reference": "CAI-20"},
                                headers=admin)
    assert applied.status_code == 200, applied.text
    assert_refused(world.client.post("/v1/register/orders", json={"reference": "CAI-20"},
                                     headers=admin), 409, "order_in_force")
    assert _orders(world) == applied.json()["orders"]
    lifted = world.client.post("/v1/register/orders/CAI-20/lift", headers=admin)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["in_service"]
    for reference in ("CAI-20", "CAI-NEVER"):
        assert_refused(world.client.post(f"/v1/register/orders/{reference}/lift",
                                         headers=admin), 422, "invalid_request")
    assert _orders(world) == lifted.json()["orders"]


@pytest.mark.parametrize("reference", ["CAI/2026 #1?x", "", "..", "X\x00\n", " CAI-1", "CAI-1 "])
def test_a_reference_its_lift_route_cannot_name_is_refused(world: World, reference: str) -> None:
    admin = auth(world.keys.admin)
    before = _orders(world)
    assert_refused(world.client.post("/v1/register/orders", json={"reference": reference},
                                     headers=admin), 422, "validation_error")
    assert_refused(world.client.post(
        "/v1/register/declaration", json={"date": "2026-01-01", "reference": reference},
        headers=admin), 422, "validation_error")
    assert _orders(world) == before


@pytest.mark.parametrize("reference", [" ", "x" * 201, "CAI-1 "])
def test_a_lift_naming_no_possible_reference_is_a_validation_error(
    world: World, reference: str
) -> None:
    lifted = world.client.post(f"/v1/register/orders/{quote(reference)}/lift",
                               headers=auth(world.keys.admin))
    assert_refused(lifted, 422, "validation_error")


def test_no_control_character_reaches_the_register(world: World) -> None:
    admin = auth(world.keys.admin)
    assert_refused(world.client.post(
        "/v1/register/declaration", json={"date": "2026-01-01", "reference": "X\x00\n"},
        headers=admin), 422, "validation_error")
    page = world.client.get("/v1/register", params={"format": "md"}, headers=admin).text
    assert "(reference CAI-2026-001," in page and "\x00" not in page


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1970-01-01"])
def test_a_declaration_dated_outside_the_span_is_refused_and_leaves_the_service_answering(
    world: World, day: str
) -> None:
    """The period is added to the declaration's date on every gate, register and /healthz
    read: a date near the calendar's ends must never be stored."""
    admin = auth(world.keys.admin)
    before = world.client.get("/v1/register", headers=admin).json()["declaration"]
    assert_refused(world.client.post("/v1/register/declaration",
                                     json={"date": day, "reference": "CAI-SPAN"},
                                     headers=admin), 422, "validation_error")
    assert world.client.get("/healthz").status_code == 200
    assert world.client.get("/v1/register", headers=admin).json()["declaration"] == before


def _requests(world: World) -> list[dict[str, object]]:
    answer = world.client.get("/v1/requests", headers=auth(world.keys.admin))
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_a_rights_request_channel_is_one_printable_line(world: World) -> None:
    before = _requests(world)
    for channel in (CONTROL, "letter\r"):
        assert_refused(world.client.post(
            f"/v1/subjects/{world.subject}/requests",
            json={"kind": "access", "channel": channel}, headers=auth(world.subject_token)),
            422, "validation_error")
    assert _requests(world) == before


def test_an_answer_holds_line_breaks_and_tabs_but_no_other_control_character(
    world: World,
) -> None:
    made = world.client.post(f"/v1/subjects/{world.subject}/requests",
                             json={"kind": "access", "note": "first line\r\nsecond\tline"},
                             headers=auth(world.subject_token))
    assert made.status_code == 201, made.text
    path = f"/v1/requests/{made.json()['id']}/answer"
    admin = auth(world.keys.admin)
    # C0, an escape, DEL, C1 (CSI, NEL), a bidi override, and an answer that says nothing.
    for answer in ("sent\x00", "sent\x1b[2J", "sent\x7f", "a\x9b31m\x85b", "sent\u202e",
                   "   ", " \r\n\t"):
        assert_refused(world.client.post(path, json={"answer": answer}, headers=admin),
                       422, "validation_error")
    [stored] = [r for r in _requests(world) if r["id"] == made.json()["id"]]
    assert stored["answer"] is None
    answered = world.client.post(path, json={"answer": "Sent by post.\nRegards,\tthe DPO"},
                                 headers=admin)
    assert answered.status_code == 200, answered.text


def test_a_notice_language_is_a_language_tag(world: World) -> None:
    admin = auth(world.keys.admin)
    before = world.client.get("/v1/notices", headers=admin).json()
    for language in ("xx-\x00", "klingon\x00", "en us", "e", "fr-CA\n"):
        assert_refused(world.client.post(
            "/v1/notices", json={"version": "2", "language": language, "text": "Notice"},
            headers=admin), 422, "validation_error")
    assert_refused(world.client.post(
        "/v1/notices", json={"version": "2\n", "language": "en", "text": "Notice\x00"},
        headers=admin), 422, "validation_error")
    assert world.client.get("/v1/notices", headers=admin).json() == before


def test_a_consent_is_given_in_the_language_of_its_notice(world: World) -> None:
    challenges = f"/v1/subjects/{world.subject}/challenges"
    person = auth(world.subject_token)
    act = world.consent_act()
    assert_refused(world.client.post(challenges, json={**act, "language": "klingon\x00"},
                                     headers=person), 422, "validation_error")
    other = world.client.post(challenges, json={**act, "language": "fr-CA"}, headers=person)
    assert_refused(other, 422, "invalid_request")
    assert other.json()["details"] == {"field": "language", "notice_language": "en"}
    assert world.client.post(challenges, json={**act, "language": "EN"},
                             headers=person).status_code == 200


def test_a_purpose_keeps_its_texts_printable(world: World) -> None:
    admin = auth(world.keys.admin)
    before = world.client.get("/v1/purposes", headers=admin).json()
    body = {"name": "Study Z", "description": "Line one\nline two",
            "legal_basis": "consent", "operations": ["enrol"], "retention_days": 30}
    for bad in ({"legal_basis": CONTROL}, {"study": "z\n"}, {"description": "x\x00"},
                {"description": "x\x85y"}, {"name": " "}, {"legal_basis": "\u00a0"},
                {"name": "\u200b\ufeff"}, {"legal_basis": "\u3164"},
                {"description": " \n "}):
        assert_refused(world.client.post("/v1/purposes", json={**body, **bad}, headers=admin),
                       422, "validation_error")
    assert world.client.get("/v1/purposes", headers=admin).json() == before


@pytest.mark.parametrize(("declared_on", "code"), [
    (date.today() + timedelta(days=2), "invalid_request"),  # the service's clock decides
    (date(9999, 12, 31), "validation_error"),
    (date(1970, 1, 1), "validation_error"),  # before the span of the service's own records
    (date(1, 1, 1), "validation_error"),
])
def test_an_age_is_declared_on_a_plausible_day(world: World, declared_on: date, code: str) -> None:
    assert_refused(world.client.post(
        "/v1/subjects", json={"age_category": "adult", "age_declared_on": declared_on.isoformat()},
        headers=auth(world.keys.portal)), 422, code)


def test_an_age_declared_today_or_in_the_past_is_taken(world: World) -> None:
    for declared_on in (date.today(), date(1970, 1, 2)):
        answer = world.client.post(
            "/v1/subjects",
            json={"age_category": "adult", "age_declared_on": declared_on.isoformat()},
            headers=auth(world.keys.portal))
        assert answer.status_code == 201, answer.text
        world.created.append(answer.json()["pseudonym"])
