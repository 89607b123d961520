"""``optinface demo``: the whole consent-first life cycle, step by step, through the HTTP API.

It runs against an in-process app on a throw-away data dir (or a dedicated ``--data-dir``), or
against a running server (``--url`` with an admin key). The faces are cut from the sample photo
that insightface ships; nobody's photo is committed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import typer
from rich.panel import Panel
from rich.rule import Rule

from optinface.api.cli.common import check_remote, console, say_error
from optinface.api.cli.serve import bootstrap_admin
from optinface.api.settings import load_settings
from optinface.api.soft_person import SoftHttpPerson, SoftPersonFailed, probe_consent
from optinface.consent.declaration import declared_long_enough_ago
from optinface.consent.service import OptinFace
from optinface.engine.samples import encode, portraits

HEADING_WIDTH = 80
"""The width of a step's heading when not on a terminal, or its title's if wider (on one, the
terminal's width)."""


class DemoFailed(Exception):
    """A step did not answer as the walk-through expects."""


@contextmanager
def _in_process(data_dir: Path | None) -> Iterator[tuple[httpx2.Client, str, OptinFace]]:
    with ExitStack() as stack:
        root = data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        # A demonstration by definition: stated on every page, and its declaration may be
        # recorded as if sent a period ago (consent.declaration.service_start).
        settings = load_settings(data_dir=root).model_copy(update={"demo_mode": True})
        service = OptinFace.open(settings)
        stack.callback(service.close)
        admin = bootstrap_admin(service)
        if admin is None:
            raise typer.BadParameter("use an empty --data-dir: the demo makes its own admin key")
        # Imported here: the app (see serve._listen) and its test client are only needed by
        # this command, not by every CLI start.
        from fastapi.testclient import TestClient

        from optinface.api.app import create_app

        client = stack.enter_context(TestClient(create_app(settings, service=service)))
        yield client, admin, service


def _step(title: str, detail: Any = None) -> None:
    out = console()
    out.print(Rule(f"[bold cyan]{title}"),  # never cut: as wide as it needs off a terminal
              width=None if out.is_terminal else max(HEADING_WIDTH, len(title) + 6))
    if detail is not None:
        text = detail if isinstance(detail, str) else json.dumps(detail, indent=2)
        out.print(text, markup=False, highlight=False)


def _call(client: httpx2.Client, method: str, url: str, secret: str, **kwargs: Any) -> Any:
    answer = client.request(method, url, headers={"Authorization": f"Bearer {secret}"}, **kwargs)
    if answer.status_code >= 400:
        raise DemoFailed(f"{method} {url} -> {answer.status_code} {answer.text}")
    return answer.json() if answer.content else None


def _walk(client: httpx2.Client, admin: str, faces: list[bytes]) -> None:
    soon = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    keys = {
        role: _call(client, "POST", "/v1/keys", admin, json={"role": role, "name": f"demo {role}"})[
            "secret"
        ]
        for role in ("researcher", "reviewer", "portal", "verifier")
    }
    purpose = _call(
        client,
        "POST",
        "/v1/purposes",
        admin,
        json={
            "name": "Demo study",
            "description": "Find consenting volunteers again in the demo study",
            "legal_basis": "express consent",
            "operations": ["enrol", "verify", "identify"],
            "retention_days": 30,
            "study": "demo",
        },
    )
    notice = _call(
        client,
        "POST",
        "/v1/notices",
        admin,
        json={
            "version": "1",
            "language": "en",
            "text": "Your face is used for the demo study only; withdraw at any time.",
        },
    )
    _step(
        "1. Purpose and notice published",
        {"purpose": purpose["id"], "notice_sha256": notice["sha256"]},
    )
    _call(
        client,
        "POST",
        "/v1/register/declaration",
        admin,
        json={
            "date": declared_long_enough_ago(date.today(), load_settings()).isoformat(),
            "reference": "DEMO-NOT-A-REAL-DECLARATION",
        },
    )
    _step(
        "2. Declaration recorded",
        "THIS IS A DEMO, dated as if sent 60 days ago: a real deployment records the date the "
        "regulator received its declaration (Québec: the CAI, 60 days before service) and "
        "declares again whenever a purpose, model, hosting or retention rule changes. "
        "Matching is refused until then.",
    )
    subject = _call(client, "POST", "/v1/subjects", keys["portal"],
                    json={"age_category": "adult"})
    _step("3. Subject shell created: a one-time link to hand over (no credential)",
          {"pseudonym": subject["pseudonym"], "link": subject["enrolment"]["link_url"][:48] + "…",
           "expires_at": subject["enrolment"]["expires_at"]})
    # SOFTWARE PASSKEY: the demo plays the person with an in-process authenticator. A real
    # person opens the link on their own device and signs in the portal; the server checks
    # both the same way.
    person = SoftHttpPerson.take_over(client, subject["enrolment"]["secret"])
    person.set_searchable(True)
    given = person.consent(purposes=[purpose["id"]], notice_id=notice["id"], expires_at=soon)
    consent_id = given["consent"]["id"]
    _step("4. The person registered a passkey, opted in to search and signed a consent: the "
          "receipt holds their signature", {
              "consent": consent_id, "given_by": given["consent"]["given_by"],
              "signed_statement": given["receipt"]["receipt"]["subjectSignature"]["statement"]})
    template = person.enrol(consent_id, faces[0], desk=keys["portal"])
    _step("5. Capture session approved by the person, face enrolled (photo discarded)", template)

    def identify() -> Any:
        """One identify of the enrolled face, each time under a fresh probe consent: one is
        used up by the attempt that names it (steps 6 and 9)."""
        probe = probe_consent(client, keys["researcher"], purpose_id=purpose["id"],
                              notice_id=notice["id"], image=faces[0])
        return _call(
            client,
            "POST",
            "/v1/identify",
            keys["researcher"],
            data={"purpose_id": purpose["id"], "probe_consent_id": probe["id"]},
            files={"image": ("probe.jpg", faces[0], "image/jpeg")},
        )

    found = identify()
    _step("6. The person in the probe signs a probe consent; identify: candidates, not verdicts",
          found)
    second_verifier = _call(client, "POST", "/v1/keys", admin,
                            json={"role": "verifier", "name": "demo verifier 2"})["secret"]
    decisions = [
        _call(client, "POST", f"/v1/reviews/{candidate['review_id']}", verifier,
              json={"decision": "confirm", "reason": "demo: same person"})
        for candidate in found["candidates"]
        for verifier in (keys["verifier"], second_verifier)
    ]
    _step(
        "6b. Two verifiers confirm each candidate (AI Act art. 14(5))",
        [{"candidate": d["candidate"], "status": d["status"]} for d in decisions[1::2]],
    )
    token = person.token
    pseudonym = person.pseudonym
    export = _call(client, "GET", f"/v1/subjects/{pseudonym}/export", token)
    _step(
        "7. Access export",
        {
            "consents": len(export["consents"]),
            "templates": len(export["templates"]),
            "events": len(export["events"]),
        },
    )
    withdrawal = person.withdraw(consent_id)
    _step(
        "8. Consent withdrawn (signed with the passkey too)",
        {
            "templates_erased": withdrawal["templates_erased"],
            "subject_erased": withdrawal["subject_erased"],
        },
    )
    _step("9. Identify again", identify())
    if not withdrawal["subject_erased"]:
        erasure = _call(client, "DELETE", f"/v1/subjects/{pseudonym}", token)
    else:
        erasure = withdrawal["erasure"]
    _step("10. Erasure receipt (signed)", erasure)
    chain = _call(client, "GET", "/v1/audit/verify", keys["reviewer"])
    _step("11. Audit chain verified", chain)
    if not chain["ok"]:
        raise DemoFailed("the audit chain does not verify")


def run(*, url: str | None, api_key: str | None, data_dir: Path | None) -> None:
    """``optinface demo`` (:mod:`api.cli.drivers`, its options): the walk-through, in
    process or against ``url``."""
    console().print(Panel.fit("optinface demo: every step goes through the HTTP API"))
    check_remote(url, api_key)
    with ExitStack() as stack:
        if url is None:
            client, admin, service = stack.enter_context(_in_process(data_dir))
            detector = service.pipeline.detector
        else:
            assert api_key is not None  # check_remote
            client, admin = stack.enter_context(httpx2.Client(base_url=url, timeout=60)), api_key
            from optinface.engine.pipeline import FacePipeline
            from optinface.engine.settings import EngineSettings

            detector = FacePipeline.from_settings(EngineSettings()).detector
        faces = [encode(image) for image in portraits(detector)]
        try:
            _walk(client, admin, faces)
        except (DemoFailed, SoftPersonFailed) as failure:
            say_error(f"demo failed: {failure}")
            raise typer.Exit(code=1) from failure
    console().print("[bold green]demo complete[/]")
