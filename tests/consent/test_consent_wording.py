"""What a person signs is what they read, in their language (Law 25; Charter of the French
language; rows Q-08, Q-15): the consent form's wording (uses, recipients, safeguards, retention
rules, in French for a French reader, the operator's texts translated by the operator) is in the
statement the passkey signs and in the receipt; a text with no French is shown in English and
recorded as such; receipts from before still verify and still back their consents."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from optinface.api.web.i18n import Words
from optinface.consent import authority, retention_policy
from optinface.consent.audit import AuditAction
from optinface.consent.crypto import canonical_json
from optinface.consent.passkeys import challenge_for
from optinface.consent.receipts import subject_signature_problem, verify_receipt
from optinface.consent.schemas import (
    AuditFilter,
    ConsentAct,
    OperatorTextPublic,
    TranslationLanguage,
)
from optinface.consent.settings import Recipient
from optinface.consent.tables import Consent
from tests.support.api import ENGLISH, FRENCH, verify_receipt_file
from tests.support.backends import both_backends
from tests.support.consent import World, refused

FR = TranslationLanguage.FR
DIFFERENT = "the person signed a different statement than this receipt states"
PURPOSE_FR = {
    "name": "étude-1",
    "description": "Réidentification de volontaires consentants de l'étude 1",
    "legal_basis": "consentement exprès (Loi 25, art. 12; RGPD, art. 9(2)a))",
}
BOARD = Recipient(name="Ethics board", purpose="audit of searches", legal_basis="consent")


def _texts(world: World) -> dict[str, OperatorTextPublic]:
    """The texts consent forms show, by where they show (one place each here)."""
    return {where: text for text in world.service.operator_texts(language=FR)
            for where in text.places}


def _consent(world: World, say: Words) -> tuple[str, Consent, dict[str, Any]]:
    """A person consents having read the form in ``say``'s language: (pseudonym, the consent
    row, its receipt)."""
    person = world.person()
    given = person.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                           expires_at=world.clock.now() + timedelta(days=90), say=say)
    with world.service.runtime.db.transaction() as session:
        row = session.get(Consent, given.consent.id)
        assert row is not None and row.receipt is not None
        session.expunge(row)
    return person.pseudonym, row, row.receipt  # as stored: JSON, nothing shared


def _signed_challenge(receipt: dict[str, Any]) -> bytes:
    """The challenge the person's authenticator signed, read from its clientDataJSON."""
    client_data = receipt["subjectSignature"]["assertion"]["response"]["clientDataJSON"]
    decoded = json.loads(base64.urlsafe_b64decode(client_data + "=" * (-len(client_data) % 4)))
    return base64.urlsafe_b64decode(decoded["challenge"] + "=" * (-len(decoded["challenge"]) % 4))


def _backed(world: World, pseudonym: str, consent_id: str) -> authority.Mismatch | None:
    with world.service.runtime.db.transaction() as session:
        row = session.get(Consent, consent_id)
        assert row is not None
        return authority.consent_problem(row, pseudonym=pseudonym,
                                         public_key=world.service.public_key)


def test_a_french_consent_signs_the_french_text_it_showed_and_its_receipt_keeps_it(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    world.translate_purpose(PURPOSE_FR)
    shown = world.service.consent_form(FRENCH)  # what the portal shows a French reader
    pseudonym, consent, receipt = _consent(world, FRENCH)

    wording = receipt["wording"]
    assert wording == shown and wording["language"] == "fr"
    [purpose] = wording["purposes"]
    assert (purpose["name"], purpose["description"], purpose["legalBasis"]) == tuple(
        PURPOSE_FR.values())
    assert wording["retentionPolicy"]["rules"] == retention_policy.retention_rules(
        world.service.settings, FRENCH)
    assert "au plus" in wording["retentionPolicy"]["rules"][1]  # the French rules, not English
    assert wording["consent"] == "Je consens aux utilisations cochées"
    assert wording["englishOnly"] == []
    body = {key: value for key, value in wording.items() if key != "sha256"}
    assert wording["sha256"] == hashlib.sha256(canonical_json(body)).hexdigest()

    # The bytes the passkey signed are the hash of the statement holding that very wording.
    statement = receipt["subjectSignature"]["statement"]
    assert statement["wording"] == wording
    assert _signed_challenge(receipt) == challenge_for(statement)
    assert verify_receipt(receipt, consent.receipt_signature or "", world.service.public_key)
    assert subject_signature_problem(receipt) is None
    # The Kantara fields keep the declared English; the retention policy its one version.
    assert receipt["services"][0]["purposes"][0]["description"].startswith("Re-identification")
    assert statement["retentionPolicy"] == retention_policy.versioned(world.service.settings)

    # Every use checks the consent against this receipt: an enrolment, then a search.
    assert _backed(world, pseudonym, consent.id) is None
    world.signer(pseudonym).set_searchable(True)
    world.enrol(pseudonym, consent.id, portrait_jpegs[0])
    assert [c.subject for c in world.identify(flipped_jpegs[0]).candidates] == [pseudonym]


def test_an_english_consent_signs_the_english_text_as_before(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    world.translate_purpose(PURPOSE_FR)  # a French text set changes nothing for an English reader
    pseudonym, consent, receipt = _consent(world, ENGLISH)
    wording = receipt["wording"]
    assert wording["language"] == "en" and wording["englishOnly"] == []
    assert wording["purposes"][0]["description"] == (
        "Re-identification of consenting volunteers in study 1")
    assert wording["retentionPolicy"]["rules"] == retention_policy.retention_rules(
        world.service.settings)
    assert wording["consent"] == "I consent to the ticked uses"
    statement = receipt["subjectSignature"]["statement"]
    assert _signed_challenge(receipt) == challenge_for(statement)
    assert statement["retentionPolicy"] == receipt["retentionPolicy"]  # as before: the version
    assert subject_signature_problem(receipt) is None
    assert _backed(world, pseudonym, consent.id) is None
    world.signer(pseudonym).set_searchable(True)
    world.enrol(pseudonym, consent.id, portrait_jpegs[1])
    assert [c.subject for c in world.identify(flipped_jpegs[1]).candidates] == [pseudonym]


def test_a_text_with_no_french_is_shown_in_english_and_the_signature_records_it(
    world: World,
) -> None:
    world.service.settings.recipients = [BOARD]
    _, _, receipt = _consent(world, FRENCH)
    wording = receipt["wording"]
    [purpose] = wording["purposes"]
    assert purpose["description"] == "Re-identification of consenting volunteers in study 1"
    assert wording["recipients"] == [{"name": "Ethics board", "purpose": "audit of searches",
                                      "legalBasis": "consent"}]
    assert set(wording["englishOnly"]) == {
        "study-1", purpose["description"], purpose["legalBasis"], "Ethics board",
        "audit of searches", "consent"}
    assert wording["englishOnly"] == receipt["subjectSignature"]["statement"]["wording"][
        "englishOnly"]  # signed: the person was told which texts were English only
    missing = world.service.operator_texts(language=FR, missing=True)
    assert {t.source for t in missing} == set(wording["englishOnly"])


def test_a_translation_follows_its_english(world: World) -> None:
    """A recipient renamed in the settings loses its old French: its new English is shown,
    marked as English only, never the French of another text."""
    world.service.settings.recipients = [BOARD]
    board = _texts(world)["recipient 1 name"]
    world.service.translate_operator_text(actor=world.admin, language=FR,
                                          source_sha256=board.source_sha256,
                                          text="Comité d'éthique")
    assert world.service.consent_form(FRENCH)["recipients"][0]["name"] == "Comité d'éthique"
    world.service.settings.recipients = [BOARD.model_copy(update={"name": "Review board"})]
    shown = world.service.consent_form(FRENCH)
    assert shown["recipients"][0]["name"] == "Review board"
    assert "Review board" in shown["englishOnly"]
    assert _texts(world)["recipient 1 name"].text is None


def test_a_wording_changed_since_the_page_showed_it_is_not_signed(world: World) -> None:
    person = world.person()
    shown = world.service.consent_form(FRENCH)
    act = ConsentAct(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                     expires_at=world.clock.now() + timedelta(days=90),
                     wording_sha256=shown["sha256"])
    world.translate_purpose(PURPOSE_FR)  # meanwhile, the operator translates the purpose
    refused("wording_changed", lambda: person.sign(act, say=FRENCH))
    now_shown = world.service.consent_form(FRENCH)
    person.sign(act.model_copy(update={"wording_sha256": now_shown["sha256"]}), say=FRENCH)


def test_a_wording_edited_in_a_receipt_is_caught_offline(world: World) -> None:
    world.translate_purpose(PURPOSE_FR)
    _, _, receipt = _consent(world, FRENCH)
    edited = copy.deepcopy(receipt)
    edited["wording"]["purposes"][0]["description"] = "Rien de plus que l'étude 1"
    assert subject_signature_problem(edited) == DIFFERENT
    resealed = copy.deepcopy(edited)  # its hash made to match: still not what was signed
    body = {k: v for k, v in resealed["wording"].items() if k != "sha256"}
    resealed["wording"]["sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
    assert subject_signature_problem(resealed) == DIFFERENT
    dropped = {k: v for k, v in receipt.items() if k != "wording"}
    assert subject_signature_problem(dropped) == DIFFERENT


def test_a_receipt_from_before_the_wording_was_signed_still_verifies_and_backs_its_consent(
    world: World,
) -> None:
    """Made as they were: no ``wording`` in the receipt nor in the statement the person's
    passkey signed; both signatures made anew; the consent row keeps its authority."""
    pseudonym, consent, receipt = _consent(world, ENGLISH)
    old, signature = world.as_made_before(pseudonym, receipt, "wording")
    assert verify_receipt(old, signature, world.service.public_key)
    assert subject_signature_problem(old) is None
    with world.service.runtime.db.transaction() as session:
        row = session.get(Consent, consent.id)
        assert row is not None
        row.receipt, row.receipt_signature = old, signature
    assert _backed(world, pseudonym, consent.id) is None


def test_translations_are_declared_material_and_each_is_chained(world: World,
                                                                 flipped_jpegs: list[bytes]
                                                                 ) -> None:
    """A translation tells French readers what the purposes are: like the English, it is
    declared, so one set after the declaration refuses matching until declared again."""
    declared = world.service.register().material_sha256
    text = _texts(world)[f"purpose {world.purpose} description"]
    made = world.service.translate_operator_text(actor=world.admin, language=FR,
                                                 source_sha256=text.source_sha256,
                                                 text=PURPOSE_FR["description"])
    assert made.text == PURPOSE_FR["description"]
    assert world.service.register().material_sha256 != declared
    refused("redeclaration_required", lambda: world.identify(flipped_jpegs[0]))
    [event] = world.service.audit_events(
        actor=world.reviewer,
        filters=AuditFilter(action=AuditAction.OPERATOR_TEXT_TRANSLATED)).events
    assert event.details == {
        "language": "fr", "source_sha256": text.source_sha256, "replaced_sha256": None,
        "text_sha256": hashlib.sha256(PURPOSE_FR["description"].encode()).hexdigest()}


def test_a_translation_is_refused_unless_it_is_one_of_a_text_in_use(world: World) -> None:
    name = _texts(world)[f"purpose {world.purpose} name"]

    def translate(key: str, text: str, *, actor: Any = None) -> object:
        return lambda: world.service.translate_operator_text(
            actor=actor or world.admin, language=FR, source_sha256=key, text=text)

    refused("not_found", translate("0" * 64, "étude"))
    refused("invalid_request", translate(name.source_sha256, "étude\nsur deux lignes"))
    refused("invalid_request", translate(name.source_sha256, "étude\x07"))
    refused("invalid_request", translate(name.source_sha256, "   "))
    refused("forbidden", translate(name.source_sha256, "étude", actor=world.reviewer))
    assert _texts(world)[f"purpose {world.purpose} name"].text is None  # nothing kept


POLICE = "Shared with police forces for any investigation"


def _sql(world: World, statement: str, **values: object) -> None:
    """As the database's writer: plain SQL, no key."""
    with world.service.runtime.db.transaction() as session:
        session.execute(text(statement), values)


@both_backends
@pytest.mark.parametrize("say", [ENGLISH, FRENCH], ids=["en", "fr"])
def test_a_use_edited_by_sql_after_it_was_signed_is_not_recorded_as_consented(
    world: World, say: Words
) -> None:
    """Red team 7, #6: the receipt states the purpose rows; a row edited between the signed
    challenge and the consent (police, twenty years) is refused, whether the person read it in
    English or in its French translation, and nothing is recorded."""
    world.translate_purpose(PURPOSE_FR)
    person = world.person()
    signed = person.sign(ConsentAct(purposes=[world.purpose], notice_id=world.notice,
                                    language="fr-CA",
                                    expires_at=world.clock.now() + timedelta(days=90)), say=say)
    _sql(world, "UPDATE purposes SET description = :d, retention_days = 7300 WHERE id = :p",
         d=POLICE, p=world.purpose)
    refused("wording_changed", lambda: world.service.give_consent(
        actor=person.actor, subject=person.pseudonym, signed=signed))
    with world.service.runtime.db.transaction() as session:
        assert session.scalars(select(Consent)).all() == []


def test_days_edited_alone_are_refused_too(world: World) -> None:
    person = world.person()
    signed = person.sign(ConsentAct(purposes=[world.purpose], notice_id=world.notice,
                                    language="fr-CA",
                                    expires_at=world.clock.now() + timedelta(days=90)))
    _sql(world, "UPDATE purposes SET retention_days = 7300 WHERE id = :p", p=world.purpose)
    refused("wording_changed", lambda: world.service.give_consent(
        actor=person.actor, subject=person.pseudonym, signed=signed))


def _restated(world: World, receipt: dict[str, Any], **fields: object) -> tuple[
        dict[str, Any], str]:
    """``receipt`` with its Kantara purpose stating ``fields``, signed by the controller's key
    (as a service fooled by a row, or whoever holds the key store, would sign it): the
    person's signature and statement untouched."""
    restated = copy.deepcopy(receipt)
    restated["services"][0]["purposes"][0].update(fields)
    return restated, world.service.runtime.keys.sign(canonical_json(restated))


def test_a_receipt_stating_other_uses_than_its_signed_wording_is_invalid_offline(
    world: World, tmp_path: Path
) -> None:
    """``receipt verify`` holds each Kantara purpose to the use the person signed: its name,
    description, legal basis and days (in English, the language the person read)."""
    _, _, receipt = _consent(world, ENGLISH)
    path = tmp_path / "consent.json"
    key = world.service.public_key
    for fields in ({"description": POLICE}, {"retentionDays": 7300},
                   {"purpose": "study-9"}, {"legalBasis": "legitimate interest"}):
        restated, signature = _restated(world, receipt, **fields)
        assert verify_receipt(restated, signature, key)  # the controller's signature holds
        assert subject_signature_problem(restated) == DIFFERENT, fields
        path.write_text(json.dumps({"receipt": restated, "signature": signature}))
        result = verify_receipt_file(path, key)
        assert result.exit_code == 1 and DIFFERENT in result.output, result.output
    path.write_text(json.dumps({"receipt": receipt, "signature": world.service.runtime.keys.sign(
        canonical_json(receipt))}))
    assert verify_receipt_file(path, key).exit_code == 0


def test_a_french_receipt_keeps_its_english_kantara_texts_and_is_held_to_its_days(
    world: World
) -> None:
    """Read in French, the uses' texts are the operator's translations, which a verifier
    cannot relate to the English the Kantara fields state (the service did, when it recorded
    the consent); the days it can, and a text shown in English for want of a translation."""
    world.translate_purpose({"description": PURPOSE_FR["description"]})
    _, _, receipt = _consent(world, FRENCH)
    assert subject_signature_problem(receipt) is None
    assert receipt["wording"]["englishOnly"]  # the name and legal basis, shown in English
    assert subject_signature_problem(_restated(world, receipt, retentionDays=7300)[0]) == DIFFERENT
    assert subject_signature_problem(_restated(world, receipt, purpose="study-9")[0]) == DIFFERENT
