"""Who answers for the database, as one public record, and whether it is still a placeholder.

P-39.1 s. 3.1 (the person in charge, published), s. 3.2 (the governance policy), GDPR arts. 13,
27 and 37 (contacts, EU representative, DPO), LCCJTI art. 45 (where the database is kept), and
the CAI's biometrics guidance (a non-biometric alternative). The same record goes into the
register, the public ``/privacy`` page, every consent receipt and every access export, so they
cannot disagree.
"""

from __future__ import annotations

import re

from optinface.consent.errors import EuRepresentativeRequired, PlaceholderAccountability
from optinface.consent.identifiers import is_sha256
from optinface.consent.schemas import Accountability, NoticePublic, RightInstruction
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.tables import Notice, Subject

_PLACEHOLDER = re.compile(r"example\.(org|com|net)|placeholder|not yet written|PIA-0000",
                          re.IGNORECASE)

RIGHTS_REQUEST_DAYS = 30  # P-39.1 s. 32 (30 days) and GDPR art. 12(3) (one month)


# Each right, its law and how to exercise it: English source strings with ``{contact}`` (the
# pages translate them, see ``api/web/export.py``); ``{{...}}`` is a literal brace of a route.
RIGHTS: tuple[tuple[str, str, str], ...] = (
    ("access", "P-39.1 s. 27; GDPR art. 15",
     "the portal's \"My data\" page, or GET /v1/subjects/{{pseudonym}}/export with your subject"
     " token (JSON, Markdown or HTML), at any time and free; or write to {contact}"),
    ("portability", "P-39.1 s. 27; GDPR art. 20",
     "the portal's \"Download it as JSON\" (My data), or GET"
     " /v1/subjects/{{pseudonym}}/export?format=json with your subject token: everything we hold"
     " about you in a structured, commonly used, machine-readable format, at any time and free;"
     " your face templates themselves only if you ask, signed in yourself (\"Download it as JSON"
     " with my templates\", or &vectors=true); to have it sent to another organisation, write"
     " to {contact}"),
    ("rectification", "P-39.1 s. 28; GDPR art. 16",
     "enrol a new photo under your consent (the old template can be erased), or write to"
     " {contact}"),
    ("withdrawal", "P-39.1 s. 9.1, 14; GDPR art. 7(3)",
     "POST /v1/subjects/{{pseudonym}}/consents/{{id}}/withdraw (one purpose only:"
     " .../consents/{{id}}/purposes/{{purpose}}/withdraw), or the portal's \"Stop using my face"
     " for...\" buttons: one step, signed with your passkey, effective at once"),
    ("erasure", "P-39.1 s. 28; GDPR art. 17",
     "DELETE /v1/subjects/{{pseudonym}}, or the portal: a signed receipt is returned"),
    ("de-indexation", "P-39.1 s. 28.1",
     "the portal's search switch, or PATCH /v1/subjects/{{pseudonym}} signed with your passkey:"
     " out of every search at once"),
    ("human review and observations", "P-39.1 s. 12.1; GDPR art. 22",
     "write to {contact}: a person reviews any outcome that concerns you"),
    ("complaint", "P-39.1 s. 3.2; GDPR art. 77",
     "POST /v1/subjects/{{pseudonym}}/requests with kind \"complaint\" (answered within 30"
     " days), or write to {contact}; or to the Commission d'accès à l'information du Québec or"
     " your EU supervisory authority"),
)


def rights(settings: ConsentSettings) -> list[RightInstruction]:
    """Each right and how to exercise it; every one is free and answered within 30 days."""
    contact = settings.privacy_officer_contact
    return [RightInstruction(right=right, basis=basis, how=how.format(contact=contact))
            for right, basis, how in RIGHTS]


def accountability(settings: ConsentSettings) -> Accountability:
    """The one accountability record, built from settings for the register, ``/privacy``,
    receipts, exports and incident notices alike, so none of them can name another contact."""
    return Accountability(
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        privacy_officer_name=settings.privacy_officer_name,
        privacy_officer_title=settings.privacy_officer_title,
        privacy_officer_contact=settings.privacy_officer_contact,
        dpo_contact=settings.dpo_contact,
        eu_representative=settings.eu_representative,
        pia_reference=settings.pia_reference,
        pia_sha256=settings.pia_sha256,
        policy_url=settings.policy_url,
        hosting=settings.hosting,
        non_biometric_alternative=settings.non_biometric_alternative,
        rights=rights(settings),
        rights_request_days=RIGHTS_REQUEST_DAYS,
        demo_mode=settings.demo_mode,
    )


def _placeholder(value: str) -> bool:
    return not value.strip() or bool(_PLACEHOLDER.search(value))


def representative_owed(settings: ConsentSettings) -> bool:
    """GDPR art. 27: a controller with no EU establishment that processes EU data subjects'
    data owes them a named EU representative; none (or a placeholder) is configured."""
    return not settings.eu_establishment and _placeholder(settings.eu_representative or "")


def accepts(jurisdiction: Jurisdiction, settings: ConsentSettings) -> bool:
    """Whether this deployment may take subjects of ``jurisdiction``: EU ones (plain ``EU`` or
    a member state's) only once their representative is named (or none is owed). Demo mode,
    never for real people, is excused as it is for every placeholder
    (:func:`require_accountable`)."""
    return (jurisdiction.regime is not Jurisdiction.EU or settings.demo_mode
            or not representative_owed(settings))


def require_accepted(jurisdiction: Jurisdiction, settings: ConsentSettings) -> None:
    """Refuse a subject of a jurisdiction this deployment may not take (see :func:`accepts`)."""
    if not accepts(jurisdiction, settings):
        raise EuRepresentativeRequired(
            "an EU data subject needs the controller's EU representative (GDPR art. 27): set"
            " OPTINFACE_EU_REPRESENTATIVE, or OPTINFACE_EU_ESTABLISHMENT=true where the"
            " controller is established in the EU", details={"jurisdiction": str(jurisdiction)})


def require_subject_accepted(subject: Subject, settings: ConsentSettings) -> None:
    """:func:`require_accepted` for a subject already held: what widens their processing (a
    consent, a link, a photo, an opt-in) waits while their jurisdiction is not accepted; what
    narrows it never does."""
    require_accepted(Jurisdiction(subject.jurisdiction), settings)


def placeholders(settings: ConsentSettings) -> list[str]:
    """The settings that still hold a placeholder (or nothing) where a real value is owed."""
    fields = {
        "controller_name": settings.controller_name,
        "controller_contact": settings.controller_contact,
        "privacy_officer_name": settings.privacy_officer_name,
        "privacy_officer_title": settings.privacy_officer_title,
        "privacy_officer_contact": settings.privacy_officer_contact,
        "dpo_contact": settings.dpo_contact,
        "pia_reference": settings.pia_reference,
        "policy_url": settings.policy_url,
        "hosting_country": settings.hosting_country,
        "hosting_region": settings.hosting_region,
        "hosting_provider": settings.hosting_provider,
        "non_biometric_alternative": settings.non_biometric_alternative,
    }
    found = [name for name, value in fields.items() if _placeholder(value)]
    if settings.jurisdiction.regime is Jurisdiction.EU and representative_owed(settings):
        found.append("eu_representative")
    if not is_sha256(settings.pia_sha256):
        found.append("pia_sha256")
    return found


def require_accountable(settings: ConsentSettings) -> None:
    """Refuse to serve real people while accountability is a placeholder (demo mode excepted)."""
    missing = placeholders(settings)
    if missing and not settings.demo_mode:
        raise PlaceholderAccountability(
            "accountability settings are placeholders: set OPTINFACE_"
            + ", OPTINFACE_".join(name.upper() for name in missing)
            + " (or OPTINFACE_DEMO_MODE=true for a demonstration, never for real people)",
            details={"settings": missing})


def notice_public(notice: Notice, settings: ConsentSettings) -> NoticePublic:
    """A notice as people are shown it, wherever it is: with who answers for the data, the
    alternative and the rights."""
    return NoticePublic.model_validate(notice).model_copy(
        update={"accountability": accountability(settings)})
