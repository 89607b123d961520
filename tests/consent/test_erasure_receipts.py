"""An erasure receipt is served only as this deployment signed it (red team 7, #5), with the
live key, and commits to the pseudonym for whoever holds the salt given beside it (#8 (d)).

The tombstone's receipt is the database's word: a receipt re-signed with another deployment's
key, or another tombstone's, is refused to the one-time code and to a request that lost the
race to another erasure, chained as ``erasure_receipt_altered``, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine

from optinface.consent import erasure_receipts
from optinface.consent.audit import AuditAction
from optinface.consent.errors import ErasureReceiptAltered, ReceiptCodeInvalid
from optinface.consent.receipts import verify_receipt
from optinface.consent.schemas import (
    AuditEventPublic,
    AuditFilter,
    ErasureReason,
    ErasureReceipt,
)
from optinface.consent.service import OptinFace
from tests.support.backends import both_backends
from tests.support.consent import World, outside_sql
from tests.support.erasures import WAIT_S, HeldAtJournal
from tests.support.forgery import resign_tombstone_receipt

pytestmark = both_backends


def _erased(world: World) -> tuple[str, str, str]:
    """A person erases themself in the portal's way: (their pseudonym, their tombstone hash,
    the one-time code that fetches the receipt again)."""
    pseudonym, _ = world.subject()
    erasure = world.service.erase(actor=world.people[pseudonym].actor, subject=pseudonym,
                                  reason=ErasureReason.REQUEST)
    return pseudonym, erasure.subject_hash, world.service.keep_erasure_receipt(erasure)


def _altered_events(world: World) -> list[AuditEventPublic]:
    return world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.ERASURE_RECEIPT_ALTERED)).events


def _resign(service: OptinFace, subject_hash: str, **changes: object) -> str:
    writer = create_engine(service.settings.url)
    try:
        return resign_tombstone_receipt(writer, subject_hash, **changes)
    finally:
        writer.dispose()


def test_a_receipt_resigned_with_another_key_is_not_served_to_its_code_and_is_chained(
    world: World, caplog: pytest.LogCaptureFixture,
) -> None:
    """The red team's ``forge_tomb.py``: the recipients to notify dropped, copies said to be
    undecryptable at once, signed by another deployment's key the row names. The code opens
    nothing; the refusal is chained naming the tombstone and logged as an error once."""
    _, subject_hash, code = _erased(world)
    _resign(world.service, subject_hash, recipientsToNotify=[],
            copiesUndecryptableAt="2020-01-01T00:00:00+00:00")
    with caplog.at_level(logging.ERROR, logger="optinface.consent.erasure_receipts"):
        for _ in range(2):
            with pytest.raises(ErasureReceiptAltered) as refused:
                world.service.erasure_receipt_by_code(code)
            assert refused.value.details == {"problem": erasure_receipts.NOT_SIGNED}
    with pytest.raises(ReceiptCodeInvalid):  # each refused fetch was one of the two
        world.service.erasure_receipt_by_code(code)
    events = _altered_events(world)
    assert [(e.subjects, e.details) for e in events] == [
        ([subject_hash], {"problem": erasure_receipts.NOT_SIGNED, "asked": "receipt_code"})] * 2
    assert len([r for r in caplog.records if subject_hash in r.getMessage()]) == 1
    assert world.service.verify_audit().ok


def test_another_tombstones_receipt_is_not_served_though_this_deployment_signed_it(
    world: World,
) -> None:
    """Both receipts are genuine; the row holding the other person's is not this erasure's."""
    _, first, code = _erased(world)
    _, second, _ = _erased(world)
    outside_sql(world.service, "UPDATE tombstones SET"
                " receipt = (SELECT receipt FROM tombstones WHERE subject_hash = :other),"
                " receipt_signature = (SELECT receipt_signature FROM tombstones"
                " WHERE subject_hash = :other) WHERE subject_hash = :this",
                other=second, this=first)
    with pytest.raises(ErasureReceiptAltered) as refused:
        world.service.erasure_receipt_by_code(code)
    assert refused.value.details == {"problem": erasure_receipts.OTHER_TOMBSTONE}
    assert [e.subjects for e in _altered_events(world)] == [[first]]


def test_a_true_receipt_is_served_with_the_live_key_and_opens_to_its_pseudonym_alone(
    world: World,
) -> None:
    """What the code serves names the deployment's key, and its salt opens the commitment to
    the person's pseudonym and to no other; the salt is nowhere in the database."""
    pseudonym, subject_hash, code = _erased(world)
    other, _ = world.subject()
    signed = world.service.erasure_receipt_by_code(code)
    assert signed.public_key == world.service.public_key
    assert verify_receipt(signed.receipt, signed.signature, world.service.public_key)
    assert signed.receipt["subjectHash"] == subject_hash
    assert erasure_receipts.names(signed.receipt, signed.pseudonym_salt, pseudonym) is True
    assert erasure_receipts.names(signed.receipt, signed.pseudonym_salt, other) is False
    assert erasure_receipts.names(signed.receipt, None, pseudonym) is None
    assert signed.pseudonym_salt is not None
    dumped = str(world.service.erasures(actor=world.reviewer))
    assert signed.pseudonym_salt not in dumped and pseudonym not in dumped
    assert _altered_events(world) == []


def test_a_request_that_lost_the_race_to_an_altered_receipt_is_refused_and_chained(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two erasure requests for one subject: the first destroys; the database then swaps in a
    re-signed receipt; the second, which would answer with the tombstone's receipt, refuses
    it, and both its ``erase_already_done`` (no receipt id) and the refusal are chained."""
    pseudonym, _ = world.subject()
    held = HeldAtJournal(monkeypatch)

    def request() -> ErasureReceipt:
        return world.service.erase(actor=world.admin, subject=pseudonym,
                                   reason=ErasureReason.REQUEST)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(request)
        first_held = held.next_held()
        second = pool.submit(request)
        second_held = held.next_held()
        first_held.set()
        done = first.result(timeout=WAIT_S)
        _resign(world.service, done.subject_hash, recipientsToNotify=[])
        second_held.set()
        with pytest.raises(ErasureReceiptAltered):
            second.result(timeout=WAIT_S)
    [already] = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.ERASE_ALREADY_DONE)).events
    assert already.details == {"reason": "request", "receipt_id": None}
    [altered] = _altered_events(world)
    assert (altered.actor_key_id, altered.details) == (
        world.admin.key_id, {"problem": erasure_receipts.NOT_SIGNED, "asked": "erase_request"})
