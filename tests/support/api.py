"""What the API tests build with: settings that do not throttle, a deployment, keys per role,
and a declared world whose people sign with software passkeys.

``settings_for_tests`` uses ``models/thresholds.toml`` when the calibration has been run, and
otherwise writes a test threshold file (0.36 at FMR 1e-4: in the usual range of ArcFace
MobileFaceNet, but a test fixture, not a calibration).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from optinface.api.app import create_app
from optinface.api.cli.main import app as cli
from optinface.api.settings import ApiSettings
from optinface.api.soft_person import SoftHttpPerson, probe_consent, probe_link
from optinface.api.web.i18n import Language, Words
from optinface.consent import row_seals
from optinface.consent.clock import Clock
from optinface.consent.declaration import declared_long_enough_ago
from optinface.consent.operator_texts import Shown
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace
from optinface.consent.tables import SubjectToken
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import DEFAULT_THRESHOLDS
from tests.support.ledger_template import seed_ledger
from tests.support.thresholds import TEST_FMR, write_test_thresholds


def thresholds_for_tests(tmp_path: Path) -> Path:
    if DEFAULT_THRESHOLDS.is_file():
        return DEFAULT_THRESHOLDS
    return write_test_thresholds(tmp_path / "thresholds.toml")


def settings_for_tests(data_root: Path, **overrides: object) -> ApiSettings:
    """Generous rate limits so functional tests are not throttled (limits have their own tests)."""
    values: dict[str, object] = {
        "data_dir": data_root / "var",
        "thresholds_path": thresholds_for_tests(data_root),
        "match_fmr": TEST_FMR,
        "rate_per_second": 10_000,
        "rate_burst": 10_000,
        "sign_in_challenges_per_minute": 10_000,
        "sign_in_challenge_burst": 10_000,
        "identify_daily_quota": 10_000,
        # Test deployments are demonstrations: placeholder accountability, and declarations
        # recorded as if sent a period ago (tests/consent/test_declaration.py has the real rule).
        "demo_mode": True,
        **overrides,
    }
    return ApiSettings(**values)  # type: ignore[arg-type]


ORIGIN = "http://localhost:8000"  # where the software authenticators' "browser" runs
ENGLISH = Words(language=Language.EN, zone=ZoneInfo("UTC"))
AS_TYPED = Shown(None)  # the operator's texts as an English reader is shown them: as typed
"""How the tests read a rendering for people (``api/web/export.py``) in English."""
FRENCH = Words(language=Language.FR, zone=ZoneInfo("UTC"))
"""The same in French: what a French reader's pages pass the consent core (``consent.wording``)."""


@contextmanager
def deployment(
    data_root: Path, pipeline: FacePipeline, *, clock: Clock | None = None, **overrides: object
) -> Iterator[tuple[ApiSettings, OptinFace, TestClient, Keys]]:
    """A fresh deployment on ``data_root``: settings, open service, client, one key per role;
    on ``clock`` for a test that lets days pass (the system clock otherwise). Its SQLite ledger
    starts as a copy of a migrated one (:mod:`tests.support.ledger_template`)."""
    settings = settings_for_tests(data_root, **overrides)
    seed_ledger(settings)
    service = OptinFace.open(settings, pipeline=pipeline, clock=clock)
    try:
        with TestClient(create_app(settings, service=service)) as client:
            yield settings, service, client, make_keys(service)
    finally:
        service.close()


Deployment = tuple[ApiSettings, OptinFace, TestClient, "Keys"]


@dataclass
class Keys:
    """One API key secret per role, the admin's made by bootstrap."""

    admin: str
    researcher: str
    reviewer: str
    portal: str
    verifier: str

    def for_role(self, role: Role) -> str:
        return str(getattr(self, role.value))


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def expire_subject_token(service: OptinFace, secret: str, *, pseudonym: str) -> None:
    """The token behind ``secret`` as the service would have issued it with an expiry just
    past, sealed as such (an expiry edited alone is refused as unsealed, not as expired): how
    a test sees a token expire without waiting years."""
    with service.runtime.db.transaction() as session:
        token = session.get(SubjectToken, secret.split(".")[0])
        assert token is not None
        token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        row_seals.seal_subject_token(service.runtime.keys, token, pseudonym=pseudonym)


def make_keys(service: OptinFace) -> Keys:
    """The bootstrap admin key, then one key per other role made by that admin."""
    admin = service.create_api_key(actor=None, role=Role.ADMIN, name="bootstrap")
    actor = service.authenticate(admin.secret)
    made = {
        role: service.create_api_key(actor=actor, role=role, name=f"test {role}").secret
        for role in (Role.RESEARCHER, Role.REVIEWER, Role.PORTAL, Role.VERIFIER)
    }
    return Keys(
        admin=admin.secret,
        researcher=made[Role.RESEARCHER],
        reviewer=made[Role.REVIEWER],
        portal=made[Role.PORTAL],
        verifier=made[Role.VERIFIER],
    )


@dataclass
class World:
    """A declared deployment with one purpose, one notice and one consenting subject.

    Each subject is taken over by a person with a software passkey (:mod:`api.soft_person`),
    who signs their consent, opt-in, photo approvals and withdrawals over HTTP; the desk (the
    portal key) only creates shells, opens capture sessions and uploads approved photos.
    """

    client: TestClient
    keys: Keys
    purpose_id: str
    notice_id: str
    subject: str
    subject_token: str
    consent_id: str
    created: list[str] = field(default_factory=list)
    people: dict[str, SoftHttpPerson] = field(default_factory=dict)

    def add_consenting_subject(self) -> None:
        self.subject, self.subject_token = self.new_subject()
        self.consent_id = self.consent(self.subject)

    def new_person(self, *, age: str = "adult", jurisdiction: str | None = None
                   ) -> tuple[SoftHttpPerson, dict[str, object]]:
        """A subject shell taken over by its person (of the deployment's jurisdiction unless
        told); also the operator's answer."""
        answer = self.new_shell(age=age, jurisdiction=jurisdiction)
        person = self.take_over(answer["enrolment"]["secret"])
        self.people[person.pseudonym] = person
        return person, answer

    def take_over(self, link: str) -> SoftHttpPerson:
        """Whoever registers a new passkey with the one-time ``link`` (the person's, or a
        guardian's), in this world's browser."""
        return SoftHttpPerson.take_over(self.client, link, origin=ORIGIN)

    def new_shell(self, *, age: str = "adult", jurisdiction: str | None = None
                  ) -> dict[str, Any]:
        """A subject shell the desk made, no one's yet: the operator's answer (the pseudonym,
        the one-time links), the subject erased at the end like every one made here."""
        body = {"age_category": age} | ({"jurisdiction": jurisdiction} if jurisdiction else {})
        made = self.client.post("/v1/subjects", json=body, headers=auth(self.keys.portal))
        assert made.status_code == 201, made.text
        answer: dict[str, Any] = made.json()
        self.created.append(answer["pseudonym"])
        return answer

    def new_subject(self, *, searchable: bool = True) -> tuple[str, str]:
        """(pseudonym, the person's own subject token), opted in to search unless told."""
        person, _ = self.new_person()
        if searchable:
            person.set_searchable(True)
        return person.pseudonym, person.token

    def consent(self, subject: str, *, purposes: list[str] | None = None) -> str:
        """The person signs a consent to ``purposes`` (the world's purpose unless told)."""
        given = self.people[subject].consent(
            purposes=purposes or [self.purpose_id], notice_id=self.notice_id,
            expires_at=in_a_year())
        return str(given["consent"]["id"])

    def consent_act(self, purpose_id: str | None = None) -> dict[str, object]:
        """The body of a ``consent`` challenge request: to ``purpose_id`` (the world's purpose
        unless told) under the world's notice, for a year."""
        return {"act": "consent", "purposes": [purpose_id or self.purpose_id],
                "notice_id": self.notice_id, "language": "en", "expires_at": in_a_year()}

    def enrol(self, subject: str, consent_id: str, image: bytes) -> dict[str, object]:
        """Desk-assisted: the desk opens a capture session, the person approves, the desk
        uploads the approved photo."""
        return self.people[subject].enrol(consent_id, image, desk=self.keys.portal)

    def disclose_to_the_police(self) -> None:
        """The admin records a disclosure of this world's subject to the Sûreté du Québec, as
        the law requires (P-39.1 s. 18), a recipient in Québec."""
        made = self.client.post(
            f"/v1/subjects/{self.subject}/disclosures", headers=auth(self.keys.admin),
            json={"recipient": "Sûreté du Québec", "legal_basis": "law",
                  "document_reference": "P-39.1 s. 18", "recipient_country": "CA",
                  "recipient_region": "Québec"})
        assert made.status_code == 201, made.text

    def probe_consent(self, image: bytes, *, researcher: str | None = None,
                      subject: str | None = None) -> str:
        """A probe consent signed by the person in ``image``, for this researcher key; for a
        verify against ``subject``, signed by that subject's own passkey."""
        key = researcher or self.keys.researcher
        if subject is not None:
            link = probe_link(self.client, key, purpose_id=self.purpose_id,
                              notice_id=self.notice_id, image=image, subject=subject)
            return str(self.people[subject].sign_probe(link)["id"])
        return str(probe_consent(self.client, key, purpose_id=self.purpose_id,
                                 notice_id=self.notice_id, image=image, origin=ORIGIN)["id"])

    def identify(self, image: bytes, *, k: int = 5,
                 decision_use: str | None = None) -> httpx2.Response:
        """The researcher's 1:N search with ``image``, under a probe consent the person in it
        signed for it; the answer as it came (refusals included). ``decision_use``: the form
        field as sent (none: not sent)."""
        return self.client.post(
            "/v1/identify",
            data={
                "purpose_id": self.purpose_id,
                "probe_consent_id": self.probe_consent(image),
                "k": str(k),
                **({} if decision_use is None else {"decision_use": decision_use}),
            },
            files={"image": ("probe.jpg", image, "image/jpeg")},
            headers=auth(self.keys.researcher),
        )

    def verify(self, subject: str, image: bytes, *,
               decision_use: str | None = None) -> httpx2.Response:
        """The researcher's 1:1 comparison of ``image`` with ``subject``, under a probe consent
        the person in it and the subject signed for it; the answer as it came."""
        return self.client.post(
            "/v1/verify",
            data={
                "subject": subject,
                "purpose_id": self.purpose_id,
                "probe_consent_id": self.probe_consent(image, subject=subject),
                **({} if decision_use is None else {"decision_use": decision_use}),
            },
            files={"image": ("probe.jpg", image, "image/jpeg")},
            headers=auth(self.keys.researcher),
        )

    def enrolled_and_identified(self, image: bytes) -> httpx2.Response:
        """``image`` enrolled under the world's subject's consent, then searched with: the 200
        answer."""
        self.enrol(self.subject, self.consent_id, image)
        answer = self.identify(image)
        assert answer.status_code == 200, answer.text
        return answer


def ok(response: httpx2.Response) -> Any:
    """The API answered (200 or 201): its JSON body."""
    assert response.status_code in (200, 201), response.text
    return response.json()


def assert_refused(response: httpx2.Response, status: int, code: str) -> None:
    """The API refused with ``status`` and the stable error ``code`` (``api/error_codes.py``)."""
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def operators(world: World) -> tuple[str, str]:
    """The operator keys (admin, desk) that may never act in a person's name."""
    return world.keys.admin, world.keys.portal


def verify_receipt_file(path: Path, public_key: str) -> Result:
    """``optinface receipt verify PATH --public-key KEY``: the offline check a person or an
    auditor runs on a receipt they saved, with only the published key."""
    return CliRunner().invoke(cli, ["receipt", "verify", str(path), "--public-key", public_key])


def page_login(client: TestClient, area: str, secret: str) -> None:
    """Log ``client`` in afresh to a page area (portal or review) through its form, CSRF included
    (cookies left by an earlier test's session are dropped first)."""
    client.cookies.clear()
    form = client.get(f"/{area}")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post(
        f"/{area}/login", data={"token": secret, "csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def portal_session(client: TestClient, person: SoftHttpPerson) -> str:
    """Sign in to the portal with the person's passkey, as ``passkey.js`` does; returns the
    session's CSRF token (the client keeps the session cookie)."""
    client.cookies.clear()  # a fresh browser: no session of an earlier test
    login = client.get("/portal")
    headers = {"X-CSRF-Token": login.text.split('data-csrf="')[1].split('"')[0]}
    challenge = client.post("/portal/passkey/options", headers=headers)
    assert challenge.status_code == 200, challenge.text
    signed = client.post("/portal/passkey/sign-in", headers=headers, json={
        "ceremony_id": challenge.json()["ceremony_id"],
        "credential": person.authenticator.get(challenge.json()["options"])})
    assert signed.status_code == 200, signed.text
    return client.get("/portal").text.split('name="csrf" value="')[1].split('"')[0]


def portal_signature(client: TestClient, csrf: str, person: SoftHttpPerson,
                     act: dict[str, object]) -> str:
    """A portal form's ``signed`` field as ``passkey.js`` fills it: the act's challenge from
    ``/portal/challenge`` signed by ``person``'s passkey."""
    challenge = client.post("/portal/challenge", headers={"X-CSRF-Token": csrf}, json=act)
    assert challenge.status_code == 200, challenge.text
    return json.dumps({"ceremony_id": challenge.json()["ceremony_id"],
                       "credential": person.authenticator.get(challenge.json()["options"])})


def signed_erasure(client: TestClient, csrf: str, person: SoftHttpPerson) -> httpx2.Response:
    """The portal's erasure, confirmed and signed by ``person`` as their browser would."""
    return client.post("/portal/erase", data={
        "csrf": csrf, "confirm": "true",
        "signed": portal_signature(client, csrf, person, {"act": "erase"})})


def in_a_year() -> str:
    return (datetime.now(UTC) + timedelta(days=365)).isoformat()


def publish_purpose(client: TestClient, keys: Keys, study: str, *, retention_days: int = 365,
                    operations: tuple[str, ...] = ("enrol", "verify", "identify")) -> str:
    """Publish the purpose of study ``study`` (enrol, verify, identify and a year unless told);
    its id."""
    made = client.post("/v1/purposes", headers=auth(keys.admin), json={
        "name": f"Study {study}",
        "description": f"Re-identification of consenting volunteers in study {study}",
        "legal_basis": "express consent (LCCJTI art. 44)",
        "operations": list(operations),
        "retention_days": retention_days,
        "study": study,
    })
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def declare_long_enough_ago(client: TestClient, keys: Keys) -> None:
    """Declare the register as it stands, long enough ago for matching to be in service."""
    declared = client.post(
        "/v1/register/declaration",
        json={"date": declared_long_enough_ago(date.today(), ApiSettings()).isoformat(),
              "reference": "CAI-2026-001"},
        headers=auth(keys.admin),
    )
    assert declared.status_code == 200, declared.text


def set_up_world(client: TestClient, keys: Keys, *, declare: bool = True) -> World:
    """Publish a purpose and a notice, declare the database, and add one consenting subject."""
    admin = auth(keys.admin)
    purpose_id = publish_purpose(client, keys, "A")
    notice = client.post(
        "/v1/notices",
        json={"version": "1", "language": "en", "text": "We use your face for study A only."},
        headers=admin,
    )
    assert notice.status_code == 201, notice.text
    if declare:
        declare_long_enough_ago(client, keys)
    world = World(
        client=client,
        keys=keys,
        purpose_id=purpose_id,
        notice_id=notice.json()["id"],
        subject="",
        subject_token="",
        consent_id="",
    )
    world.add_consenting_subject()
    return world
