"""A consent that ends by itself while another keeps its subject leaves the person a receipt,
signed by the controller, of its templates destroyed (:mod:`consent.end_receipts`). On SQLite
and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from optinface.api.web.i18n import Language, Words
from optinface.api.web.receipts import end_summary
from optinface.consent import epoch_promise
from optinface.consent.end_receipts import KEPT_SUBJECT, RECEIPT_TYPE
from optinface.consent.errors import SubjectErased
from optinface.consent.receipts import verify_receipt
from optinface.consent.schemas import ConsentPublic, ErasureReason
from optinface.consent.tables import Consent
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World

pytestmark = both_backends


def _consents(world: World, pseudonym: str) -> dict[str, ConsentPublic]:
    return {c.id: c for c in world.service.list_consents(actor=world.admin, subject=pseudonym)}


@dataclass(frozen=True, slots=True)
class Ended:
    pseudonym: str
    short: str  # the consent that ended, its template destroyed
    long: str  # the consent that keeps the subject


@pytest.fixture
def ended(world: World, clock: FakeClock, portrait_jpegs: list[bytes],
          flipped_jpegs: list[bytes]) -> Ended:
    """Two consents, a template under each; the first expired and the sweep destroyed its
    template."""
    pseudonym, short = world.subject(days=30)
    long = world.consent(pseudonym, days=365).consent.id
    world.enrol(pseudonym, short, portrait_jpegs[0])
    world.enrol(pseudonym, long, flipped_jpegs[0])
    clock.advance(days=31)
    assert world.service.sweep().templates_destroyed == 1
    return Ended(pseudonym=pseudonym, short=short, long=long)


def test_a_consent_that_expires_while_another_keeps_the_subject_leaves_a_signed_receipt(
    world: World, clock: FakeClock, ended: Ended,
) -> None:
    """The consent whose template the sweep destroyed now carries a receipt signed by the
    service's key, naming the person, the consent, why and when it ended, the template
    destroyed, and from when copies made before cannot be decrypted (the epoch's end, kept as
    its promise); the person's own export holds it. The consent still in force carries none.
    Once the person is erased, the receipt (which names them) goes with the consent's others."""
    pseudonym, short, long = ended.pseudonym, ended.short, ended.long
    consents = _consents(world, pseudonym)
    assert consents[long].end_receipt is None
    signed = consents[short].end_receipt
    assert signed is not None
    assert verify_receipt(signed.receipt, signed.signature, world.service.public_key)
    receipt = signed.receipt
    assert (receipt["type"], receipt["endedConsentID"], receipt["piiPrincipalId"],
            receipt["reason"]) == (RECEIPT_TYPE, short, pseudonym, str(ErasureReason.EXPIRY))
    assert datetime.fromisoformat(receipt["endedAt"]) == consents[short].ends_at
    assert datetime.fromisoformat(receipt["destroyedAt"]) == clock.now()
    assert receipt["destroyed"]["templates"] == 1 and receipt["kept"] == [KEPT_SUBJECT]
    runtime = world.service.runtime
    assert receipt["keyEpoch"] == runtime.keys.epoch
    # The epoch's end, kept as its promise: no later setting moves the rotation past it.
    assert datetime.fromisoformat(receipt["copiesUndecryptableAt"]) == epoch_promise.promised(
        runtime.keys.store, receipt["keyEpoch"])
    exported = world.service.export(actor=world.admin, subject=pseudonym)
    assert any(c.end_receipt == signed for c in exported.consents)

    with world.service.runtime.db.transaction() as session:  # a second sweep signs no other
        kept = session.get(Consent, short)
        assert kept is not None and kept.end_receipt == receipt
    world.service.sweep()
    assert _consents(world, pseudonym)[short].end_receipt == signed

    world.service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    with pytest.raises(SubjectErased):
        world.service.list_consents(actor=world.admin, subject=pseudonym)
    with world.service.runtime.db.transaction() as session:
        erased = session.get(Consent, short)
        assert erased is not None and (erased.end_receipt, erased.end_signature) == (None, None)


def test_the_person_reads_what_the_end_receipt_states_and_the_command_checks_it(
    world: World, ended: Ended, tmp_path: Path,
) -> None:
    """The portal's receipts list says, in the reader's language, what the signed receipt
    states (why it ended, how many templates, from when earlier copies are undecryptable,
    what is kept); ``optinface receipt verify`` checks its signature and says the same in one
    line."""
    consent = _consents(world, ended.pseudonym)[ended.short]
    assert consent.end_receipt is not None
    receipt = consent.end_receipt.receipt
    for language in Language:
        words = Words(language, ZoneInfo("America/Toronto"))
        summary = end_summary(words, consent, {}, consent.end_receipt)
        text = " ".join([summary.title, *summary.lines, *summary.kept])
        for stated in (words.when(receipt["endedAt"]), words.when(receipt["destroyedAt"]),
                       words.when(receipt["copiesUndecryptableAt"]),
                       words("consent expired"), words.reword(receipt["kept"][0])):
            assert stated in text
        assert ("détruits" in text) is (language is Language.FR)

    saved = tmp_path / "ended.json"
    saved.write_text(consent.end_receipt.model_dump_json(), encoding="utf-8")
    verified = subprocess.run(
        [sys.executable, "-m", "optinface.api.cli.main", "receipt", "verify", str(saved),
         "--public-key", world.service.public_key],
        capture_output=True, text=True, timeout=120, check=False)
    assert verified.returncode == 0, verified.stderr
    assert (f"consent {ended.short} of {ended.pseudonym} ended at"
            f" {receipt['endedAt']} (reason: expiry): 1 template(s) destroyed") in verified.stdout
    saved.write_text(json.dumps({**json.loads(saved.read_text(encoding="utf-8")),
                                 "receipt": {**receipt, "destroyed": {"templates": 0}}}))
    forged = subprocess.run(
        [sys.executable, "-m", "optinface.api.cli.main", "receipt", "verify", str(saved),
         "--public-key", world.service.public_key],
        capture_output=True, text=True, timeout=120, check=False)
    assert forged.returncode == 1


def test_a_consent_withdrawn_while_another_keeps_the_subject_leaves_the_controllers_receipt_too(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """The person's signed withdrawal says what they asked; the controller's end receipt,
    kept beside it, says what was done: the template destroyed at once, and from when copies
    made before cannot be decrypted. Withdrawing the last consent erases instead, and its
    erasure receipt says it: no end receipt is left naming the person."""
    pseudonym, first = world.subject(days=30)
    second = world.consent(pseudonym, days=365).consent.id
    world.enrol(pseudonym, first, portrait_jpegs[0])
    world.enrol(pseudonym, second, flipped_jpegs[0])
    clock.advance(days=1)
    withdrawn = world.withdraw(pseudonym, first)
    assert (withdrawn.templates_erased, withdrawn.subject_erased) == (1, False)
    signed = withdrawn.consent.end_receipt
    assert signed is not None and withdrawn.consent.withdrawal_receipt is not None
    assert verify_receipt(signed.receipt, signed.signature, world.service.public_key)
    receipt = signed.receipt
    assert (receipt["endedConsentID"], receipt["reason"], receipt["destroyed"]["templates"]) == (
        first, str(ErasureReason.WITHDRAWAL), 1)
    assert (datetime.fromisoformat(receipt["endedAt"]),
            datetime.fromisoformat(receipt["destroyedAt"])) == (clock.now(), clock.now())
    runtime = world.service.runtime
    assert datetime.fromisoformat(receipt["copiesUndecryptableAt"]) == epoch_promise.promised(
        runtime.keys.store, receipt["keyEpoch"])
    assert _consents(world, pseudonym)[first].end_receipt == signed
    words = Words(Language.EN, ZoneInfo("UTC"))
    consent = _consents(world, pseudonym)[first]
    assert "you withdrew it" in " ".join(end_summary(words, consent, {}, signed).lines)

    last = world.withdraw(pseudonym, second)
    assert last.subject_erased and last.consent.end_receipt is None
    with runtime.db.transaction() as session:
        for consent_id in (first, second):
            erased = session.get(Consent, consent_id)
            assert erased is not None and erased.end_receipt is None
