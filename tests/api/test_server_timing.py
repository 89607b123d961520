"""``Server-Timing``: off by default; when a tester turns it on, an identify's answer names the
stages of its time, and ``optinface bench`` splits its HTTP overhead with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.api.cli.overhead_split import FRAMEWORK, OUTSIDE, split
from optinface.api.server_timing import APP_STAGE, HEADER, header_value, parse
from optinface.engine.pipeline import FacePipeline
from tests.support.api import World, auth, deployment, set_up_world

STAGES = {"auth", "consent", "embed", "search"}


def test_no_answer_carries_server_timing_by_default(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    assert HEADER not in world.enrolled_and_identified(portrait_jpegs[0]).headers
    assert HEADER not in world.client.get("/healthz").headers


@pytest.mark.slow
def test_an_identify_names_its_stages_when_server_timing_is_on(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    with deployment(tmp_path, pipeline, server_timing=True) as (_, _, client, keys):
        headers = set_up_world(client, keys).enrolled_and_identified(portrait_jpegs[0]).headers
        stages = parse(headers[HEADER])
        assert set(stages) == STAGES | {APP_STAGE}, stages
        assert all(ms > 0 for ms in stages.values()), stages
        # The stages run inside the application's time, one after the other.
        assert sum(stages[name] for name in STAGES) <= stages[APP_STAGE]
        assert set(parse(client.get("/healthz", headers=auth(keys.admin)).headers[HEADER])) == {
            APP_STAGE}


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
