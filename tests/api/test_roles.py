"""Every route × every role: the matrix is generated from ``app.routes`` and the consent core's
permission table, so a new route without a guard, or a guard with the wrong permission, fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from optinface.consent.roles import (
    ABOUT_NO_SUBJECT,
    FOR_THE_PERSON,
    PERMISSIONS,
    Permission,
    Role,
)
from optinface.engine.pipeline import FacePipeline
from tests.support.api import World, auth, deployment, set_up_world
from tests.support.routes import permissions, unopened_app

# Routes that authenticate otherwise (the pages use sessions; a person's one-time link, then
# their passkey, is their credential) or not at all, on purpose.
UNGUARDED = re.compile(
    r"^(/healthz|/\.well-known/optinface-keys\.json|/openapi\.json|/docs.*|/redoc"
    r"|/portal.*|/review.*|/privacy|/privacy\.json|/privacy/policy.*|/passkey|/probe"
    r"|/v1/passkeys/.*"
    r"|/v1/probe-links/.*)$"
)


def guarded_routes(app: FastAPI) -> list[tuple[str, str, Permission]]:
    """(method, full path, permission) of every route; fails on an unguarded API route."""
    routes = []
    for (method, path), permission in permissions(app).items():
        if permission is None:
            assert UNGUARDED.match(path), f"{path} has no permission guard"
        else:
            routes.append((method, path, permission))
    return routes


@pytest.fixture(scope="module")
def matrix_world(
    tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline
) -> Iterator[tuple[World, str]]:
    """One app for the whole matrix (a few hundred requests), plus a second subject's token."""
    with deployment(tmp_path_factory.mktemp("roles"), pipeline) as (_, _, client, keys):
        world = set_up_world(client, keys)
        _, other_token = world.new_subject()
        yield world, other_token


def _url(path: str, world: World) -> str:
    return path.format(subject=world.subject, consent_id=world.consent_id, key_id="key_0.x",
                       reference="CAI-NONE", request_id="req_none",
                       incident_id="inc_none", review_id="rev_none",
                       purpose_id="pur_none", token_id="stk_none", language="fr",
                       source_sha256="0" * 64)


def _cases(app: FastAPI) -> list[tuple[str, str, Permission]]:
    return sorted(guarded_routes(app))


ROUTES = _cases(unopened_app())


def test_every_v1_route_is_guarded() -> None:
    app = unopened_app()
    v1 = {
        (method, str(c.path))
        for c in iter_route_contexts(app.routes)
        if str(c.path).startswith("/v1") and not UNGUARDED.match(str(c.path))
        for method in c.methods or ()
    }
    assert v1 == {(m, p) for m, p, _ in ROUTES}
    assert len(v1) > 20


def _secrets(world: World) -> dict[Role, str]:
    """A key of each role, and for the subject role the token of the world's subject."""
    secrets = {role: world.keys.for_role(role) for role in Role if role is not Role.SUBJECT}
    secrets[Role.SUBJECT] = world.subject_token
    return secrets


def _admitted(role: Role, path: str, permission: Permission) -> bool:
    """The role table: the role holds the permission, and a subject token opens its own subject
    or what is about no subject (the purposes and notices it is asked to consent to)."""
    return permission in PERMISSIONS[role] and (
        role is not Role.SUBJECT or "{subject}" in path or permission in ABOUT_NO_SUBJECT
    )


@pytest.mark.parametrize(("method", "path", "permission"), ROUTES)
def test_route_refuses_without_credentials(
    matrix_world: tuple[World, str], method: str, path: str, permission: Permission
) -> None:
    world, _ = matrix_world
    answer = world.client.request(method, _url(path, world))
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "unauthenticated"
    assert answer.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "permission"), ROUTES)
def test_route_refuses_every_role_without_the_permission(
    matrix_world: tuple[World, str], method: str, path: str, permission: Permission
) -> None:
    world, _ = matrix_world
    for role, secret in _secrets(world).items():
        if _admitted(role, path, permission):
            continue
        answer = world.client.request(method, _url(path, world), headers=auth(secret))
        assert answer.status_code == 403, (role, answer.text)
        # What only the person may do is refused as such, not as a mere role mismatch.
        expected = ("subject_credential_required"
                    if permission in FOR_THE_PERSON and permission not in PERMISSIONS[role]
                    else "forbidden")
        assert answer.json()["code"] == expected


@pytest.mark.parametrize(
    ("method", "path", "permission"), [r for r in ROUTES if r[0] == "GET"]
)
def test_every_role_the_table_names_reads_what_it_holds(
    matrix_world: tuple[World, str], method: str, path: str, permission: Permission
) -> None:
    """The other side of the refusals: each role the table of ``docs/service.md`` lists for a
    reading route gets past the guard (a subject token reads the purposes and notices it is
    asked to consent to, as the table says, though they name no subject)."""
    world, _ = matrix_world
    for role, secret in _secrets(world).items():
        if not _admitted(role, path, permission):
            continue
        answer = world.client.request(method, _url(path, world), headers=auth(secret))
        assert answer.status_code not in (401, 403), (role, path, answer.text)


@pytest.mark.parametrize(
    ("method", "path", "permission"), [r for r in ROUTES if "{subject}" in r[1]]
)
def test_a_subject_token_never_opens_another_subject(
    matrix_world: tuple[World, str], method: str, path: str, permission: Permission
) -> None:
    world, other_token = matrix_world
    answer = world.client.request(method, _url(path, world), headers=auth(other_token))
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "forbidden"


def test_x_api_key_header_is_accepted_too(matrix_world: tuple[World, str]) -> None:
    world, _ = matrix_world
    answer = world.client.get("/v1/purposes", headers={"X-API-Key": world.keys.reviewer})
    assert answer.status_code == 200


@pytest.mark.parametrize("headers", [
    [("Authorization", "Bearer {admin}"), ("X-API-Key", "key_wrong.secret")],
    [("X-API-Key", "{admin}"), ("Authorization", "Bearer key_wrong.secret")],
    [("Authorization", "Bearer {admin}"), ("X-API-Key", "{admin}")],
    [("Authorization", "Bearer {admin}"), ("Authorization", "Bearer key_wrong.secret")],
    [("X-API-Key", "{admin}"), ("X-API-Key", "{admin}")],
], ids=["bearer-and-wrong-key", "key-and-wrong-bearer", "both-the-same", "two-bearers",
        "two-keys"])
def test_a_request_with_more_than_one_credential_is_refused_whichever_is_right(
    matrix_world: tuple[World, str], headers: list[tuple[str, str]]
) -> None:
    """Which key acts must not depend on which header is read first: a valid admin key beside
    another credential is a 401 ``unauthenticated`` saying to send one, and acts on nothing."""
    world, _ = matrix_world
    sent = [(name, value.format(admin=world.keys.admin)) for name, value in headers]
    answer = world.client.get("/v1/keys", headers=httpx2.Headers(sent))
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "unauthenticated"
    assert "send one credential" in answer.json()["message"]


def test_a_subject_token_reads_the_purposes_and_notices_it_is_asked_to_consent_to(
    matrix_world: tuple[World, str],
) -> None:
    """The route table (``docs/service.md``) lists subject for ``GET /v1/purposes, /v1/notices``:
    they name no subject, and a person's own client shows them before the person consents."""
    world, _ = matrix_world
    purposes = world.client.get("/v1/purposes", headers=auth(world.subject_token))
    notices = world.client.get("/v1/notices", headers=auth(world.subject_token))
    assert purposes.status_code == notices.status_code == 200, (purposes.text, notices.text)
    assert world.purpose_id in {p["id"] for p in purposes.json()}
    assert world.notice_id in {n["id"] for n in notices.json()}
