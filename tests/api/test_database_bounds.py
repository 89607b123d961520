"""What a request sends into a lookup or a column fits both databases: PostgreSQL refuses a NUL
in any text and holds 32 bits in an ``Integer`` column, where SQLite takes both, so a value past
either was a 500 on PostgreSQL alone. Each is refused as the malformed input it is, without
being echoed back. Found by fuzzing the OpenAPI schema on both backends."""

from __future__ import annotations

import pytest

from tests.support.api import World, assert_refused, auth
from tests.support.backends import on_both_backends

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

NOT_AN_ID = ["cap\x00x", "x" * 65, "cap\nx", "cap\u202ex"]


@pytest.mark.parametrize("capture_id", NOT_AN_ID)
def test_a_capture_id_that_cannot_be_one_is_refused_unechoed(
    world: World, portrait_jpegs: list[bytes], capture_id: str
) -> None:
    answer = world.client.post(
        f"/v1/subjects/{world.subject}/faces", data={"capture_id": capture_id},
        files={"image": ("x.jpg", portrait_jpegs[0], "image/jpeg")},
        headers=auth(world.keys.portal))
    assert_refused(answer, 422, "validation_error")
    assert capture_id not in answer.text


@pytest.mark.parametrize("route", ["/v1/passkeys/registration-options",
                                   "/v1/probe-links/registration-options",
                                   "/v1/probe-links/subject-challenge"])
def test_a_link_whose_id_cannot_be_one_is_unknown(world: World, route: str) -> None:
    answer = world.client.post(route, json={"link": "otl_lnk_\x00.secret-part"})
    assert_refused(answer, 410, "link_invalid")
