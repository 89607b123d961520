"""An erasure for want of a consent asks again, in the transaction that excludes the subject.

A withdrawal of the last consent and the sweep decide in one transaction that no consent is
left, and erase in the next ones; with several workers another may record a consent between
the two (an outside test saw it on PostgreSQL: the new consent, receipt in hand, was erased
with the reason "withdrawal"). The tests put that other worker's act exactly there, where a
test of a crash puts its crash, and run everything else for real.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from optinface.consent import consents, erasure
from optinface.consent.erasure import erase_unless_kept
from optinface.consent.errors import SubjectErased
from optinface.consent.schemas import ConsentGiven, ErasureReason, ErasureReceipt
from tests.support.backends import both_backends
from tests.support.consent import Crash, FakeClock, World, crash

pytestmark = both_backends


def _consenting_first(world: World, pseudonym: str, given: list[ConsentGiven]) -> Callable[
        ..., ErasureReceipt | None]:
    """The erasure, run once the person's new consent, sent to another worker, is recorded."""

    def another_worker_first(*args: object, **kwargs: object) -> ErasureReceipt | None:
        given.append(world.consent(pseudonym))
        return erase_unless_kept(*args, **kwargs)  # type: ignore[arg-type]

    return another_worker_first


def test_a_consent_given_while_the_last_one_is_withdrawn_keeps_the_subject(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pseudonym, first = world.subject()
    given: list[ConsentGiven] = []
    monkeypatch.setattr(consents, "erase_unless_kept", _consenting_first(world, pseudonym, given))
    result = world.withdraw(pseudonym, first)
    assert not result.subject_erased and result.erasure is None
    kept = world.service.list_consents(actor=world.portal, subject=pseudonym)
    assert {c.id: c.status for c in kept} == {first: "withdrawn", given[0].consent.id: "active"}
    assert world.service.verify_audit().ok


def test_a_withdrawal_repeated_after_a_crash_before_its_erasure_finishes_the_erasure(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pseudonym, consent_id = world.subject()
    with monkeypatch.context() as patched:
        patched.setattr(consents, "erase_unless_kept", crash)
        with pytest.raises(Crash):
            world.withdraw(pseudonym, consent_id)
    again = world.withdraw(pseudonym, consent_id)  # no answer may say the record is kept
    assert again.subject_erased and again.erasure is not None
    assert again.erasure.reason is ErasureReason.WITHDRAWAL
    with pytest.raises(SubjectErased):
        world.service.get_subject(actor=world.portal, subject=pseudonym)


def test_a_consent_given_while_the_sweep_erases_keeps_the_subject(
    world: World, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pseudonym, first = world.subject(days=30)
    clock.advance(days=31)
    given: list[ConsentGiven] = []
    monkeypatch.setattr(erasure, "erase_unless_kept", _consenting_first(world, pseudonym, given))
    assert world.service.sweep().erasures == []
    kept = world.service.list_consents(actor=world.portal, subject=pseudonym)
    assert {c.id: c.status for c in kept} == {first: "expired", given[0].consent.id: "active"}
    assert world.service.verify_audit().ok
