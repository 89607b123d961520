"""``Server-Timing``: off by default; when a tester turns it on, an identify's answer names the
stages of its time, and ``optinface bench`` splits its HTTP overhead with them."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from optinface.api.app import create_app
from optinface.api.cli.overhead_split import FRAMEWORK, OUTSIDE, split
from optinface.api.server_timing import APP_STAGE, HEADER, header_value, parse
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from optinface.engine.stopwatch import recording, stage
from tests.support.api import World, auth

pytestmark = pytest.mark.shared_deployment

STAGES = {"auth", "consent", "embed", "search"}


def test_no_answer_carries_server_timing_by_default(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    assert HEADER not in world.enrolled_and_identified(portrait_jpegs[0]).headers
    assert HEADER not in world.client.get("/healthz").headers


def test_an_identify_names_its_stages_when_server_timing_is_on(
    api_settings: ApiSettings, service: OptinFace, world: World, portrait_jpegs: list[bytes]
) -> None:
    timed = api_settings.model_copy(update={"server_timing": True})
    with TestClient(create_app(timed, service=service)) as client:
        world.client = client
        headers = world.enrolled_and_identified(portrait_jpegs[0]).headers
        stages = parse(headers[HEADER])
        assert set(stages) == STAGES | {APP_STAGE}, stages
        assert all(ms > 0 for ms in stages.values()), stages
        # The stages run inside the application's time, one after the other.
        assert sum(stages[name] for name in STAGES) <= stages[APP_STAGE]
        health = client.get("/healthz", headers=auth(world.keys.admin))
        assert set(parse(health.headers[HEADER])) == {APP_STAGE}


def test_a_stage_inside_another_counts_as_itself_only() -> None:
    """The probe consent is spent from inside the embedding (once the engine admitted the
    upload): that time is the consent's, not the embedding's as well, so the stages still add
    up to no more than the request."""
    with recording() as stages:
        with stage("embed"), stage("consent"):
            time.sleep(0.02)
    assert stages["consent"] >= 0.02 and stages["embed"] < stages["consent"] / 2, stages


def test_a_header_reads_back_as_written() -> None:
    stages = {"auth": 0.0005, "embed": 0.0152, APP_STAGE: 0.02}
    assert parse(header_value(stages)) == {"auth": 0.5, "embed": 15.2, APP_STAGE: 20.0}


def test_the_split_gives_the_framework_and_the_outside_what_the_stages_leave() -> None:
    calls = [0.025, 0.030, 0.040]
    stages = [{"embed": 15.0, "search": 3.0, APP_STAGE: 20.0},
              None,  # a call the server answered without the header is left out
              {"embed": 16.0, "search": 4.0, APP_STAGE: 24.0}]
    assert split(calls, stages) == {"embed": 15.5, "search": 3.5, FRAMEWORK: 3.0,
                                    OUTSIDE: 10.5}
    assert split(calls[:1], [None]) is None
