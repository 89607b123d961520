"""The person lists and revokes their own API tokens, over the API and in the portal.

A revoked token is refused at once, by every worker, and a row put back from a copy of the
ledger acts for no one (its id is journaled); the person's other tokens keep working; another
subject's token can neither list nor revoke them; the log names the ids, never a secret. Over
the API a token revokes itself or all, never one other alone: the portal picks which to keep.
Each token shows the day it was last used, written once a day at most, best effort.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from optinface.consent import apikeys, erasure_journal
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.support.api import (
    World,
    assert_refused,
    auth,
    deployment,
    portal_session,
    set_up_world,
)
from tests.support.backends import on_both_backends
from tests.support.consent import (
    FakeClock,
    drop_triggers,
    outside_copy,
    outside_put_back,
    refuse_updates,
)
from tests.support.statements import token_updates

pytestmark = [pytest.mark.shared_deployment, on_both_backends]


def _id(secret: str) -> str:
    return secret.split(".")[0]


def _works(client: TestClient, subject: str, secret: str) -> int:
    """The status of reading the subject's record with ``secret``."""
    return client.get(f"/v1/subjects/{subject}", headers=auth(secret)).status_code


def _second_token(world: World) -> str:
    """Another API token of the world's person, from a fresh passkey sign-in."""
    return str(world.people[world.subject].sign_in()["subject_token"])


def _listed(world: World, secret: str) -> dict[str, dict[str, Any]]:
    """The person's tokens as the API lists them to ``secret``, by id."""
    listed = world.client.get(f"/v1/subjects/{world.subject}/tokens", headers=auth(secret))
    assert listed.status_code == 200, listed.text
    return {t["token_id"]: t for t in listed.json()}



@pytest.fixture
def clocked(request: pytest.FixtureRequest, module_deployment: object, tmp_path: Path,
            pipeline: FacePipeline) -> Iterator[tuple[World, FakeClock, OptinFace]]:
    """A deployment of the test's own, on the backend of this run of the module (the
    parameter of ``module_deployment``, left unopened), on a clock that moves only when told:
    the shared deployment's is the system's, and days must pass. It starts at one in the
    morning of tomorrow, so that an hour's step stays within a day whatever the hour the suite
    runs (from now, it crossed midnight when run after eleven at night)."""
    del module_deployment  # asked for its parameter alone
    backend = request.node.callspec.params["module_deployment"]
    url = None if backend == "sqlite" else request.getfixturevalue("postgres").new_database()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    clock = FakeClock(tomorrow.replace(hour=1, minute=0, second=0, microsecond=0))
    with deployment(tmp_path, pipeline, clock=clock, database_url=url) as (_, service, client,
                                                                            keys):
        yield set_up_world(client, keys), clock, service


def _events(world: World, action: str) -> list[dict[str, Any]]:
    found = world.client.get("/v1/audit/events", headers=auth(world.keys.reviewer),
                             params={"subject": world.subject, "action": action})
    assert found.status_code == 200, found.text
    events: list[dict[str, Any]] = found.json()["events"]
    return events


def test_the_person_lists_their_tokens_with_the_passkey_that_issued_each_never_a_secret(
    world: World,
) -> None:
    first, second = world.subject_token, _second_token(world)
    listed = world.client.get(f"/v1/subjects/{world.subject}/tokens", headers=auth(second))
    assert listed.status_code == 200, listed.text
    tokens = {t["token_id"]: t for t in listed.json()}
    assert set(tokens) == {_id(first), _id(second)}
    assert [tokens[_id(first)]["current"], tokens[_id(second)]["current"]] == [False, True]
    [signed_in, *_] = _events(world, "passkey_sign_in")
    assert {t["issued_by"] for t in tokens.values()} == {signed_in["details"]["credential_hash"]}
    assert first not in listed.text and second not in listed.text


def test_a_token_revokes_itself_at_once_and_the_others_still_erase_and_copy(
    world: World,
) -> None:
    first, second = world.subject_token, _second_token(world)
    revoked = world.client.delete(f"/v1/subjects/{world.subject}/tokens/{_id(first)}",
                                  headers=auth(first))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"revoked": [_id(first)]}
    assert_refused(world.client.get(f"/v1/subjects/{world.subject}", headers=auth(first)),
                   401, "unauthenticated")
    copied = world.client.get(f"/v1/subjects/{world.subject}/export?vectors=true",
                              headers=auth(second))
    assert copied.status_code == 200, copied.text
    [event] = _events(world, "subject_token_revoked")
    assert event["details"] == {"token_ids": [_id(first)]}
    assert first.split(".")[1] not in str(event)
    erased = world.client.delete(f"/v1/subjects/{world.subject}", headers=auth(second))
    assert erased.status_code == 200, erased.text


def test_revoking_all_ends_every_token_the_asking_one_included(world: World) -> None:
    first, second = world.subject_token, _second_token(world)
    revoked = world.client.delete(f"/v1/subjects/{world.subject}/tokens",
                                  headers=auth(second))
    assert revoked.status_code == 200, revoked.text
    assert sorted(revoked.json()["revoked"]) == sorted([_id(first), _id(second)])
    assert [_works(world.client, world.subject, t) for t in (first, second)] == [401, 401]
    third = _second_token(world)  # the passkey signs the person in again
    assert _works(world.client, world.subject, third) == 200


def test_a_token_revoking_one_other_alone_is_refused_and_both_still_work(world: World) -> None:
    """A thief holding one token must not cut the person's others off and keep it: over the
    API a token revokes itself or all, and which to keep is picked in the portal."""
    first, second = world.subject_token, _second_token(world)
    refused = world.client.delete(f"/v1/subjects/{world.subject}/tokens/{_id(first)}",
                                  headers=auth(second))
    assert_refused(refused, 403, "revoke_other_in_portal")
    assert refused.json()["details"] == {"token_id": _id(first)}
    assert [_works(world.client, world.subject, t) for t in (first, second)] == [200, 200]
    assert set(_listed(world, second)) == {_id(first), _id(second)}
    assert _events(world, "subject_token_revoked") == []
    [chained] = [e for e in _events(world, "refused")
                 if e["details"]["attempted"] == "subject_token_revoked"]
    assert chained["outcome"] == "revoke_other_in_portal", chained


def test_another_subjects_token_neither_lists_nor_revokes_and_no_operator_key_does(
    world: World,
) -> None:
    mine = world.subject_token
    other, other_token = world.new_subject()
    tokens = f"/v1/subjects/{world.subject}/tokens"
    for answer in (world.client.get(tokens, headers=auth(other_token)),
                   world.client.delete(tokens, headers=auth(other_token)),
                   world.client.delete(f"{tokens}/{_id(mine)}", headers=auth(other_token))):
        assert_refused(answer, 403, "forbidden")
    # Under their own pseudonym, the id of someone else's token is no token of theirs.
    assert_refused(world.client.delete(f"/v1/subjects/{other}/tokens/{_id(mine)}",
                                       headers=auth(other_token)), 404, "not_found")
    assert_refused(world.client.get(tokens, headers=auth(world.keys.admin)),
                   403, "subject_credential_required")
    assert _works(world.client, world.subject, mine) == 200


def test_an_operator_reading_a_persons_tokens_is_refused_naming_a_read_permission(
    world: World,
) -> None:
    """Black box 21, #4: the refusal named ``update_subject``, a write, for a read. The list is
    the person's own (``read_tokens``, held by their token alone); revoking stays a write."""
    tokens = f"/v1/subjects/{world.subject}/tokens"
    for key in (world.keys.admin, world.keys.portal):
        listed = world.client.get(tokens, headers=auth(key))
        assert_refused(listed, 403, "subject_credential_required")
        assert listed.json()["details"]["permission"] == "read_tokens", listed.text
        assert "may not read_tokens: only the person" in listed.json()["message"], listed.text
        revoked = world.client.delete(tokens, headers=auth(key))
        assert_refused(revoked, 403, "subject_credential_required")
        assert revoked.json()["details"]["permission"] == "update_subject", revoked.text
    assert world.client.get(tokens, headers=auth(world.subject_token)).status_code == 200


def test_a_token_revoked_on_one_worker_is_refused_by_another_and_a_row_put_back_too(
    world: World, service: OptinFace, worker_b: TestClient,
) -> None:
    first, second = world.subject_token, _second_token(world)
    copy = [row for row in outside_copy(service, "subject_tokens") if row["id"] == _id(first)]
    assert _works(worker_b, world.subject, first) == 200
    revoked = world.client.delete(f"/v1/subjects/{world.subject}/tokens/{_id(first)}",
                                  headers=auth(first))
    assert revoked.status_code == 200, revoked.text
    assert _works(worker_b, world.subject, first) == 401
    outside_put_back(service, "subject_tokens", copy)  # a copy of the ledger restored
    assert [_works(c, world.subject, first) for c in (world.client, worker_b)] == [401, 401]
    listed = worker_b.get(f"/v1/subjects/{world.subject}/tokens", headers=auth(second))
    assert [t["token_id"] for t in listed.json()] == [_id(second)]
    assert _works(worker_b, world.subject, second) == 200
    runtime = service.runtime  # what the next start replays: the row put back goes again
    with runtime.db.transaction() as session:
        apikeys.revoke_again(erasure_journal.entries(runtime.settings.witness_dir), session,
                             keys=runtime.keys)
    assert not [row for row in outside_copy(service, "subject_tokens") if row["id"] == _id(first)]


def test_the_portal_lists_the_tokens_and_revokes_one_or_all_but_its_own_session(
    world: World,
) -> None:
    person = world.people[world.subject]
    first, second = world.subject_token, _second_token(world)
    csrf = portal_session(world.client, person)
    page = world.client.get("/portal").text
    assert f'id="token-{_id(first)}"' in page and f'id="token-{_id(second)}"' in page
    assert first not in page and second not in page
    forged = world.client.post("/portal/tokens/revoke", data={
        "csrf": "not-the-session's", "token_id": _id(first)}, follow_redirects=False)
    assert forged.status_code == 403, forged.text
    assert _works(world.client, world.subject, first) == 200
    one = world.client.post("/portal/tokens/revoke", data={"csrf": csrf, "token_id": _id(first)},
                            follow_redirects=False)
    assert one.status_code == 303, one.text
    assert _works(world.client, world.subject, first) == 401
    assert _works(world.client, world.subject, second) == 200
    everything = world.client.post("/portal/tokens/revoke", data={"csrf": csrf},
                                   follow_redirects=False)
    assert everything.status_code == 303, everything.text
    assert _works(world.client, world.subject, second) == 401
    page = world.client.get("/portal?done=revoked")
    assert 'id="tokens-revoked"' in page.text  # still signed in: its session's token stays
    assert f'id="token-{_id(second)}"' not in page.text


def test_the_portal_shows_the_day_each_token_was_last_used(world: World) -> None:
    person = world.people[world.subject]
    used, fresh = world.subject_token, _second_token(world)
    assert _works(world.client, world.subject, used) == 200
    portal_session(world.client, person)
    page = world.client.get("/portal").text
    day = _listed(world, used)[_id(used)]["last_used_on"]
    shown = page.split(f'id="token-{_id(used)}-used">')[1].split("</span>")[0]
    assert shown == f"Last used on {datetime.fromisoformat(day).strftime('%a %-d %b %Y')} (UTC)."
    assert "No use recorded yet." in page.split(f'id="token-{_id(fresh)}-used">')[1]


def test_a_tokens_last_use_is_its_day_written_once_that_day_and_again_the_next(
    clocked: tuple[World, FakeClock, OptinFace],
) -> None:
    world, clock, service = clocked
    fresh = _second_token(world)  # issued by a sign-in, used by no request yet
    assert _listed(world, world.subject_token)[_id(fresh)]["last_used_on"] is None
    with token_updates(service) as first_use:
        assert _works(world.client, world.subject, fresh) == 200
    assert len(first_use) == 1
    today = clock.now().date().isoformat()
    assert _listed(world, world.subject_token)[_id(fresh)]["last_used_on"] == today
    clock.advance(hours=1)  # the same day
    with token_updates(service) as same_day:
        assert _works(world.client, world.subject, fresh) == 200
    assert same_day == []
    [row] = [r for r in outside_copy(service, "subject_tokens") if r["id"] == _id(fresh)]
    assert str(row["last_used_on"]) == today  # a day, nothing finer
    clock.advance(days=1)
    with token_updates(service) as next_day:
        assert _works(world.client, world.subject, fresh) == 200
    assert len(next_day) == 1
    assert _listed(world, fresh)[_id(fresh)]["last_used_on"] == clock.now().date().isoformat()


def test_a_last_use_that_cannot_be_written_leaves_authentication_as_it_was_logged_once(
    clocked: tuple[World, FakeClock, OptinFace], caplog: pytest.LogCaptureFixture,
) -> None:
    world, clock, service = clocked
    fresh = _second_token(world)
    refuse_updates(service, "subject_tokens")  # as a read-only replica refuses every write
    try:
        with caplog.at_level(logging.ERROR, logger="optinface.consent.token_use"):
            assert _works(world.client, world.subject, fresh) == 200
            clock.advance(days=1)
            assert _works(world.client, world.subject, fresh) == 200
            assert _works(world.client, world.subject, f"{_id(fresh)}.not-its-secret") == 401
        [row] = [r for r in outside_copy(service, "subject_tokens") if r["id"] == _id(fresh)]
        assert row["last_used_on"] is None
    finally:
        drop_triggers(service, "subject_tokens")
    said = [r for r in caplog.records if r.name == "optinface.consent.token_use"]
    assert len(said) == 1 and "could not be recorded" in said[0].getMessage()
    assert _listed(world, fresh)[_id(fresh)]["last_used_on"] == clock.now().date().isoformat()


def test_on_postgresql_a_last_use_waits_for_no_long_writer_and_the_token_still_works(
    clocked: tuple[World, FakeClock, OptinFace],
) -> None:
    """Another worker's long write holds the ledger's lock: the token's first use of the day
    answers while it is still held (an event, not a timing), its day left for a later use."""
    world, _, service = clocked
    if not service.runtime.db.shared:
        pytest.skip("SQLite: one process writes, and a write waits its busy timeout")
    fresh = _second_token(world)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with service.runtime.db.transaction():
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(60)
        assert _works(world.client, world.subject, fresh) == 200
        still_held = holder.is_alive()
    finally:
        release.set()
        holder.join(60)
    assert still_held
    [row] = [r for r in outside_copy(service, "subject_tokens") if r["id"] == _id(fresh)]
    assert row["last_used_on"] is None
