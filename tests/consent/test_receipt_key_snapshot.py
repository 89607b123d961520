"""An act signs, names and checks its receipts with the one key ring its
:func:`consent.receipt_key_in_force.in_force` returned (review 23, finding 2): another request
of the same worker, or the witness round, may put a rotated receipt key in force at any moment
(:func:`consent.receipt_key_in_force.reload`), and the act must neither store a receipt the key
it names does not check, nor serve one with keys that do not check it."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from optinface.consent import erasure_receipts, receipt_key_in_force
from optinface.consent.keys import SIGNING_KEY_NAME, KeyRing
from optinface.consent.receipt_keys import RETIRED_KEYS_NAME, RetiredKey, retired_from, with_retired
from optinface.consent.receipts import published_key, verify_receipt
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ErasureReason
from optinface.consent.signed_documents import signature_problem
from optinface.consent.tables import Consent
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World

REASON = "INC-9: receipt key rotated by another worker"


def _rotated_by_another_worker(runtime: Runtime, clock: FakeClock) -> None:
    """Another worker's rotation, as another request of this worker then takes it: a fresh key
    and the retirement of the key in force in the key store, the two put in force here."""
    held = runtime.keys
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    record = with_retired(held.retired, RetiredKey(public_key=held.public_key,
                                                   retired_at=clock.now(), reason=REASON))
    held.store.put_secret(RETIRED_KEYS_NAME, record)
    held.store.put_secret(SIGNING_KEY_NAME, seed)
    receipt_key_in_force.put_in_force(runtime, seed, retired_from(record))


@pytest.fixture(params=["as in_force returns", "as the act names the key"])
def rotations(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, world: World,
              clock: FakeClock) -> list[str]:
    """From now on, each :func:`~consent.receipt_key_in_force.in_force` is followed by a
    rotation put in force, at once as it returns, or as the act next reads a key ring's
    ``public_key`` (between the receipt's naming and its signature): the keys so retired, in
    order."""
    unwrapped, naming = receipt_key_in_force.in_force, KeyRing.public_key
    retired: list[str] = []
    armed: list[Runtime] = []

    def in_force_then_rotated(runtime: Runtime) -> KeyRing:
        ring = unwrapped(runtime)
        retired.append(runtime.keys.public_key)
        if request.param == "as in_force returns":
            _rotated_by_another_worker(runtime, clock)
        else:
            armed.append(runtime)
        return ring

    def named_then_rotated(ring: KeyRing) -> str:
        named: str = naming.fget(ring)
        if armed:
            _rotated_by_another_worker(armed.pop(), clock)
        return named

    monkeypatch.setattr(receipt_key_in_force, "in_force", in_force_then_rotated)
    monkeypatch.setattr(KeyRing, "public_key", property(named_then_rotated))
    return retired


def _checked(receipt: dict[str, Any], signature: str, world: World) -> None:
    """The key ``receipt`` names checks it, and the authority check (the deployment's receipt
    keys, each retired one up to its retirement) takes it."""
    assert verify_receipt(receipt, signature, receipt["publicKey"])
    assert verify_receipt(receipt, signature, world.service.receipt_keys)


@both_backends
def test_a_rotation_put_in_force_during_an_act_leaves_its_receipts_checked_by_the_key_they_name(
    world: World, rotations: list[str],
) -> None:
    service = world.service
    person = world.person()
    given = world.consent(person.pseudonym)
    world.consent(person.pseudonym)  # another one, which keeps the subject at the withdrawal
    withdrawn = world.withdraw(person.pseudonym, given.consent.id)

    with service.runtime.db.transaction() as session:
        consent = session.get(Consent, given.consent.id)
        assert consent is not None and consent.receipt is not None
        assert consent.withdrawal_receipt is not None
        _checked(consent.receipt, consent.receipt_signature or "", world)
        _checked(consent.withdrawal_receipt, consent.withdrawal_signature or "", world)
        named = [consent.receipt["publicKey"], consent.withdrawal_receipt["publicKey"]]
    erased = service.erase(actor=person.actor, subject=person.pseudonym,
                           reason=ErasureReason.REQUEST)
    [tomb] = service.erasures(actor=world.reviewer)
    assert tomb.receipt is not None and tomb.receipt_signature is not None
    _checked(tomb.receipt, tomb.receipt_signature, world)
    assert erasure_receipts.problem(tomb.receipt, tomb.receipt_signature,
                                    subject_hash=tomb.subject_hash,
                                    public_key=service.receipt_keys) is None
    # As served by the act: naming the key that checks it.
    assert withdrawn.consent.withdrawal_receipt is not None
    for served in (given.receipt, withdrawn.consent.withdrawal_receipt, erased.signed):
        assert verify_receipt(served.receipt, served.signature, served.public_key)
    register = service.register()
    # Consents, withdrawal, erasure, register: each act saw a rotation right after its read,
    # and is signed by the key in force when it read, which the rotation then retired.
    assert len(rotations) == 5
    assert [*named, tomb.receipt["publicKey"]] == [rotations[0], rotations[2], rotations[3]]

    # The register names, by its kid, the key that signed it.
    assert register.signature is not None
    assert register.signature.kid == published_key(rotations[4]).key_id
    assert signature_problem(register.model_dump(mode="json"), rotations[4]) is None
