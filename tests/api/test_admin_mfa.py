"""A second factor for admins (X-SEC): with ``OPTINFACE_ADMIN_MFA`` on, a copied admin key alone
no longer does what only an admin may do over the API; its own passkey must step it up.

Real WebAuthn: each admin holds a software authenticator (:mod:`consent.soft_authenticator`)
whose answers the ``webauthn`` library checks, over HTTP, on a real ledger.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from optinface.api.deps import STEP_UP_HEADER
from optinface.api.soft_person import SoftHttpPerson
from optinface.consent import row_seals
from optinface.consent.declaration import ADMIN_MFA_MEASURE
from optinface.consent.errors import SecondFactorOff
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.tables import AdminPasskey
from optinface.engine.pipeline import FacePipeline
from tests.support.api import (
    ORIGIN,
    Keys,
    World,
    assert_refused,
    auth,
    deployment,
    publish_purpose,
    set_up_world,
)
from tests.support.backends import both_backends
from tests.support.consent import FakeClock

NEW_KEY = {"role": "reviewer", "name": "second reviewer"}
WARRANT = {"recipient": "Montréal Police", "legal_basis": "warrant_subpoena",
           "document_reference": "2027-SW-0042", "recipient_country": "CA",
           "recipient_region": "Québec"}


@dataclass
class Admin:
    """An admin key and the authenticator that holds its passkey, acting over HTTP."""

    client: TestClient
    secret: str
    device: SoftAuthenticator = field(default_factory=lambda: SoftAuthenticator(origin=ORIGIN))
    token: str | None = None

    def post(self, path: str, body: dict[str, Any], *, step_up: str | None = None
             ) -> httpx2.Response:
        headers = auth(self.secret) | ({STEP_UP_HEADER: step_up} if step_up else {})
        return self.client.post(path, json=body, headers=headers)

    @property
    def key_id(self) -> str:
        return self.secret.partition(".")[0]

    def register(self, *, link: str | None = None, approver: SoftAuthenticator | None = None,
                 step_up: str | None = None) -> httpx2.Response:
        """Register a new passkey of this device for the key, on the operator's ``link`` or
        with the approval ``approver`` signs; the answer to the last step."""
        options = self.post("/v1/admin/passkey/options", {"link": link} if link else {},
                            step_up=step_up)
        if options.status_code != 200:
            return options
        asked = options.json()
        body = {"ceremony_id": asked["ceremony_id"],
                "credential": self.device.create(asked["options"])}
        if approver is not None:  # it signs with the passkey it holds, whichever is asked
            approval = asked["approval"]
            body["approval"] = {"ceremony_id": approval["ceremony_id"], "credential": approver.get(
                {**approval["options"], "allowCredentials": []})}
        return self.post("/v1/admin/passkey", body, step_up=step_up)

    def enrol(self, service: OptinFace) -> httpx2.Response:
        """Register this device as the key's passkey on a link the operator issues."""
        return self.register(link=service.issue_admin_passkey_link(key_id=self.key_id).secret)

    def challenge(self) -> dict[str, Any]:
        options = self.post("/v1/admin/step-up/options", {})
        assert options.status_code == 200, options.text
        return dict(options.json())

    def step_up(self) -> str:
        """Sign a step-up challenge with this device; the token (also kept)."""
        challenge = self.challenge()
        answer = self.post("/v1/admin/step-up", {
            "ceremony_id": challenge["ceremony_id"],
            "credential": self.device.get(challenge["options"])})
        assert answer.status_code == 200, answer.text
        self.token = str(answer.json()["step_up_token"])
        return self.token

    def act(self, *, step_up: str | None = None) -> httpx2.Response:
        """An act only an admin may do: a new key."""
        return self.post("/v1/keys", NEW_KEY, step_up=step_up)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def guarded(tmp_path: Path, pipeline: FacePipeline, clock: FakeClock,
            database_url: str | None) -> Iterator[tuple[OptinFace, TestClient, Keys]]:
    """A deployment with ``OPTINFACE_ADMIN_MFA`` on, on a clock the test moves."""
    with deployment(tmp_path, pipeline, clock=clock, admin_mfa=True,
                    database_url=database_url) as (_, service, client, keys):
        yield service, client, keys


def _second_admin(service: OptinFace, client: TestClient, keys: Keys) -> Admin:
    """Another admin key, made in process (the CLI's way: no step-up there)."""
    actor = service.authenticate(keys.admin)
    made = service.create_api_key(actor=actor, role=Role.ADMIN, name="second admin")
    return Admin(client, made.secret)


def _problem(answer: httpx2.Response) -> str:
    assert_refused(answer, 401, "second_factor_required")
    return str(answer.json()["details"]["problem"])


@both_backends
def test_an_admin_act_needs_a_step_up_signed_by_the_keys_own_passkey(
    guarded: tuple[OptinFace, TestClient, Keys]
) -> None:
    service, client, keys = guarded
    admin = Admin(client, keys.admin)
    assert _problem(admin.act()) == "no_passkey"
    assert admin.enrol(service).status_code == 201
    assert _problem(admin.act()) == "no_step_up"
    token = admin.step_up()
    assert admin.act(step_up=token).status_code == 201
    assert admin.post("/v1/purposes", {
        "name": "Study B", "description": "Re-identification in study B",
        "legal_basis": "express consent", "operations": ["enrol", "identify"],
        "retention_days": 30, "study": "B"}, step_up=token).status_code == 201
    assert _problem(admin.act(step_up=token[:-2] + "xx")) == "step_up_wrong"
    # Reads too, and acts other roles may do with their own keys: the bare admin key does none.
    assert _problem(client.get("/v1/register", headers=auth(keys.admin))) == "no_step_up"
    assert client.get("/v1/register", headers={**auth(keys.admin),
                                               STEP_UP_HEADER: token}).status_code == 200

    events = client.get("/v1/audit/events", headers=auth(keys.reviewer)).json()["events"]
    actions = [e["action"] for e in events]
    assert "admin_passkey_registered" in actions and "admin_stepped_up" in actions
    assert token not in json.dumps(events)
    service.flush_auth_failures()
    tallies = client.get("/v1/audit/events", params={"action": "login_failure"},
                         headers=auth(keys.reviewer)).json()["events"]
    refused = Counter[str]()
    for tally in tallies:
        refused.update(tally["details"]["reasons"])
        assert keys.admin.partition(".")[0] in tally["details"]["key_ids"]
    assert refused == {"second_factor:no_passkey": 1, "second_factor:no_step_up": 2,
                       "second_factor:step_up_wrong": 1}


def test_a_step_up_opens_only_its_own_key_and_only_for_a_while(
    guarded: tuple[OptinFace, TestClient, Keys], clock: FakeClock
) -> None:
    service, client, keys = guarded
    first, second = Admin(client, keys.admin), _second_admin(service, client, keys)
    for admin in (first, second):
        assert admin.enrol(service).status_code == 201
        admin.step_up()
    assert first.token is not None and second.token is not None
    assert _problem(first.act(step_up=second.token)) == "step_up_wrong"
    assert first.act(step_up=first.token).status_code == 201
    clock.advance(minutes=service.settings.step_up_minutes, seconds=1)
    assert _problem(first.act(step_up=first.token)) == "step_up_expired"
    assert first.act(step_up=first.step_up()).status_code == 201


def test_a_step_up_is_signed_by_the_keys_own_passkey_for_its_own_challenge(
    guarded: tuple[OptinFace, TestClient, Keys]
) -> None:
    service, client, keys = guarded
    first, second = Admin(client, keys.admin), _second_admin(service, client, keys)
    for admin in (first, second):
        assert admin.enrol(service).status_code == 201
    challenge = first.challenge()
    # The other admin's passkey signs the first key's challenge: not this key's passkey.
    asked = {**challenge["options"], "allowCredentials": []}
    assert_refused(first.post("/v1/admin/step-up", {
        "ceremony_id": challenge["ceremony_id"], "credential": second.device.get(asked)}),
        403, "passkey_invalid")
    # The other key presents the first key's challenge, signed by the first key's passkey.
    challenge = first.challenge()
    assert_refused(second.post("/v1/admin/step-up", {
        "ceremony_id": challenge["ceremony_id"],
        "credential": first.device.get(challenge["options"])}), 403, "challenge_invalid")
    assert _problem(first.act()) == "no_step_up"


def test_a_copied_key_and_step_up_cannot_replace_the_passkey_only_its_current_passkey_can(
    guarded: tuple[OptinFace, TestClient, Keys], clock: FakeClock
) -> None:
    """The two headers of one admin request, copied from a proxy's log, do not take the second
    factor over: a replacement needs the current passkey's signature of a statement naming
    this very registration."""
    service, client, keys = guarded
    owner = Admin(client, keys.admin)
    assert owner.enrol(service).status_code == 201
    token = owner.step_up()
    thief = Admin(client, keys.admin)  # the same key and its step-up, another device
    assert _problem(thief.register(step_up=token)) == "no_approval"
    assert_refused(thief.register(approver=thief.device, step_up=token), 403, "passkey_invalid")
    # An approval the owner signed for another registration does not approve the thief's.
    owners = owner.post("/v1/admin/passkey/options", {}).json()
    theirs = thief.post("/v1/admin/passkey/options", {}).json()
    assert_refused(thief.post("/v1/admin/passkey", {
        "ceremony_id": theirs["ceremony_id"], "credential": thief.device.create(theirs["options"]),
        "approval": {"ceremony_id": owners["approval"]["ceremony_id"],
                     "credential": owner.device.get(owners["approval"]["options"])}}),
        403, "challenge_invalid")
    clock.advance(minutes=120)
    assert owner.act(step_up=owner.step_up()).status_code == 201  # still the owner's factor

    old = owner.device
    owner.device = SoftAuthenticator(origin=ORIGIN)  # a new phone, approved by the old one
    replaced = owner.register(approver=old)
    assert replaced.status_code == 201 and replaced.json()["replaced"] is True
    assert _problem(owner.act(step_up=owner.token)) == "step_up_wrong"  # ended with its passkey
    assert owner.act(step_up=owner.step_up()).status_code == 201


def _sql(service: OptinFace, statement: str, **values: object) -> None:
    """One statement written into the ledger by someone who holds the database, not the key
    store: the red team's operator."""
    with service.runtime.db.transaction() as session:
        session.execute(text(statement), values)


@both_backends
def test_a_persons_passkey_bound_to_an_admin_key_by_sql_steps_up_nothing(
    guarded: tuple[OptinFace, TestClient, Keys], caplog: pytest.LogCaptureFixture
) -> None:
    """Red team 2, finding 1: a person's passkey (registered on a subject's link, sealed as
    theirs) bound to the admin key by an INSERT neither steps the key up nor approves a
    replacement; the binding is said once in the operator's log, the person keeps their
    passkey, and the operator's link still binds a real one."""
    service, client, keys = guarded
    shell = client.post("/v1/subjects", json={"age_category": "adult"}, headers=auth(keys.portal))
    person = SoftHttpPerson.take_over(client, shell.json()["enrolment"]["secret"], origin=ORIGIN)
    admin = Admin(client, keys.admin, device=person.authenticator)  # the tester holds it
    _sql(service, "INSERT INTO admin_passkeys (api_key_id, credential_id, registered_at)"
         " SELECT :key, c.id, :now FROM passkey_credentials c JOIN subjects s"
         " ON s.id = c.subject_id WHERE s.pseudonym = :pseudonym",
         key=admin.key_id, now=datetime.now(UTC).replace(tzinfo=None),
         pseudonym=person.pseudonym)
    with caplog.at_level(logging.ERROR, logger="optinface.consent.admin_mfa"):
        assert _problem(admin.post("/v1/admin/step-up/options", {})) == "passkey_unsealed"
        assert _problem(admin.act(step_up="stu_anything")) == "passkey_unsealed"
        thief = Admin(client, keys.admin)  # a real admin-kind passkey, approved by the plant
        assert _problem(thief.register(approver=person.authenticator)) == "passkey_unsealed"
        # Sealed as if the service had bound it (the key store's holder): still a person's.
        with service.runtime.db.transaction() as session:
            factor = session.get(AdminPasskey, admin.key_id)
            assert factor is not None
            row_seals.seal_admin_passkey(service.runtime.keys, factor)
        assert _problem(admin.post("/v1/admin/step-up/options", {})) == "passkey_unsealed"
        assert _problem(thief.register(approver=person.authenticator)) == "passkey_unsealed"
    said = [r for r in caplog.records if "grants no second factor" in r.getMessage()]
    assert len(said) == 2, said  # the unsealed row once, the person's passkey once
    person.sign_in()  # the person's passkey is theirs still

    owner = Admin(client, keys.admin)
    registered = owner.enrol(service)  # the operator's link replaces the plant
    assert registered.status_code == 201 and registered.json()["replaced"] is True
    assert owner.act(step_up=owner.step_up()).status_code == 201
    person.sign_in()  # the plant's replacement deleted no one's passkey
    service.flush_auth_failures()
    tallies = client.get("/v1/audit/events", params={"action": "login_failure"},
                         headers=auth(keys.reviewer)).json()["events"]
    assert sum(tally["details"]["reasons"].get("second_factor:passkey_unsealed", 0)
               for tally in tallies) == 5


@both_backends
def test_an_expired_step_up_revived_by_sql_opens_nothing(
    guarded: tuple[OptinFace, TestClient, Keys], clock: FakeClock
) -> None:
    """Red team 2, finding 2: the step-up's expiry is sealed with the binding, so a captured
    token whose expiry is moved forward in the database is refused, and so is the binding,
    until the operator's link binds the key's passkey again."""
    service, client, keys = guarded
    admin = Admin(client, keys.admin)
    assert admin.enrol(service).status_code == 201
    token = admin.step_up()
    clock.advance(minutes=service.settings.step_up_minutes, seconds=1)
    assert _problem(admin.act(step_up=token)) == "step_up_expired"
    _sql(service, "UPDATE admin_passkeys SET step_up_expires_at = :later WHERE api_key_id = :key",
         later=(clock.now() + timedelta(days=365)).replace(tzinfo=None), key=admin.key_id)
    assert _problem(admin.act(step_up=token)) == "passkey_unsealed"
    assert _problem(admin.post("/v1/admin/step-up/options", {})) == "passkey_unsealed"
    assert admin.enrol(service).status_code == 201
    assert _problem(admin.act(step_up=token)) == "step_up_wrong"
    assert admin.act(step_up=admin.step_up()).status_code == 201


def test_a_copied_key_and_step_up_mint_no_admin_key(
    guarded: tuple[OptinFace, TestClient, Keys]
) -> None:
    """Over the API an admin key is not made while the second factor is on: one capture
    would otherwise mint an admin with its own, lasting, factor. The command line makes it."""
    service, client, keys = guarded
    owner = Admin(client, keys.admin)
    assert owner.enrol(service).status_code == 201
    token = owner.step_up()
    assert_refused(owner.post("/v1/keys", {"role": "admin", "name": "backup admin"},
                              step_up=token), 403, "forbidden")
    assert owner.act(step_up=token).status_code == 201  # other roles' keys, as before
    assert all(k["role"] != "admin" or k["key_id"] == owner.key_id for k in client.get(
        "/v1/keys", headers=auth(keys.admin) | {STEP_UP_HEADER: token}).json())


def test_a_keys_first_passkey_is_registered_only_on_the_operators_link(
    guarded: tuple[OptinFace, TestClient, Keys]
) -> None:
    """A copied key alone binds no passkey, before or after its owner: the first rides on a
    one-time link the operator issues for that key, on the command line."""
    service, client, keys = guarded
    owner, other = Admin(client, keys.admin), _second_admin(service, client, keys)
    assert _problem(owner.register()) == "no_passkey"
    others = service.issue_admin_passkey_link(key_id=other.key_id).secret
    assert_refused(owner.register(link=others), 410, "link_invalid")
    link = service.issue_admin_passkey_link(key_id=owner.key_id).secret
    assert owner.register(link=link).status_code == 201
    assert_refused(Admin(client, keys.admin).register(link=link), 410, "link_invalid")
    assert other.register(link=others).status_code == 201
    events = client.get("/v1/audit/events", params={"action": "admin_passkey_link_issued"},
                        headers=auth(keys.reviewer)).json()["events"]
    assert len(events) == 2 and link not in json.dumps(events)


def test_the_public_registration_route_completes_no_admin_ceremony(
    guarded: tuple[OptinFace, TestClient, Keys]
) -> None:
    service, client, keys = guarded
    admin = Admin(client, keys.admin)
    asked = admin.post("/v1/admin/passkey/options", {
        "link": service.issue_admin_passkey_link(key_id=admin.key_id).secret}).json()
    stranger = SoftAuthenticator(origin=ORIGIN)
    assert_refused(client.post("/v1/passkeys/registrations", json={
        "ceremony_id": asked["ceremony_id"], "credential": stranger.create(asked["options"])}),
        403, "challenge_invalid")
    assert _problem(admin.act()) == "no_passkey"
    assert admin.enrol(service).status_code == 201


def test_wrong_second_factors_are_throttled_as_bad_secrets(
    guarded: tuple[OptinFace, TestClient, Keys]
) -> None:
    service, client, keys = guarded
    admin = Admin(client, keys.admin)
    assert admin.enrol(service).status_code == 201
    burst = client.app.state.settings.auth_failure_burst
    answers = [admin.register(link=f"otl_lnk_guess{i}.x") for i in range(burst)]
    assert {a.json()["code"] for a in answers} == {"link_invalid"}
    assert_refused(admin.register(), 429, "rate_limited")
    assert_refused(admin.post("/v1/admin/step-up", {"ceremony_id": "cer_0", "credential": {}}),
                   429, "rate_limited")


def test_the_passkey_routes_and_links_are_closed_while_the_setting_is_off(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """Nothing is bound before the operator turns the second factor on: a thief's copy of the
    key cannot register first."""
    with deployment(tmp_path, pipeline) as (_, service, client, keys):
        admin = Admin(client, keys.admin)
        for path in ("/v1/admin/passkey/options", "/v1/admin/step-up/options"):
            assert_refused(admin.post(path, {}), 409, "second_factor_off")
        with pytest.raises(SecondFactorOff):
            service.issue_admin_passkey_link(key_id=admin.key_id)


@pytest.fixture
def world(guarded: tuple[OptinFace, TestClient, Keys]) -> tuple[World, Admin]:
    """The usual world, its admin setup acts stepped up, and its admin."""
    service, client, keys = guarded
    admin = Admin(client, keys.admin)
    assert admin.enrol(service).status_code == 201
    client.headers[STEP_UP_HEADER] = admin.step_up()  # the admin's setup acts only
    world = set_up_world(client, keys)
    del client.headers[STEP_UP_HEADER]
    return world, admin


def test_reviewer_reads_and_researcher_searches_need_no_step_up(
    world: tuple[World, Admin], portrait_jpegs: list[bytes]
) -> None:
    people, _ = world
    people.enrolled_and_identified(portrait_jpegs[0])
    for path in ("/v1/audit/events", "/v1/register", "/v1/purposes"):
        assert people.client.get(path, headers=auth(people.keys.reviewer)).status_code == 200


def test_an_admin_key_alone_exports_and_erases_no_one(world: tuple[World, Admin]) -> None:
    """What the desk or a reviewer may do with their own keys, an admin key does only stepped
    up: a copied admin key alone cannot take a person's record away, nor erase them."""
    people, admin = world
    export, record = (f"/v1/subjects/{people.subject}/export",
                      f"/v1/subjects/{people.subject}")
    bare = auth(people.keys.admin)
    assert _problem(people.client.get(export, headers=bare)) == "no_step_up"
    assert _problem(people.client.delete(record, headers=bare)) == "no_step_up"
    assert people.client.get(export, headers={**bare, STEP_UP_HEADER: admin.token}
                             ).status_code == 200


def test_an_admins_disclosure_under_a_warrant_needs_a_step_up(world: tuple[World, Admin]
                                                              ) -> None:
    """Its permission follows its body, so its route checks it, not the guard."""
    people, admin = world
    url = f"/v1/subjects/{people.subject}/disclosures"
    assert _problem(admin.post(url, WARRANT)) == "no_step_up"
    assert admin.post(url, WARRANT, step_up=admin.token).status_code == 201


def test_a_break_glass_key_needs_no_step_up(
    guarded: tuple[OptinFace, TestClient, Keys]
) -> None:
    service, client, _ = guarded
    opened = service.open_break_glass(reason="INC-9: every admin passkey lost", hours=2)
    assert Admin(client, opened.secret).act().status_code == 201


def test_the_register_states_the_second_factor_only_once_it_is_on(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    for on in (False, True):
        with deployment(tmp_path / str(on), pipeline, admin_mfa=on) as (_, service, _, _):
            assert (ADMIN_MFA_MEASURE in service.register().security_measures) is on


def test_without_admin_mfa_the_bare_admin_key_acts_as_before(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        publish_purpose(client, keys, "A")
        assert Admin(client, keys.admin).act().status_code == 201
