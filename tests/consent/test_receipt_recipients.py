"""A consent receipt names the recipients the person was told of at collection (GDPR art.
13(1)(e), P-39.1 s. 8; row Q-08): in the statement they sign and in the receipt, Kantara v1.1's
``thirdPartyDisclosure`` and ``thirdPartyName`` included; a receipt from before still verifies."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from optinface.consent.receipts import (
    CONSENT_RECEIPT_VERSION,
    subject_signature_problem,
    verify_receipt,
)
from optinface.consent.schemas import ConsentAct
from optinface.consent.settings import Recipient
from tests.support.consent import World, refused

BOARD = Recipient(name="Ethics board", purpose="audit of searches", legal_basis="consent")
ARCHIVE = Recipient(name="University archive", purpose="keeping receipts",
                    legal_basis="legal obligation")
DIFFERENT = "the person signed a different statement than this receipt states"


def _receipt(world: World) -> tuple[dict[str, Any], str]:
    """A consent signed now: its receipt and the controller's signature."""
    pseudonym, consent_id = world.subject()
    [consent] = world.service.list_consents(actor=world.admin, subject=pseudonym)
    assert consent.receipt is not None and consent.id == consent_id
    return consent.receipt.receipt, consent.receipt.signature


def _purposes(receipt: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for service in receipt["services"] for p in service["purposes"]]


def test_the_receipt_names_the_configured_recipients_the_person_signed(world: World) -> None:
    world.service.settings.recipients = [BOARD, ARCHIVE]
    receipt, signature = _receipt(world)
    named = [BOARD.model_dump(), ARCHIVE.model_dump()]
    assert receipt["recipients"] == named
    assert receipt["subjectSignature"]["statement"]["recipients"] == named  # the person's
    assert all(p["thirdPartyDisclosure"] is True
               and p["thirdPartyName"] == "Ethics board; University archive"
               for p in _purposes(receipt))
    assert receipt["version"] == CONSENT_RECEIPT_VERSION == "KI-CR-v1.1.0"  # fields of v1.1
    assert verify_receipt(receipt, signature, world.service.public_key)
    assert subject_signature_problem(receipt) is None

    # What the operator could re-sign alone is caught offline: recipients left out, or
    # told otherwise in a purpose than the person signed.
    hidden = {**receipt, "recipients": []}
    assert subject_signature_problem(hidden) == DIFFERENT
    quiet = copy.deepcopy(receipt)
    _purposes(quiet)[0].update(thirdPartyDisclosure=False)
    del _purposes(quiet)[0]["thirdPartyName"]
    assert subject_signature_problem(quiet) == DIFFERENT
    renamed = copy.deepcopy(receipt)
    _purposes(renamed)[0]["thirdPartyName"] = "Ethics board"
    assert subject_signature_problem(renamed) == DIFFERENT


def test_with_no_recipient_the_receipt_says_nothing_is_disclosed(world: World) -> None:
    receipt, _ = _receipt(world)
    assert receipt["recipients"] == [] == receipt["subjectSignature"]["statement"]["recipients"]
    assert all(p["thirdPartyDisclosure"] is False and "thirdPartyName" not in p
               for p in _purposes(receipt))
    assert subject_signature_problem(receipt) is None
    claimed = {**receipt, "recipients": [BOARD.model_dump()]}
    assert subject_signature_problem(claimed) == DIFFERENT


def test_a_receipt_from_before_recipients_were_stated_still_verifies(world: World) -> None:
    """Made as they were: no ``recipients`` in the receipt nor in the statement the person's
    passkey signed, each purpose ``thirdPartyDisclosure: false``; both signatures made anew."""
    pseudonym, _ = world.subject()
    [consent] = world.service.list_consents(actor=world.admin, subject=pseudonym)
    assert consent.receipt is not None
    old, signature = world.as_made_before(pseudonym, consent.receipt.receipt, "recipients")
    assert verify_receipt(old, signature, world.service.public_key)
    assert subject_signature_problem(old) is None
    assert subject_signature_problem({**old, "recipients": [BOARD.model_dump()]}) == DIFFERENT


def test_a_consent_signed_before_the_recipients_changed_is_signed_again(world: World) -> None:
    """Told of no one, the person would otherwise get a receipt naming a new recipient."""
    person = world.person()
    act = ConsentAct(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                     expires_at=world.clock.now() + timedelta(days=90))
    signed = person.sign(act)
    world.service.settings.recipients = [BOARD]
    refused("challenge_invalid", lambda: world.service.give_consent(
        actor=person.actor, subject=person.pseudonym, signed=signed))
    given = person.consent(purposes=act.purposes, notice_id=act.notice_id,
                           language=act.language, expires_at=act.expires_at)
    assert given.receipt.receipt["recipients"] == [BOARD.model_dump()]
