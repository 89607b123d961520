"""A person with a SOFTWARE passkey (:mod:`consent.soft_authenticator`) using the HTTP API, as
their browser would through the portal's JavaScript. For the demo and the tests only: the
server verifies every response with the real ``webauthn`` library, but this authenticator's
private key lives in this process. Real people sign on their own device.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx2

from optinface.consent.soft_authenticator import SoftAuthenticator

DEFAULT_ORIGIN = "http://localhost:8000"


class SoftPersonFailed(Exception):
    """The API refused a step; the answer's code and text are in the message."""

    def __init__(self, response: httpx2.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url.path} -> "
                         f"{response.status_code} {response.text}")
        self.response = response


def _ok(response: httpx2.Response) -> Any:
    if response.status_code >= 400:
        raise SoftPersonFailed(response)
    return response.json() if response.content else None


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class SoftHttpPerson:
    """The holder of one passkey for ``pseudonym`` (the subject, or their guardian)."""

    client: httpx2.Client
    pseudonym: str
    token: str = field(repr=False)
    authenticator: SoftAuthenticator = field(repr=False)

    @classmethod
    def take_over(cls, client: httpx2.Client, link: str, *,
                  origin: str = DEFAULT_ORIGIN) -> SoftHttpPerson:
        """Open the enrolment link, register a passkey, sign in: the token is the person's."""
        authenticator = SoftAuthenticator(origin=origin)
        options = _ok(client.post("/v1/passkeys/registration-options", json={"link": link}))
        _ok(client.post("/v1/passkeys/registrations", json={
            "ceremony_id": options["ceremony_id"],
            "credential": authenticator.create(options["options"])}))
        person = cls(client=client, pseudonym="", token="", authenticator=authenticator)
        person.sign_in()
        return person

    def sign_in(self) -> dict[str, Any]:
        challenge = _ok(self.client.post("/v1/passkeys/sign-in-options"))
        signed_in = _ok(self.client.post("/v1/passkeys/sign-ins", json={
            "ceremony_id": challenge["ceremony_id"],
            "credential": self.authenticator.get(challenge["options"])}))
        self.pseudonym, self.token = signed_in["subject"], signed_in["subject_token"]
        return dict(signed_in)

    @property
    def headers(self) -> dict[str, str]:
        return _bearer(self.token)

    def sign(self, act: dict[str, Any], *, opener: str | None = None) -> dict[str, Any]:
        """Ask for the act's challenge (as ``opener``'s key, default this person's token) and
        sign it: the body to post to the act's route."""
        challenge = _ok(self.client.post(f"/v1/subjects/{self.pseudonym}/challenges", json=act,
                                         headers=_bearer(opener or self.token)))
        return {"ceremony_id": challenge["ceremony_id"],
                "credential": self.authenticator.get(challenge["options"])}

    def consent(self, *, purposes: list[str], notice_id: str, expires_at: str,
                language: str = "en", given_by: str | None = None) -> dict[str, Any]:
        act = {"act": "consent", "purposes": purposes, "notice_id": notice_id,
               "language": language, "expires_at": expires_at, "given_by": given_by}
        return dict(_ok(self.client.post(f"/v1/subjects/{self.pseudonym}/consents",
                                         json=self.sign(act), headers=self.headers)))

    def withdraw(self, consent_id: str, purpose_id: str | None = None) -> dict[str, Any]:
        """Withdraw the consent, or with ``purpose_id`` only that purpose of it."""
        signed = self.sign({"act": "withdraw", "consent_id": consent_id,
                            "purpose_id": purpose_id})
        url = f"/v1/subjects/{self.pseudonym}/consents/{consent_id}"
        if purpose_id is not None:
            url += f"/purposes/{purpose_id}"
        return dict(_ok(self.client.post(f"{url}/withdraw", json=signed, headers=self.headers)))

    def set_searchable(self, searchable: bool) -> dict[str, Any]:
        signed = self.sign({"act": "searchable", "searchable": searchable})
        return dict(_ok(self.client.patch(f"/v1/subjects/{self.pseudonym}", json=signed,
                                          headers=self.headers)))

    def approve_capture(self, consent_id: str, image: bytes, *, desk: str | None = None,
                        replaces: int | None = None) -> str:
        """A capture session for this photo (opened by the ``desk`` key, or by the person),
        approved with the passkey: its id. With ``replaces``, it rectifies that template."""
        act = {"act": "enrol", "consent_id": consent_id,
               "photo_sha256": hashlib.sha256(image).hexdigest(), "replaces": replaces}
        approved = _ok(self.client.post(f"/v1/subjects/{self.pseudonym}/capture-approvals",
                                        json=self.sign(act, opener=desk), headers=self.headers))
        return str(approved["id"])

    def sign_probe(self, link: str) -> dict[str, Any]:
        """As the subject a verify compares with: sign the researcher's link with this
        passkey (none is made on the link): the probe consent."""
        challenge = _ok(self.client.post("/v1/probe-links/subject-challenge",
                                         json={"link": link}))
        return dict(_ok(self.client.post("/v1/probe-links/signatures", json={
            "ceremony_id": challenge["ceremony_id"],
            "credential": self.authenticator.get(challenge["options"])})))

    def enrol(self, consent_id: str, image: bytes, *, desk: str | None = None,
              replaces: int | None = None) -> dict[str, Any]:
        capture_id = self.approve_capture(consent_id, image, desk=desk, replaces=replaces)
        return dict(_ok(self.client.post(
            f"/v1/subjects/{self.pseudonym}/faces", data={"capture_id": capture_id},
            files={"image": ("face.jpg", image, "image/jpeg")},
            headers=_bearer(desk or self.token))))


def probe_link(client: httpx2.Client, researcher_key: str, *, purpose_id: str, notice_id: str,
               image: bytes, subject: str | None = None) -> str:
    """The researcher asks for the consent of the person in ``image`` (for a verify, of the
    ``subject`` compared with): the link's secret."""
    link = _ok(client.post("/v1/probe-consents", headers=_bearer(researcher_key), json={
        "purpose_id": purpose_id, "notice_id": notice_id, "subject": subject,
        "probe_sha256": hashlib.sha256(image).hexdigest()}))
    return str(link["secret"])


def probe_consent(client: httpx2.Client, researcher_key: str, *, purpose_id: str, notice_id: str,
                  image: bytes, origin: str = DEFAULT_ORIGIN) -> dict[str, Any]:
    """The researcher asks; the person in the probe opens the link, registers and signs."""
    secret = probe_link(client, researcher_key, purpose_id=purpose_id, notice_id=notice_id,
                        image=image)
    authenticator = SoftAuthenticator(origin=origin)
    options = _ok(client.post("/v1/probe-links/registration-options",
                              json={"link": secret}))
    challenge = _ok(client.post("/v1/probe-links/registrations", json={
        "ceremony_id": options["ceremony_id"],
        "credential": authenticator.create(options["options"])}))
    return dict(_ok(client.post("/v1/probe-links/signatures", json={
        "ceremony_id": challenge["ceremony_id"],
        "credential": authenticator.get(challenge["options"])})))
