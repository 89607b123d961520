"""A person who holds a SOFTWARE passkey (:mod:`consent.soft_authenticator`), driving
:class:`consent.service.OptinFace` the way their browser drives the portal.

For the notebook of ``docs/library.md``, the tests and the demo only: every signature it makes is
verified by the real ``webauthn`` library, but its private key lives in this process (see the
warning in :mod:`consent.soft_authenticator`). A real person uses the portal on their own device.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from optinface.consent.roles import Actor
from optinface.consent.schemas import (
    CaptureAct,
    CapturePublic,
    ConsentAct,
    ConsentCapacity,
    ConsentGiven,
    LinkSecret,
    PasskeyResponse,
    ProbeConsentPublic,
    SearchableAct,
    SubjectAct,
    SubjectPublic,
    TemplatePublic,
    WithdrawAct,
    WithdrawalResult,
)
from optinface.consent.service import OptinFace
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.wording import Say, english

DEFAULT_ORIGIN = "http://localhost:8000"


@dataclass
class SoftPerson:
    """The holder of one passkey for ``pseudonym`` (as the subject, or as their guardian)."""

    service: OptinFace
    pseudonym: str
    actor: Actor
    authenticator: SoftAuthenticator = field(repr=False)

    @classmethod
    def take_over(cls, service: OptinFace, link: str, *,
                  origin: str = DEFAULT_ORIGIN) -> SoftPerson:
        """Open the one-time link, register a passkey, sign in with it, keep the token."""
        authenticator = SoftAuthenticator(origin=origin)
        options = service.passkey_registration_options(LinkSecret(link=link))
        service.register_passkey(PasskeyResponse(
            ceremony_id=options.ceremony_id, credential=authenticator.create(options.options)))
        challenge = service.sign_in_options()
        signed_in = service.sign_in(PasskeyResponse(
            ceremony_id=challenge.ceremony_id, credential=authenticator.get(challenge.options)))
        return cls(service=service, pseudonym=signed_in.subject,
                   actor=service.authenticate(signed_in.subject_token),
                   authenticator=authenticator)

    def sign(self, act: SubjectAct, *, opener: Actor | None = None,
             say: Say = english) -> PasskeyResponse:
        """Ask for the act's challenge (as ``opener``, default this person; a consent's wording
        in ``say``'s language) and sign it."""
        challenge = self.service.challenge(actor=opener or self.actor, subject=self.pseudonym,
                                           act=act, say=say)
        return PasskeyResponse(ceremony_id=challenge.ceremony_id,
                               credential=self.authenticator.get(challenge.options))

    def consent(self, *, purposes: list[str], notice_id: str, expires_at: datetime,
                language: str = "en", given_by: ConsentCapacity | None = None,
                say: Say = english) -> ConsentGiven:
        """Consent, having read the consent form's wording in ``say``'s language."""
        signed = self.sign(ConsentAct(purposes=purposes, notice_id=notice_id, language=language,
                                      expires_at=expires_at, given_by=given_by), say=say)
        return self.service.give_consent(actor=self.actor, subject=self.pseudonym,
                                         signed=signed)

    def withdraw(self, consent_id: str) -> WithdrawalResult:
        signed = self.sign(WithdrawAct(consent_id=consent_id))
        return self.service.withdraw_consent(actor=self.actor, subject=self.pseudonym,
                                             consent_id=consent_id, signed=signed)

    def withdraw_purpose(self, consent_id: str, purpose_id: str) -> WithdrawalResult:
        signed = self.sign(WithdrawAct(consent_id=consent_id, purpose_id=purpose_id))
        return self.service.withdraw_purpose(actor=self.actor, subject=self.pseudonym,
                                             consent_id=consent_id, purpose_id=purpose_id,
                                             signed=signed)

    def sign_probe(self, link: str) -> ProbeConsentPublic:
        """As the subject a verify compares with: sign the researcher's link with this
        passkey (none is made on the link): the probe consent."""
        challenge = self.service.probe_subject_challenge(LinkSecret(link=link))
        return self.service.sign_probe_consent(PasskeyResponse(
            ceremony_id=challenge.ceremony_id,
            credential=self.authenticator.get(challenge.options)))

    def set_searchable(self, searchable: bool) -> SubjectPublic:
        signed = self.sign(SearchableAct(searchable=searchable))
        return self.service.set_searchable(actor=self.actor, subject=self.pseudonym,
                                           signed=signed)

    def approve_capture(self, consent_id: str, image: bytes, *, desk: Actor | None = None,
                        replaces: int | None = None) -> CapturePublic:
        """A capture session for this photo (opened by ``desk``, or by the person), approved
        with the passkey; with ``replaces``, it rectifies that template."""
        act = CaptureAct(consent_id=consent_id, photo_sha256=hashlib.sha256(image).hexdigest(),
                         replaces=replaces)
        return self.service.approve_capture(actor=self.actor, subject=self.pseudonym,
                                            signed=self.sign(act, opener=desk))

    def enrol(self, consent_id: str, image: bytes, *, desk: Actor | None = None,
              replaces: int | None = None) -> TemplatePublic:
        """An approved capture session (:meth:`approve_capture`), then the photo uploaded."""
        capture = self.approve_capture(consent_id, image, desk=desk, replaces=replaces)
        return self.service.enrol(actor=desk or self.actor, subject=self.pseudonym,
                                  capture_id=capture.id, image=image)


def probe_consent(service: OptinFace, link: str, *,
                  origin: str = DEFAULT_ORIGIN) -> ProbeConsentPublic:
    """The person in a probe opens the researcher's link, registers a passkey and signs."""
    authenticator = SoftAuthenticator(origin=origin)
    options = service.probe_registration_options(LinkSecret(link=link))
    challenge = service.register_probe_passkey(PasskeyResponse(
        ceremony_id=options.ceremony_id, credential=authenticator.create(options.options)))
    return service.sign_probe_consent(PasskeyResponse(
        ceremony_id=challenge.ceremony_id, credential=authenticator.get(challenge.options)))
