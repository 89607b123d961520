"""The consent form's wording: what a person reads before they consent, in their language, and
what their passkey signs.

A consent is given in clear terms the person understands (P-39.1 s. 14; Law 25), in French for
a French-speaking person (Charter of the French language). The portal shows, above the boxes to
tick, the uses offered (each one's name, description, legal basis and retention), the
recipients, the transfer safeguards and the retention rules: in the reader's language, the
pages' words from their dictionary (through a :class:`~consent.wording.Say`: the core cannot
import the web layer) and the operator's own texts from their translations
(:mod:`consent.operator_texts`). :func:`wording` builds that text once, as data, with its
SHA-256; the page renders it, and the consent statement carries it whole
(:mod:`consent.subject_acts`), so the passkey signs exactly what was shown, and the receipt
repeats it (:mod:`consent.receipts`).

An operator text with no translation into the reader's language is shown in English, marked on
the page as existing only in English (in the reader's words), and listed in the wording's
``englishOnly``: the signature covers the fact that the person was told. It is never shown as
if it were translated. The page sends the SHA-256 it showed (``ConsentAct.wording_sha256``); a
wording changed meanwhile (a translation set, a recipient added) is refused before anyone
signs (``wording_changed``), so what is signed is never other than what was read.

The retention policy keeps its one version, the SHA-256 of its English text (``/privacy/policy``
and the register name it): the wording names that version beside the rules as they were read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from optinface.consent import ledger, operator_texts, retention_policy, transfers
from optinface.consent.crypto import sha256_problem, with_sha256
from optinface.consent.errors import WordingChanged
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Purpose
from optinface.consent.wording import Say

CONSENT_SENTENCE = "I consent to the ticked uses"
"""What the person presses to consent (the form's button), in their language in the wording."""


def wording(session: Session, settings: ConsentSettings, say: Say) -> dict[str, Any]:
    """The consent form's wording in ``say``'s language, with its ``sha256`` (see the module
    docstring): the uses offered, the recipients, the transfer safeguards, the retention rules
    and the consent sentence."""
    shown = operator_texts.shown(session, settings, say)
    leaves = any(t.transfer for t in transfers.transfers(settings))
    policy = retention_policy.versioned(settings)
    hold = settings.access_log_hold
    body: dict[str, Any] = {
        "language": say.language,
        "consent": say(CONSENT_SENTENCE),
        "purposes": [purpose_as_shown(p, shown) for p in ledger.purposes(session)],
        "recipients": [{"name": shown(r.name), "purpose": shown(r.purpose),
                        "legalBasis": shown(r.legal_basis)} for r in settings.recipients],
        # One setting states them for every area the data leave; none left, or none stated: null.
        "transferSafeguards": shown(settings.transfer_safeguards)
        if leaves and settings.transfer_safeguards else None,
        "retentionPolicy": {"sha256": policy["sha256"],
                            "rules": retention_policy.retention_rules(
                                settings, say, log_hold=shown(hold) if hold else None)},
    }
    body["englishOnly"] = list(shown.english_only)
    return with_sha256(body)


def purpose_as_shown(purpose: Purpose, shown: Callable[[str], str]) -> dict[str, Any]:
    """A use as the consent form words it for a reader (``shown``: their translations of the
    operator's texts): what their passkey signs of it."""
    return {"purposeId": purpose.id, "name": shown(purpose.name),
            "description": shown(purpose.description), "legalBasis": shown(purpose.legal_basis),
            "retentionDays": purpose.retention_days}


def require_purposes_as_signed(session: Session, settings: ConsentSettings,
                               signed: dict[str, Any] | None, purposes: list[Purpose]) -> None:
    """Refuse (``wording_changed``) to record a consent to ``purposes`` when their rows, as the
    signed wording's reader is shown them now, are not the uses the person signed: the receipt
    states each row's texts and days (the Kantara fields, in the operator's English), so a
    row edited between the challenge and the consent would otherwise be stated as agreed to.
    A statement from before the wording was signed (None) has nothing to compare."""
    if signed is None:
        return
    shown = operator_texts.shown_in(session, settings, str(signed.get("language")))
    read = {p.get("purposeId"): p for p in signed.get("purposes", []) if isinstance(p, dict)}
    for purpose in purposes:
        if read.get(purpose.id) != purpose_as_shown(purpose, shown):
            raise WordingChanged(
                "a use's wording changed since it was signed; read it again, then sign",
                details={"purpose_id": purpose.id, "wording_sha256": signed.get("sha256")})


def require_shown(signed: dict[str, Any], shown_sha256: str | None) -> None:
    """Refuse (``wording_changed``) to sign a wording other than the one the page showed, when
    the page said which (``shown_sha256``)."""
    if shown_sha256 is not None and shown_sha256 != signed["sha256"]:
        raise WordingChanged(
            "the consent form's wording changed since it was shown; read it again, then sign",
            details={"shown_sha256": shown_sha256, "wording_sha256": signed["sha256"]})


def wording_problem(stated: object) -> str | None:
    """Why a stated wording (a receipt's copy, so anything) is not the text its SHA-256 names,
    or None."""
    return sha256_problem(stated, not_one="the consent form's wording is not a wording",
                          mismatch="the consent form's wording does not match its SHA-256")
