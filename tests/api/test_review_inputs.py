"""Whatever a reviewer types into a dashboard address, the answer is the refusal page (422),
never a server error: on SQLite and on PostgreSQL, which refuses a NUL in any text it is sent."""

from __future__ import annotations

import pytest

from tests.support.api import World, page_login
from tests.support.backends import on_both_backends

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

MALFORMED_FILTERS = [
    "/review/log?subject=a%20b",
    "/review/log?subject=" + "a" * 65,
    "/review/log?purpose=%C3%A9",
    "/review/log?actor=a%20b",
    "/review/log?outcome=%00",
    "/review/log.csv?subject=a%20b",
    "/review/subjects/%00",
    "/review/subjects/a%20b",
    "/review/erasures/%00",
    "/review/erasures/" + "x" * 300,
    "/review/log?since=2026-03-02&until=2026-03-01",  # backwards: would select nothing
    "/review/searches?since=2026-03-02&until=2026-03-01",
]

DAYS_BEYOND_THE_CALENDAR = [
    "/review/log?until=9999-12-31",
    "/review/log?since=0001-01-01",
    "/review/log.csv?until=9999-12-31",
    "/review/searches?since=9999-12-30&until=9999-12-31",
    "/review/searches?since=0001-01-01&until=0001-01-02",
    "/review/searches.csv?until=0001-01-01",
    "/review/erasures?month=0001-01",
    "/review/erasures?month=9999-12",
    "/review/erasures.json?month=9999-12",
    "/review/log?since=1970-01-01",  # not whole in the span east of UTC
    "/review/log?until=2999-12-31",  # nor west of it
    "/review/erasures?month=1970-01",
]


@pytest.mark.parametrize("path", MALFORMED_FILTERS)
def test_a_malformed_filter_is_refused_on_the_page(world: World, path: str) -> None:
    page_login(world.client, "review", world.keys.reviewer)
    answer = world.client.get(path)
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize("path", DAYS_BEYOND_THE_CALENDAR)
def test_a_day_outside_the_years_the_service_computes_with_is_refused_on_the_page(
    world: World, path: str
) -> None:
    """A page adds a day or a month to the day typed and converts it to UTC: near year 1 or
    9999 that overflowed (a 500); the refusal names the first and last days it takes."""
    page_login(world.client, "review", world.keys.reviewer)
    answer = world.client.get(path)
    assert answer.status_code == 422 and "the days 1970-01-02 to 2999-12-30" in answer.text, (
        answer.text)


def test_the_last_and_first_days_of_the_span_are_answered(world: World) -> None:
    page_login(world.client, "review", world.keys.reviewer)
    for path in ("/review/log?since=1970-01-02&until=2999-12-30",
                 "/review/searches?since=2999-12-01&until=2999-12-30",
                 "/review/erasures?month=1970-02", "/review/erasures?month=2999-12"):
        assert world.client.get(path).status_code == 200, path


@pytest.mark.parametrize("path", ["/review/erasures.json?month=-1",
                                  "/review/erasures.json?month=9999-12"])
def test_a_json_download_is_refused_in_the_apis_json_shape(world: World, path: str) -> None:
    """Bad-input test 18, observation 6: the JSON download's refusal was the HTML page; its
    reader is a program, so it is answered as the API answers, {code, message, details}."""
    page_login(world.client, "review", world.keys.reviewer)
    answer = world.client.get(path)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert sorted(body) == ["code", "details", "message"] and body["code"] == "validation_error"
